// rebuild-index end to end: exactness at full nprobe, recall at the default,
// compaction, routing of descends, edge cases, and searches during a rebuild.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "env/system_readings.h"
#include "index/calibration.h"
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

// n points around the same `blobs` centres for every seed (a store's
// vectors and held-out queries from one distribution).
std::vector<Mem> Around(size_t n, uint32_t dim, uint32_t blobs, uint64_t seed, const std::string& prefix) {
  auto centres = RandomMems(blobs, dim, 99, "c");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 0.3f);
  std::vector<Mem> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].id = prefix + std::to_string(i);
    for (float v : centres[rng() % blobs].vec) out[i].vec.push_back(v + g(rng));
  }
  return out;
}

void SqlExec(const std::string& store, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

std::string SqlText(const std::string& store, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((store + "/meta.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
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
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "500"}, ToJsonl(mems)).exit_code == 0);
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

// The staging shard's row is in every store (init makes it, a rebuild
// empties the shard and keeps it). A store that lost it must not answer
// without the memories staged there: a one-shot query, a batch, a filtered
// search and a store without an index all fail naming it, and verify names
// it, whether memories were staged or not.
TEST_CASE("a search on a store whose staging shard row is gone fails rather than leave the staged memories out") {
  TempDir dir;
  for (bool indexed : {true, false}) {
    CAPTURE(indexed);
    const std::string store = dir / (indexed ? "indexed" : "plain");
    auto mems = Clustered(400, 8, 5, 41);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0", "-q"}, ToJsonl(mems)).exit_code == 0);
    if (indexed) REQUIRE(Aether({"rebuild-index", store, "--partitions", "5", "-q"}).exit_code == 0);
    const auto staged = Clustered(30, 8, 5, 42, "e");  // after the rebuild: in the staging shard
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(staged)).exit_code == 0);
    const std::string where = "--where=importance >= 0";
    auto one = [&] {
      return Aether({"search", store, "--vector", VectorJson(staged[0].vec), "-k", "1", "--no-touch"});
    };
    auto batch = [&](std::vector<std::string> extra) {
      std::vector<std::string> args = {"search", store, "--queries", "-", "-k", "3", "--no-touch"};
      args.insert(args.end(), extra.begin(), extra.end());
      return Aether(args, QueriesJsonl(staged));
    };
    auto r = one();
    REQUIRE(r.exit_code == 0);
    REQUIRE(ParseSearchOutput(r.out).at(0).at(0).id == staged[0].id);  // found where it is staged
    SqlExec(store, "DELETE FROM shards WHERE generation = 0");
    for (const auto& got : {one(), batch({}), batch({where})}) {
      CHECK(got.exit_code == 79);
      CHECK_MESSAGE(got.err.find("no row for the staging shard (cold/staging.shard)") != std::string::npos, got.err);
      CHECK(got.out.empty());
    }
    auto v = Aether({"verify", store});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("no row for the staging shard (cold/staging.shard)") != std::string::npos);
  }
  // Nothing staged (right after a rebuild): no memory goes missing, but the
  // searches refuse the store, so verify must name the row too.
  const std::string store = dir / "empty-staging";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "0", "-q"}, ToJsonl(Clustered(200, 8, 4, 43))).exit_code ==
      0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
  REQUIRE(Aether({"verify", store}).exit_code == 0);
  SqlExec(store, "DELETE FROM shards WHERE generation = 0");
  auto v = Aether({"verify", store});
  CHECK(v.exit_code == 1);
  CHECK_MESSAGE(v.out.find("no row for the staging shard (cold/staging.shard)") != std::string::npos, v.out);
  CHECK(Aether({"search", store, "--vector", "[0,0,0,0,0,0,0,0]", "--no-touch"}).exit_code == 79);
}

// The calibration row is what the default nprobe and search --recall read:
// verify checks it as the readers do (each damage below was once reported
// by search or stats and passed by verify), and an nprobe past the
// generation's partitions, which searches clamp, too.
TEST_CASE("verify checks the recall calibration the searches read") {
  TempDir dir;
  const std::string pristine = dir / "p", store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "0", "-q"}, ToJsonl(Clustered(300, 8, 6, 51)))
              .exit_code == 0);
  REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "12", "-q"}).exit_code == 0);
  REQUIRE(Aether({"verify", pristine}).exit_code == 0);
  struct Damage {
    std::string set, problem;
    bool searches_fail;  // search --recall 0.9 exits 79 on it
  };
  for (const Damage& d : std::vector<Damage>{{"nprobe = -5", "bad nprobe for generation", true},
                                             {"nprobe = 0", "bad nprobe for generation", true},
                                             {"nprobe = 17", "nprobe 17 is more than its 12 partitions", false},
                                             {"curve = 'garbage'", "index_calibration of generation", true},
                                             {"curve = ''", "index_calibration of generation", true}}) {
    CAPTURE(d.set);
    std::filesystem::remove_all(store);
    std::filesystem::copy(pristine, store, std::filesystem::copy_options::recursive);
    SqlExec(store, "UPDATE index_calibration SET " + d.set);
    auto v = Aether({"verify", store});
    CHECK(v.exit_code == 1);
    const size_t at = v.out.find(d.problem);
    REQUIRE_MESSAGE(at != std::string::npos, v.out);
    // Named by its file, as verify's other problems in meta.db are.
    const size_t line = v.out.rfind('\n', at) + 1;  // npos + 1 == 0: the first line
    CHECK_MESSAGE(v.out.substr(line, at - line).find("meta.db: ") != std::string::npos, v.out);
    auto r = Aether({"search", store, "--vector", "[0,0,0,0,0,0,0,0]", "--recall", "0.9", "--no-touch"});
    CHECK(r.exit_code == (d.searches_fail ? 79 : 0));
  }
}

