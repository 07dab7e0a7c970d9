// Memory dynamics end to end: feedback, config, history, explain, queueing,
// maintain (statistics of the sampled moves, the capacity invariant, dry
// runs) and a long simulation with a pinned clock.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

using namespace aether::test;

namespace {

constexpr int64_t kHour = 3600000;

std::string At(int64_t ms) { return "AETHER_NOW_MS=" + std::to_string(ms); }

nlohmann::json Json(const RunResult& r) { return nlohmann::json::parse(r.out); }

double Importance(const std::string& store, const std::string& id) {
  return nlohmann::json::parse(Lines(Aether({"get", store, id}).out).at(0))["importance"].get<double>();
}

}  // namespace

TEST_CASE("feedback moves importance by EMA; bad rewards and unknown ids are reported") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 3, 1))).exit_code == 0);
  CHECK(Aether({"feedback", store, "m1", "1"}).exit_code == 0);
  CHECK(Importance(store, "m1") == doctest::Approx(0.6));
  auto bad = Aether({"feedback", store, "m1", "1.5"});
  CHECK(bad.exit_code == 65);
  CHECK(bad.err.find("reward '1.5' is not a number in [0, 1]") != std::string::npos);
  CHECK(Aether({"feedback", store, "m1", "nan"}).exit_code == 65);
  WriteFile(dir / "fb.jsonl",
            "{\"id\":\"m2\",\"reward\":0}\n{\"id\":\"ghost\",\"reward\":1}\n{\"id\":\"m3\",\"reward\":1}\n");
  auto f = Aether({"feedback", store, "--file", dir / "fb.jsonl"});
  CHECK(f.exit_code == 1);
  CHECK(f.err.find(dir / "fb.jsonl" + ":2: unknown id 'ghost' (skipped)") != std::string::npos);
  CHECK(Importance(store, "m2") == doctest::Approx(0.4));
  CHECK(Importance(store, "m3") == doctest::Approx(0.6));
  auto range =
      Aether({"feedback", store, "--file", "-"}, "{\"id\":\"m2\",\"reward\":0.5}\n{\"id\":\"m3\",\"reward\":-1}\n");
  CHECK(range.exit_code == 65);
  CHECK(range.err.find("<stdin>:2: reward -1 is outside [0, 1]") != std::string::npos);
  CHECK(Importance(store, "m2") == doctest::Approx(0.4));  // nothing applied from a bad file
}

TEST_CASE("config validates keys and ranges, presets set known values, and changes are audited") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
  auto all = Json(Aether({"config", store, "get", "--format", "json"}));
  CHECK(all["sample_rate"] == 0.1);
  CHECK(all["hot_capacity"] == 65536);
  CHECK(all.size() == 62);
  CHECK(all["history_retention_days"] == 90);
  CHECK(Aether({"config", store, "set", "sample_rate", "0.3"}).exit_code == 0);
  CHECK(Aether({"config", store, "get", "sample_rate"}).out == "0.3\n");
  auto unknown = Aether({"config", store, "set", "colour", "1"});
  CHECK(unknown.exit_code == 64);
  CHECK(unknown.err.find("unknown config key 'colour'") != std::string::npos);
  auto out_of_range = Aether({"config", store, "set", "decay_rate", "1.5"});
  CHECK(out_of_range.exit_code == 64);
  CHECK(out_of_range.err.find("decay_rate = 1.5 is outside [0, 1]") != std::string::npos);
  CHECK(Aether({"config", store, "set", "min_temperature", "0.9"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "max_temperature", "0.5"}).err.find("must not exceed") != std::string::npos);
  CHECK(Aether({"config", store, "preset", "loud"}).exit_code == 64);
  CHECK(Aether({"config", store, "preset", "disabled"}).exit_code == 0);
  CHECK(Json(Aether({"config", store, "get", "--format", "json"}))["restore_top_n"] == 0);
  CHECK(Json(Aether({"config", store, "get", "--format", "json"}))["pattern_placement"] == 0);
  CHECK(Aether({"config", store, "preset", "default"}).exit_code == 0);
  CHECK(Json(Aether({"config", store, "get", "--format", "json"}))["sample_rate"] == 0.1);
  auto hist = Lines(Aether({"history", store, "sample_rate"}).out);
  REQUIRE(hist.size() >= 3);
  auto first = nlohmann::json::parse(hist[0]);
  CHECK(first["kind"] == "config");
  CHECK(first["detail"]["from"] == 0.1);
  CHECK(first["detail"]["to"] == 0.3);
}

