// Metrics across one-shot processes (issue 18 items 1-3, format-spec/
// metrics_log.md): every counter checked against the commands the test ran
// (a SIGKILLed one and a busy one included), the latency histograms against
// durations from an injected clock (AETHER_DURATION_US) with an independent
// quantile, the fold's exactly-once rule under a kill, damage to the log,
// `stats --since`, `stats --format prometheus` through promtool, and
// `aether check` against every threshold.
#include "aether/metrics.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "store/metrics_log.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;

namespace {

// The bucket bounds the format names (format-spec/metrics_log.md), in µs:
// written out here rather than read from the library.
const std::vector<int64_t> kBoundsUs = {1000,     2500,     5000,     10000,     25000,    50000,
                                        100000,   250000,   500000,   1000000,   2500000,  5000000,
                                        10000000, 30000000, 60000000, 300000000, 600000000};

// histogram_quantile over durations, from the definition: each duration in
// the first bucket whose bound is >= it; the bucket holding rank q * n;
// linear within it.
double ReferenceQuantileMs(const std::vector<int64_t>& us, double q) {
  std::vector<uint64_t> counts(kBoundsUs.size() + 1, 0);
  for (int64_t d : us) {
    size_t i = 0;
    while (i < kBoundsUs.size() && d > kBoundsUs[i]) ++i;
    ++counts[i];
  }
  const double rank = q * double(us.size());
  double below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0 && below + double(counts[i]) >= rank) {
      if (i == kBoundsUs.size()) return double(kBoundsUs.back()) / 1000;
      const double lo = i == 0 ? 0 : double(kBoundsUs[i - 1]);
      return (lo + (double(kBoundsUs[i]) - lo) * (rank - below) / double(counts[i])) / 1000;
    }
    below += double(counts[i]);
  }
  return -1;
}

nlohmann::json StatsJson(const std::string& store, const std::vector<std::string>& extra = {},
                         const std::vector<std::string>& env = {}) {
  std::vector<std::string> args = {"stats", store, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = Aether(args, "", env);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out)["metrics"];
}

// (name, labels as k=v,k=v) -> value, from stats --format json.
std::map<std::string, int64_t> Counters(const nlohmann::json& metrics) {
  std::map<std::string, int64_t> out;
  for (const auto& c : metrics["counters"]) {
    std::string key = c["name"];
    for (const auto& [k, v] : c["labels"].items()) key += " " + k + "=" + v.get<std::string>();
    out[key] = c["value"];
  }
  return out;
}

const nlohmann::json* CommandRow(const nlohmann::json& metrics, const std::string& command) {
  for (const auto& row : metrics["commands"])
    if (row["command"] == command) return &row;
  return nullptr;
}

