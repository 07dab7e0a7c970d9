// Search liveness comes from structures sized by the garbage (the free hot
// slots, which shards hold garbage), not from a lookup per row. This test
// drives random sequences of every operation that makes garbage or reuses
// it (ingest with replace, delete, descend, ascend, maintain, rebuild-index)
// against a reference model, and after each step checks that an exhaustive
// search (every partition probed) is the brute-force top k of the memories
// the model says are stored, single queries and tiled batches alike, and
// that verify passes; and after each maintain tick, that the files were
// compacted to the live data as the dry run said they would be.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDim = 6;

std::vector<Mem> Live(const std::map<std::string, std::vector<float>>& model) {
  std::vector<Mem> out;
  for (const auto& [id, v] : model) out.push_back(Mem{id, v});
  return out;
}

// Every query's hits against the reference; `batch` queries at once.
void ExpectExact(const std::string& store, const std::map<std::string, std::vector<float>>& model, size_t batch,
                 uint64_t seed, const std::string& step) {
  auto qs = RandomMems(batch, kDim, seed, "q");
  auto r =
      Aether({"search", store, "--queries", "-", "-k", "10", "--nprobe", "100000", "--no-touch"}, QueriesJsonl(qs));
  REQUIRE_MESSAGE(r.exit_code == 0, (step + ": " + r.err));
  auto hits = ParseSearchOutput(r.out);
  REQUIRE(hits.size() == qs.size());
  const auto live = Live(model);
  for (size_t i = 0; i < qs.size(); ++i) CHECK_MESSAGE(SameTopK(hits[i], BruteForce(live, qs[i].vec, 10, "l2")), step);
}

// After a maintain tick: hot.slots holds the live slots plus at most the
// slack, cold garbage is at most cold_garbage_max of the cold records when
// an index exists, and the dry run predicted every count.
// Returns whether the tick compacted anything.
bool ExpectCompacted(const std::string& store, const nlohmann::json& plan, const nlohmann::json& done,
                     const std::string& step, int* partitions_rewritten, int* unstaged) {
  *partitions_rewritten += done["partitions_rewritten"].get<int>();
  *unstaged += done["unstaged"].get<int>();
  for (const char* key : {"hot_slots_moved", "hot_slots_cut", "shards_emptied", "partitions_rewritten", "unstaged",
                          "cold_rewritten", "garbage_dropped"})
    CHECK_MESSAGE(plan[key] == done[key], (step + ": " + key));
  auto st = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK_MESSAGE(st["hot_slots"].get<uint64_t>() <= st["hot_memories"].get<uint64_t>() + 3, step);
  const double dead = st["cold_garbage_records"].get<double>(), live = st["cold_memories"].get<double>();
  if (st["index_generation"].get<int>() > 0) CHECK_MESSAGE(dead <= 0.25 * (dead + live), step);
  return done["hot_slots_moved"].get<int>() + done["hot_slots_cut"].get<int>() + done["cold_rewritten"].get<int>() +
             done["garbage_dropped"].get<int>() >
         0;
}

// No file is left behind: cold/ holds the staging shard and the current
// generation's directory, which holds one file per partition (rewritten
// partitions' old files and replaced generations are gone).
void ExpectNoLitter(const std::string& store, const std::string& step) {
  auto st = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  const int generation = st["index_generation"].get<int>();
  std::set<std::string> cold, expect = {"staging.shard"};
  for (const auto& e : fs::directory_iterator(store + "/cold")) cold.insert(e.path().filename().string());
  if (generation > 0) expect.insert(fmt::format("g{:06d}", generation));
  CHECK_MESSAGE(cold == expect, step);
  if (generation <= 0) return;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(store + fmt::format("/cold/g{:06d}", generation)))
    files += e.is_regular_file();
  CHECK_MESSAGE(files == st["partitions"].get<size_t>(), step);
}

}  // namespace

