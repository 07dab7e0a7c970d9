// aether backup: the copy is the store (export byte-identical, verify
// clean); --incremental links exactly the files unchanged since the earlier
// backup; writing into a copy that shares files never changes the other's
// bytes; a backup taken while one-shot ingests run holds a prefix of their
// batches; bad destinations are refused with nothing made.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

uint64_t Inode(const std::string& path) {
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return uint64_t(st.st_ino);
}

json Backup(const std::vector<std::string>& args) {
  std::vector<std::string> cmd = {"backup"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  cmd.insert(cmd.end(), {"--format", "json"});
  auto r = Aether(cmd);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

// The store's data files (shards, centroids) by path relative to it.
std::set<std::string> DataFiles(const std::string& store) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(store))
    if (e.is_regular_file()) {
      const std::string rel = fs::relative(e.path(), store).string();
      if (rel.rfind("cold/", 0) == 0 || rel.rfind("index/", 0) == 0) out.insert(rel);
    }
  return out;
}

}  // namespace

TEST_CASE("backup copies the store whole; --incremental links exactly the unchanged files; copies never share writes") {
  TempDir dir;
  const std::string store = dir / "s", b1 = dir / "b1", b2 = dir / "b2";
  auto mems = RandomMems(900, 8, 5);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "200"},
                 ToJsonlWithPayload(std::vector<Mem>(mems.begin(), mems.begin() + 600)))
              .exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "6"}).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m3", "m400"}).exit_code == 0);  // a free slot, cold garbage
  REQUIRE(Aether({"config", store, "set", "decay_rate", "0.01"}).exit_code == 0);
  // Accesses still in the access log come along.
  REQUIRE(Aether({"search", store, "--queries", "-", "-k", "3"},
                 QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 10)))
              .exit_code == 0);

  const json r1 = Backup({store, b1});
  CHECK(r1["memories"] == 598);
  CHECK(r1["files_linked"] == 0);
  Verified(b1);
  CHECK(Export(b1) == Export(store));
  CHECK(Aether({"config", b1, "get", "decay_rate"}).out == Aether({"config", store, "get", "decay_rate"}).out);
  CHECK(Aether({"history", store, "m5"}).out == Aether({"history", b1, "m5"}).out);

  // Change some partitions (new memories descend into their nearest ones)
  // and the staging shard stays as it was.
  REQUIRE(Aether({"ingest", store}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 600, mems.begin() + 615), 600))
              .exit_code == 0);
  REQUIRE(Aether({"descend", store, "m601", "m602", "m603"}).exit_code == 0);
  const json r2 = Backup({store, b2, "--incremental", b1});
  Verified(b2);
  CHECK(Export(b2) == Export(store));
  CHECK(r2["files_linked"].get<int>() >= 1);
  CHECK(r2["files_copied"].get<int>() >= 4);  // meta.db, hot.slots, access.log, a partition that grew
  // Linked exactly when the bytes are the same as the earlier backup's.
  const auto b1_bytes = DirectoryBytes(b1), b2_bytes = DirectoryBytes(b2);
  int linked = 0, copied = 0;
  for (const auto& rel : DataFiles(b2)) {
    const bool same_inode = fs::exists(fs::path(b1) / rel) && Inode(b1 + "/" + rel) == Inode(b2 + "/" + rel);
    const bool same_bytes = b1_bytes.count("/" + rel) && b1_bytes.at("/" + rel) == b2_bytes.at("/" + rel);
    CHECK_MESSAGE(same_inode == same_bytes, rel);
    (same_inode ? linked : copied)++;
  }
  CHECK(linked == r2["files_linked"].get<int>());
  CHECK(copied >= 1);  // the partitions that grew
  for (const char* f : {"meta.db", "hot.slots", "access.log"}) CHECK(Inode(b1 + "/" + f) != Inode(b2 + "/" + f));

  // Every kind of write into b2 (appends, compaction, unstaging, a scrub
  // that cuts shards, a rebuild) leaves b1's files as they were.
  const std::string b1_export = Export(b1);
  const auto before = DirectoryBytes(b1);
  REQUIRE(Aether({"ingest", b2}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 615, mems.end()), 615)).exit_code ==
          0);
  REQUIRE(Aether({"descend", b2, "--all"}).exit_code == 0);
  REQUIRE(Aether({"ascend", b2, "--evict", "m1", "m2", "m5", "m7"}).exit_code == 0);
  REQUIRE(Aether({"config", b2, "set", "cold_garbage_max", "0.001"}).exit_code == 0);
  REQUIRE(Aether({"maintain", b2}).exit_code == 0);
  REQUIRE(Aether({"delete", b2, "--purge", "m8", "m9"}).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", b2, "--partitions", "4"}).exit_code == 0);
  Verified(b2);
  CHECK(DirectoryBytes(b1) == before);
  Verified(b1);
  CHECK(Export(b1) == b1_export);

  // A backup of a backup, incremental against the store: the same data.
  const json r3 = Backup({b1, dir / "b3", "--incremental", b2});
  Verified(dir / "b3");
  CHECK(Export(dir / "b3") == b1_export);
}