void WaitFor(const std::string& path) {
  for (int i = 0; i < 6000 && !std::filesystem::exists(path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(std::filesystem::exists(path));
}

}  // namespace

TEST_CASE("metrics: every counter matches the commands run, a SIGKILLed and a busy one included") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(300, 6, 81);
  std::map<std::string, int64_t> want;  // the reference: what this test ran
  auto ran = [&](const std::string& command, int code) {
    ++want["aether_commands_total command=" + command + " exit_code=" + std::to_string(code)];
  };
  REQUIRE(Aether({"init", store, "--dim", "6", "--hot-capacity", "100"}).exit_code == 0);
  ran("init", 0);
  REQUIRE(Aether({"ingest", store, "-"}, ToJsonl(mems)).exit_code == 0);
  ran("ingest", 0);
  want["aether_ingested_total"] += 300;
  want["aether_migrations_total kind=ingest outcome=committed"] += 1;

  // Searches: results by the tier each hit reports, queued restores as
  // the cold hits within restore_top_n (3) of each query.
  for (int i = 0; i < 4; ++i) {
    const auto qs = RandomMems(5, 6, uint64_t(900 + i), "q");
    auto r = Aether({"search", store, "--queries", "-", "-k", "7"}, QueriesJsonl(qs));
    REQUIRE(r.exit_code == 0);
    ran("search", 0);
    want["aether_search_queries_total"] += 5;
    for (const auto& hits : ParseSearchOutput(r.out))
      for (size_t rank = 0; rank < hits.size(); ++rank) {
        ++want["aether_search_results_total tier=" + hits[rank].tier];
        if (hits[rank].tier == "cold" && rank < 3) ++want["aether_restores_total outcome=queued"];
      }
  }
  // Feedback: two known ids and one missing (exit 1): two applied.
  REQUIRE(Aether({"feedback", store, mems[0].id, "0.9"}).exit_code == 0);
  ran("feedback", 0);
  want["aether_feedback_total"] += 1;
  REQUIRE(Aether({"feedback", store, mems[1].id, "0.2"}).exit_code == 0);
  ran("feedback", 0);
  want["aether_feedback_total"] += 1;
  REQUIRE(Aether({"feedback", store, "nope", "0.2"}).exit_code == 1);
  ran("feedback", 1);

  // A descend SIGKILLed after its intent: its own record is lost; the
  // recover that rolls it back counts the roll back.
  auto killed = Aether({"descend", store, "--all"}, "", {"AETHER_FAULT=descend.after_intent"});
  REQUIRE(killed.exit_code == 137);
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  ran("recover", 0);
  want["aether_migrations_total kind=descend outcome=rolled_back"] += 1;

  // A busy exit: a paused writer holds the store.
  const std::string paused = dir / "paused";
  int holder = SpawnAether({"descend", store, mems[2].id},
                           {"AETHER_PAUSE=descend.after_intent:60000", "AETHER_PAUSE_FILE=" + paused});
  WaitFor(paused);
  CHECK(Aether({"feedback", store, mems[3].id, "0.5", "--wait", "0"}).exit_code == 75);
  ran("feedback", 75);
  std::filesystem::remove(paused);
  REQUIRE(WaitAether(holder) == 0);
  ran("descend", 0);
  want["aether_migrations_total kind=descend outcome=committed"] += 1;

  // A descend with a batch size: one committed migration per batch.
  auto moved = Aether({"descend", store, "--all", "--batch", "40", "--format", "json"});
  REQUIRE(moved.exit_code == 0);
  ran("descend", 0);
  const auto report = nlohmann::json::parse(moved.out);
  const int64_t batches = (report["moved"].get<int64_t>() + 39) / 40;
  CHECK(batches >= 2);
  want["aether_migrations_total kind=descend outcome=committed"] += batches;

  // The queue drained: each queued memory still cold is restored.
  auto queued = Aether({"stats", store, "--format", "json"});
  ran("stats", 0);
  const int64_t depth = nlohmann::json::parse(queued.out)["restore_queue_depth"];
  auto ascend = Aether({"ascend", store, "--queued", "--format", "json"});
  REQUIRE(ascend.exit_code == 0);
  ran("ascend", 0);
  CHECK(depth > 0);
  want["aether_restores_total outcome=done"] += depth;
  want["aether_migrations_total kind=ascend outcome=committed"] += 1;

  // verify: clean, so nothing found.
  REQUIRE(Aether({"verify", store}).exit_code == 0);
  ran("verify", 0);

  // Read once unfolded (the last writer's record is in the log), once after
  // a writer folded everything: the same counts, each exactly once.
  for (int pass = 0; pass < 2; ++pass) {
    CAPTURE(pass);
    auto got = Counters(StatsJson(store));
    ran("stats", 0);
    got.erase("aether_commands_total command=stats exit_code=0");  // counted below
    auto expect = want;
    const int64_t stats_runs = expect["aether_commands_total command=stats exit_code=0"];
    expect.erase("aether_commands_total command=stats exit_code=0");
    CHECK(got == expect);
    CHECK(stats_runs >= 1);
    if (pass == 0) {
      REQUIRE(Aether({"recover", store}).exit_code == 0);
      ran("recover", 0);
    }
  }
  // The command rows agree with the counters.
  const auto metrics = StatsJson(store);
  const auto* feedback = CommandRow(metrics, "feedback");
  REQUIRE(feedback);
  CHECK((*feedback)["runs"] == 4);
  CHECK((*feedback)["exit_codes"]["75"] == 1);
  CHECK((*feedback)["exit_codes"]["1"] == 1);
  CHECK(metrics["hot_hit_rate"].get<double>() ==
        doctest::Approx(
            double(want["aether_search_results_total tier=hot"]) /
            double(want["aether_search_results_total tier=hot"] + want["aether_search_results_total tier=cold"])));
  Verified(store);
}