// stats --recall samples stored vectors as queries: each must be held out of
// its own neighbours (its own memory, at distance 0, is always found and
// would count), as the calibration holds it out. Against a brute-force
// reference over every stored vector, at a low target (few partitions
// probed) where counting the query itself would show.
TEST_CASE("stats --recall holds each sampled vector out of its own results, as brute force does") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = Clustered(1200, 8, 30, 5);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(mems)).exit_code == 0);
  auto built = Aether({"rebuild-index", store, "--partitions", "60", "--target-recall", "0.4", "--format", "json"});
  REQUIRE_MESSAGE(built.exit_code == 0, built.err);
  const auto nprobe = nlohmann::json::parse(built.out)["calibration"]["nprobe"].get<int>();
  REQUIRE(nprobe < 60);
  // Every stored vector a query (the sample is all of them, whatever the seed).
  auto got = Aether({"stats", store, "--format", "json", "--recall", "5000"});
  REQUIRE_MESSAGE(got.exit_code == 0, got.err);
  const auto st = nlohmann::json::parse(got.out);
  REQUIRE(st["recall_queries"] == 1200);
  auto found = ParseSearchOutput(
      Aether({"search", store, "--queries", "-", "-k", "11", "--tier", "cold", "--no-touch"}, QueriesJsonl(mems)).out);
  REQUIRE(found.size() == mems.size());
  double sum = 0, with_self = 0;
  for (size_t i = 0; i < mems.size(); ++i) {
    std::set<std::string> truth, truth_with_self;
    for (const auto& w : BruteForce(mems, mems[i].vec, 11, "l2"))
      if (w.second != mems[i].id && truth.size() < 10) truth.insert(w.second);
    for (const auto& w : BruteForce(mems, mems[i].vec, 10, "l2")) truth_with_self.insert(w.second);
    size_t hit = 0, seen = 0, hit_with_self = 0;
    for (const auto& h : found[i]) {
      if (h.id != mems[i].id && seen < 10) {
        ++seen;
        hit += truth.count(h.id);
      }
    }
    for (size_t r = 0; r < 10 && r < found[i].size(); ++r) hit_with_self += truth_with_self.count(found[i][r].id);
    sum += double(hit) / double(truth.size());
    with_self += double(hit_with_self) / 10.0;
  }
  const double want = sum / double(mems.size());
  MESSAGE("nprobe " << nprobe << ": recall held out " << want << ", counting the query itself "
                    << with_self / double(mems.size()));
  CHECK(std::abs(st["recall_at_10"].get<double>() - want) < 1e-9);
  CHECK(with_self / double(mems.size()) > want + 0.01);  // the difference the check is about
}

TEST_CASE("rebuild compacts garbage, routes descends to partitions, and is repeatable") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Clustered(1500, 8, 10, 2);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "300"}, ToJsonl(mems)).exit_code == 0);
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
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "300"}, ToJsonl(extra)).exit_code == 0);
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