TEST_CASE("backup refuses what it must not create, with a distinct exit code and nothing made") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonlWithPayload(RandomMems(30, 4, 1))).exit_code == 0);
  fs::create_directory(dir / "full");
  WriteFile(dir / "full/x", "mine");
  fs::create_directory_symlink(store + "/index", dir / "inside");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{store, store}, 73, "already an aether store"},
      {{store, dir / "full"}, 73, "not empty"},
      {{store, dir / "full/x"}, 73, "not a directory"},
      {{store, dir / "full/."}, 73, "ends in '.'"},
      {{store, dir / "full/.."}, 73, "ends in '..'"},
      {{store, store + "/bk"}, 73, "inside the store it would copy"},
      {{store, store + "/cold/bk"}, 73, "inside the store it would copy"},
      {{store, dir / "inside/bk"}, 73, "inside the store it would copy"},  // a link into it
      {{store, dir / "missing/b"}, 66, "no such directory"},
      {{store, dir / "full/x/b"}, 66, "full/x: not a directory"},
      {{store, dir / "b", "--incremental", dir / "full"}, 64, "not an aether store"},
      {{store, dir / "b", "--incremental", ""}, 64, "empty"},
      {{store, ""}, 64, "empty"},
      {{dir / "nostore", dir / "b"}, 66, ""},
  };
  for (const auto& c : cases) {
    std::vector<std::string> cmd = {"backup"};
    cmd.insert(cmd.end(), c.args.begin(), c.args.end());
    auto r = Aether(cmd);
    CAPTURE(r.err);
    CHECK(r.exit_code == c.code);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(!fs::exists(dir / "b"));
  }
  for (const std::string& inside : {store + "/bk", store + "/cold/bk", store + "/index/bk"})
    CHECK_FALSE(fs::exists(inside));
  // Another store's files are never linked in: a store of another dim.
  REQUIRE(Aether({"ingest", "--create", dir / "other"}, ToJsonlWithPayload(RandomMems(30, 5, 1))).exit_code == 0);
  auto r = Aether({"backup", store, dir / "b", "--incremental", dir / "other"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("dim 5") != std::string::npos);
  // No hidden temporaries left behind by any of them.
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK_MESSAGE(e.path().filename().string().find(".aether-backup.") == std::string::npos, e.path());
  CHECK(ReadFile(dir / "full/x") == "mine");
  // An empty directory is a fine destination.
  fs::create_directory(dir / "empty");
  CHECK(Aether({"backup", store, dir / "empty"}).exit_code == 0);
  Verified(dir / "empty");
  // The copy is guarded as the store is: the store directory's permissions.
  fs::permissions(store, fs::perms::owner_all, fs::perm_options::replace);
  CHECK(Aether({"backup", store, dir / "private"}).exit_code == 0);
  CHECK(fs::status(dir / "private").permissions() == fs::perms::owner_all);
  // A symbolic link as the destination is refused before anything is copied.
  fs::create_directory_symlink(dir / "empty2", dir / "link");
  fs::create_directory(dir / "empty2");
  r = Aether({"backup", store, dir / "link"});
  CHECK(r.exit_code == 73);
  CHECK(r.err.find("symbolic link") != std::string::npos);
  CHECK(fs::is_empty(dir / "empty2"));
}

