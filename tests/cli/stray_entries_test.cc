// Entries aether did not make, in every directory of a store (a stray file,
// a backup tool's directory, links to files and directories outside the
// store), and an index generation directory that is itself a link: every
// writer command runs over them, then `verify` passes, every memory is
// bit-exact, the strays are where they were, and nothing outside the store
// (the "canary" files, named like a store's own) is touched.
#include <doctest/doctest.h>

#include <filesystem>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

// Files outside the store named as aether names its own.
const std::vector<std::string> kCanaryFiles = {"p000000.shard", "p000001.shard", "g000001.centroids", "hot.slots",
                                               "keep.txt"};

void MakeCanary(const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& f : kCanaryFiles) WriteFile(dir + "/" + f, "canary " + f);
}

void CheckCanary(const std::string& dir) {
  for (const auto& f : kCanaryFiles) {
    CAPTURE(f);
    REQUIRE(fs::exists(dir + "/" + f));
    CHECK(ReadFile(dir + "/" + f) == "canary " + f);
  }
}

// Strays in `dir` (which must exist), named after where they are.
void PlantStrays(const std::string& dir, const std::string& canary) {
  WriteFile(dir + "/stray.txt", "stray");
  fs::create_directories(dir + "/.snapshot");
  WriteFile(dir + "/.snapshot/copy", "backup");
  fs::create_directory_symlink(canary, dir + "/link-dir");
  fs::create_symlink(canary + "/keep.txt", dir + "/link-file");
}

void CheckStrays(const std::string& dir) {
  CAPTURE(dir);
  CHECK(ReadFile(dir + "/stray.txt") == "stray");
  CHECK(ReadFile(dir + "/.snapshot/copy") == "backup");
  CHECK(fs::is_symlink(dir + "/link-dir"));
  CHECK(fs::is_symlink(dir + "/link-file"));
}

}  // namespace