TEST_CASE("rebuild-index within a memory budget: the same index byte for byte, from more reads of the shards") {
  // Every file of the index (partitions, centroids), every memory's place
  // and the calibration equal those of the rebuild that holds the vectors,
  // for each metric, with warm and deleted records among the cold ones, for
  // budgets that hold nothing, a partition or a few at a time (runs of 512
  // to 1,536 rows: several), and with the kept centroids.
  auto files = [](const std::string& root) {
    std::map<std::string, std::string> out;
    for (const char* sub : {"cold", "index"})
      for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/" + sub))
        if (e.is_regular_file()) out[std::filesystem::relative(e.path(), root).string()] = ReadFile(e.path().string());
    return out;
  };
  auto state = [&](const std::string& store) {
    return std::make_tuple(
        files(store),
        SqlRows(store, "SELECT row_id, id, tier, shard_id, frame_offset, frame_index FROM memories ORDER BY row_id"),
        SqlRows(store,
                "SELECT generation, target, k, queries, nprobe, recall, std_error, curve FROM index_calibration"));
  };
  const auto mems = Clustered(3000, 8, 12, 5);
  for (const char* metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    TempDir dir;
    const std::string base = dir / "base";
    REQUIRE(Aether({"init", base, "--dim", "8", "--metric", metric, "--hot-capacity", "0"}).exit_code == 0);
    REQUIRE(Aether({"ingest", base}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"delete", base, "m10", "m11", "m2999"}).exit_code == 0);
    REQUIRE(Aether({"ascend", base, "m20", "m21", "m1500", "--to", "warm"}).exit_code == 0);
    REQUIRE(Stats(base)["cold_garbage_records"].get<int>() > 0);
    for (const bool keep : {false, true}) {
      CAPTURE(keep);
      if (keep) REQUIRE(Aether({"rebuild-index", base, "--partitions", "9", "--seed", "4"}).exit_code == 0);
      std::vector<std::string> args = {"rebuild-index", "", "--seed", "3", "--format", "json"};
      if (keep)
        args.push_back("--keep-centroids");
      else
        args.insert(args.end(), {"--partitions", "14"});
      const std::string held = dir / (keep ? "held-keep" : "held");
      std::filesystem::copy(base, held, std::filesystem::copy_options::recursive);
      args[1] = held;
      auto r = Aether(args);
      REQUIRE(r.exit_code == 0);
      CHECK(nlohmann::json::parse(r.out)["cold_walks"] == 1);
      // The default budget: half of what this process may use (the
      // machine's memory, or its cgroup's lower limit).
      CHECK(nlohmann::json::parse(r.out)["memory_bytes"].get<uint64_t>() == *aether::MemoryLimitBytes() / 2);
      const auto want = state(held);
      // 8 dimensions: 32 bytes a vector, about 210 in a partition.
      for (const char* budget : {"1", "32", "4K", "20K", "60K"}) {
        CAPTURE(budget);
        const std::string small = dir / (std::string(keep ? "small-keep-" : "small-") + budget);
        std::filesystem::copy(base, small, std::filesystem::copy_options::recursive);
        args[1] = small;
        std::vector<std::string> with = args;
        with.insert(with.end(), {"--memory", budget});
        r = Aether(with);
        REQUIRE(r.exit_code == 0);
        const int walks = nlohmann::json::parse(r.out)["cold_walks"].get<int>();
        CHECK(walks > 3);
        CHECK_MESSAGE(r.err.find("read the cold tier " + std::to_string(walks) + " times") != std::string::npos, r.err);
        CHECK_MESSAGE(r.err.find(std::string(budget) == "1" ? "budget (1 byte)" : " bytes)") != std::string::npos,
                      r.err);
        CHECK(state(small) == want);
        CHECK(Aether({"verify", small}).exit_code == 0);
      }
    }
  }
  {
    // Kept centroids, one partition left empty: a pass of the write reads
    // the shards only for partitions with members. Budget 1 byte: the
    // first read, the assignment, the calibration's brute
    // force, then a pass per partition with members (the calibration's
    // queries come with the first read).
    TempDir dir;
    const std::string store = dir / "s";
    std::vector<Mem> nine;  // 9 clusters of 100
    for (int i = 0; i < 900; ++i)
      nine.push_back({"m" + std::to_string(i), std::vector<float>(8, float(i % 9) * 10 + float(i % 7) * 0.1f)});
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(nine)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "9"}).exit_code == 0);
    std::vector<std::string> del = {"delete", store};
    for (int i = 0; i < 900; i += 9) del.push_back("m" + std::to_string(i));
    REQUIRE(Aether(del).exit_code == 0);
    auto r = Aether({"rebuild-index", store, "--keep-centroids", "--memory", "1", "--format", "json"});
    REQUIRE(r.exit_code == 0);
    CHECK(Stats(store)["partition_min"] == 0);
    CHECK(nlohmann::json::parse(r.out)["cold_walks"] == 3 + 8);
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
  TempDir dir;
  CHECK(Aether({"rebuild-index", dir / "x", "--memory", "0"}).exit_code == 64);
  CHECK(Aether({"rebuild-index", dir / "x", "--memory", "lots"}).exit_code == 64);
  // Not a positive whole number of bytes in decimal (CLI11 alone read 010M
  // as octal, 0x10 as hex, M as 1M, -1 and too many digits as 2^64 - 1).
  for (const char* bad : {"-1", "010M", "0x10", "M", "", "1.5G", "99999999999999999999", "16E"}) {
    CAPTURE(bad);
    auto r = Aether({"rebuild-index", dir / "x", "--memory", bad});
    CHECK(r.exit_code == 64);
    CHECK_MESSAGE(r.err.find("--memory") != std::string::npos, r.err);
  }
}