TEST_CASE("history keeps moves, feedback and delete tombstones, filtered by id and time") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "2"}, ToJsonl(RandomMems(4, 3, 1)), {At(1000)})
              .exit_code == 0);
  REQUIRE(Aether({"descend", store, "m0"}, "", {At(2000)}).exit_code == 0);
  REQUIRE(Aether({"feedback", store, "m0", "1"}, "", {At(3000)}).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m0"}, "", {At(4000)}).exit_code == 0);
  auto h = Lines(Aether({"history", store, "m0"}).out);
  REQUIRE(h.size() == 3);
  CHECK(nlohmann::json::parse(h[0])["kind"] == "descend");
  CHECK(nlohmann::json::parse(h[1])["kind"] == "feedback");
  CHECK(nlohmann::json::parse(h[2])["kind"] == "delete");
  CHECK(nlohmann::json::parse(h[2])["ts_ms"] == 4000);
  CHECK(Lines(Aether({"history", store, "m0", "--since", "2500"}).out).size() == 2);
}

TEST_CASE("history: a descend's or an ascend's direction is its kind's, stored without detail; others as stored") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(4, 3, 1);  // m0, m1 hot; m2, m3 cold
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "2"}, ToJsonl(mems), {At(1000)}).exit_code == 0);
  REQUIRE(Aether({"descend", store, "m0"}, "", {At(2000)}).exit_code == 0);
  REQUIRE(Aether({"ascend", store, "m2"}, "", {At(3000)}).exit_code == 0);
  // A full hot tier: with ingest_evict (the default), the new memory's
  // ingest descends the lowest-scored hot one (m1 or m2) in its commit.
  REQUIRE(Aether({"ingest", store}, ToJsonl(RandomMems(1, 3, 9, "n")), {At(4000)}).exit_code == 0);
  // As an aether before 2026-12 wrote a move: with its detail.
  SqlRows(store,
          "INSERT INTO audit_log(ts_ms, kind, id, detail) VALUES(5000, 'descend', 'm3', "
          "'{\"from\":\"hot\",\"to\":\"cold\"}')");
  std::map<std::string, std::string> detail;  // kind and id -> detail shown
  for (const auto& line : Lines(Aether({"history", store}).out)) {
    auto e = nlohmann::json::parse(line);
    detail[e["kind"].get<std::string>() + " " + e["id"].get<std::string>()] = e["detail"].dump();
  }
  CHECK(detail["descend m0"] == R"({"from":"hot","to":"cold"})");
  CHECK(detail["ascend m2"] == R"({"from":"cold","to":"hot"})");
  CHECK(detail["descend m3"] == R"({"from":"hot","to":"cold"})");
  const std::string evicted = detail.count("ingest m1") ? "ingest m1" : "ingest m2";
  CHECK(detail[evicted] == R"({"from":"hot","to":"cold"})");
  // Stored: no detail for the descend and the ascend, the eviction's as is.
  CHECK(SqlRows(store,
                "SELECT kind, id, detail FROM audit_log WHERE kind IN ('descend', 'ascend', 'ingest') "
                "AND ts_ms < 5000 ORDER BY seq") ==
        std::vector<std::string>{"descend|m0|NULL", "ascend|m2|NULL",
                                 evicted.substr(0, 6) + "|" + evicted.substr(7) + R"(|{"from":"hot","to":"cold"})"});
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("search --explain shows each result's score parts, and searches queue cold results") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(20, 4, 3);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "5"}, ToJsonl(mems), {At(0)}).exit_code == 0);
  REQUIRE(Aether({"feedback", store, "m12", "1"}, "", {At(0)}).exit_code == 0);
  auto r = Aether({"search", store, "--vector", VectorJson(mems[12].vec), "-k", "2", "--explain", "--format", "json"},
                  "", {At(2 * kHour)});
  auto hit = nlohmann::json::parse(r.out)[0]["results"][0];
  CHECK(hit["id"] == "m12");
  CHECK(hit["explain"]["recency_hours"] == doctest::Approx(2.0));
  CHECK(hit["explain"]["access_count"] == 0);
  CHECK(hit["explain"]["importance"] == doctest::Approx(0.6));
  CHECK(hit["explain"]["score"] == doctest::Approx(-2 + 0 + 0.6));
  // That search touched m12 and queued it (cold, rank 0, priority 1): in
  // the access log, which the next writer folds into the queue.
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  CHECK(Json(Aether({"stats", store, "--format", "json"}))["restore_queue_depth"].get<int>() >= 1);
  auto again =
      Aether({"search", store, "--vector", VectorJson(mems[12].vec), "-k", "1", "--explain", "--format", "json"}, "",
             {At(3 * kHour)});
  CHECK(nlohmann::json::parse(again.out)[0]["results"][0]["explain"]["access_count"] == 1);
  // A --no-touch search queues nothing.
  REQUIRE(Aether({"ascend", store, "--queued", "--evict"}).exit_code == 0);
  CHECK(Json(Aether({"stats", store, "--format", "json"}))["restore_queue_depth"] == 0);
  REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[15].vec), "-k", "1", "--no-touch"}).exit_code == 0);
  CHECK(Json(Aether({"stats", store, "--format", "json"}))["restore_queue_depth"] == 0);
}

