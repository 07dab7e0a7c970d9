// Access patterns end to end: one-shot searches at injected times
// (AETHER_NOW_MS) leave each memory its access times, read by get and
// search --explain before the fold (from the access log) and after it
// (from meta.db) alike; the history is bounded; it survives moves; a
// damaged one is reported by verify and starts again. What get shows is
// checked against the classifier run on the times the test itself made.
#include "policy/access_pattern.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

using namespace aether::test;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000, kHour = 3'600'000, kDay = 24 * kHour;

nlohmann::json Get(const std::string& store, const std::string& id, int64_t now) {
  const auto r = Aether({"get", store, id}, "", {"AETHER_NOW_MS=" + std::to_string(now)});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(Lines(r.out).at(0));
}

void Search(const std::string& store, const Mem& m, int64_t at) {
  const auto r =
      Aether({"search", store, "--vector", VectorJson(m.vec), "-k", "1"}, "", {"AETHER_NOW_MS=" + std::to_string(at)});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(r.out.find("\"" + m.id + "\"") != std::string::npos);  // the search hit it
}

// A writer's open folds the access log into meta.db.
void Fold(const std::string& store, int64_t now) {
  REQUIRE(
      Aether({"config", store, "set", "sample_rate", "0"}, "", {"AETHER_NOW_MS=" + std::to_string(now)}).exit_code ==
      0);
  CHECK(SqlRows(store, "SELECT COUNT(*) FROM memories WHERE access_times IS NOT NULL").at(0) != "0");
}

}  // namespace