TEST_CASE("rebuild-index edge cases give clear results") {
  TempDir dir;
  std::string store = dir / "s";
  SUBCASE("empty cold tier") {
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(RandomMems(10, 4, 1))).exit_code ==
            0);
    auto r = Aether({"rebuild-index", store});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("the cold tier is empty: nothing to index") != std::string::npos);
    CHECK(Stats(store)["index_generation"] == 0);
  }
  SUBCASE("one and two cold memories: the calibration says what it could measure") {
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(1, 4, 1))).exit_code == 0);
    auto r = Aether({"rebuild-index", store});
    CHECK(r.exit_code == 0);
    CHECK_MESSAGE(
        r.err.find("calibrated: nprobe 1 (the tier holds one memory, which every probe finds)") != std::string::npos,
        r.err);
    CHECK_MESSAGE(r.err.find("recall@0") == std::string::npos, r.err);
    CHECK(Aether({"verify", store}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonl(RandomMems(1, 4, 2, "b"))).exit_code == 0);
    r = Aether({"rebuild-index", store, "--partitions", "1"});
    CHECK(r.exit_code == 0);
    // Two memories: each the other's neighbour, recall@1 over 1 or 2 queries.
    CHECK_MESSAGE(r.err.find("gives recall@1 1.0000") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(" held-out quer") != std::string::npos, r.err);
  }
  SUBCASE("more partitions than cold memories") {
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(6, 4, 1))).exit_code == 0);
    auto r = Aether({"rebuild-index", store, "--partitions", "50"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("--partitions 50 is more than the 6 cold memories; using 6") != std::string::npos);
    CHECK(Stats(store)["partitions"] == 6);
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
  SUBCASE("all-identical vectors, and a single partition") {
    std::vector<Mem> same(40);
    for (size_t i = 0; i < same.size(); ++i) same[i] = {"s" + std::to_string(i), {1, 2, 3, 4}};
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(same)).exit_code == 0);
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
  SUBCASE("a memory the metadata places where no record of it is: corruption, and nothing changes") {
    // Each way a place can miss: a record index past the frame's, a frame
    // offset no frame has, a shard that is not there, two memories'
    // places swapped (each names the other's record), two memories on one
    // record, and tier codes of no shard's tier.
    REQUIRE(
        Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(300, 4, 1, "m"))).exit_code ==
        0);
    const std::vector<std::string> damage = {
        "UPDATE memories SET frame_index = frame_index + 100000 WHERE id = 'm5'",
        "UPDATE memories SET frame_offset = frame_offset + 1 WHERE id = 'm250'",
        "UPDATE memories SET shard_id = shard_id + 7 WHERE id = 'm0'",
        "UPDATE memories SET frame_index = (SELECT frame_index FROM memories WHERE id = 'm2') + (SELECT frame_index "
        "FROM memories WHERE id = 'm1') - frame_index WHERE id IN ('m1', 'm2')",
        "UPDATE memories SET frame_index = (SELECT frame_index FROM memories WHERE id = 'm3') WHERE id = 'm4'",
        "UPDATE memories SET tier = 3 WHERE id = 'm7'",
        "UPDATE memories SET tier = 'x' WHERE id = 'm8'",
        "UPDATE memories SET tier = 0.5 WHERE id = 'm9'"};
    const std::string copy = dir / "copy";
    std::filesystem::copy(store, copy, std::filesystem::copy_options::recursive);
    for (const std::string& sql : damage) {
      CAPTURE(sql);
      std::filesystem::remove_all(store);
      std::filesystem::copy(copy, store, std::filesystem::copy_options::recursive);
      SqlExec(store, sql);
      const auto before = SqlRows(store, "SELECT id, shard_id, frame_offset, frame_index FROM memories ORDER BY id");
      auto r = Aether({"rebuild-index", store, "--partitions", "4"});
      CHECK(r.exit_code == 79);
      CHECK_MESSAGE(r.err.find("memories in shards in the metadata") != std::string::npos, r.err);
      CHECK(SqlRows(store, "SELECT id, shard_id, frame_offset, frame_index FROM memories ORDER BY id") == before);
      CHECK(Stats(store)["index_generation"] == 0);
      CHECK(Aether({"verify", store}).exit_code == 1);  // it lists the problem
    }
    // Undamaged, the same store rebuilds and keeps every memory.
    std::filesystem::remove_all(store);
    std::filesystem::copy(copy, store, std::filesystem::copy_options::recursive);
    CHECK(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
    CHECK(Stats(store)["cold_memories"] == 300);
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
  SUBCASE("dry run changes nothing") {
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "0"}, ToJsonl(RandomMems(100, 4, 1))).exit_code ==
            0);
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
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "200"}, ToJsonl(mems)).exit_code == 0);
  // The rebuild holds its long phase until the test removes the pause file
  // (at most 60 s): no timing assumption, however slow the machine.
  const std::string paused = dir / "paused";
  int pid = SpawnAether({"rebuild-index", store, "--partitions", "20"},
                        {"AETHER_PAUSE=rebuild.mid_write:60000", "AETHER_PAUSE_FILE=" + paused});
  for (int i = 0; i < 6000 && !std::filesystem::exists(paused); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(std::filesystem::exists(paused));
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
  CHECK(std::filesystem::exists(paused));  // all of the above ran inside the pause (a timeout removes it)
  std::filesystem::remove(paused);
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

// A few queries (a one-shot search) plan from the shard rows they need and
// a probe streamed from the centroids file; a batch of more than 16 from
// every shard row and the loaded table. Both must read the same shards for
// a query: staging included, garbage skipped, the same partitions probed.
TEST_CASE("a query alone finds what it finds in a batch: the few-query plan and the batch plan agree") {
  for (const char* metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = Clustered(700, 8, 20, 5);
    REQUIRE(Aether({"init", store, "--dim", "8", "--metric", metric, "--hot-capacity", "100"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "12"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonl(Clustered(150, 8, 20, 6, "late"))).exit_code == 0);  // hot, then staging
    REQUIRE(Aether({"delete", store, "m3", "m10", "m11", "late140"}).exit_code == 0);              // garbage
    const auto queries = Clustered(20, 8, 20, 7, "q");
    for (std::vector<std::string> nprobe : {std::vector<std::string>{"--nprobe", "3"}, std::vector<std::string>{}}) {
      std::vector<std::string> args = {"search", store, "--queries", "-", "-k", "6", "--no-touch", "--tier", "cold"};
      args.insert(args.end(), nprobe.begin(), nprobe.end());
      auto batch = Aether(args, QueriesJsonl(queries));
      REQUIRE(batch.exit_code == 0);
      // The first few alone (each a process), against their lines of the batch.
      std::istringstream lines(batch.out);
      for (size_t i = 0; i < 6; ++i) {
        CAPTURE(queries[i].id);
        std::string line;
        REQUIRE(std::getline(lines, line));
        auto alone = Aether(args, QueriesJsonl({queries[i]}));
        REQUIRE(alone.exit_code == 0);
        CHECK(alone.out == line + "\n");
      }
    }
  }
}

// The probe ranks partitions from 8-bit codes (integer sums: the same in
// every kernel variant) and then by exact double distances (dot_exact: the
// same double in every variant), and the scan's distances are exact: so a
// batch's results are byte for byte the same under every kernel variant, at
// every nprobe, for every metric. Enough partitions (60) that the first pass
// leaves most out.
TEST_CASE("every kernel variant probes the same partitions: a batch's results are byte for byte the same") {
  for (const char* metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    TempDir dir;
    const std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "37", "--metric", metric, "--hot-capacity", "0"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(Clustered(3000, 37, 40, 8))).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "60", "-q"}).exit_code == 0);
    const std::string queries = QueriesJsonl(Clustered(64, 37, 40, 9, "q"));
    for (const char* nprobe : {"1", "2", "5"}) {
      CAPTURE(nprobe);
      std::string first;
      for (const char* isa : {"scalar", "avx2", "avx512"}) {
        CAPTURE(isa);
        auto r = Aether({"search", store, "--queries", "-", "-k", "5", "--no-touch", "--nprobe", nprobe}, queries,
                        {std::string("AETHER_SIMD=") + isa});
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        REQUIRE(ParseSearchOutput(r.out).size() == 64);
        if (first.empty()) first = r.out;
        CHECK(r.out == first);
      }
    }
  }
}