TEST_CASE("maintain: sampled moves follow sigmoid(score, k) * min(t, 1) within a stated tolerance") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonl(RandomMems(200, 2, 5)), {At(0)})
              .exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "sample_rate", "1"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "hot_low_watermark", "0"}).exit_code == 0);  // the law alone
  // Every memory: 2 h since access, 0 accesses, importance 0.5 * 0.99 after
  // this tick's decay: score s = -2 + 0.495; p = sigmoid(-s, 1) * min(0.95, 1).
  double s = -2 + 0.5 * 0.99, expect = 1 / (1 + std::exp(s)) * 0.95;
  uint64_t moved = 0, candidates = 0;
  for (int seed = 1; seed <= 20; ++seed) {
    auto r = Json(Aether({"maintain", store, "--dry-run", "--seed", std::to_string(seed), "--format", "json"}, "",
                         {At(2 * kHour)}));
    candidates += r["hot_candidates"].get<uint64_t>();
    for (const auto& m : r["moves"]) moved += m["reason"] == "sampled";
  }
  double got = double(moved) / double(candidates);
  MESSAGE("sampled descend rate " << got << ", expected " << expect << " (tolerance 0.03, n=" << candidates << ")");
  CHECK(candidates == 4000);
  CHECK(std::fabs(got - expect) < 0.03);
  // Same seed and clock, same tick.
  auto a = Aether({"maintain", store, "--dry-run", "--seed", "7", "--format", "json"}, "", {At(2 * kHour)});
  auto b = Aether({"maintain", store, "--dry-run", "--seed", "7", "--format", "json"}, "", {At(2 * kHour)});
  CHECK(a.out == b.out);
}

