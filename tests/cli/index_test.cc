// rebuild-index end to end: exactness at full nprobe, recall at the default,
// compaction, routing of descends, edge cases, and searches during a rebuild.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"

using namespace aether::test;

namespace {

// n clustered vectors: `clusters` gaussian blobs.
std::vector<Mem> Clustered(size_t n, uint32_t dim, uint32_t clusters, uint64_t seed, const std::string& prefix = "m") {
  auto centres = RandomMems(clusters, dim, seed * 7 + 1, "c");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 0.3f);
  std::vector<Mem> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].id = prefix + std::to_string(i);
    const auto& c = centres[rng() % clusters].vec;
    for (float v : c) out[i].vec.push_back(v + g(rng));
  }
  return out;
}

nlohmann::json Stats(const std::string& store) {
  return nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
}

}  // namespace

TEST_CASE("after rebuild-index, search is exact with every partition probed and >= 0.95 recall by default") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Clustered(6000, 16, 40, 1);
  REQUIRE(Aether({"ingest", store, "--hot-capacity", "500"}, ToJsonl(mems)).exit_code == 0);
  auto r = Aether({"rebuild-index", store, "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto rep = nlohmann::json::parse(r.out);
  CHECK(rep["cold_memories"] == 5500);
  CHECK(rep["partitions"] == 297);  // round(4 * sqrt(5500))
  CHECK(Aether({"verify", store}).exit_code == 0);
  auto st = Stats(store);
  CHECK(st["partitions"] == 297);
  CHECK(st["staging_records"] == 0);
  CHECK(st["index_generation"] == 1);
  CHECK(st["partition_min"].get<int>() <= st["partition_median"].get<int>());

  auto qs = Clustered(30, 16, 40, 1, "q");  // same centres, new points
  auto exact = ParseSearchOutput(
      Aether({"search", store, "--queries", "-", "--nprobe", "297", "--no-touch"}, QueriesJsonl(qs)).out);
  auto fast = ParseSearchOutput(Aether({"search", store, "--queries", "-", "--no-touch"}, QueriesJsonl(qs)).out);
  REQUIRE(exact.size() == 30);
  double recall = 0;
  for (size_t i = 0; i < qs.size(); ++i) {
    auto want = BruteForce(mems, qs[i].vec, 10, "l2");
    CHECK(SameTopK(exact[i], want));
    std::set<std::string> truth;
    for (const auto& w : want) truth.insert(w.second);
    for (const auto& h : fast[i]) recall += truth.count(h.id) / 10.0;
  }
  recall /= double(qs.size());
  MESSAGE("recall@10 at the default nprobe: " << recall);
  CHECK(recall >= 0.95);
  auto self = Aether({"stats", store, "--format", "json", "--recall", "100"});
  CHECK(nlohmann::json::parse(self.out)["recall_at_10"].get<double>() >= 0.95);
}

TEST_CASE("rebuild compacts garbage, routes descends to partitions, and is repeatable") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Clustered(1500, 8, 10, 2);
  REQUIRE(Aether({"ingest", store, "--hot-capacity", "300"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m400", "m401", "m402"}).exit_code == 0);
  REQUIRE(Aether({"ascend", store, "m500", "m501", "--evict"}).exit_code == 0);
  CHECK(Stats(store)["cold_garbage_records"] == 5);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "12", "--seed", "3"}).exit_code == 0);
  auto st = Stats(store);
  CHECK(st["cold_garbage_records"] == 0);
  CHECK(st["partitions"] == 12);
  // Descends after an index exist go to partitions, not staging.
  REQUIRE(Aether({"descend", store, "m0", "m1", "m2"}).exit_code == 0);
  CHECK(Stats(store)["staging_records"] == 0);
  // New ingests land in staging and are still found.
  auto extra = Clustered(50, 8, 10, 9, "x");
  REQUIRE(Aether({"ingest", store, "--hot-capacity", "300"}, ToJsonl(extra)).exit_code == 0);
  CHECK(Stats(store)["staging_records"].get<int>() > 0);
  std::vector<Mem> live;
  for (const auto& m : mems)
    if (m.id != "m400" && m.id != "m401" && m.id != "m402") live.push_back(m);
  live.insert(live.end(), extra.begin(), extra.end());
  auto q = Clustered(5, 8, 10, 2, "q");
  auto hits = ParseSearchOutput(
      Aether({"search", store, "--queries", "-", "--nprobe", "12", "--no-touch"}, QueriesJsonl(q)).out);
  for (size_t i = 0; i < q.size(); ++i) CHECK(SameTopK(hits[i], BruteForce(live, q[i].vec, 10, "l2")));
  // A second rebuild replaces the first generation and removes its files.
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "7"}).exit_code == 0);
  CHECK(Stats(store)["index_generation"] == 2);
  CHECK(Stats(store)["staging_records"] == 0);
  CHECK(Aether({"verify", store}).exit_code == 0);
  CHECK(!std::filesystem::exists(store + "/cold/g000001"));
  CHECK(!std::filesystem::exists(store + "/index/g000001.centroids"));
  CHECK(std::filesystem::exists(store + "/index/g000002.centroids"));
}