// A one-shot query reads the shard row of each partition it probes alone,
// through the shards_by_generation index; a batch reads every shard row.
// Over every partition: without its shard row, a query probing it fails
// naming it (as a batch fails, whichever it probes); a query probing the
// others alone answers as before the damage; the index is in a new store,
// and the first writer adds it back to a store without it.
TEST_CASE("a one-shot query finds each probed partition's shard by the shards_by_generation index") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = Clustered(600, 8, 6, 31);
  REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "0"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "6"}).exit_code == 0);
  const std::string index_sql = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'shards_by_generation'";
  REQUIRE(SqlRows(store, index_sql) == std::vector<std::string>{"1"});
  // The lookups a one-shot query makes go through it (SQLite's own plan).
  for (const std::string sql : {"SELECT shard_id, path FROM shards WHERE generation = 0 ORDER BY shard_id",
                                "SELECT shard_id, path FROM shards WHERE generation = 1 AND partition = 3 ORDER BY "
                                "shard_id DESC LIMIT 1"}) {
    CAPTURE(sql);
    std::string plan;
    for (const std::string& row : SqlRows(store, "EXPLAIN QUERY PLAN " + sql)) plan += row + "\n";
    CHECK(plan.find("USING INDEX shards_by_generation") != std::string::npos);
    CHECK(plan.find("SCAN shards") == std::string::npos);
  }
  const auto queries = Clustered(6, 8, 6, 32, "q");
  std::vector<std::string> before;
  for (const auto& q : queries) {
    auto r = Aether({"search", store, "--vector", VectorJson(q.vec), "-k", "5", "--nprobe", "1", "--no-touch"});
    REQUIRE(r.exit_code == 0);
    before.push_back(r.out);
  }
  const auto generation = SqlRows(store, "SELECT value FROM config WHERE key = 'index_generation'");
  REQUIRE(generation.size() == 1);
  std::vector<int> failed(queries.size(), 0);  // per query: the damaged partitions it probed
  for (int p = 0; p < 6; ++p) {
    CAPTURE(p);
    const std::string where =
        " FROM shards WHERE generation = " + generation[0] + " AND partition = " + std::to_string(p);
    REQUIRE(SqlRows(store, "SELECT COUNT(*)" + where) == std::vector<std::string>{"1"});
    SqlRows(store, "CREATE TABLE saved AS SELECT *" + where);
    SqlRows(store, "DELETE" + where);
    const std::string named = "partition " + std::to_string(p) + " of generation " + generation[0] + " has no shard";
    for (size_t i = 0; i < queries.size(); ++i) {
      auto all = Aether({"search", store, "--vector", VectorJson(queries[i].vec), "--nprobe", "6", "--no-touch"});
      CHECK(all.exit_code == 79);
      CHECK(all.err.find(named) != std::string::npos);
      // nprobe 1: fails exactly when it probes p, else answers as before.
      auto one =
          Aether({"search", store, "--vector", VectorJson(queries[i].vec), "-k", "5", "--nprobe", "1", "--no-touch"});
      if (one.exit_code == 0) {
        CHECK(one.out == before[i]);
      } else {
        CHECK(one.exit_code == 79);
        CHECK(one.err.find(named) != std::string::npos);
        ++failed[i];
      }
    }
    auto batch = Aether({"search", store, "--queries", "-", "--nprobe", "1", "--no-touch"},
                        QueriesJsonl(Clustered(20, 8, 6, 33, "b")));
    CHECK(batch.exit_code == 79);
    CHECK(batch.err.find(named) != std::string::npos);
    SqlRows(store, "INSERT INTO shards SELECT * FROM saved");
    SqlRows(store, "DROP TABLE saved");
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    CHECK(failed[i] == 1);
    auto r =
        Aether({"search", store, "--vector", VectorJson(queries[i].vec), "-k", "5", "--nprobe", "1", "--no-touch"});
    CHECK(r.out == before[i]);
  }
  // An older store: no index; readers answer the same (from every shard
  // row, as a batch reads them: an unprobed partition without a row fails
  // them too), and the first writer adds it.
  SqlRows(store, "DROP INDEX shards_by_generation");
  {
    const std::string where = " FROM shards WHERE generation = " + generation[0] + " AND partition = 0";
    SqlRows(store, "CREATE TABLE saved AS SELECT *" + where);
    SqlRows(store, "DELETE" + where);
    for (size_t i = 0; i < queries.size(); ++i) {
      auto r =
          Aether({"search", store, "--vector", VectorJson(queries[i].vec), "-k", "5", "--nprobe", "1", "--no-touch"});
      CHECK(r.exit_code == 79);
      CHECK(r.err.find("partition 0 of generation " + generation[0] + " has no shard") != std::string::npos);
    }
    SqlRows(store, "INSERT INTO shards SELECT * FROM saved");
    SqlRows(store, "DROP TABLE saved");
  }
  auto dry = Aether({"upgrade", store, "--dry-run"});
  CHECK(dry.out.find("schema: add the shards_by_generation index") != std::string::npos);
  for (size_t i = 0; i < queries.size(); ++i) {
    auto r =
        Aether({"search", store, "--vector", VectorJson(queries[i].vec), "-k", "5", "--nprobe", "1", "--no-touch"});
    CHECK(r.out == before[i]);
  }
  REQUIRE(SqlRows(store, index_sql) == std::vector<std::string>{"0"});
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(Clustered(5, 8, 6, 34, "late"))).exit_code == 0);
  CHECK(SqlRows(store, index_sql) == std::vector<std::string>{"1"});
  CHECK(Aether({"verify", store}).exit_code == 0);
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
    REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
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