TEST_CASE("maintain --dry-run changes nothing; a real tick decays, cools and enforces the capacity") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "50"}, ToJsonl(RandomMems(80, 3, 6)), {At(0)}).exit_code ==
      0);
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "30"}).exit_code == 0);
  std::string hot = ReadFile(store + "/hot.slots");
  auto before = Json(Aether({"stats", store, "--format", "json"}));
  before.erase("metrics");  // what commands did grows with each; the store's state must not
  auto dry = Json(Aether({"maintain", store, "--dry-run", "--seed", "1", "--format", "json"}, "", {At(kHour)}));
  CHECK(dry["pressure"] == true);  // over capacity
  // The dry run's counts say what the tick would do (the sampled part).
  uint64_t sampled = 0, queued = 0;
  for (const auto& m : dry["moves"]) sampled += m["reason"] == "sampled", queued += m["reason"] == "queued";
  CHECK(dry["descended_sampled"] == sampled);
  CHECK(dry["queued"] == queued);
  CHECK(dry["importance_decayed"] == 80);
  auto after = Json(Aether({"stats", store, "--format", "json"}));
  after.erase("metrics");
  CHECK(after == before);
  CHECK(ReadFile(store + "/hot.slots") == hot);
  CHECK(Importance(store, "m0") == doctest::Approx(0.5));
  auto tick = Json(Aether({"maintain", store, "--seed", "1", "--format", "json"}, "", {At(kHour)}));
  CHECK(!tick.contains("moves"));  // counts only, without --moves
  CHECK(tick["temperature_before"] == 1.0);
  CHECK(tick["temperature_after"] == doctest::Approx(0.95 * 1.5));
  CHECK(tick["hot"].get<int>() <= 30);
  CHECK(tick["importance_decayed"] == 80);
  CHECK(Importance(store, "m0") == doctest::Approx(0.495));
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("simulation: a working set that keeps being searched and rewarded ends hot, the rest cold") {
  // The dynamics' arithmetic over 150 ticks of the same commands: the
  // unsanitized run's (a sanitizer run's short form skips it: a minute of
  // the search and maintain paths every other test runs).
  if (ShortRun()) return;
  TempDir dir;
  std::string store = dir / "s";
  const int kCapacity = 40, kTicks = 150;
  auto others = RandomMems(170, 8, 11, "o");
  auto working = RandomMems(30, 8, 12, "w");
  std::vector<Mem> all = others;
  all.insert(all.end(), working.begin(), working.end());  // the working set starts cold
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", std::to_string(kCapacity)}, ToJsonl(all), {At(0)})
              .exit_code == 0);
  std::string queries, rewards;
  for (const auto& m : working) {
    queries += "{\"id\":\"" + m.id + "\",\"vector\":" + VectorJson(m.vec) + "}\n";
    rewards += "{\"id\":\"" + m.id + "\",\"reward\":1}\n";
  }
  WriteFile(dir / "q.jsonl", queries);
  WriteFile(dir / "r.jsonl", rewards);
  double first_hit = -1, last_hits = 0;
  int capacity_violations = 0;
  for (int tick = 1; tick <= kTicks; ++tick) {
    std::string now = At(int64_t(tick) * kHour);
    auto s = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "1"}, "", {now});
    REQUIRE(s.exit_code == 0);
    int hot_hits = 0;
    for (const auto& hits : ParseSearchOutput(s.out)) hot_hits += hits.at(0).tier == "hot";
    double rate = double(hot_hits) / double(working.size());
    if (first_hit < 0) first_hit = rate;
    if (tick > kTicks - 10) last_hits += rate / 10;
    REQUIRE(Aether({"feedback", store, "--file", dir / "r.jsonl"}, "", {now}).exit_code == 0);
    auto m = Json(Aether({"maintain", store, "--seed", std::to_string(tick), "--format", "json"}, "", {now}));
    if (m["hot"].get<int>() > kCapacity) ++capacity_violations;
  }
  MESSAGE("simulation: " << kTicks << " ticks; working-set hot hit rate " << first_hit << " at the start, " << last_hits
                         << " over the last 10 ticks; capacity violations " << capacity_violations);
  CHECK(capacity_violations == 0);
  CHECK(last_hits >= 0.9);
  auto recs = GetRecords(store, {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9"});
  int cold_others = 0;
  for (const auto& [id, r] : recs) cold_others += r.tier == "cold";
  CHECK(cold_others >= 8);  // untouched memories end cold
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("maintain caps candidates with a uniform subset, not the oldest memories") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonl(RandomMems(300, 2, 5)), {At(0)})
              .exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "sample_rate", "1"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "max_candidates", "30"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "hot_low_watermark", "0"}).exit_code == 0);
  std::set<std::string> seen;
  for (int seed = 1; seed <= 10; ++seed) {
    auto r = Json(Aether({"maintain", store, "--dry-run", "--seed", std::to_string(seed), "--format", "json"}, "",
                         {At(100 * kHour)}));
    CHECK(r["hot_candidates"] == 30);
    for (const auto& m : r["moves"]) seen.insert(m["id"].get<std::string>());
  }
  // Memories beyond the first 30 row ids get sampled too.
  int late = 0;
  for (const auto& id : seen) late += std::stoi(id.substr(1)) >= 30;
  CHECK(late > 100);
}