TEST_CASE(
    "after any sequence of moves, deletes, replaces and rebuilds: exact search (no per-row liveness); one maintain "
    "tick compacts") {
  int compactions = 0, partitions_rewritten = 0, unstaged = 0;
  // A short run (the sanitizer build, after all three ran) takes the first.
  for (uint64_t seed = 1; seed <= uint64_t(SweepSize(3)); ++seed) {
    TempDir dir;
    std::string store = dir / "s";
    std::mt19937_64 rng(seed);
    std::map<std::string, std::vector<float>> model;
    int next = 0;
    auto pick = [&](size_t n) {
      std::vector<std::string> ids;
      for (const auto& [id, v] : model) ids.push_back(id);
      std::shuffle(ids.begin(), ids.end(), rng);
      ids.resize(std::min(n, ids.size()));
      return ids;
    };
    REQUIRE(Aether({"init", store, "--dim", std::to_string(kDim), "--hot-capacity", "60"}).exit_code == 0);
    // maintain compacts (and does nothing else: no sampled or capacity moves
    // in this store), so its dry run must predict it exactly.
    REQUIRE(Aether({"config", store, "preset", "disabled"}).exit_code == 0);
    REQUIRE(Aether({"config", store, "set", "hot_compact_slack", "3"}).exit_code == 0);
    for (int step = 0; step < 24; ++step) {
      const int op = step < 2 ? 0 : int(rng() % 6);
      std::vector<std::string> args;
      if (op == 0) {  // new memories and replacements of stored ones
        auto fresh = RandomMems(40, kDim, seed * 1000 + uint64_t(step), "n");
        auto old = pick(8);
        for (size_t i = 0; i < fresh.size(); ++i) fresh[i].id = i < old.size() ? old[i] : "m" + std::to_string(next++);
        auto r = Aether({"ingest", "--create", store, "--on-duplicate", "replace"}, ToJsonl(fresh));
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        for (const auto& m : fresh) model[m.id] = m.vec;
      } else if (op == 1) {
        auto ids = pick(6);
        args = {"delete", store};
        args.insert(args.end(), ids.begin(), ids.end());
        for (const auto& id : ids) model.erase(id);
      } else if (op == 2 || op == 3) {
        auto ids = pick(15);
        args = {op == 2 ? "descend" : "ascend", store, "--batch", "4"};
        args.insert(args.end(), ids.begin(), ids.end());
        if (op == 3) args.push_back("--evict");
      } else if (op == 4) {
        args = {"rebuild-index", store, "--partitions", std::to_string(2 + rng() % 5)};
      } else {
        args = {"maintain", store, "--format", "json"};
      }
      const std::string what = "seed " + std::to_string(seed) + " step " + std::to_string(step) + " op " +
                               std::to_string(op) + " (" + (args.empty() ? "ingest" : args[0]) + ")";
      if (!args.empty()) {
        const std::vector<std::string> now = {"AETHER_NOW_MS=" + std::to_string(1'000'000 + step * 300'000)};
        nlohmann::json plan;
        if (op == 5) {
          auto dry = Aether({"maintain", store, "--dry-run", "--format", "json"}, "", now);
          REQUIRE(dry.exit_code == 0);
          plan = nlohmann::json::parse(dry.out);
        }
        auto r = Aether(args, "", now);
        REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err));
        if (op == 5)
          compactions +=
              ExpectCompacted(store, plan, nlohmann::json::parse(r.out), what, &partitions_rewritten, &unstaged);
      }
      auto v = Aether({"verify", store});
      REQUIRE_MESSAGE(v.exit_code == 0, (what + ": " + v.out + v.err));
      ExpectNoLitter(store, what);
      ExpectExact(store, model, 1, seed * 77 + uint64_t(step), what);
      ExpectExact(store, model, 40, seed * 91 + uint64_t(step), what);  // tiled
    }
  }
  MESSAGE("maintain ticks that compacted: " << compactions << "; partitions rewritten: " << partitions_rewritten
                                            << "; staging records moved to partitions: " << unstaged);
  CHECK(compactions >= 3);
  CHECK(partitions_rewritten >= 1);
}

