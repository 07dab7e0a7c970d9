// Placement by access pattern end to end: a store whose memories carry the
// labelled workload's histories (tests/support/access_workload.h, written
// into meta.db as format-spec/metadata_db.md lays them out), ticked by
// `maintain`. Every memory's decision is checked against the rule run on
// the history the test wrote (policy/placement.h; the rule's own cases are
// tests/policy/placement_test.cc): the dry run lists exactly those moves
// with their pattern and confidence, the tick makes them and no other
// move takes what a pattern keeps, the history records each one with its
// reason, score and confidence, a pinned memory is left alone, with
// pattern_placement 0 the same tick moves by the score alone, and the
// disabled preset moves nothing.
#include "policy/placement.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "policy/access_pattern.h"
#include "support/access_workload.h"
#include "test_util.h"

using namespace aether::test;

namespace {

constexpr int64_t kNow = 1'800'000'000'000, kDay = 86'400'000;

std::string Hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02X}", c);
  return out;
}

nlohmann::json Maintain(const std::string& store, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"maintain", store, "--seed", "3", "--format", "json", "--moves"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = Aether(args, "", {"AETHER_NOW_MS=" + std::to_string(kNow)});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(Lines(r.out).at(0));
}

// The moves a pattern decided: id -> the move.
std::map<std::string, nlohmann::json> PatternMoves(const nlohmann::json& tick) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& m : tick["moves"])
    if (m.contains("pattern")) out[m["id"].get<std::string>()] = m;
  return out;
}

}  // namespace

