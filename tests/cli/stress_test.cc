// Stress: 2 writers, 4 readers and a maintainer on one store for a bounded
// time, all real aether processes. Writer 1 ingests new memories in
// batches; writer 2 descends, ascends and deletes; the maintainer runs
// `maintain` ticks and an occasional `rebuild-index`; two readers `get`
// random memories and two search for stored vectors. Every answer is checked
// as it arrives: a memory that exists is never missing and never has a
// different vector (no torn read), an exact query finds its memory at
// distance 0. At the end verify passes and the store equals the reference
// (base - deleted + ingested), checked against brute force too.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"

using namespace aether::test;

TEST_CASE("stress: 2 writers, 4 readers and a maintainer; no torn read; the final state matches the reference" *
          doctest::test_suite("sweep")) {
  TempDir dir;
  const std::string store = dir / "s";
  const uint32_t dim = 8;
  auto base = RandomMems(1200, dim, 51, "a");
  auto fresh = RandomMems(3000, dim, 52, "n");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "500"}, ToJsonl(base)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--seed", "1"}).exit_code == 0);
  std::map<std::string, std::vector<float>> vectors;
  for (const auto& m : base) vectors[m.id] = m.vec;
  for (const auto& m : fresh) vectors[m.id] = m.vec;
  std::set<std::string> to_delete;  // writer 2 deletes these; readers accept either
  for (size_t i = 0; i < base.size(); i += 10) to_delete.insert(base[i].id);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto running = [&] { return std::chrono::steady_clock::now() < deadline; };
  std::atomic<int> commands{0}, reads{0}, torn{0}, failures{0};
  std::mutex mu;
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard<std::mutex> l(mu);
    if (errors.size() < 20) errors.push_back(what);
  };
  auto run = [&](const std::vector<std::string>& args, const std::string& in = "") {
    std::vector<std::string> a = args;
    a.insert(a.begin() + 2, {"--wait", "60"});  // busy is not the point here
    auto r = Aether(a, in);
    ++commands;
    return r;
  };
  std::atomic<size_t> ingested{0};

  auto writer_ingest = [&] {
    size_t next = 0;
    while (running() && next < fresh.size()) {
      std::vector<Mem> chunk(fresh.begin() + long(next), fresh.begin() + long(std::min(fresh.size(), next + 100)));
      auto r = run({"ingest", "--create", store, "-", "--batch", "40"}, ToJsonl(chunk));
      if (r.exit_code != 0)
        fail("ingest: " + r.err);
      else
        next += chunk.size(), ingested = next;
    }
  };
  auto writer_move = [&] {
    std::mt19937_64 rng(7);
    auto deleting = to_delete.begin();
    for (int round = 0; running(); ++round) {
      std::vector<std::string> args = {round % 2 ? "ascend" : "descend", store};
      for (int i = 0; i < 30; ++i) {
        const auto& id = base[rng() % base.size()].id;
        if (!to_delete.count(id)) args.push_back(id);
      }
      if (round % 2) args.push_back("--evict");
      auto r = run(args);
      if (r.exit_code != 0 && r.exit_code != 1) fail(args[0] + ": " + r.err);
      if (deleting != to_delete.end()) {
        auto d = run({"delete", store, *deleting++});
        if (d.exit_code != 0) fail("delete: " + d.err);
      }
    }
    while (deleting != to_delete.end()) {  // finish the deletes: the reference depends on them
      auto d = run({"delete", store, *deleting++});
      if (d.exit_code != 0) fail("delete: " + d.err);
    }
  };
  auto maintainer = [&] {
    for (int tick = 1; running(); ++tick) {
      auto r = tick % 4 ? run({"maintain", store, "--seed", std::to_string(tick)})
                        : run({"rebuild-index", store, "--seed", std::to_string(tick)});
      if (r.exit_code != 0) fail("maintain/rebuild: " + r.err);
    }
  };
  auto getter = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (running()) {
      std::vector<std::string> ids;
      for (int i = 0; i < 25; ++i) ids.push_back(i % 5 ? base[rng() % base.size()].id : fresh[rng() % fresh.size()].id);
      size_t known = ingested;
      std::vector<std::string> args = {"get", store};
      args.insert(args.end(), ids.begin(), ids.end());
      auto r = run(args);
      if (r.exit_code != 0 && r.exit_code != 1) {
        fail("get: " + r.err);
        continue;
      }
      std::set<std::string> seen;
      for (const auto& line : Lines(r.out)) {
        auto j = nlohmann::json::parse(line);
        std::string id = j["id"];
        seen.insert(id);
        if (j["vector"].get<std::vector<float>>() != vectors[id]) ++torn, fail("torn read of " + id);
      }
      for (const auto& id : ids) {
        bool may_be_missing = to_delete.count(id) || id[0] == 'n';
        if (!seen.count(id) && !may_be_missing) fail("memory " + id + " missing from a read");
        if (id[0] == 'n' && !seen.count(id)) {
          size_t index = size_t(std::stoul(id.substr(1)));
          if (index < known) fail("ingested memory " + id + " missing");  // committed before this read began
        }
      }
      ++reads;
    }
  };
  auto searcher = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (running()) {
      std::vector<const Mem*> qs;
      std::string text;
      for (int i = 0; i < 10; ++i) {
        const Mem* m = &base[rng() % base.size()];
        if (to_delete.count(m->id)) continue;
        qs.push_back(m);
        text += "{\"vector\":" + VectorJson(m->vec) + "}\n";
      }
      auto r = run({"search", store, "--queries", "-", "-k", "3", "--no-touch"}, text);
      if (r.exit_code != 0) {
        fail("search: " + r.err);
        continue;
      }
      auto hits = ParseSearchOutput(r.out);
      if (hits.size() != qs.size()) {
        fail("search answered " + std::to_string(hits.size()) + " of " + std::to_string(qs.size()));
        continue;
      }
      for (size_t i = 0; i < qs.size(); ++i)
        if (hits[i].empty() || hits[i][0].id != qs[i]->id || hits[i][0].distance != 0)
          fail("exact query for " + qs[i]->id + " found " + (hits[i].empty() ? "nothing" : hits[i][0].id));
      ++reads;
    }
  };

  std::vector<std::thread> threads;
  threads.emplace_back(writer_ingest);
  threads.emplace_back(writer_move);
  threads.emplace_back(maintainer);
  threads.emplace_back(getter, 1);
  threads.emplace_back(getter, 2);
  threads.emplace_back(searcher, 3);
  threads.emplace_back(searcher, 4);
  for (auto& t : threads) t.join();
  // Whatever the ingester did not reach in time, it adds now.
  if (ingested < fresh.size()) {
    std::vector<Mem> rest(fresh.begin() + long(size_t(ingested)), fresh.end());
    REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(rest)).exit_code == 0);
  }
  MESSAGE("stress: " << commands.load() << " commands, " << reads.load() << " checked reads, " << torn.load()
                     << " torn, " << failures.load() << " failures");
  for (const auto& e : errors) MESSAGE(e);
  CHECK(failures == 0);
  CHECK(torn == 0);
  CHECK(reads > 20);

  auto v = Aether({"verify", store});
  CHECK_MESSAGE(v.exit_code == 0, v.out << v.err);
  std::vector<Mem> expect;
  for (const auto& m : base)
    if (!to_delete.count(m.id)) expect.push_back(m);
  expect.insert(expect.end(), fresh.begin(), fresh.end());
  std::vector<std::string> all_ids = Ids(base);
  for (const auto& m : fresh) all_ids.push_back(m.id);
  auto stored = GetRecords(store, all_ids);
  CHECK(stored.size() == expect.size());
  for (const auto& m : expect) CHECK(stored[m.id].vec == m.vec);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"].get<uint64_t>() + stats["cold_memories"].get<uint64_t>() == expect.size());
  auto queries = RandomMems(5, dim, 53, "q");
  std::string text;
  for (const auto& q : queries) text += "{\"vector\":" + VectorJson(q.vec) + "}\n";
  auto k = std::to_string(std::max<uint64_t>(1, stats["partitions"].get<uint64_t>()));  // exact
  auto hits =
      ParseSearchOutput(Aether({"search", store, "--queries", "-", "-k", "10", "--nprobe", k, "--no-touch"}, text).out);
  REQUIRE(hits.size() == queries.size());
  for (size_t i = 0; i < queries.size(); ++i) CHECK(SameTopK(hits[i], BruteForce(expect, queries[i].vec, 10, "l2")));
}