TEST_CASE("metrics: latency histograms and quantiles from an injected clock; --since windows") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(50, 4, 3))).exit_code == 0);
  REQUIRE(Aether({"recover", store}).exit_code == 0);  // folds ingest's record
  std::mt19937_64 rng(7);
  std::vector<int64_t> early, late;
  std::map<std::string, std::vector<int64_t>> by_tiers;
  const int64_t t0 = 1700000000000, t1 = t0 + 3 * 3600000;  // three hours apart
  for (int i = 0; i < 40; ++i) {
    // Spread over the buckets, some on a bound exactly, some past the last.
    int64_t us = i % 9 == 0 ? kBoundsUs[size_t(i) % kBoundsUs.size()] : int64_t(rng() % 2000000000);
    if (i == 5) us = 700000000;  // the +Inf bucket
    const bool is_late = i % 3 != 0;
    const int64_t now = (is_late ? t1 : t0) + i * 1000;
    (is_late ? late : early).push_back(us);
    by_tiers[i % 2 ? "hot" : "cold"].push_back(us);
    REQUIRE(Aether({"search", store, "--vector", "[1,2,3,4]", "--tier", i % 2 ? "hot" : "cold"}, "",
                   {"AETHER_DURATION_US=" + std::to_string(us), "AETHER_NOW_MS=" + std::to_string(now)})
                .exit_code == 0);
    if (i == 20)  // half of them folded into meta.db, the rest read from the log
      REQUIRE(Aether({"recover", store}, "", {"AETHER_NOW_MS=" + std::to_string(t1 + 5000000)}).exit_code == 0);
  }
  auto all = early;
  all.insert(all.end(), late.begin(), late.end());
  const std::string at = "AETHER_NOW_MS=" + std::to_string(t1 + 3600000);
  for (const auto& window : std::vector<std::pair<std::string, std::vector<int64_t>>>{{"all", all}, {"2h", late}}) {
    const std::string& since = window.first;
    const std::vector<int64_t>& durations = window.second;
    CAPTURE(since);
    const auto metrics = StatsJson(store, {"--since", since}, {at});
    const auto* search = CommandRow(metrics, "search");
    REQUIRE(search);
    CHECK((*search)["runs"] == durations.size());
    for (double q : {0.5, 0.95, 0.99}) {
      CAPTURE(q);
      const std::string key = q == 0.5 ? "p50_ms" : q == 0.95 ? "p95_ms" : "p99_ms";
      CHECK((*search)[key].get<double>() == doctest::Approx(ReferenceQuantileMs(durations, q)).epsilon(1e-9));
    }
  }
  // Prometheus: cumulative buckets per tiers, _count and _sum exact.
  auto prom = Aether({"stats", store, "--format", "prometheus"}, "", {at});
  REQUIRE(prom.exit_code == 0);
  for (const auto& [tiers, mine] : by_tiers) {
    int64_t sum = 0;
    for (int64_t us : mine) sum += us;
    const size_t n = mine.size();
    const std::string labels = std::string("command=\"search\",tiers=\"") + tiers + "\"";
    CHECK(prom.out.find("aether_command_duration_seconds_count{" + labels + "} " + std::to_string(n) + "\n") !=
          std::string::npos);
    CHECK(prom.out.find(fmt::format("aether_command_duration_seconds_sum{{{}}} {}\n", labels, double(sum) / 1e6)) !=
          std::string::npos);
    for (size_t b = 0; b <= kBoundsUs.size(); ++b) {
      const int64_t le = b < kBoundsUs.size() ? kBoundsUs[b] : INT64_MAX;
      const auto cumulative = std::count_if(mine.begin(), mine.end(), [&](int64_t d) { return d <= le; });
      const std::string bound = b < kBoundsUs.size() ? fmt::format("{}", double(le) / 1e6) : "+Inf";
      CHECK_MESSAGE(prom.out.find(fmt::format("aether_command_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                                              bound, cumulative)) != std::string::npos,
                    bound);
    }
  }
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    WriteFile(dir / "m.prom", prom.out);
    CHECK(std::system(("promtool check metrics < '" + dir / "m.prom" + "' > '" + dir / "p.out" + "' 2>&1").c_str()) ==
          0);
    CHECK(ReadFile(dir / "p.out") == "");
  }
  // Bad windows are usage errors.
  CHECK(Aether({"stats", store, "--since", "5x"}).exit_code == 64);
  CHECK(Aether({"stats", store, "--since", "1h", "--format", "prometheus"}).exit_code == 64);
}