TEST_CASE(
    "rebuild-index calibrates nprobe: the default search probes it, --recall reads the stored curve, held-out "
    "queries get the recall measured") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Around(8000, 16, 60, 1, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(mems)).exit_code == 0);
  auto r = Aether({"rebuild-index", store, "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("calibrated: nprobe ") != std::string::npos);
  auto cal = nlohmann::json::parse(r.out)["calibration"];
  REQUIRE(cal.is_object());
  const uint32_t k = nlohmann::json::parse(r.out)["partitions"], np = cal["nprobe"];
  CHECK(k == 356);  // round(4 * sqrt(7900))
  CHECK(cal["target"] == 0.95);
  CHECK(cal["queries"] == 1000);
  CHECK(cal["recall"].get<double>() - cal["std_error"].get<double>() >= 0.95);
  CHECK(np < 36);  // fewer than the formula's max(8, ceil(K / 10)) on clustered data
  auto st = Stats(store);
  CHECK(st["default_nprobe"] == np);
  CHECK(st["calibration_target"] == 0.95);
  CHECK(st["calibrated_recall"] == cal["recall"]);
  CHECK(st["calibration_queries"] == 1000);

  auto qs = Around(400, 16, 60, 2, "q");  // held out: not stored
  const std::string qj = QueriesJsonl(qs);
  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", store, "--queries", "-", "--tier", "cold", "--no-touch"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto res = Aether(args, qj);
    REQUIRE_MESSAGE(res.exit_code == 0, res.err);
    return res.out;
  };
  const std::string by_default = search({});
  CHECK(by_default == search({"--nprobe", std::to_string(np)}));
  CHECK(by_default != search({"--nprobe", std::to_string(np - 1)}));
  // The recall on held-out queries against an exact scan is the one measured.
  auto fast = ParseSearchOutput(by_default), exact = ParseSearchOutput(search({"--nprobe", std::to_string(k)}));
  REQUIRE(fast.size() == qs.size());
  double recall = 0;
  for (size_t i = 0; i < qs.size(); ++i) {
    std::set<std::string> truth;
    for (const auto& h : exact[i]) truth.insert(h.id);
    for (const auto& h : fast[i]) recall += double(truth.count(h.id)) / 10.0;
  }
  recall /= double(qs.size());
  MESSAGE("held-out recall@10 at the calibrated nprobe " << np << ": " << recall << " (measured "
                                                         << cal["recall"].get<double>() << ")");
  CHECK(std::fabs(recall - cal["recall"].get<double>()) <= 0.03);
  CHECK(recall >= 0.94);

  // --recall R probes the stored curve's smallest nprobe for R.
  auto curve = aether::DecodeCurve(SqlText(store, "SELECT curve FROM index_calibration WHERE generation = 1"));
  REQUIRE(curve.ok());
  REQUIRE(curve->size() > 30);
  CHECK(curve->back().nprobe == k);
  CHECK(aether::NprobeFor(*curve, 0.95) == np);
  for (double want : {0.3, 0.8, 0.9, 0.99, 0.999, 1.0}) {
    CAPTURE(want);
    const uint32_t n = aether::NprobeFor(*curve, want);
    CHECK(search({"--recall", std::to_string(want)}) == search({"--nprobe", std::to_string(n)}));
  }
}