TEST_CASE("a writer waiting for its input lets readers in, and keeps other writers out") {
  TempDir dir;
  const std::string store = dir / "s";
  auto base = RandomMems(50, 4, 61, "a");
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(base)).exit_code == 0);
  // An ingest whose producer is slow: its first line arrives after 3 s.
  std::string late = ToJsonl(RandomMems(1, 4, 62, "late"));
  late.pop_back();
  std::string cmd = "(sleep 3; echo '" + late + "') | '" AETHER_BIN "' ingest '" + store + "' - 2>/dev/null &";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // it has opened the store by now
  auto get = Aether({"get", store, "a0", "--wait", "1"});
  CHECK_MESSAGE(get.exit_code == 0, get.err);
  auto search = Aether({"search", store, "--vector", VectorJson(base[3].vec), "-k", "1", "--no-touch", "--wait", "1"});
  CHECK_MESSAGE(search.exit_code == 0, search.err);
  CHECK(ParseSearchOutput(search.out).at(0).at(0).id == "a3");
  auto writer = Aether({"delete", store, "a1", "--wait", "0.3"});
  CHECK(writer.exit_code == 75);  // busy: one writer at a time
  bool landed = false;
  for (int i = 0; i < 100 && !landed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    landed = Aether({"get", store, "late0"}).exit_code == 0;
  }
  CHECK(landed);
  CHECK(Aether({"verify", store}).exit_code == 0);
}