TEST_CASE("backup during one-shot ingests and searches holds a prefix of the batches, and verifies") {
  TempDir dir;
  const std::string store = dir / "s";
  const size_t kBatches = 12, kBatch = 40;
  auto mems = RandomMems(kBatches * kBatch, 8, 9);
  REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "150"}).exit_code == 0);
  std::atomic<bool> done{false};
  std::thread ingester([&] {
    for (size_t b = 0; b < kBatches; ++b) {
      const std::vector<Mem> batch(mems.begin() + long(b * kBatch), mems.begin() + long((b + 1) * kBatch));
      auto r = Aether({"ingest", store, "--wait", "60"}, ToJsonlWithPayload(batch, b * kBatch));
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      if (b == 5) CHECK(Aether({"rebuild-index", store, "--partitions", "4", "--wait", "60"}).exit_code == 0);
    }
    done = true;
  });
  std::thread searcher([&] {
    while (!done) CHECK(Aether({"search", store, "--vector", VectorJson(mems[0].vec), "-k", "5"}).exit_code == 0);
  });
  std::vector<std::string> backups;
  for (int i = 0; !done || i < 2; ++i) {
    const std::string b = dir / ("b" + std::to_string(i));
    std::vector<std::string> cmd = {"backup", store, b, "--wait", "60"};
    if (i > 0) cmd.insert(cmd.end(), {"--incremental", backups.back()});
    auto r = Aether(cmd);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    backups.push_back(b);
  }
  ingester.join();
  searcher.join();
  std::set<size_t> prefixes;
  for (const auto& b : backups) {
    CAPTURE(b);
    Verified(b);
    auto got = GetRecords(b, Ids(mems));
    const size_t n = got.size();
    CHECK(n % kBatch == 0);
    for (size_t i = 0; i < mems.size(); ++i) CHECK(got.count(mems[i].id) == (i < n ? 1u : 0u));
    for (size_t i = 0; i < n; ++i) CHECK(got[mems[i].id].vec == mems[i].vec);
    prefixes.insert(n);
  }
  MESSAGE(backups.size() << " backups, " << prefixes.size() << " distinct prefixes");
  CHECK(prefixes.count(kBatches * kBatch) == 1);  // the last ones saw every batch
}

TEST_CASE("backup --incremental never links a shard emptied by scrub and refilled to the same length") {
  // sq8 frames of equal record counts have equal lengths: a partition cut
  // to its header (scrub) and refilled with other memories in the same
  // order of frame sizes keeps its shard id and committed length.
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "16", "--codec", "sq8"}).exit_code == 0);
  auto group = [&](const std::string& name, size_t n, uint64_t seed) {
    auto mems = RandomMems(n, 16, seed, name);
    std::string ids;
    for (const auto& m : mems) ids += m.id + "\n";
    WriteFile(dir / (name + ".ids"), ids);
    return mems;
  };
  auto ingest_descend = [&](const std::vector<Mem>& mems, const std::string& name) {
    REQUIRE(Aether({"ingest", store}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"descend", store, "--ids-from", dir / (name + ".ids")}).exit_code == 0);
  };
  auto z = group("z", 10, 1), a = group("a", 1024, 2), b = group("b", 1024, 3), c = group("c", 1024, 4),
       d = group("d", 1024, 5);
  ingest_descend(z, "z");
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "1", "--target-recall", "0"}).exit_code == 0);
  for (const auto& [mems, name] : {std::pair{a, "a"}, std::pair{b, "b"}, std::pair{c, "c"}}) ingest_descend(mems, name);
  REQUIRE(Aether({"backup", store, dir / "b1"}).exit_code == 0);
  for (const char* g : {"z", "a", "b", "c"})
    REQUIRE(Aether({"ascend", store, "--ids-from", dir / (std::string(g) + ".ids")}).exit_code == 0);
  REQUIRE(Aether({"delete", store, "--ids-from", dir / "b.ids"}).exit_code == 0);
  REQUIRE(Aether({"scrub", store}).exit_code == 0);  // the partition: emptied to its header, same id
  for (const char* g : {"z", "a"})
    REQUIRE(Aether({"descend", store, "--ids-from", dir / (std::string(g) + ".ids")}).exit_code == 0);
  ingest_descend(d, "d");
  REQUIRE(Aether({"descend", store, "--ids-from", dir / "c.ids"}).exit_code == 0);
  const json r = Backup({store, dir / "b2", "--incremental", dir / "b1"});
  Verified(dir / "b2");
  CHECK(Export(dir / "b2") == Export(store));
  // The same length as in b1, other bytes: copied, not linked.
  const std::string p = "cold/g000001/p000000.shard";
  CHECK(FileSize(dir / ("b1/" + p)) == FileSize(dir / ("b2/" + p)));
  CHECK(Inode(dir / ("b1/" + p)) != Inode(dir / ("b2/" + p)));
  Verified(dir / "b1");
}
