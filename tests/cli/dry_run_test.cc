// maintain --dry-run rehearses the tick: for random stores driven through
// random histories (bulk loads past the hot capacity, searches that queue
// restores, enqueues, deletes, capacity cuts, indexes rebuilt, a hot tier too
// small for the restores), the dry run's report, every count and every
// planned move, is exactly what the real tick with the same seed and clock
// then does, and the dry run changes no byte of any file.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDim = 6;

// Every file of the store and its bytes (the shared-memory index, rebuilt
// by SQLite on open, aside).
std::map<std::string, std::string> Snapshot(const std::string& store) {
  std::map<std::string, std::string> out = DirectoryBytes(store);
  for (auto it = out.begin(); it != out.end();)
    it = it->first.size() > 4 && it->first.substr(it->first.size() - 4) == "-shm" ? out.erase(it) : std::next(it);
  return out;
}

struct Exercised {
  int ticks = 0, sampled = 0, capacity = 0, restored = 0, evicted = 0, deferred = 0, dropped = 0, hot_compacted = 0,
      partitions = 0, unstaged = 0, emptied = 0, pruned = 0;
};

void Count(const nlohmann::json& r, Exercised* e) {
  ++e->ticks;
  e->sampled += r["descended_sampled"].get<int>() > 0;
  e->capacity += r["descended_capacity"].get<int>() > 0;
  e->restored += r["restored"].get<int>() > 0;
  e->evicted += r["evicted_for_restore"].get<int>() > 0;
  e->deferred += r["deferred"].get<int>() > 0;
  e->dropped += r["dropped"].get<int>() > 0;
  e->hot_compacted += r["hot_slots_moved"].get<int>() + r["hot_slots_cut"].get<int>() > 0;
  e->partitions += r["partitions_rewritten"].get<int>() > 0;
  e->unstaged += r["unstaged"].get<int>() > 0;
  e->emptied += r["shards_emptied"].get<int>() > 0;
  e->pruned += r["history_pruned"].get<int>() > 0;
}

}  // namespace

TEST_CASE("maintain --dry-run: every count and planned move is what the tick then does; no file changes") {
  Exercised seen;
  // Eight stores are what make every kind of step occur (a few seconds); a
  // short run (AETHER_TEST_SHORT) gives each 4 ticks instead of 6, where
  // each kind still occurs (the check at the end).
  const int stores = 8;
  for (int seed = 1; seed <= stores; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng{uint64_t(seed)};
    TempDir dir;
    const std::string store = dir / "s";
    int64_t now = 1'800'000'000'000;
    auto at = [&](int64_t t) { return std::vector<std::string>{"AETHER_NOW_MS=" + std::to_string(t)}; };
    auto run = [&](const std::vector<std::string>& args, const std::string& in = "") {
      auto r = Aether(args, in, at(now));
      REQUIRE_MESSAGE(r.exit_code == 0, args[0] << ": " << r.err);
      return r;
    };
    const int capacity = 15 + int(rng() % 40);
    run({"init", store, "--dim", std::to_string(kDim), "--hot-capacity", std::to_string(capacity)});
    // Dynamics that move a lot in a few ticks, different per store.
    run({"config", store, "set", "sample_rate", std::to_string(0.2 + 0.1 * double(rng() % 5))});
    run({"config", store, "set", "restore_concurrency", std::to_string(1 + rng() % 30)});
    run({"config", store, "set", "max_retries", std::to_string(1 + rng() % 3)});
    run({"config", store, "set", "cold_garbage_max", std::to_string(0.05 + 0.05 * double(rng() % 4))});
    run({"config", store, "set", "hot_compact_slack", std::to_string(rng() % 4)});
    run({"config", store, "set", "history_retention_days", "1"});
    run({"config", store, "set", "idle_descend_hours", "0"});
    int next = 0;
    auto ingest = [&](size_t n) {
      auto mems = RandomMems(n, kDim, uint64_t(seed) * 1000 + uint64_t(next), "m");
      for (auto& m : mems) m.id = "m" + std::to_string(next++);
      run({"ingest", "--create", store}, ToJsonl(mems));
    };
    ingest(60 + rng() % 120);
    if (seed % 2) run({"rebuild-index", store, "--partitions", std::to_string(2 + rng() % 5)});
    for (int tick = 0; tick < (ShortRun() ? 4 : 6); ++tick) {
      // Some history between ticks.
      for (int op = 0; op < 3; ++op) {
        const std::string some = "m" + std::to_string(rng() % uint64_t(next));
        switch (rng() % 8) {
          case 0:
            ingest(1 + rng() % 30);
            break;
          case 1: {  // searches queue their cold results for restore
            auto qs = RandomMems(5, kDim, rng(), "q");
            run({"search", store, "--queries", "-", "-k", "5"}, QueriesJsonl(qs));
            break;
          }
          case 2:
            (void)Aether({"ascend", store, "--enqueue", some, "--priority", "2"}, "", at(now));
            break;
          case 3:
            (void)Aether({"delete", store, some}, "", at(now));
            break;
          case 4:
            run({"config", store, "set", "hot_capacity", std::to_string(3 + rng() % uint64_t(capacity))});
            break;
          case 5:
            (void)Aether({"descend", store, some}, "", at(now));
            break;
          case 6:
            if (rng() % 3 == 0) run({"rebuild-index", store, "--partitions", std::to_string(2 + rng() % 5)});
            break;
          default:
            (void)Aether({"ascend", store, "--evict", some}, "", at(now));
            break;
        }
      }
      now += 300'000 + int64_t(rng() % 2) * 2 * 86'400'000;  // five minutes, or two days (history ages out)
      // The access log folded and the WAL checkpointed first, so that the
      // dry run's own open has nothing to write.
      run({"recover", store});
      const auto before = Snapshot(store);
      const std::string tick_seed = std::to_string(1 + rng() % 1000);
      auto dry =
          nlohmann::json::parse(run({"maintain", store, "--dry-run", "--seed", tick_seed, "--format", "json"}).out);
      CHECK_MESSAGE(Snapshot(store) == before, "tick " << tick << ": the dry run changed a file");
      // --moves: the tick lists its moves as the dry run does.
      auto done =
          nlohmann::json::parse(run({"maintain", store, "--seed", tick_seed, "--format", "json", "--moves"}).out);
      CHECK(dry["dry_run"] == true);
      dry.erase("dry_run");
      done.erase("dry_run");
      CHECK_MESSAGE(dry == done, "tick " << tick << "\ndry run: " << dry.dump() << "\nthe tick: " << done.dump());
      Count(done, &seen);
      auto v = Aether({"verify", store});
      REQUIRE_MESSAGE(v.exit_code == 0, v.out << v.err);
    }
  }
  MESSAGE("ticks " << seen.ticks << ": sampled descends in " << seen.sampled << ", capacity descends " << seen.capacity
                   << ", restores " << seen.restored << " (evicting " << seen.evicted << ", deferring " << seen.deferred
                   << ", dropping " << seen.dropped << "), hot compactions " << seen.hot_compacted
                   << ", partition rewrites " << seen.partitions << ", staging moves " << seen.unstaged
                   << ", shards emptied " << seen.emptied << ", history pruned " << seen.pruned);
  // Every kind of step was rehearsed somewhere (the sweep is not vacuous).
  for (int n : {seen.sampled, seen.capacity, seen.restored, seen.evicted, seen.hot_compacted, seen.partitions,
                seen.unstaged, seen.emptied, seen.pruned})
    CHECK(n > 0);
}
