// What a single write costs in syncs, counted from the I/O trace
// (AETHER_TRACE_IO: every fsync/fdatasync aether and SQLite make, and every
// directory fsync). A one-memory ingest is three (the intent, the slot, the
// commit); feedback and delete one; a search none. The first write after
// the WAL is emptied (a checkpoint) pays SQLite's WAL header sync and the
// directory sync on top. Durability itself is the power-loss test's
// subject; this one holds the count.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

using namespace aether::test;

namespace {

struct Syncs {
  int files = 0, dirs = 0;
  std::vector<std::string> order;  // "S path" / "D dir", as traced
  int total() const { return files + dirs; }
};

// Runs aether with the trace on and counts its S and D records.
Syncs Traced(const TempDir& dir, const std::vector<std::string>& args, const std::string& in = "", int want_exit = 0) {
  const std::string trace = dir / "trace";
  std::remove(trace.c_str());
  auto r = Aether(args, in, {"AETHER_TRACE_IO=" + trace});
  REQUIRE_MESSAGE(r.exit_code == want_exit, r.err);
  const std::string t = ReadFile(trace);
  Syncs s;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    REQUIRE(nl != std::string::npos);
    const std::string line = t.substr(pos, nl - pos);
    pos = nl + 1;
    if (line[0] == 'W') pos += std::stoull(line.substr(line.rfind(' ') + 1));
    if (line[0] == 'S') ++s.files;
    if (line[0] == 'D') ++s.dirs;
    if (line[0] == 'S' || line[0] == 'D') s.order.push_back(line);
  }
  return s;
}

std::string One(const std::string& id, int i) {
  return "{\"id\":\"" + id + "\",\"vector\":[" + std::to_string(i) + ",1,2,3]}\n";
}

}  // namespace

TEST_CASE("single writes: a one-memory ingest syncs 3 times, feedback and delete once, a search never") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "8"}).exit_code == 0);
  // The first write after init starts the WAL: its header and directory
  // entry are synced once, on top of the three.
  Syncs first = Traced(dir, {"ingest", "--create", store}, One("w0", 0));
  CHECK(first.files == 4);
  CHECK(first.dirs == 1);

  for (int i = 1; i < 8; ++i) {
    CAPTURE(i);
    Syncs s = Traced(dir, {"ingest", "--create", store}, One("w" + std::to_string(i), i));
    CHECK(s.total() == 3);
    CHECK(s.dirs == 0);
  }
  for (const char* id : {"w1", "w5"}) {
    Syncs f = Traced(dir, {"feedback", store, id, "1"});
    CHECK(f.total() == 1);
  }
  Syncs search = Traced(dir, {"search", store, "--vector", "[1,1,2,3]", "-k", "3"});
  CHECK(search.total() == 0);
  // The next writer folds that search's accesses into its own commit.
  Syncs d = Traced(dir, {"delete", store, "w3"});
  CHECK(d.total() == 1);
  // Into the freed slot: still three.
  CHECK(Traced(dir, {"ingest", "--create", store}, One("w8", 8)).total() == 3);
  // The hot tier full: the new memory goes hot and the lowest-scoring one
  // to the staging shard, one more data file synced.
  Syncs evict = Traced(dir, {"ingest", "--create", store}, One("w9", 9));
  CHECK(evict.total() == 4);
  CHECK(evict.dirs == 0);

  // recover checkpoints the WAL into meta.db (two syncs) and empties it;
  // the next write starts it again (header and directory entry).
  CHECK(Traced(dir, {"recover", store}).total() == 2);
  Syncs restart = Traced(dir, {"feedback", store, "w2", "0.5"});
  CHECK(restart.files == 2);
  CHECK(restart.dirs == 1);
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("a WAL's directory entry is synced by the first writer into it, and again after one that failed first") {
  // Writers open a WAL longer than its header without SQLITE_OPEN_CREATE,
  // so they do not sync its directory: the writer that started it must
  // have (SQLite syncs the header before the first frame; with CREATE that
  // first sync syncs the directory too).
  TempDir dir;
  const std::string store = dir / "s";
  const std::string wal = store + "/meta.db-wal";
  REQUIRE(Aether({"ingest", "--create", store, "--dim", "4"}, One("a", 1) + One("b", 2)).exit_code == 0);
  REQUIRE(Aether({"recover", store}).exit_code == 0);  // the WAL is empty now
  REQUIRE(Aether({"search", store, "--vector", "[1,1,2,3]", "-k", "2"}).exit_code == 0);
  // delete of an unknown id: the fold is its only (unsynced) commit; the
  // header's sync comes first, with the directory's.
  Syncs fold = Traced(dir, {"delete", store, "ghost"}, "", 1);
  CHECK(fold.order == std::vector<std::string>{"S " + wal, "D " + store});
  // A writer that finds frames in the WAL adds no directory sync.
  CHECK(Traced(dir, {"feedback", store, "a", "1"}).order == std::vector<std::string>{"S " + wal});

  // A writer whose first sync fails leaves a WAL of only a header, whose
  // entry was never synced: the next writer opens it with CREATE and syncs
  // the directory.
  REQUIRE(Aether({"recover", store}).exit_code == 0);
  auto failed = Aether({"feedback", store, "b", "1"}, "", {"AETHER_FAIL_IO=dbsync:1+"});
  CHECK(failed.exit_code == 74);
  CHECK(std::filesystem::file_size(wal) == 32);
  Syncs next = Traced(dir, {"feedback", store, "b", "1"});
  CHECK(next.order == std::vector<std::string>{"S " + wal, "D " + store, "S " + wal});
  CHECK(Aether({"verify", store}).exit_code == 0);
  auto g = Aether({"get", store, "a", "b", "--format", "json"});
  REQUIRE(g.exit_code == 0);
  CHECK(g.out.find("\"access_count\":1") != std::string::npos);  // the folded search hit
}