TEST_CASE("stray files, directories and links in every store directory: every writer leaves them and the data") {
  TempDir dir;
  const std::string store = dir / "s", canary = dir / "canary", moved = dir / "elsewhere";
  MakeCanary(canary);
  auto mems = RandomMems(300, 6, 31);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonlWithPayload(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  const std::vector<std::string> dirs = {store, store + "/cold", store + "/cold/g000001", store + "/index"};
  for (const auto& d : dirs) PlantStrays(d, canary);

  std::map<std::string, Stored> expect = GetRecords(store, Ids(mems));
  REQUIRE(expect.size() == mems.size());
  auto check = [&](const std::string& after) {
    CAPTURE(after);
    auto v = Aether({"verify", store});
    CHECK_MESSAGE(v.exit_code == 0, v.out << v.err);
    std::vector<std::string> ids;
    for (const auto& [id, s] : expect) ids.push_back(id);
    auto got = GetRecords(store, ids);
    CHECK(got.size() == expect.size());
    for (const auto& entry : expect)
      CHECK_MESSAGE((got.count(entry.first) && got[entry.first] == entry.second), entry.first);
    CheckCanary(canary);
  };

  auto extra = RandomMems(40, 6, 32, "x");
  auto r = Aether({"ingest", "--create", store}, ToJsonlWithPayload(extra));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (const auto& [id, s] : GetRecords(store, Ids(extra))) expect[id] = s;
  check("ingest");
  REQUIRE(Aether({"delete", store, "m3", "m200", "x1"}).exit_code == 0);
  for (const char* id : {"m3", "m200", "x1"}) expect.erase(id);
  check("delete");
  REQUIRE(Aether({"descend", store, "m4", "m5", "x2"}).exit_code == 0);
  check("descend");
  REQUIRE(Aether({"ascend", store, "--evict", "m250", "m251"}).exit_code == 0);
  check("ascend");
  REQUIRE(Aether({"feedback", store, "m6", "1"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "sample_rate", "0.5"}).exit_code == 0);
  // The tick's compaction would rewrite the cold tier (generation 2) here;
  // the rebuilds below do that, over the strays, one at a time.
  REQUIRE(Aether({"config", store, "set", "cold_garbage_max", "1"}).exit_code == 0);
  REQUIRE(Aether({"maintain", store, "--seed", "3"}).exit_code == 0);
  check("feedback, config, maintain");

  // The rebuild replaces generation 1, whose directory holds the strays:
  // its partitions go, the strays and the directory stay, and it says so.
  r = Aether({"rebuild-index", store, "--partitions", "3"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("cold/g000001: holds entries aether did not make") != std::string::npos);
  CHECK(!fs::exists(store + "/cold/g000001/p000000.shard"));
  CHECK(!fs::exists(store + "/index/g000001.centroids"));
  check("rebuild-index over a generation directory with strays");

  // Generation 2 moved to another disk and linked back, as an admin might:
  // searches read through the link; the next rebuild leaves it, and what
  // it points to, alone.
  fs::rename(store + "/cold/g000002", moved);
  fs::create_directory_symlink(moved, store + "/cold/g000002");
  check("generation directory replaced by a link");
  r = Aether({"rebuild-index", store, "--partitions", "2"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("cold/g000002: not a directory (a link?)") != std::string::npos);
  CHECK(fs::is_symlink(store + "/cold/g000002"));
  for (int p = 0; p < 3; ++p) CHECK(fs::exists(moved + "/p00000" + std::to_string(p) + ".shard"));
  check("rebuild-index over a linked generation directory");
  r = Aether({"recover", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  check("recover");
  for (const auto& d : {store, store + "/cold", store + "/index"}) CheckStrays(d);
  CheckStrays(store + "/cold/g000001");
}

TEST_CASE("a dangling rebuild whose generation directory holds a stray directory never wedges the store") {
  // Before: the roll back unlinked every entry and failed on the directory,
  // so every later writer and recover exited 74.
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(120, 4, 5);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store}, "", {"AETHER_FAULT=rebuild.after_sync"}).exit_code == 137);
  fs::create_directories(store + "/cold/g000001/.snapshot");
  auto r = Aether({"recover", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find(".snapshot") != std::string::npos);
  CHECK(fs::exists(store + "/cold/g000001/.snapshot"));
  CHECK(!fs::exists(store + "/cold/g000001/p000000.shard"));
  CHECK(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 4, 6, "y"))).exit_code == 0);
  r = Aether({"rebuild-index", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);  // takes the next free generation number
  CHECK(fs::exists(store + "/cold/g000002"));
  CHECK(Aether({"verify", store}).exit_code == 0);
  CHECK(GetAll(store, Ids(mems)).size() == mems.size());
}

TEST_CASE("links planted where aether writes (stats --output, its temporaries, RESERVE) are never written through") {
  TempDir dir;
  const std::string store = dir / "s", canary = dir / "canary";
  MakeCanary(canary);
  auto mems = RandomMems(200, 4, 3);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "20"}, ToJsonl(mems)).exit_code == 0);
  // The names older aether used for its temporaries, and the output itself.
  const std::string out = dir / "metrics.prom";
  fs::create_symlink(canary + "/keep.txt", out + ".tmp");
  fs::create_symlink(canary + "/hot.slots", store + "/RESERVE.tmp");
  fs::create_symlink(canary + "/g000001.centroids", store + "/index/g000001.centroids.tmp");
  fs::remove(store + "/RESERVE");  // the next writer makes it again
  auto s = Aether({"stats", store, "--format", "prometheus", "--output", out});
  CHECK_MESSAGE(s.exit_code == 0, s.err);
  CHECK(ReadFile(out).find("aether_memories") != std::string::npos);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(3, 4, 4, "x"))).exit_code == 0);
  CHECK(fs::is_regular_file(store + "/RESERVE"));
  CheckCanary(canary);
  // The output replaced by a link to a canary: replaced, not written through.
  fs::remove(out);
  fs::create_symlink(canary + "/keep.txt", out);
  CHECK(Aether({"stats", store, "--output", out}).exit_code == 0);
  CHECK(!fs::is_symlink(out));
  CheckCanary(canary);
  // A failed write leaves no temporary behind (here: the directory is gone).
  auto gone = Aether({"stats", store, "--output", dir / "missing-dir/metrics.prom"});
  CHECK(gone.exit_code == 66);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const bool temporary = e.path().filename().string().find(".tmp") != std::string::npos;
    CHECK((!temporary || fs::is_symlink(e.path())));  // only the planted link
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
}
