// Real processes killed with SIGKILL at random times, and several processes
// sharing one store at once. Bounded in count and time.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"

using namespace aether::test;

extern char** environ;

TEST_CASE("SIGKILL at random times during large ingests, descends and ascends loses nothing") {
  std::mt19937 rng(20261121);
  TempDir dir;
  std::string store = dir / "s";
  auto base = RandomMems(4000, 16, 1, "a");
  auto extra = RandomMems(3000, 16, 2, "b");
  WriteFile(dir / "extra.jsonl", ToJsonlWithPayload(extra));
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "5000", "--batch", "500"}, ToJsonlWithPayload(base))
              .exit_code == 0);
  auto ref = GetRecords(store, Ids(base));
  int kills = 0, rounds = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<std::string> op;
    switch (round % 3) {
      case 0:
        op = {"descend", store, "--all", "--batch", "200"};
        break;
      case 1:
        op = {"ascend", store, "--batch", "150", "--evict"};
        break;
      case 2:
        op = {"ingest", "--create", store, dir / "extra.jsonl", "--batch", "250", "--on-duplicate", "skip"};
        break;
    }
    if (round % 3 == 1) {
      for (size_t i = 0; i < base.size(); i += 3) op.push_back(base[i].id);
    }
    int pid = SpawnAether(op);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(3, 60)(rng)));
    kill(pid, SIGKILL);
    int code = WaitAether(pid);
    if (code == 128 + SIGKILL) ++kills;
    ++rounds;
    auto v = Aether({"verify", store});
    REQUIRE_MESSAGE(v.exit_code == 0, v.out);
    auto got = GetRecords(store, Ids(base));
    REQUIRE(got.size() == base.size());
    for (const auto& m : base) CHECK(got[m.id] == ref[m.id]);
    // Extra memories: whole batches of 250 (or all), each intact.
    auto got_extra = GetRecords(store, Ids(extra));
    CHECK((got_extra.size() % 250 == 0 || got_extra.size() == extra.size()));
    for (size_t i = 0; i < got_extra.size(); ++i) CHECK(got_extra.count(extra[i].id) == 1);
  }
  MESSAGE("SIGKILL test: " << rounds << " rounds, " << kills << " processes killed mid-run");
  CHECK(kills >= rounds / 2);
}