TEST_CASE("rebuild-index edge cases give clear results") {
  TempDir dir;
  std::string store = dir / "s";
  SUBCASE("empty cold tier") {
    REQUIRE(Aether({"ingest", store, "--hot-capacity", "100"}, ToJsonl(RandomMems(10, 4, 1))).exit_code == 0);
    auto r = Aether({"rebuild-index", store});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("the cold tier is empty: nothing to index") != std::string::npos);
    CHECK(Stats(store)["index_generation"] == 0);
  }
  SUBCASE("more partitions than cold memories") {
    REQUIRE(Aether({"ingest", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(6, 4, 1))).exit_code == 0);
    auto r = Aether({"rebuild-index", store, "--partitions", "50"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("--partitions 50 is more than the 6 cold memories; using 6") != std::string::npos);
    CHECK(Stats(store)["partitions"] == 6);
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
  SUBCASE("all-identical vectors, and a single partition") {
    std::vector<Mem> same(40);
    for (size_t i = 0; i < same.size(); ++i) same[i] = {"s" + std::to_string(i), {1, 2, 3, 4}};
    REQUIRE(Aether({"ingest", store, "--hot-capacity", "0"}, ToJsonl(same)).exit_code == 0);
    CHECK(Aether({"rebuild-index", store, "--partitions", "5"}).exit_code == 0);
    CHECK(Aether({"verify", store}).exit_code == 0);
    auto hits = ParseSearchOutput(
        Aether({"search", store, "--vector", "[1,2,3,4]", "-k", "40", "--nprobe", "5", "--no-touch"}).out);
    CHECK(hits[0].size() == 40);
    CHECK(Aether({"rebuild-index", store, "--partitions", "1"}).exit_code == 0);
    hits = ParseSearchOutput(Aether({"search", store, "--vector", "[1,2,3,4]", "-k", "40", "--no-touch"}).out);
    CHECK(hits[0].size() == 40);
    CHECK(Stats(store)["partitions"] == 1);
  }
  SUBCASE("dry run changes nothing") {
    REQUIRE(Aether({"ingest", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(100, 4, 1))).exit_code == 0);
    auto r = Aether({"rebuild-index", store, "--dry-run", "--format", "json"});
    CHECK(nlohmann::json::parse(r.out)["partitions"] == 40);
    CHECK(Stats(store)["index_generation"] == 0);
    CHECK(!std::filesystem::exists(store + "/cold/g000001"));
  }
}

TEST_CASE("searches run, stay correct and record their accesses while a rebuild is in its long phase") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Clustered(3000, 8, 20, 4);
  REQUIRE(Aether({"ingest", store, "--hot-capacity", "200"}, ToJsonl(mems)).exit_code == 0);
  int pid = SpawnAether({"rebuild-index", store, "--partitions", "20"}, {"AETHER_PAUSE=rebuild.mid_write:1500"});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto q = Clustered(3, 8, 20, 4, "q");
  int served = 0;
  std::map<std::string, uint64_t> accesses;  // id -> hits the default (touching) searches returned
  for (int round = 0; round < 4; ++round) {
    // Even rounds record their accesses (the default), odd ones do not.
    std::vector<std::string> args = {"search", store, "--queries", "-", "--wait", "0"};
    if (round % 2) args.push_back("--no-touch");
    auto r = Aether(args, QueriesJsonl(q));
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    if (r.exit_code != 0) continue;
    ++served;
    auto hits = ParseSearchOutput(r.out);
    for (size_t i = 0; i < q.size(); ++i) {
      CHECK(SameTopK(hits[i], BruteForce(mems, q[i].vec, 10, "l2")));
      if (round % 2 == 0)
        for (const Hit& h : hits[i]) ++accesses[h.id];
    }
  }
  // verify runs too, and does not mistake the live rebuild for a dangling one.
  auto v = Aether({"verify", store, "--wait", "0"});
  CHECK_MESSAGE(v.exit_code == 0, v.out);
  // Writers wait for the rebuild instead.
  CHECK(Aether({"delete", store, "m1", "--wait", "0"}).exit_code == 75);
  CHECK(WaitAether(pid) == 0);
  CHECK(served == 4);
  CHECK(Stats(store)["index_generation"] == 1);
  CHECK(Aether({"verify", store}).exit_code == 0);
  // The rebuild folded what the searches recorded when it finished.
  REQUIRE(!accesses.empty());
  std::vector<std::string> get = {"get", store};
  for (const auto& m : mems) get.push_back(m.id);
  auto g = Aether(get);
  REQUIRE(g.exit_code == 0);
  auto lines = Lines(g.out);
  REQUIRE(lines.size() == mems.size());
  for (const auto& line : lines) {
    auto rec = nlohmann::json::parse(line);
    auto it = accesses.find(rec["id"]);
    CHECK_MESSAGE(rec["access_count"] == (it == accesses.end() ? 0 : it->second), rec["id"]);
  }
}