TEST_CASE("access patterns: searches at hourly and bursty times read back as periodic and bursty, folded or not") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(3, 8, 5);  // far apart in 8 dimensions: each search hits its own
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems), {"AETHER_NOW_MS=" + std::to_string(kT0)}).exit_code ==
          0);
  std::vector<int64_t> hourly, bursts;
  for (int i = 1; i <= 10; ++i) hourly.push_back(kT0 + (44 + i) * kHour + (i % 3) * 20000);  // 0-40 s of jitter
  for (int b = 0; b < 3; ++b)  // bursts of 4, 15 s apart, 23 and 29 hours between
    for (int i = 0; i < 4; ++i) bursts.push_back(kT0 + kHour / 2 + b * (20 + 3 * b) * kHour + i * 15000);
  std::vector<std::pair<int64_t, const Mem*>> plan;
  for (int64_t t : hourly) plan.emplace_back(t, &mems[0]);
  for (int64_t t : bursts) plan.emplace_back(t, &mems[1]);
  std::sort(plan.begin(), plan.end());
  for (const auto& [t, m] : plan) Search(store, *m, t);
  const int64_t now = std::max(hourly.back(), bursts.back()) + kHour / 4;
  // The model: the classifier on the times this test searched at.
  const aether::PatternReading periodic = aether::ClassifyAccesses({hourly, 0}, now, kT0);
  const aether::PatternReading bursty = aether::ClassifyAccesses({bursts, 0}, now, kT0);
  REQUIRE(periodic.pattern == aether::AccessPattern::kPeriodic);
  REQUIRE(bursty.pattern == aether::AccessPattern::kBursty);
  for (int pass = 0; pass < 2; ++pass) {  // 0: from the access log; 1: folded into meta.db
    CAPTURE(pass);
    auto p = Get(store, mems[0].id, now)["pattern"];
    CHECK(p["pattern"] == "periodic");
    CHECK(p["accesses"] == hourly.size());
    CHECK(p["period_s"].get<double>() == doctest::Approx(periodic.period_ms / 1e3).epsilon(0.001));
    CHECK(p["period_s"].get<double>() == doctest::Approx(3600).epsilon(0.01));
    CHECK(p["confidence"].get<double>() == doctest::Approx(periodic.confidence).epsilon(0.002));
    CHECK(p["next_expected_ms"] == periodic.next_expected_ms);
    auto b = Get(store, mems[1].id, now)["pattern"];
    CHECK(b["pattern"] == "bursty");
    CHECK(b["burst_size"].get<double>() == doctest::Approx(4));
    CHECK(b["accesses"] == bursts.size());
    auto c = Get(store, mems[2].id, now)["pattern"];
    CHECK(c["pattern"] == "cold");
    CHECK(c["accesses"] == 0);
    if (pass == 0) Fold(store, now);
  }
  // search --explain shows the hit's pattern (before this search's access).
  const auto explained = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "-k", "1", "--explain"}, "",
                                {"AETHER_NOW_MS=" + std::to_string(now)});
  REQUIRE(explained.exit_code == 0);
  const auto hit = nlohmann::json::parse(Lines(explained.out).at(0))["results"][0];
  CHECK(hit["explain"]["pattern"]["pattern"] == "periodic");
  CHECK(hit["explain"]["pattern"]["accesses"] == hourly.size());
  // A move keeps the history: descend, then get.
  REQUIRE(Aether({"descend", store, mems[0].id}, "", {"AETHER_NOW_MS=" + std::to_string(now)}).exit_code == 0);
  auto moved = Get(store, mems[0].id, now);
  CHECK(moved["tier"] == "cold");
  CHECK(moved["pattern"]["pattern"] == "periodic");
  CHECK(moved["pattern"]["accesses"] == hourly.size() + 1);  // the --explain search's access
  // Long silent: cold.
  CHECK(Get(store, mems[0].id, now + 10 * kDay)["pattern"]["pattern"] == "cold");
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("access patterns: the history keeps the newest 32 times; a damaged one is reported and starts again") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(2, 8, 9);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems), {"AETHER_NOW_MS=" + std::to_string(kT0)}).exit_code ==
          0);
  std::vector<int64_t> times;
  for (int i = 1; i <= 40; ++i) {
    times.push_back(kT0 + i * 2 * kHour);
    Search(store, mems[0], times.back());
    if (i == 20) Fold(store, times.back());  // half from meta.db, half from the log
  }
  const std::vector<int64_t> kept(times.end() - 32, times.end());
  auto p = Get(store, mems[0].id, times.back() + kHour)["pattern"];
  CHECK(p["accesses"] == 32);
  CHECK(p["pattern"] == "periodic");
  CHECK(p["period_s"].get<double>() == doctest::Approx(7200).epsilon(0.001));
  Fold(store, times.back() + kHour);
  const auto blob = SqlRows(store, "SELECT hex(access_times) FROM memories WHERE id = '" + mems[0].id + "'");
  REQUIRE(blob.size() == 1);
  // The stored bytes are the documented encoding of the newest 32 times.
  const std::string want = aether::EncodeHistory({kept, uint32_t(times.size() - kept.size())});
  std::string hex;
  for (unsigned char c : want) hex += fmt::format("{:02X}", c);
  CHECK(blob[0] == hex);
  CHECK(want.size() <= aether::kHistoryMaxBytes);
  // Damaged: verify names it; get reads no history; the next access starts again.
  for (const std::string& bad :
       std::vector<std::string>{"X'00'", "X'0102'", "'text'", "X'" + hex.substr(0, hex.size() - 2) + "'"}) {
    CAPTURE(bad);
    SqlRows(store, "UPDATE memories SET access_times = " + bad + " WHERE id = '" + mems[0].id + "'");
    const auto v = Aether({"verify", store});
    CHECK(v.exit_code != 0);
    CHECK(v.out.find("damaged access_times") != std::string::npos);
    CHECK(Get(store, mems[0].id, times.back() + kHour)["pattern"]["accesses"] == 0);
  }
  Search(store, mems[0], times.back() + 2 * kHour);
  Fold(store, times.back() + 2 * kHour);
  CHECK(Get(store, mems[0].id, times.back() + 2 * kHour)["pattern"]["accesses"] == 1);
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE(
    "access patterns: a batch's hits count once in the history and each in access_count; a store without "
    "the column reads and verifies, and its first writer adds it") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(2, 8, 13);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems), {"AETHER_NOW_MS=" + std::to_string(kT0)}).exit_code ==
          0);
  // Three queries, all nearest mems[0], in one search: three hits, one time.
  std::string queries;
  for (int i = 0; i < 3; ++i)
    queries += "{\"id\":\"q" + std::to_string(i) + "\",\"vector\":" + VectorJson(mems[0].vec) + "}\n";
  for (int round = 1; round <= 2; ++round) {
    const auto r = Aether({"search", store, "--queries", "-", "-k", "1"}, queries,
                          {"AETHER_NOW_MS=" + std::to_string(kT0 + round * kHour)});
    REQUIRE(r.exit_code == 0);
    auto got = Get(store, mems[0].id, kT0 + round * kHour);
    CHECK(got["access_count"] == 3 * round);
    CHECK(got["pattern"]["accesses"] == round);
  }
  Fold(store, kT0 + 3 * kHour);
  auto folded = Get(store, mems[0].id, kT0 + 3 * kHour);
  CHECK(folded["access_count"] == 6);
  CHECK(folded["pattern"]["accesses"] == 2);
  // As an older aether left it: no access_times column. Readers see no
  // history; verify passes; a search records its access (in the log).
  SqlRows(store, "ALTER TABLE memories DROP COLUMN access_times");
  CHECK(Get(store, mems[0].id, kT0 + 4 * kHour)["pattern"]["accesses"] == 0);
  const auto explained = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "-k", "1", "--explain"}, "",
                                {"AETHER_NOW_MS=" + std::to_string(kT0 + 4 * kHour)});
  REQUIRE(explained.exit_code == 0);
  CHECK(nlohmann::json::parse(Lines(explained.out).at(0))["results"][0]["explain"]["pattern"]["accesses"] == 0);
  CHECK(Get(store, mems[0].id, kT0 + 4 * kHour)["pattern"]["accesses"] == 1);  // the search above, from the log
  CHECK(Aether({"verify", store}).exit_code == 0);
  // The first writer adds the column back (a schema step) and folds the log into it.
  REQUIRE(Aether({"config", store, "set", "sample_rate", "0"}, "", {"AETHER_NOW_MS=" + std::to_string(kT0 + 5 * kHour)})
              .exit_code == 0);
  CHECK(SqlRows(store, "SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'access_times'").at(0) == "1");
  auto after = Get(store, mems[0].id, kT0 + 5 * kHour);
  CHECK(after["pattern"]["accesses"] == 1);
  CHECK(after["access_count"] == 7);
  CHECK(Aether({"verify", store}).exit_code == 0);
}