TEST_CASE("metrics: a fold killed after its commit, damage and a planted link never count a record twice") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(40, 4, 5))).exit_code == 0);
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  auto runs = [&](const std::string& command) {
    const auto metrics = StatsJson(store);
    const auto* row = CommandRow(metrics, command);
    return row ? (*row)["runs"].get<int64_t>() : 0;
  };
  for (int i = 0; i < 5; ++i) REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(runs("get") == 5);
  // Killed between the fold's commit and the reset: the log still holds the
  // records; the next fold starts where the committed one ended.
  CHECK(Aether({"recover", store}, "", {"AETHER_FAULT=metrics_fold.after_commit"}).exit_code == 137);
  CHECK(runs("get") == 5);
  for (int i = 0; i < 2; ++i) REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);  // appended after it
  CHECK(runs("get") == 7);
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  CHECK(runs("get") == 7);
  CHECK(FileSize(store + "/metrics.log") > 24);  // recover's own record
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  CHECK(runs("get") == 7);

  // A torn record (a process killed mid-append) and garbage: skipped; the
  // records around them count.
  REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);
  const uint64_t before = FileSize(store + "/metrics.log");
  {
    std::string bytes = ReadFile(store + "/metrics.log");
    bytes += std::string("METR\x05\x00\x00\x00garbage", 15);
    WriteFile(store + "/metrics.log", bytes);
  }
  REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(FileSize(store + "/metrics.log") > before + 15);
  CHECK(runs("get") == 9);
  auto folded = Aether({"recover", store});
  REQUIRE(folded.exit_code == 0);
  CHECK(folded.err.find("metrics.log: 15 bytes of torn or damaged records skipped") != std::string::npos);
  CHECK(runs("get") == 9);
  // A flipped byte in a record (the last get's): that record alone is lost.
  REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);
  REQUIRE(Aether({"get", store, "m0"}).exit_code == 0);
  FlipByte(store + "/metrics.log", FileSize(store + "/metrics.log") - 5);
  CHECK(runs("get") == 10);

  // A log damaged at its start: appends refuse it (nothing recorded, exit
  // codes unchanged) until a writer starts it anew, with a notice; a log
  // cut inside its header is started anew silently (it held no record).
  REQUIRE(Aether({"recover", store}).exit_code == 0);  // what the log holds, folded first
  WriteFile(store + "/metrics.log", std::string(40, 'x'));
  CHECK(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(ReadFile(store + "/metrics.log") == std::string(40, 'x'));
  auto restarted = Aether({"recover", store});
  CHECK(restarted.exit_code == 0);
  CHECK(restarted.err.find("metrics.log: no valid header; 40 bytes dropped") != std::string::npos);
  CHECK(runs("get") == 10);
  CHECK(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(runs("get") == 11);
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  WriteFile(store + "/metrics.log", "garbage");
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  CHECK(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(runs("get") == 12);

  // metrics.log replaced by a link to a file elsewhere: never followed, the
  // command's exit code unchanged; nothing is written through it.
  std::filesystem::remove(store + "/metrics.log");
  WriteFile(dir / "elsewhere", "theirs");
  std::filesystem::create_symlink(dir / "elsewhere", store + "/metrics.log");
  CHECK(Aether({"get", store, "m0"}).exit_code == 0);
  CHECK(Aether({"recover", store}).exit_code == 0);
  CHECK(ReadFile(dir / "elsewhere") == "theirs");
  CHECK(std::filesystem::is_symlink(store + "/metrics.log"));
  Verified(store);
}

TEST_CASE("metrics: the metrics.log worked example") {
  const std::vector<MetricSample> samples = {
      {"aether_commands_total", "command=\"stats\",exit_code=\"0\"", 1},
      {"aether_command_duration_seconds_bucket", "command=\"stats\",le=\"0.005\"", 1},
      {"aether_command_duration_seconds_sum", "command=\"stats\"", 3000},
  };
  // What RecordCommandMetrics makes for that run.
  std::vector<MetricSample> made = {samples[0]};
  ObserveLatency(&made, "aether_command_duration_seconds", "command=\"stats\"", 3000);
  REQUIRE(made.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(made[i].name == samples[i].name);
    CHECK(made[i].labels == samples[i].labels);
    CHECK(made[i].value == samples[i].value);
  }
  auto rec = MetricsLog::Encode({1000, samples});
  REQUIRE(rec.ok());
  const std::string& b = *rec;
  CHECK(b.substr(0, 4) == "METR");
  const uint32_t len = uint32_t(uint8_t(b[4])) | uint32_t(uint8_t(b[5])) << 8;
  CHECK(len == 12 + 3 * 12 + 21 + 29 + 38 + 26 + 35 + 15);
  CHECK(b.size() == 16 + len);
  CHECK(b.substr(16, 8) == std::string("\xe8\x03\x00\x00\x00\x00\x00\x00", 8));
  CHECK(b.substr(24, 4) == std::string("\x03\x00\x00\x00", 4));
  CHECK(b.substr(28, 2) == std::string("\x15\x00", 2));
  CHECK(b.substr(30, 21) == "aether_commands_total");
  CHECK(uint8_t(b[51]) == 29);
}

TEST_CASE("check: one problem per threshold crossed, exit 1; ok and exit 0 otherwise") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(200, 4, 11);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50"}, ToJsonl(mems)).exit_code == 0);
  auto check = [&](const std::vector<std::string>& env = {}, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"check", store, "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Aether(args, "", env);
    REQUIRE_MESSAGE((r.exit_code == 0 || r.exit_code == 1), r.err);
    const auto j = nlohmann::json::parse(r.out);
    std::set<std::string> keys;
    for (const auto& p : j["problems"]) keys.insert(p["check"]);
    CHECK(j["ok"] == keys.empty());
    CHECK(r.exit_code == (keys.empty() ? 0 : 1));
    return keys;
  };
  using Keys = std::set<std::string>;
  CHECK(check() == Keys{});
  auto text = Aether({"check", store});
  CHECK(text.exit_code == 0);
  CHECK(text.out == "ok\n");

  // Slow searches (an injected clock): P99 over check_search_p99_ms (1.5 s
  // lies in the (1 s, 2.5 s] bucket: the P99 interpolates to at most 2.5 s).
  for (int i = 0; i < 3; ++i)
    REQUIRE(Aether({"search", store, "--vector", "[1,2,3,4]", "--no-touch"}, "", {"AETHER_DURATION_US=1500000"})
                .exit_code == 0);
  CHECK(check() == Keys{"check_search_p99_ms"});
  REQUIRE(Aether({"config", store, "set", "check_search_p99_ms", "2500"}).exit_code == 0);
  CHECK(check() == Keys{});
  // ... outside the window they no longer count.
  REQUIRE(Aether({"config", store, "set", "check_search_p99_ms", "1000"}).exit_code == 0);
  const int64_t later =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      7200000;
  CHECK(check({"AETHER_NOW_MS=" + std::to_string(later)}) == Keys{});
  CHECK(check({}, {"--since", "1h"}) == Keys{"check_search_p99_ms"});
  REQUIRE(Aether({"config", store, "set", "check_search_p99_ms", "0"}).exit_code == 0);  // off

  // The restore queue: searches queue cold hits.
  for (int i = 0; i < 4; ++i)
    REQUIRE(Aether({"search", store, "--queries", "-", "-k", "10"}, QueriesJsonl(RandomMems(5, 4, uint64_t(70 + i))))
                .exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "check_restore_queue_depth", "1"}).exit_code == 0);
  CHECK(check() == Keys{"check_restore_queue_depth"});
  REQUIRE(Aether({"config", store, "set", "check_restore_queue_depth", "0"}).exit_code == 0);

  // Garbage: delete most cold memories.
  std::vector<std::string> del = {"delete", store};
  for (size_t i = 100; i < 200; ++i) del.push_back(mems[i].id);
  REQUIRE(Aether(del).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "check_garbage_fraction", "0.3"}).exit_code == 0);
  CHECK(check() == Keys{"check_garbage_fraction"});
  REQUIRE(Aether({"config", store, "set", "check_garbage_fraction", "1"}).exit_code == 0);
  CHECK(check() == Keys{});

  // A migration killed and rolled back by check's own open: failed
  // migrations in the window (what its open replayed counts).
  REQUIRE(Aether({"descend", store, mems[0].id}, "", {"AETHER_FAULT=descend.after_intent"}).exit_code == 137);
  CHECK(check() == Keys{"check_failed_migrations"});
  CHECK(check() == Keys{"check_failed_migrations"});  // recorded by the first
  REQUIRE(Aether({"config", store, "set", "check_failed_migrations", "0"}).exit_code == 0);
  CHECK(check() == Keys{});

  // A journaled migration of a live writer (a rebuild's long phase) older
  // than check_pending_age_s.
  const std::string paused = dir / "paused";
  const int64_t t = 1800000000000;
  int holder = SpawnAether(
      {"rebuild-index", store, "--partitions", "4"},
      {"AETHER_PAUSE=rebuild.mid_write:60000", "AETHER_PAUSE_FILE=" + paused, "AETHER_NOW_MS=" + std::to_string(t)});
  WaitFor(paused);
  CHECK(check({"AETHER_NOW_MS=" + std::to_string(t + 300000)}) == Keys{});
  CHECK(check({"AETHER_NOW_MS=" + std::to_string(t + 700000)}) == Keys{"check_pending_age_s"});
  std::filesystem::remove(paused);
  REQUIRE(WaitAether(holder) == 0);
  CHECK(check() == Keys{});

  // Damage verify finds.
  FlipByte(store + "/hot.slots", 64 + 20);
  CHECK(Aether({"verify", store}).exit_code == 1);
  auto damaged = Aether({"check", store});
  CHECK(damaged.exit_code == 1);
  CHECK(damaged.out.rfind("problem: check_damage_found: ", 0) == 0);
  // Bad --since.
  CHECK(Aether({"check", store, "--since", "all"}).exit_code == 64);
}