TEST_CASE("maintain descends no sampled memory under the low watermark unless it is idle past idle_descend_hours") {
  TempDir dir;
  std::string store = dir / "s";
  // 100 hot of a capacity of 1000: under the 0.8 watermark.
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonl(RandomMems(100, 2, 5)), {At(0)})
              .exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "sample_rate", "1"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "idle_descend_hours", "10"}).exit_code == 0);
  auto sampled = [&](int64_t hours) {
    auto r = Json(Aether({"maintain", store, "--dry-run", "--seed", "3", "--format", "json"}, "", {At(hours * kHour)}));
    uint64_t n = 0;
    for (const auto& m : r["moves"]) n += m["reason"] == "sampled";
    return n;
  };
  CHECK(sampled(2) == 0);   // idle 2 h < 10 h: kept hot though the law would move most
  CHECK(sampled(11) > 50);  // idle 11 h: the law applies (p ~ 0.95 each)
  REQUIRE(Aether({"config", store, "set", "hot_low_watermark", "0.05"}).exit_code == 0);
  CHECK(sampled(2) > 50);  // over the watermark: the law applies
}

TEST_CASE("the restore queue holds at most restore_queue_max entries, the highest priorities") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(40, 3, 9);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(mems)).exit_code == 0);  // all cold
  REQUIRE(Aether({"config", store, "set", "restore_top_n", "10"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "restore_queue_max", "4"}).exit_code == 0);
  auto r = Aether({"search", store, "--vector", VectorJson(mems[7].vec), "-k", "10"});
  REQUIRE(r.exit_code == 0);
  auto hits = ParseSearchOutput(r.out);
  REQUIRE(hits.at(0).size() == 10);
  REQUIRE(Aether({"recover", store}).exit_code == 0);  // folds the search's record
  CHECK(Json(Aether({"stats", store, "--format", "json"}))["restore_queue_depth"] == 4);
  // Priority 1 / (1 + rank): the four best-ranked hits stay, in rank order.
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "40"}).exit_code == 0);  // room to plan the drain
  auto plan = Json(Aether({"ascend", store, "--queued", "--dry-run", "--format", "json"}));
  std::vector<std::string> queued, want;
  for (const auto& m : plan["plan"]) queued.push_back(m["id"]);
  for (size_t i = 0; i < 4; ++i) want.push_back(hits[0][i].id);
  CHECK(queued == want);
}

TEST_CASE("rates are per unit of time: ticking every minute or every five minutes gives the same trajectories") {
  if (ShortRun()) return;  // arithmetic over a hundred ticks, as the simulation above
  // (importance of a memory, temperature) every 10 simulated minutes over 2 h.
  auto trajectory = [](int64_t interval_s) {
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 2, 7)), {At(0)}).exit_code == 0);
    REQUIRE(Aether({"config", store, "preset", "disabled"}).exit_code == 0);  // no moves, only the decays
    REQUIRE(Aether({"config", store, "set", "importance_decay", "0.99"}).exit_code == 0);
    std::vector<std::pair<double, double>> out;
    for (int64_t t = interval_s; t <= 7200; t += interval_s) {
      auto r = Json(Aether({"maintain", store, "--format", "json"}, "", {At(t * 1000)}));
      if (t % 600 != 0) continue;
      auto g = nlohmann::json::parse(Lines(Aether({"get", store, "m0"}).out).at(0));
      out.push_back({g["importance"].get<double>(), r["temperature_after"].get<double>()});
    }
    return out;
  };
  auto every5 = trajectory(300), every1 = trajectory(60);
  REQUIRE(every5.size() == 12);
  REQUIRE(every1.size() == 12);
  for (size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(every1[i].first == doctest::Approx(every5[i].first).epsilon(0.05));
    CHECK(every1[i].second == doctest::Approx(every5[i].second).epsilon(0.05));
  }
  // And they decay: 0.5 * 0.99^24 and 0.95^24 after 2 h (24 five-minute intervals).
  CHECK(every5.back().first == doctest::Approx(0.5 * std::pow(0.99, 24)).epsilon(0.001));
  CHECK(every5.back().second == doctest::Approx(std::pow(0.95, 24)).epsilon(0.001));
}
