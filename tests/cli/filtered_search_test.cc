// search --where against brute force: on stores with hot memories, indexed
// cold partitions and a staging shard (lossless and quantized codecs, three
// metrics), filters that select nothing, one memory, 1%, 10%, 50% and all
// of the store, on payload fields, ids and tiers, must give each query the
// exact top k of the matching memories by either plan (the exact one, and
// the scan with every partition probed), from a batch (tiled scan) and
// from a single query; with the default nprobe, the scan's hits all match,
// every query gets min(k, matching) of them, and the recall stays high.
#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

// Memory i's payload: g = i % 100 and h = i % 7, except that every 50th
// memory has none.
bool HasPayload(size_t i) { return i % 50 != 49; }

std::string Jsonl(const std::vector<Mem>& mems, size_t first) {
  std::string out;
  for (size_t i = 0; i < mems.size(); ++i) {
    json j = {{"id", mems[i].id}, {"vector", mems[i].vec}};
    const size_t n = first + i;
    if (HasPayload(n)) j["payload"] = {{"g", n % 100}, {"h", n % 7}};
    out += j.dump() + "\n";
  }
  return out;
}

struct Case {
  std::string where;
  std::function<bool(size_t i, const std::string& tier)> match;
};

std::vector<Case> Cases() {
  auto g = [](size_t i) { return HasPayload(i) ? int(i % 100) : -1; };
  return {
      {"payload.g == 1000", [](size_t, const std::string&) { return false; }},
      {"id == \"m17\"", [](size_t i, const std::string&) { return i == 17; }},
      {"payload.g == 3", [=](size_t i, const std::string&) { return g(i) == 3; }},
      {"payload.g < 10", [=](size_t i, const std::string&) { return g(i) >= 0 && g(i) < 10; }},
      {"payload.g >= 50", [=](size_t i, const std::string&) { return g(i) >= 50; }},
      {"exists(payload.g) or not exists(payload)", [](size_t, const std::string&) { return true; }},
      {"not exists(payload.g)", [](size_t i, const std::string&) { return !HasPayload(i); }},
      {"tier == \"hot\" and payload.h in [2, 5]",
       [](size_t i, const std::string& t) { return t == "hot" && HasPayload(i) && (i % 7 == 2 || i % 7 == 5); }},
      {"tier == \"cold\" and payload.g < 20",
       [=](size_t i, const std::string& t) { return t == "cold" && g(i) >= 0 && g(i) < 20; }},
  };
}

size_t Index(const std::string& id) { return std::stoul(id.substr(1)); }

}  // namespace

TEST_CASE("search --where: the exact top k of the matching memories, by either plan, at every selectivity") {
  const uint32_t dim = 8;
  auto mems = RandomMems(2300, dim, 41);
  auto qs = RandomMems(9, dim, 42, "q");
  struct Config {
    std::string codec, metric;
  };
  for (const Config& cfg : {Config{"zstd-shuffle", "l2"}, Config{"sq8", "cosine"}, Config{"zstd", "ip"}}) {
    CAPTURE(cfg.codec);
    CAPTURE(cfg.metric);
    TempDir dir;
    const std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "8", "--metric", cfg.metric, "--hot-capacity", "300", "--codec", cfg.codec})
                .exit_code == 0);
    // 2,000 memories indexed into partitions, then 300 more: a staging
    // shard, and hot memories from both batches.
    const std::vector<Mem> first(mems.begin(), mems.begin() + 2000), second(mems.begin() + 2000, mems.end());
    REQUIRE(Aether({"ingest", store, "--batch", "250"}, Jsonl(first, 0)).exit_code == 0);
    auto rebuilt = Aether({"rebuild-index", store});
    REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
    REQUIRE(Aether({"ingest", store, "--batch", "100"}, Jsonl(second, 2000)).exit_code == 0);
    const json stats = json::parse(Aether({"stats", store, "--format", "json"}).out);
    REQUIRE(stats["staging_records"].get<int>() > 0);
    REQUIRE(stats["hot_memories"].get<int>() == 300);
    const std::string all_partitions = std::to_string(stats["partitions"].get<int>());
    std::map<std::string, std::string> tier;
    for (const std::string& line : Lines(Aether({"list", store, "--format", "jsonl"}).out)) {
      json j = json::parse(line);
      tier[j["id"]] = j["tier"];
    }
    REQUIRE(tier.size() == mems.size());

    double recall = 0;
    size_t recall_n = 0;
    size_t point = 0;  // every (filter, plan, batch), counted for InSweep
    for (const Case& c : Cases()) {
      CAPTURE(c.where);
      std::vector<Mem> matching;
      for (size_t i = 0; i < mems.size(); ++i)
        if (c.match(i, tier[mems[i].id])) matching.push_back(mems[i]);
      const size_t want_n = std::min<size_t>(10, matching.size());
      struct Run {
        std::vector<std::string> args;
        bool exact;
      };
      // sq8: every candidate re-ranked, so the scan plan's results are exact.
      const std::vector<std::string> rerank = {"--rerank", "1000"};
      std::vector<Run> runs = {
          {{"--where-plan", "exact"}, true},
          {{"--where-plan", "scan", "--nprobe", all_partitions}, true},
          {{"--nprobe", all_partitions}, true},
          {{"--where-plan", "scan"}, false},
          {{}, false},
      };
      for (Run& run : runs) {
        CAPTURE(run.args);
        for (bool batch : {true, false}) {
          if (!InSweep(point++)) continue;
          std::vector<std::string> args = {"search", store, "--queries", "-", "--no-touch", "--where", c.where};
          args.insert(args.end(), run.args.begin(), run.args.end());
          args.insert(args.end(), rerank.begin(), rerank.end());
          const std::vector<Mem> asked = batch ? qs : std::vector<Mem>{qs[0]};
          auto r = Aether(args, QueriesJsonl(asked));
          REQUIRE_MESSAGE(r.exit_code == 0, r.err);
          auto got = ParseSearchOutput(r.out);
          REQUIRE(got.size() == asked.size());
          for (size_t q = 0; q < asked.size(); ++q) {
            auto want = BruteForce(matching, asked[q].vec, 10, cfg.metric);
            CHECK(got[q].size() == want_n);
            std::set<std::string> want_ids;
            for (const auto& w : want) want_ids.insert(w.second);
            for (const Hit& h : got[q]) {
              CHECK_MESSAGE(c.match(Index(h.id), tier[h.id]), h.id);
              CHECK(h.tier == tier[h.id]);
              recall += !run.exact && want_ids.count(h.id) ? 1.0 / double(want_n) : 0.0;
            }
            if (run.exact) CHECK(SameTopK(got[q], want));
            if (!run.exact && want_n > 0) ++recall_n;
          }
        }
      }
    }
    // The default plans probe more partitions the fewer memories match.
    CHECK(recall / double(recall_n) >= 0.9);
  }
}