TEST_CASE("placement: maintain makes the moves each memory's pattern decides, records why, and keeps the kept") {
  TempDir dir;
  const std::string store = dir / "s";
  // h0..h29 carry the workload's histories (6 of each pattern); g0..g19 none.
  const auto workload = AccessWorkload(/*seed=*/17, /*per_class=*/6);
  REQUIRE(workload.size() == 30);
  auto mems = RandomMems(30, 8, 5, "h");
  const auto plain = RandomMems(20, 8, 6, "g");
  mems.insert(mems.end(), plain.begin(), plain.end());
  const std::string at0 = "AETHER_NOW_MS=" + std::to_string(kNow - 200 * kDay);
  REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "100"}, "", {at0}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, ToJsonl(mems), {at0}).exit_code == 0);
  // Of each pattern's memories, every other one starts cold.
  std::vector<std::string> down = {"descend", store};
  std::vector<bool> hot_at_start;
  std::map<aether::AccessPattern, int> seen;
  for (size_t i = 0; i < workload.size(); ++i) {
    hot_at_start.push_back(seen[workload[i].label]++ % 2 == 0);
    if (!hot_at_start.back()) down.push_back("h" + std::to_string(i));
  }
  REQUIRE(Aether(down, "", {at0}).exit_code == 0);

  // Each history moved to end at kNow, written with its creation and stats.
  // A lead of 6 hours and bursts idle for up to 4 (the defaults are a
  // quarter hour and half of one): the 30 histories, made for other tests,
  // then give every kind of decision.
  const std::map<std::string, double> set = {{"pattern_lead_seconds", 21600}, {"burst_idle_minutes", 240}};
  for (const auto& [key, value] : set)
    REQUIRE(Aether({"config", store, "set", key, fmt::format("{}", value)}, "", {at0}).exit_code == 0);
  const aether::PolicyParams params = aether::ResolveParams(set);
  struct Expect {
    aether::PlacementDecision d;
    std::string pattern;
  };
  std::map<std::string, Expect> expect;
  for (size_t i = 0; i < workload.size(); ++i) {
    const auto& w = workload[i];
    const std::string id = "h" + std::to_string(i);
    const int64_t shift = kNow - w.now_ms;
    aether::AccessHistory h = w.history;
    for (int64_t& t : h.times) t += shift;
    const int64_t created = w.created_ms + shift;
    SqlRows(store, fmt::format("UPDATE memories SET access_times = X'{}', created_ms = {}, last_access_ms = {}, "
                               "access_count = {}, importance = 0 WHERE id = '{}'",
                               Hex(aether::EncodeHistory(h)), created, h.times.back(), h.times.size() + h.older, id));
    const aether::PatternReading r = aether::ClassifyAccesses(h, kNow, created);
    expect[id] = {aether::DecidePlacement(r, params, kNow, hot_at_start[i], h.times.back()),
                  aether::AccessPatternName(r.pattern)};
  }
  // One hot memory the pattern would move (or any hot one) is pinned: left alone.
  std::string pinned = "h0";
  for (const auto& [id, e] : expect)
    if (e.d.action == aether::PlacementAction::kDemote) pinned = id;
  REQUIRE(Aether({"pin", store, pinned}, "", {at0}).exit_code == 0);
  expect.erase(pinned);

  std::set<std::string> kept, promoted, demoted, decided;
  size_t low_confidence = 0;
  for (const auto& [id, e] : expect) {
    if (e.d.action == aether::PlacementAction::kKeepHot) kept.insert(id);
    if (e.d.action == aether::PlacementAction::kPromote) promoted.insert(id);
    if (e.d.action == aether::PlacementAction::kDemote) demoted.insert(id);
    if (e.d.action != aether::PlacementAction::kNone) decided.insert(id);
    low_confidence += std::string(e.d.reason) == "low-confidence";
  }
  // The workload gives every kind of decision (else this test tests less).
  REQUIRE(!kept.empty());
  REQUIRE(!promoted.empty());
  REQUIRE(!demoted.empty());
  // A capacity that forces descends: all but the kept, the promoted, the
  // pinned and two more must go (35 are hot).
  const size_t capacity = kept.size() + promoted.size() + 3;
  REQUIRE(Aether({"config", store, "set", "hot_capacity", std::to_string(capacity)}, "", {at0}).exit_code == 0);
  // A hot tier this far past its capacity is an emergency, which pauses
  // promotions (README "Pressure levels"): the hot fill is not judged here.
  for (const char* level : {"emergency", "critical", "warning"})
    REQUIRE(Aether({"config", store, "set", fmt::format("pressure_hot_{}", level), "0"}, "", {at0}).exit_code == 0);
  // Every g* scores above every h*: were a kept memory not kept, it would be
  // the capacity's, the age policy's and the restores' first victim.
  SqlRows(store, fmt::format("UPDATE memories SET importance = 1, last_access_ms = {}, access_count = 100 WHERE id "
                             "LIKE 'g%'",
                             kNow));
  REQUIRE(Aether({"config", store, "set", "max_hot_idle_hours", "1"}, "", {at0}).exit_code == 0);
  const std::string copy = dir / "score-only";
  std::filesystem::copy(store, copy, std::filesystem::copy_options::recursive);

  const nlohmann::json plan = Maintain(store, {"--dry-run"});
  const nlohmann::json tick = Maintain(store, {});
  for (const nlohmann::json* t : {&plan, &tick}) {
    CAPTURE(t->dump());
    CHECK((*t)["pattern_read"] == expect.size());
    CHECK((*t)["pattern_kept"] == kept.size());
    CHECK((*t)["pattern_queued"] == promoted.size());
    CHECK((*t)["descended_pattern"] == demoted.size());
    CHECK((*t)["pattern_low_confidence"] == low_confidence);
    const auto moves = PatternMoves(*t);
    CHECK(moves.size() == decided.size() - kept.size());
    for (const auto& entry : expect) {
      const std::string& id = entry.first;  // a plain reference: CAPTURE's lambda takes it (clang, C++17)
      const Expect& e = entry.second;
      CAPTURE(id);
      if (e.d.action != aether::PlacementAction::kPromote && e.d.action != aether::PlacementAction::kDemote) {
        CHECK(moves.count(id) == 0);
        continue;
      }
      REQUIRE(moves.count(id) == 1);
      const auto& m = moves.at(id);
      const bool up = e.d.action == aether::PlacementAction::kPromote;
      CHECK(m["from"] == (up ? "cold" : "hot"));
      CHECK(m["to"] == (up ? "hot" : "cold"));
      CHECK(m["reason"] == e.d.reason);
      CHECK(m["pattern"] == e.pattern);
      CHECK(m["confidence"].get<double>() == doctest::Approx(e.d.confidence));
    }
    // No other move takes a decided memory, or the pinned one, the wrong way.
    for (const auto& m : (*t)["moves"]) {
      if (m.contains("pattern")) continue;
      const std::string id = m["id"];
      CAPTURE(m.dump());
      CHECK(id != pinned);
      if (m["to"] == "cold") CHECK(decided.count(id) == 0);
      if (m["to"] == "hot") CHECK((promoted.count(id) == 1 || decided.count(id) == 0));
    }
    CHECK((*t)["descended_capacity"].get<int>() > 0);  // the capacity had its say
    CHECK((*t)["descended_age"].get<int>() > 0);       // and the age policy
  }
  CHECK(PatternMoves(plan) == PatternMoves(tick));  // the rehearsal is the tick

  const auto tiers = Tiers(store);
  for (const auto& id : kept) CHECK_MESSAGE(tiers.at(id) == "hot", id);
  for (const auto& id : promoted) CHECK_MESSAGE(tiers.at(id) == "hot", id);
  for (const auto& id : demoted) CHECK_MESSAGE(tiers.at(id) == "cold", id);
  CHECK(tiers.at(pinned) == "hot");
  size_t hot = 0;
  for (const auto& [id, tier] : tiers) hot += tier == "hot";
  CHECK(hot <= capacity);

  // Each decision is in the memory's history: reason, score, confidence.
  const auto moves = PatternMoves(tick);
  for (const std::string& id : {*promoted.begin(), *demoted.begin()}) {
    CAPTURE(id);
    const auto r = Aether({"history", store, id}, "", {"AETHER_NOW_MS=" + std::to_string(kNow)});
    REQUIRE(r.exit_code == 0);
    int placements = 0;
    for (const auto& line : Lines(r.out)) {
      const auto e = nlohmann::json::parse(line);
      if (e["kind"] != "placement") continue;
      ++placements;
      CHECK(e["detail"]["action"] == (promoted.count(id) ? "promote" : "demote"));
      CHECK(e["detail"]["reason"] == moves.at(id)["reason"]);
      CHECK(e["detail"]["pattern"] == moves.at(id)["pattern"]);
      CHECK(e["detail"]["confidence"].get<double>() == doctest::Approx(moves.at(id)["confidence"].get<double>()));
      CHECK(e["detail"]["score"].get<double>() == doctest::Approx(moves.at(id)["score"].get<double>()));
    }
    CHECK(placements == 1);
  }
  Verified(store);

  // get shows what the next tick would decide for a memory, where it is now.
  const std::string some = *demoted.begin();
  const auto got = Aether({"get", store, some, "--format", "json"}, "", {"AETHER_NOW_MS=" + std::to_string(kNow)});
  REQUIRE(got.exit_code == 0);
  CHECK(nlohmann::json::parse(got.out)[0]["pattern"]["placement"]["action"] == "none");  // already cold
  // A second tick at the same time: what the first queued is not queued or
  // logged again, and what it moved stays.
  const nlohmann::json again = Maintain(store, {});
  for (const auto& entry : PatternMoves(again)) CHECK(moves.count(entry.first) == 0);

  // Demotions only make the room the tick needs: none with room to spare
  // (held, counted), then exactly the room needed, the lowest scores first.
  // (idle_descend_hours 0: the low watermark's own hold stays out of it.)
  size_t hot_in_copy = 0;
  for (const auto& [id, tier] : Tiers(copy)) hot_in_copy += tier == "hot";
  REQUIRE(Aether({"config", copy, "set", "idle_descend_hours", "0"}, "", {at0}).exit_code == 0);
  for (size_t room_needed : {size_t(0), size_t(2)}) {
    CAPTURE(room_needed);
    const size_t cap = hot_in_copy + promoted.size() - room_needed;
    REQUIRE(Aether({"config", copy, "set", "hot_capacity", std::to_string(cap)}, "", {at0}).exit_code == 0);
    const nlohmann::json roomy = Maintain(copy, {"--dry-run"});
    CHECK(roomy["descended_pattern"] == room_needed);
    CHECK(roomy["pattern_held"] == demoted.size() - room_needed);
    std::vector<double> scores;  // the pattern's demotions' scores
    for (const auto& [id, m] : PatternMoves(roomy))
      if (m["to"] == "cold") {
        CHECK(demoted.count(id) == 1);
        scores.push_back(m["score"].get<double>());
      }
    CHECK(scores.size() == room_needed);
    if (room_needed == 0) continue;
    // The lowest of the demoted memories' scores (as the full tick gave them).
    std::vector<double> all;
    for (const auto& id : demoted) all.push_back(moves.at(id)["score"].get<double>());
    std::sort(all.begin(), all.end());
    std::sort(scores.begin(), scores.end());
    for (size_t i = 0; i < scores.size(); ++i) CHECK(scores[i] == doctest::Approx(all[i]));
  }
  REQUIRE(Aether({"config", copy, "set", "hot_capacity", std::to_string(capacity)}, "", {at0}).exit_code == 0);

  // pattern_placement 0: the same tick by the score alone.
  REQUIRE(Aether({"config", copy, "set", "pattern_placement", "0"}, "", {at0}).exit_code == 0);
  const nlohmann::json score_only = Maintain(copy, {"--dry-run"});
  CHECK(score_only["pattern_read"] == 0);
  CHECK(PatternMoves(score_only).empty());
  CHECK(score_only["pattern_kept"] == 0);
  // The disabled preset moves nothing at all, patterns or not.
  REQUIRE(Aether({"config", copy, "set", "pattern_placement", "1"}, "", {at0}).exit_code == 0);
  REQUIRE(Aether({"config", copy, "preset", "disabled"}, "", {at0}).exit_code == 0);
  const nlohmann::json disabled = Maintain(copy, {"--dry-run"});
  CHECK(disabled["pattern_read"] == 0);
  CHECK(disabled["moves"].empty());
}