TEST_CASE("calibration: off on request, refused options, kept by scrub, damaged rows refused, older stores") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = Around(3000, 8, 30, 3, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10"}, ToJsonl(mems)).exit_code == 0);
  auto r = Aether({"rebuild-index", store, "--target-recall", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["calibration"].is_null());
  CHECK(r.err.find("calibrated") == std::string::npos);
  auto st = Stats(store);
  const uint32_t k = st["partitions"];
  CHECK(st["calibration_target"] == 0);
  CHECK(st["default_nprobe"] == std::max<uint32_t>(8, (k + 9) / 10));
  auto q = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--recall", "0.9", "--no-touch"});
  CHECK(q.exit_code == 69);
  CHECK(q.err.find("no recall calibration (run aether rebuild-index") != std::string::npos);
  CHECK(Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--recall", "0.9", "--nprobe", "3"}).exit_code ==
        64);
  CHECK(Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--recall", "1.5"}).exit_code == 64);
  CHECK(Aether({"rebuild-index", store, "--target-recall", "1.5"}).exit_code == 64);
  CHECK(Aether({"rebuild-index", store, "--target-recall", "-0.1"}).exit_code == 64);
  CHECK(Aether({"rebuild-index", store, "--target-recall", "nan"}).exit_code == 64);
  CHECK(Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--recall", "nan"}).exit_code == 64);
  CHECK(Aether({"rebuild-index", store, "--keep-centroids", "--partitions", "9"}).exit_code == 64);
  // 0 is no value for these (it once meant "the default").
  for (const auto& ov :
       std::vector<std::pair<std::string, std::string>>{{"--recall", "0"}, {"--nprobe", "0"}, {"--recall", "-0"}}) {
    const std::string option = ov.first;  // a structured binding cannot be captured (clang 14)
    CAPTURE(option);
    auto z = Aether({"search", store, "--vector", VectorJson(mems[0].vec), option, ov.second, "--no-touch"});
    CHECK(z.exit_code == 64);
    CHECK_MESSAGE(z.err.find(option) != std::string::npos, z.err);
  }
  CHECK(Aether({"rebuild-index", store, "--partitions", "0"}).exit_code == 64);
  CHECK(Stats(store)["index_generation"] == 1);

  // --keep-centroids with no index to keep is refused, the store untouched
  // (it once trained one silently).
  {
    std::string bare = dir / "bare";
    REQUIRE(Aether({"ingest", "--create", bare, "--hot-capacity", "10"}, ToJsonl(mems)).exit_code == 0);
    auto files = [&] {  // the shared-memory index aside (SQLite rebuilds it on open)
      auto bytes = DirectoryBytes(bare);
      bytes.erase("/meta.db-shm");
      return bytes;
    };
    const auto before = files();
    auto kc = Aether({"rebuild-index", bare, "--keep-centroids"});
    CHECK(kc.exit_code == 69);
    CHECK_MESSAGE(kc.err.find("--keep-centroids: the store has no index") != std::string::npos, kc.err);
    CHECK(files() == before);
    // scrub, whose rewrite keeps an index's centroids, still trains one
    // when there is none.
    CHECK(Stats(bare)["index_generation"] == 0);
    REQUIRE(Aether({"delete", bare, "m400", "m401"}).exit_code == 0);
    REQUIRE(Aether({"scrub", bare}).exit_code == 0);
    CHECK(Stats(bare)["index_generation"] == 1);
  }

  // scrub of an uncalibrated index leaves it uncalibrated.
  REQUIRE(Aether({"delete", store, "m400", "m401"}).exit_code == 0);
  REQUIRE(Aether({"scrub", store}).exit_code == 0);
  st = Stats(store);
  CHECK(st["index_generation"] == 2);
  CHECK(st["calibration_target"] == 0);
  CHECK(st["default_nprobe"] == std::max<uint32_t>(8, (k + 9) / 10));

  // --keep-centroids: the same partitions, rewritten and calibrated.
  r = Aether({"rebuild-index", store, "--keep-centroids", "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["iterations"] == 0);
  CHECK(nlohmann::json::parse(r.out)["partitions"] == k);
  CHECK(nlohmann::json::parse(r.out)["calibration"]["target"] == 0.95);
  CHECK(Stats(store)["calibration_target"] == 0.95);

  // scrub rewrites the cold tier into a new generation calibrated for the
  // same target.
  REQUIRE(Aether({"rebuild-index", store, "--target-recall", "0.99"}).exit_code == 0);
  CHECK(Stats(store)["calibration_target"] == 0.99);
  REQUIRE(Aether({"delete", store, "m100", "m200", "m300"}).exit_code == 0);
  REQUIRE(Aether({"scrub", store}).exit_code == 0);
  st = Stats(store);
  CHECK(st["index_generation"] == 5);
  CHECK(st["calibration_target"] == 0.99);
  CHECK(st["calibrated_recall"].get<double>() - st["calibrated_std_error"].get<double>() >= 0.99);
  CHECK(SqlText(store, "SELECT COUNT(*) FROM index_calibration") == "1");  // only the active generation's

  // A damaged row is corruption, named, until the next rebuild-index.
  const std::vector<std::string> one = {"search", store, "--vector", VectorJson(mems[5].vec), "--no-touch"};
  SqlExec(store, "UPDATE index_calibration SET nprobe = 'x'");
  auto bad = Aether(one);
  CHECK(bad.exit_code == 79);
  CHECK(bad.err.find("index_calibration") != std::string::npos);
  for (const char* nprobe : {"-1", "0", "4294967296"}) {
    SqlExec(store, std::string("UPDATE index_calibration SET nprobe = ") + nprobe);
    CHECK(Aether(one).exit_code == 79);
  }
  // scrub goes on, and its rewrite replaces the row.
  REQUIRE(Aether({"delete", store, "m500"}).exit_code == 0);
  r = Aether({"scrub", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(Stats(store)["calibration_target"] == 0.95);
  CHECK(Aether(one).exit_code == 0);
  for (const char* target : {"2", "-1", "0"}) {
    SqlExec(store, std::string("UPDATE index_calibration SET target = ") + target);
    CHECK(Aether(one).exit_code == 79);
  }
  REQUIRE(Aether({"delete", store, "m501"}).exit_code == 0);
  r = Aether({"scrub", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(Stats(store)["calibration_target"] == 0.95);
  for (const char* curve : {"1,0.5,0.1 1,0.6,0.1", "+1,0.500000,0.100000", "1,0.500000,0.100000  2,1.000000,0.000000",
                            "1,0.5,0.1", " 1,0.500000,0.100000"}) {
    CAPTURE(curve);
    SqlExec(store, std::string("UPDATE index_calibration SET curve = '") + curve + "'");
    CHECK(Aether(one).exit_code == 0);  // the default nprobe does not read the curve
    std::vector<std::string> with_recall = one;
    with_recall.insert(with_recall.end(), {"--recall", "0.9"});
    auto bad_curve = Aether(with_recall);
    CHECK(bad_curve.exit_code == 79);
    CHECK(bad_curve.err.find("index_calibration of generation") != std::string::npos);
  }
  SqlExec(store, "UPDATE index_calibration SET curve = '1,0.5,0.1 1,0.6,0.1'");
  CHECK(Aether(one).exit_code == 0);  // the default nprobe does not read the curve
  std::vector<std::string> with_recall = one;
  with_recall.insert(with_recall.end(), {"--recall", "0.9"});
  bad = Aether(with_recall);
  CHECK(bad.exit_code == 79);
  CHECK(bad.err.find("bad recall curve point") != std::string::npos);

  // A store from before the table: read as uncalibrated; the next writer
  // adds the table, the next rebuild-index calibrates.
  SqlExec(store, "DROP TABLE index_calibration");
  st = Stats(store);
  CHECK(st["calibration_target"] == 0);
  CHECK(st["default_nprobe"] == std::max<uint32_t>(8, (k + 9) / 10));
  CHECK(Aether(one).exit_code == 0);
  CHECK(Aether({"verify", store}).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store}).exit_code == 0);
  CHECK(Stats(store)["calibration_target"] == 0.95);
}

TEST_CASE(
    "the calibration is committed with its generation: a crash after the commit keeps it, a replayed rebuild "
    "has none") {
  for (const char* point : {"rebuild.after_commit", "rebuild.mid_cleanup", "rebuild.after_written"}) {
    CAPTURE(point);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = Around(2000, 8, 20, 4, "m");
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10"}, ToJsonl(mems)).exit_code == 0);
    auto r = Aether({"rebuild-index", store}, "", {std::string("AETHER_FAULT=") + point});
    CHECK(r.exit_code == 137);
    CHECK(Aether({"verify", store}).exit_code == 0);  // replays first
    auto st = Stats(store);
    CHECK(st["index_generation"] == 1);
    const bool committed = std::string(point) != "rebuild.after_written";
    CHECK(st["calibration_target"] == (committed ? 0.95 : 0.0));
    const uint32_t k = st["partitions"];
    if (!committed) CHECK(st["default_nprobe"] == std::max<uint32_t>(8, (k + 9) / 10));
    auto q = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--recall", "0.9", "--no-touch"});
    CHECK(q.exit_code == (committed ? 0 : 69));
  }
}