TEST_CASE("maintain moves the staging shard's live records to their partitions; counts and search stay exact") {
  TempDir dir;
  const std::string store = dir / "s";
  std::map<std::string, std::vector<float>> model;
  auto first = RandomMems(60, kDim, 5, "a");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "20"}, ToJsonl(first)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  // New memories into a full hot tier with ingest_evict 0 land in staging;
  // deleting some of them leaves garbage beside them.
  REQUIRE(Aether({"config", store, "preset", "disabled"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "ingest_evict", "0"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "cold_garbage_max", "0.01"}).exit_code == 0);
  auto later = RandomMems(30, kDim, 6, "b");
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(later)).exit_code == 0);
  std::vector<std::string> gone = {"delete", store};
  for (size_t i = 0; i < 10; ++i) gone.push_back(later[i * 3].id);
  REQUIRE(Aether(gone).exit_code == 0);
  for (const auto& m : first) model[m.id] = m.vec;
  for (size_t i = 0; i < later.size(); ++i)
    if (i % 3 != 0 || i >= 30) model[later[i].id] = later[i].vec;
  auto before = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  REQUIRE(before["staging_records"].get<int>() == 20);
  auto r = Aether({"maintain", store, "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto done = nlohmann::json::parse(r.out);
  CHECK(done["unstaged"].get<int>() == 20);
  CHECK(done["garbage_dropped"].get<int>() == 10);  // the deleted ones, not the moved ones' old copies
  CHECK(done["shards_emptied"].get<int>() == 1);
  auto after = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(after["staging_records"].get<int>() == 0);
  CHECK(after["cold_garbage_records"].get<int>() == 0);
  CHECK(after["cold_memories"].get<int>() == before["cold_memories"].get<int>());
  CHECK(Aether({"verify", store}).exit_code == 0);
  ExpectNoLitter(store, "after the staging move");
  ExpectExact(store, model, 1, 11, "after the staging move");
  ExpectExact(store, model, 40, 12, "after the staging move");
}

TEST_CASE("a live place whose memory row is gone: every search that finds it exits 79 naming the row") {
  // The row removed behind aether's back (its slot not freed, its shard's
  // counts unchanged): liveness says live, the metadata has no memory.
  // Whichever of a batch's hit rows it is (the first, one in the middle,
  // the last), the search fails naming it rather than answering without
  // it or with another memory's id.
  TempDir dir;
  auto mems = RandomMems(60, kDim, 41, "m");
  for (const char* tier : {"hot", "cold"}) {
    for (size_t victim : {size_t(0), size_t(29), size_t(59)}) {
      CAPTURE(tier);
      CAPTURE(victim);
      const std::string store = dir / (std::string(tier) + std::to_string(victim));
      REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(mems)).exit_code == 0);
      if (std::string(tier) == "cold") {
        REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
        REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
      }
      const std::string row = SqlRows(store, "SELECT row_id FROM memories WHERE id = '" + mems[victim].id + "'").at(0);
      SqlRows(store, "DELETE FROM memories WHERE row_id = " + row);
      // One query (the victim's own vector), and a batch that finds every memory.
      auto one = Aether(
          {"search", store, "--vector", VectorJson(mems[victim].vec), "-k", "3", "--nprobe", "100", "--no-touch"});
      CHECK_MESSAGE(one.exit_code == 79, one.err);
      CHECK_MESSAGE(one.err.find("row " + row + " was found") != std::string::npos, one.err);
      auto batch = Aether({"search", store, "--queries", "-", "-k", "60", "--nprobe", "100", "--no-touch"},
                          QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 20)));
      CHECK_MESSAGE(batch.exit_code == 79, batch.err);
      CHECK_MESSAGE(batch.err.find("row " + row + " was found") != std::string::npos, batch.err);
      CHECK(Aether({"verify", store}).exit_code != 0);
    }
  }
}