TEST_CASE("search --where: bad filters and plans are usage errors; --tier narrows; accesses are recorded") {
  const uint32_t dim = 4;
  auto mems = RandomMems(400, dim, 43);
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "100"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, Jsonl(mems, 0)).exit_code == 0);
  const std::string q = VectorJson(mems[5].vec);
  const auto before = DirectoryBytes(store);

  for (std::string bad : {"payload.g ==", "payload.g = 3", "(tier == \"hot\"", "nosuch == 1", "payload..g > 1"}) {
    CAPTURE(bad);
    auto r = Aether({"search", store, "--vector", q, "--where", bad});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("at character") != std::string::npos);
    CHECK(r.out.empty());
    // Checked before the store is opened: a missing store says the same.
    CHECK(Aether({"search", dir / "missing", "--vector", q, "--where", bad}).exit_code == 64);
  }
  CHECK(Aether({"search", store, "--vector", q, "--where", ""}).exit_code == 64);
  CHECK(Aether({"search", store, "--vector", q, "--where-plan", "exact"}).exit_code == 64);
  CHECK(Aether({"search", store, "--vector", q, "--where", "tier == \"hot\"", "--where-plan", "fast"}).exit_code == 64);
  CHECK(DirectoryBytes(store) == before);

  // --tier and --where together: the memories of that tier the filter matches.
  std::map<std::string, std::string> tier;
  for (const std::string& line : Lines(Aether({"list", store, "--format", "jsonl"}).out)) {
    json j = json::parse(line);
    tier[j["id"]] = j["tier"];
  }
  for (std::string t : {"hot", "cold"}) {
    std::vector<Mem> matching;
    for (size_t i = 0; i < mems.size(); ++i)
      if (tier[mems[i].id] == t && HasPayload(i) && i % 100 < 30) matching.push_back(mems[i]);
    auto r = Aether({"search", store, "--vector", q, "--no-touch", "--tier", t, "--where", "payload.g < 30"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto got = ParseSearchOutput(r.out);
    REQUIRE(got.size() == 1);
    CHECK(SameTopK(got[0], BruteForce(matching, mems[5].vec, 10, "l2")));
  }

  // A filtered search records its hits' accesses as any search does.
  auto r = Aether({"search", store, "--vector", q, "-k", "3", "--where", "payload.h == 5"});
  REQUIRE(r.exit_code == 0);
  const auto hits = ParseSearchOutput(r.out);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].size() == 3);
  for (const Hit& h : hits[0]) {
    CHECK(Index(h.id) % 7 == 5);
    json got = json::parse(Aether({"get", store, h.id}).out);
    CHECK(got["access_count"] == 1);
  }
}

TEST_CASE("search --where: the exact plan holds one shard file open per worker, whatever the partitions") {
  // More partitions holding a selected memory than the process may open
  // files: each is read and closed in turn.
  auto mems = RandomMems(600, 4, 44);
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "10"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, Jsonl(mems, 0)).exit_code == 0);
  auto rebuilt = Aether({"rebuild-index", store, "--partitions", "120"});
  REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
  std::vector<Mem> matching;
  for (size_t i = 0; i < mems.size(); ++i)
    if (HasPayload(i) && i % 100 < 50) matching.push_back(mems[i]);
  auto r = AetherVia({"/usr/bin/prlimit", "--nofile=40", "--"},
                     {"search", store, "--vector", VectorJson(mems[1].vec), "--no-touch", "--where", "payload.g < 50",
                      "--where-plan", "exact"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto got = ParseSearchOutput(r.out);
  REQUIRE(got.size() == 1);
  CHECK(SameTopK(got[0], BruteForce(matching, mems[1].vec, 10, "l2")));
}
