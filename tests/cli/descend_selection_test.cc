// descend --idle-longer-than / --older-than / --order end to end: the plan
// is the reference selection over each memory's kept state, in the order
// asked, cut at --limit; the move changes nothing but the tiers.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

constexpr int64_t kNow = 1800000000000;  // the clock of every command below
constexpr int64_t kDay = 86400000;

struct State {
  std::string tier;
  int64_t created_ms, last_access_ms;
  int group;
};

// The plan of a dry run: (id, reason, score) in plan order.
std::vector<std::tuple<std::string, std::string, double>> Plan(const std::vector<std::string>& args) {
  auto r = Aether(args, "", {"AETHER_NOW_MS=" + std::to_string(kNow)});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json report = json::parse(r.out);
  std::vector<std::tuple<std::string, std::string, double>> out;
  for (const json& p : report["plan"])
    out.emplace_back(p["id"].get<std::string>(), p["reason"].get<std::string>(), p["score"].get<double>());
  return out;
}

std::vector<std::string> Ids(const std::vector<std::tuple<std::string, std::string, double>>& plan) {
  std::vector<std::string> ids;
  for (const auto& p : plan) ids.push_back(std::get<0>(p));
  return ids;
}

}  // namespace

TEST_CASE("descend --idle-longer-than, --older-than and --order select and order exactly as the reference") {
  TempDir dir;
  const std::string store = dir / "s";
  // 300 memories with distinct kept times: made up to 100 days ago, last
  // accessed between then and now; a tenth cold.
  auto mems = RandomMems(300, 4, 61);
  std::mt19937_64 rng(7);
  std::map<std::string, State> state;
  std::string lines;
  std::vector<int64_t> created_pool, idle_pool;
  for (size_t i = 0; i < mems.size(); ++i) {
    created_pool.push_back(kNow - 100 * kDay + int64_t(i) * 997 * 1000 * 29);
    idle_pool.push_back(int64_t(i) * 1009 * 1000 * 7);
  }
  std::shuffle(created_pool.begin(), created_pool.end(), rng);
  std::shuffle(idle_pool.begin(), idle_pool.end(), rng);
  for (size_t i = 0; i < mems.size(); ++i) {
    State s{i % 10 == 9 ? "cold" : "hot", created_pool[i], 0, int(i % 4)};
    s.last_access_ms = std::min(kNow - idle_pool[i], kNow);
    s.last_access_ms = std::max(s.last_access_ms, s.created_ms);
    state[mems[i].id] = s;
    lines += json({{"id", mems[i].id},
                   {"vector", mems[i].vec},
                   {"payload", {{"g", s.group}}},
                   {"tier", s.tier},
                   {"created_ms", s.created_ms},
                   {"last_access_ms", s.last_access_ms},
                   {"access_count", 1}})
                 .dump() +
             "\n";
  }
  REQUIRE(Aether({"ingest", "--create", store, "--dim", "4", "--hot-capacity", "1000", "--preserve-state", "-"}, lines,
                 {"AETHER_NOW_MS=" + std::to_string(kNow)})
              .exit_code == 0);
  auto before = GetRecords(store, aether::test::Ids(mems));
  // Distinct times: an order has one right answer.
  std::set<int64_t> accessed, made;
  for (const auto& [id, s] : state) accessed.insert(s.last_access_ms), made.insert(s.created_ms);
  REQUIRE(accessed.size() == state.size());
  REQUIRE(made.size() == state.size());

  // The reference: the hot memories meeting every condition.
  auto select = [&](int64_t idle_ms, int64_t age_ms, int group) {
    std::vector<std::string> ids;
    for (const auto& [id, s] : state)
      if (s.tier == "hot" && (idle_ms < 0 || s.last_access_ms < kNow - idle_ms) &&
          (age_ms < 0 || s.created_ms < kNow - age_ms) && (group < 0 || s.group == group))
        ids.push_back(id);
    return ids;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::vector<std::string> base = {"descend", store, "--dry-run", "--format", "json"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };

  SUBCASE("each condition alone, together, and with --where; every unit") {
    const auto idle = select(10 * kDay, -1, -1);
    REQUIRE(idle.size() > 20);
    REQUIRE(idle.size() < 250);
    for (const std::string d : {"10d", "240h", "14400m", "864000s"}) {
      auto plan = Plan(with({"--idle-longer-than", d}));
      CHECK(sorted(Ids(plan)) == idle);
      for (const auto& p : plan) CHECK(std::get<1>(p) == "idle");
    }
    const auto old = select(-1, 60 * kDay, -1);
    REQUIRE(old.size() > 20);
    auto plan = Plan(with({"--older-than", "60d"}));
    CHECK(sorted(Ids(plan)) == old);
    for (const auto& p : plan) CHECK(std::get<1>(p) == "age");
    CHECK(sorted(Ids(Plan(with({"--older-than", "60d", "--idle-longer-than", "10d"})))) ==
          select(10 * kDay, 60 * kDay, -1));
    CHECK(sorted(Ids(Plan(with({"--older-than", "60d", "--where", "payload.g == 2"})))) == select(-1, 60 * kDay, 2));
    // 0: every hot memory made (or idle) before now.
    CHECK(sorted(Ids(Plan(with({"--older-than", "0s"})))) == select(-1, 0, -1));
    // Longer than anything stored: nothing.
    CHECK(Plan(with({"--idle-longer-than", "1000d"})).empty());
  }

  SUBCASE("--order lru, age and score put the plan in that order before --limit cuts it") {
    const auto idle = select(5 * kDay, -1, -1);
    auto by = [&](auto key) {
      auto v = idle;
      std::sort(v.begin(), v.end(), [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
      return v;
    };
    const auto lru = by([&](const std::string& id) { return state[id].last_access_ms; });
    const auto age = by([&](const std::string& id) { return state[id].created_ms; });
    CHECK(Ids(Plan(with({"--idle-longer-than", "5d", "--order", "lru"}))) == lru);
    CHECK(Ids(Plan(with({"--idle-longer-than", "5d", "--order", "age"}))) == age);
    CHECK(Ids(Plan(with({"--idle-longer-than", "5d", "--order", "lru", "--limit", "7"}))) ==
          std::vector<std::string>(lru.begin(), lru.begin() + 7));
    CHECK(Ids(Plan(with({"--idle-longer-than", "5d", "--order", "age", "--limit", "7"}))) ==
          std::vector<std::string>(age.begin(), age.begin() + 7));
    // score: the unordered plan's scores, lowest first.
    auto unordered = Plan(with({"--idle-longer-than", "5d"}));
    std::stable_sort(unordered.begin(), unordered.end(),
                     [](const auto& a, const auto& b) { return std::get<2>(a) < std::get<2>(b); });
    CHECK(Ids(Plan(with({"--idle-longer-than", "5d", "--order", "score"}))) == Ids(unordered));
    // --all orders the same way: the oldest hot memories first.
    std::vector<std::string> hot = select(-1, -1, -1);
    std::sort(hot.begin(), hot.end(),
              [&](const std::string& a, const std::string& b) { return state[a].created_ms < state[b].created_ms; });
    CHECK(Ids(Plan(with({"--all", "--order", "age", "--limit", "5"}))) ==
          std::vector<std::string>(hot.begin(), hot.begin() + 5));
  }

  SUBCASE("the move itself: exactly the planned memories go cold, nothing else changes") {
    const auto want = Ids(Plan(with({"--older-than", "30d", "--order", "lru", "--limit", "40"})));
    REQUIRE(want.size() == 40);
    auto r = Aether({"descend", store, "--older-than", "30d", "--order", "lru", "--limit", "40", "--format", "json"},
                    "", {"AETHER_NOW_MS=" + std::to_string(kNow)});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(json::parse(r.out)["moved"] == 40);
    const std::set<std::string> moved(want.begin(), want.end());
    for (const std::string& line : Lines(Aether({"list", store, "--format", "jsonl"}).out)) {
      const json j = json::parse(line);
      const std::string id = j["id"];
      CHECK(j["tier"] == (moved.count(id) ? "cold" : state[id].tier));
    }
    for (const auto& [id, rec] : GetRecords(store, aether::test::Ids(mems))) CHECK(rec == before.at(id));
    CHECK(Aether({"verify", store}).exit_code == 0);
  }

  SUBCASE("a bad duration or a second way of choosing is a usage error (exit 64) that moves nothing") {
    for (const std::string d :
         {"", "30", "d", "30x", "-1d", "1.5d", "30 d", "3d0", "99999999999999d", "12000000000d"}) {
      INFO(d);
      auto r = Aether({"descend", store, "--idle-longer-than", d});
      CHECK(r.exit_code == 64);
      CHECK(!r.err.empty());
      CHECK(Aether({"descend", store, "--older-than", d}).exit_code == 64);
    }
    CHECK(Aether({"descend", store, "--older-than", "1d", "--all"}).exit_code == 64);
    CHECK(Aether({"descend", store, "--older-than", "1d", "--policy"}).exit_code == 64);
    CHECK(Aether({"descend", store, mems[0].id, "--idle-longer-than", "1d"}).exit_code == 64);
    CHECK(Aether({"descend", store, "--all", "--order", "newest"}).exit_code == 64);
    for (const auto& [id, rec] : GetRecords(store, aether::test::Ids(mems))) CHECK(rec == before.at(id));
  }
}