TEST_CASE("ip and cosine stores probe the partition their own metric ranks nearest (nprobe 1 of 12)") {
  // Twelve tight clusters. A points along u with norm 1; B along a direction
  // 45 degrees from u with norm 10; the rest along random directions. For a
  // query along u, the nearest centroid is A's under cosine (cos 1) but B's
  // under inner product (10 * 0.707 > 1): probing with the other metric's
  // ordering gives the other cluster's points, which brute force under the
  // store's own metric rules out.
  const uint32_t dim = 16;
  std::mt19937_64 rng(99);
  std::normal_distribution<float> g(0, 1);
  auto unit = [&](std::vector<float> v) {
    float n = 0;
    for (float x : v) n += x * x;
    for (float& x : v) x /= std::sqrt(n);
    return v;
  };
  std::vector<float> u(dim, 0), v(dim, 0);
  u[0] = 1;
  v[0] = v[1] = float(std::sqrt(0.5));
  std::vector<std::pair<std::vector<float>, float>> centres = {{u, 1.0f}, {v, 10.0f}};
  for (int c = 2; c < 12; ++c) {
    std::vector<float> d(dim);
    for (auto& x : d) x = g(rng);
    d[0] = d[1] = 0;  // orthogonal-ish to the query: never nearer than A or B
    centres.push_back({unit(d), 1.0f + float(c % 5)});
  }
  std::vector<Mem> mems;
  std::normal_distribution<float> jitter(0, 0.01f);
  for (int c = 0; c < 12; ++c)
    for (int i = 0; i < 50; ++i) {
      Mem m{"c" + std::to_string(c) + "_" + std::to_string(i), {}};
      for (uint32_t j = 0; j < dim; ++j) m.vec.push_back(centres[c].second * centres[c].first[j] + jitter(rng));
      mems.push_back(m);
    }
  const std::vector<float> query = u;
  for (const char* metric : {"ip", "cosine"}) {
    CAPTURE(metric);
    TempDir dir;
    const std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "16", "--metric", metric, "--hot-capacity", "0"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "12"}).exit_code == 0);
    auto want = BruteForce(mems, query, 5, metric);
    const std::string expect_cluster = std::string(metric) == "ip" ? "c1_" : "c0_";
    for (const auto& w : want) REQUIRE(w.second.rfind(expect_cluster, 0) == 0);
    for (const char* nprobe : {"1", "2"}) {
      CAPTURE(nprobe);
      auto hits = ParseSearchOutput(
          Aether({"search", store, "--vector", VectorJson(query), "-k", "5", "--nprobe", nprobe, "--no-touch"}).out);
      REQUIRE(hits.size() == 1);
      CHECK(SameTopK(hits[0], want));
    }
  }
}