TEST_CASE("concurrent ingest, search, descend and ascend: busy or right, never wrong") {
  TempDir dir;
  std::string store = dir / "s";
  const uint32_t dim = 8;
  auto base = RandomMems(1500, dim, 9, "a");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "700"}, ToJsonl(base)).exit_code == 0);
  std::map<std::string, std::vector<float>> vectors;
  for (const auto& m : base) vectors[m.id] = m.vec;
  auto extra = RandomMems(2000, dim, 10, "x");
  for (const auto& m : extra) vectors[m.id] = m.vec;

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, busy{0}, bad_exit{0}, wrong{0}, searches{0};
  std::mutex mu;
  std::vector<std::string> errors;
  std::atomic<size_t> ingested_upto{0};
  auto record = [&](const RunResult& r, const char* what) {
    if (r.exit_code == 0)
      ++ok;
    else if (r.exit_code == 75)
      ++busy;
    else {
      ++bad_exit;
      std::lock_guard<std::mutex> l(mu);
      errors.push_back(std::string(what) + " exit " + std::to_string(r.exit_code) + ": " + r.err);
    }
  };
  auto ingester = [&] {
    size_t next = 0;
    while (!stop && next < extra.size()) {
      std::vector<Mem> chunk(extra.begin() + long(next), extra.begin() + long(std::min(extra.size(), next + 50)));
      auto r = Aether({"ingest", "--create", store, "--wait", "2"}, ToJsonl(chunk));
      record(r, "ingest");
      if (r.exit_code == 0) next += chunk.size(), ingested_upto = next;
    }
  };
  auto searcher = [&](bool touch, uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop) {
      auto q = RandomMems(1, dim, rng(), "q")[0];
      // Half the searches do not wait for the lock, so "busy" is exercised.
      std::vector<std::string> args = {"search", store, "--vector", VectorJson(q.vec),
                                       "-k",     "10",  "--wait",   rng() % 2 ? "0" : "2"};
      if (!touch) args.push_back("--no-touch");
      auto r = Aether(args);
      record(r, "search");
      if (r.exit_code != 0) continue;
      ++searches;
      // Every hit must be a real memory at its true distance, sorted, and no
      // base memory closer than the k-th hit may be missing.
      auto hits = ParseSearchOutput(r.out).at(0);
      bool good = hits.size() == 10;
      std::set<std::string> seen;
      for (size_t i = 0; good && i < hits.size(); ++i) {
        auto it = vectors.find(hits[i].id);
        good = it != vectors.end() && seen.insert(hits[i].id).second;
        if (!good) break;
        double d = 0;
        for (uint32_t k = 0; k < dim; ++k) d += (double(q.vec[k]) - it->second[k]) * (double(q.vec[k]) - it->second[k]);
        good =
            std::fabs(std::sqrt(d) - hits[i].distance) < 1e-3 && (i == 0 || hits[i - 1].distance <= hits[i].distance);
      }
      if (good) {
        for (const auto& [dist, id] : BruteForce(base, q.vec, 10, "l2"))
          if (dist < hits.back().distance - 1e-4 && !seen.count(id)) good = false;
      }
      if (!good) {
        ++wrong;
        std::lock_guard<std::mutex> l(mu);
        errors.push_back("wrong search result: " + r.out);
      }
    }
  };
  auto mover = [&] {
    std::mt19937 rng(5);
    while (!stop) {
      std::vector<std::string> args;
      uint32_t pick = rng() % 5;
      if (pick == 0)  // uncalibrated: the default nprobe (8) probes every partition, so searches stay exact
        args = {"rebuild-index", store, "--partitions", "8", "--target-recall", "0", "--wait", "2"};
      else if (pick % 2)
        args = {"descend", store, "--policy", "--limit", "300", "--wait", "2"};
      else {
        args = {"ascend", store, "--evict", "--wait", "2", "--batch", "40"};
        for (int i = 0; i < 60; ++i) args.push_back(base[rng() % base.size()].id);
      }
      auto r = Aether(args);
      if (r.exit_code == 69) r.exit_code = 0;  // nothing to do is fine
      record(r, args[0].c_str());
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(ingester);
  threads.emplace_back(searcher, true, 1);
  threads.emplace_back(searcher, false, 2);
  threads.emplace_back(mover);
  // Five seconds, and longer on a slow machine (a sanitizer build) until a
  // few searches were checked (at most two minutes).
  const auto start = std::chrono::steady_clock::now();
  for (auto ran = std::chrono::seconds(0);
       ran < std::chrono::seconds(5) || (searches <= 10 && ran < std::chrono::seconds(120));
       ran = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (auto& t : threads) t.join();
  for (const auto& e : errors) MESSAGE(e);
  MESSAGE("concurrency: " << ok.load() << " commands succeeded, " << busy.load() << " busy, " << searches.load()
                          << " searches checked, " << wrong.load() << " wrong");
  CHECK(bad_exit == 0);
  CHECK(wrong == 0);
  CHECK(searches > 10);
  CHECK(Aether({"verify", store}).exit_code == 0);
  std::vector<Mem> all = base;
  all.insert(all.end(), extra.begin(), extra.begin() + long(ingested_upto.load()));
  auto got = GetAll(store, Ids(all));
  CHECK(got.size() == all.size());
  for (const auto& m : all) CHECK(got[m.id] == m.vec);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"].get<size_t>() + stats["cold_memories"].get<size_t>() == all.size());
}

TEST_CASE("with stdin, stdout and stderr closed (as under cron) no data file lands on fds 0-2") {
  TempDir dir;
  std::string store = dir / "s";
  WriteFile(dir / "in.jsonl", ToJsonl(RandomMems(50, 4, 1)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int fd = 0; fd <= 2; ++fd) posix_spawn_file_actions_addclose(&fa, fd);
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv_s = {AETHER_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    REQUIRE(posix_spawn(&pid, AETHER_BIN, &fa, nullptr, argv.data(), environ) == 0);
    return WaitAether(pid);
  };
  CHECK(run({"ingest", "--create", store, dir / "in.jsonl", "--hot-capacity", "20"}) == 0);
  CHECK(run({"descend", store, "--all"}) == 0);
  CHECK(run({"search", store, "--vector", "[0,0,0,0]"}) == 0);  // prints into /dev/null
  posix_spawn_file_actions_destroy(&fa);
  auto v = Aether({"verify", store});
  CHECK_MESSAGE(v.exit_code == 0, v.out);
  CHECK(GetAll(store, {"m0", "m49"}).size() == 2);
}
