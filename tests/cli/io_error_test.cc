// A fault-injecting Env (AETHER_FAIL_IO=op:n[+]) fails the n-th data-file
// write, fsync or rename, or SQLite's n-th write or sync of meta.db and its
// WAL (dbwrite, dbsync, through the aether VFS), once or for good. After each: the command fails
// cleanly (I/O error exit code, never a false success), verify passes, the
// store holds the state before or after whole batches, and the same command
// succeeds once the disk is healthy again.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

// The store's committed content as a failed command left it (read from
// meta.db, no replay first): every memory's place and state, the index
// generations; and whether a journal row waits for the next command.
struct Content {
  std::vector<std::string> rows;
  bool journal = false;
  explicit Content(const std::string& store)
      : rows(
            SqlRows(store,
                    "SELECT id || ' ' || tier || ' ' || IFNULL(slot, '') || ' ' || IFNULL(shard_id, '') || ' ' || "
                    "IFNULL(frame_offset, '') || ' ' || importance || ' ' || access_count FROM memories ORDER BY id")) {
    for (const std::string& g : SqlRows(store, "SELECT generation || ' ' || state FROM index_generations"))
      rows.push_back("generation " + g);
    journal = SqlRows(store, "SELECT COUNT(*) FROM migrations") != std::vector<std::string>{"0"};
  }
};

bool SaysCommitted(const RunResult& r) {
  return r.err.find("had committed changes before the error; they are kept") != std::string::npos;
}

}  // namespace

TEST_CASE("every write, fsync and rename failure fails cleanly and loses nothing" * doctest::test_suite("sweep")) {
  TempDir dir;
  std::string pristine = dir / "pristine", store = dir / "s";
  auto base = RandomMems(120, 6, 3, "a");
  auto extra = RandomMems(90, 6, 4, "b");
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "100"}, ToJsonl(base)).exit_code == 0);
  // Eight partitions: a descend batch appends to several, synced in parallel.
  REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "8"}).exit_code == 0);
  WriteFile(dir / "extra.jsonl", ToJsonl(extra));
  struct Op {
    const char* name;
    std::vector<std::string> args;
  };
  const std::vector<Op> ops = {
      {"ingest", {"ingest", "--create", store, dir / "extra.jsonl", "--batch", "30"}},
      {"descend", {"descend", store, "--all", "--batch", "40"}},
      {"ascend", {"ascend", store, "a110", "a111", "a112", "a113", "--evict", "--batch", "2"}},
      {"rebuild", {"rebuild-index", store, "--partitions", "4"}},
      {"backup", {"backup", store, dir / "bk", "--incremental", dir / "prev"}},
  };
  REQUIRE(Aether({"backup", pristine, dir / "prev"}).exit_code == 0);  // to link from
  const Content pristine_content(pristine);
  int trials = 0, failed_cleanly = 0, said_kept = 0;
  size_t point = 0;  // every (op, kind, n, forever), counted for InSweep
  for (const Op& op : ops) {
    for (const std::string kind : {"write", "sync", "rename", "dbwrite", "dbsync", "link"}) {
      if (kind == "link" && std::string(op.name) != "backup") continue;
      // SQLite writes many WAL frames per transaction: reach further in.
      const std::vector<int> nths =
          kind.rfind("db", 0) == 0 ? std::vector<int>{1, 3, 7, 15, 30, 60} : std::vector<int>{1, 2, 3, 4, 5, 6};
      ++point;  // each (op, kind) starts one further on: a short run samples other (n, forever) in each
      for (int n : nths) {
        for (bool forever : {false, true}) {
          if (!InSweep(point++)) continue;
          const std::string op_name = op.name;
          CAPTURE(op_name);
          CAPTURE(kind);
          CAPTURE(n);
          CAPTURE(forever);
          fs::remove_all(store);
          fs::remove_all(dir / "bk");
          fs::copy(pristine, store, fs::copy_options::recursive);
          std::string spec = "AETHER_FAIL_IO=" + kind + ":" + std::to_string(n) + (forever ? "+" : "");
          auto r = Aether(op.args, "", {spec});
          CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 74), r.err);
          if (r.exit_code == 74) {
            ++failed_cleanly;
            CHECK((r.err.find("(injected)") != std::string::npos || r.err.find("disk I/O error") != std::string::npos));
            // A commit that failed may have reached the file: it says so.
            if (r.err.find("COMMIT: disk I/O error") != std::string::npos)
              CHECK(r.err.find("may still have reached the disk") != std::string::npos);
          }
          // A failure after changes were committed says they are kept, and
          // only then (ingest says so in its own words). Where a journal
          // row is left for the next command, it may have committed what
          // the command saw fail (a commit whose WAL sync failed can reach
          // the file anyway): then the note is not required.
          const Content after(store);
          const bool changed = after.rows != pristine_content.rows;
          if (r.exit_code == 0 || std::string(op.name) == "ingest") {
            CHECK(!SaysCommitted(r));
          } else {
            if (SaysCommitted(r)) CHECK(changed);
            if (changed && !after.journal) CHECK_MESSAGE(SaysCommitted(r), r.err);
            said_kept += SaysCommitted(r);
          }
          auto v = Aether({"verify", store});
          CHECK_MESSAGE(v.exit_code == 0, v.out);
          // A backup is whole or absent, with nothing of it left behind.
          if (r.exit_code == 0 && fs::exists(dir / "bk")) CHECK(Aether({"verify", dir / "bk"}).exit_code == 0);
          if (r.exit_code != 0) CHECK(!fs::exists(dir / "bk"));
          for (const auto& e : fs::directory_iterator(dir.path()))
            CHECK_MESSAGE(e.path().filename().string().find(".aether-backup.") == std::string::npos, e.path());
          auto got = GetAll(store, Ids(base));
          CHECK(got.size() == base.size());
          for (const auto& m : base) CHECK(got[m.id] == m.vec);
          auto got_extra = GetAll(store, Ids(extra));
          CHECK((got_extra.size() % 30 == 0 || got_extra.size() == extra.size()));
          if (std::string(op.name) != "ingest") CHECK(got_extra.empty());
          // The disk is healthy again: the same command now succeeds.
          std::vector<std::string> again = op.args;
          if (std::string(op.name) == "ingest") again.insert(again.end(), {"--on-duplicate", "skip"});
          if (std::string(op.name) == "backup") fs::remove_all(dir / "bk");
          auto ok = Aether(again);
          CHECK_MESSAGE(ok.exit_code == 0, ok.err);
          CHECK(Aether({"verify", store}).exit_code == 0);
          ++trials;
        }
      }
    }
  }
  MESSAGE("I/O errors: " << trials << " injected runs, " << failed_cleanly << " failed cleanly with exit 74 ("
                         << said_kept << " saying what they had committed is kept), "
                         << "0 lost or duplicated memories");
  CHECK(said_kept > 0);
  CHECK(failed_cleanly > trials / 3);
}

// Standard output that refuses writes (a redirection onto a full disk,
// here /dev/full): every command that prints exits 74 saying so, never 0
// with its output lost (search, stats, get, verify did) nor an internal
// error (list and history, whose longer output fmt::print threw on); what
// it did stays done. /dev/null takes the same commands with 0.
TEST_CASE("standard output that refuses writes: every command that prints exits 74 saying so; its work stays done") {
  if (access("/dev/full", W_OK) != 0) {
    MESSAGE("/dev/full is missing: skipped");
    return;
  }
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(3000, 4, 91);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"descend", store, "--all", "-q"}).exit_code == 0);  // history to list
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  WriteFile(dir / "more.jsonl", ToJsonl(RandomMems(10, 4, 92, "n")));
  auto to = [&](const std::string& device, const std::vector<std::string>& args) {
    return AetherVia({"/bin/sh", "-c", "exec \"$0\" \"$@\" > " + device}, args);
  };
  const std::vector<std::vector<std::string>> commands = {
      {"stats", store},
      {"stats", store, "--format", "json"},
      {"get", store, "m1", "m2"},
      {"list", store},
      {"list", store, "--format", "jsonl"},
      {"history", store},
      {"verify", store},
      {"check", store},
      {"config", store, "get"},
      {"search", store, "--vector", "[1,2,3,4]", "--no-touch"},
      {"search", store, "--vector", "[1,2,3,4]", "-k", "2000", "--no-touch"},
      {"export", store},
      {"fault-points"},
      {"ingest", store, dir / "more.jsonl", "--on-duplicate", "skip", "--format", "json"},
      // Writers that print: each committed its change before the report.
      {"pin", store, "m5"},
      {"unpin", store, "m5"},
      {"config", store, "set", "sample_rate", "0.2"},
      {"maintain", store, "--seed", "3"},
      {"upgrade", store},  // nothing to upgrade: no change
      // CLI11 prints these through std::cout, not stdio.
      {"--help"},
      {"--version"},
      {"search", "--help"},
  };
  for (const auto& c : commands) {
    CAPTURE(c[0]);
    CAPTURE(c.size());
    const RunResult full = to("/dev/full", c);
    CHECK(full.exit_code == 74);
    // The error as the failed write gave it, or as the flush at the end
    // met it again.
    CHECK_MESSAGE(full.err.find("aether: error: standard output: ") != std::string::npos, full.err);
    CHECK(full.err.find("internal error") == std::string::npos);
    // Each writer that changed the store says its change is kept.
    const bool writes = c[0] == "ingest" || c[0] == "pin" || c[0] == "unpin" || c[0] == "maintain" ||
                        (c[0] == "config" && c[2] == "set");
    CHECK_MESSAGE(SaysCommitted(full) == writes, full.err);
    const RunResult null = to("/dev/null", c);
    CHECK_MESSAGE(null.exit_code == 0, null.err);
  }
  // The ingest's memories were committed before its report was lost.
  const RunResult got = Aether({"get", store, "n0", "n9"});
  CHECK(got.exit_code == 0);
  CHECK(Lines(got.out).size() == 2);
  CHECK(Aether({"verify", store}).exit_code == 0);
}

// A file system that cannot sync a directory (fsync answers EINVAL:
// VirtualBox shared folders, some network and FUSE file systems) serves
// every command, as SQLite goes on there; the same commands on a store
// without the fault give the same memories in the same tiers. Each run
// records its file-system changes (AETHER_TRACE_IO): the faulted runs of
// the commands that make files hold fewer directory syncs (only SQLite's
// own), so the fault was met.
TEST_CASE("a file system that cannot sync a directory (EINVAL) serves every command; other errors stay fatal") {
  TempDir dir;
  const auto mems = RandomMems(400, 6, 17);
  const auto more = RandomMems(50, 6, 18, "n");
  WriteFile(dir / "mems.jsonl", ToJsonl(mems));
  WriteFile(dir / "more.jsonl", ToJsonl(more));
  // The directory syncs of each command's run; *hot: the hot tier's ids
  // before maintain (whose tick depends on the clock).
  auto run_all = [&](const std::string& store, const std::vector<std::string>& env, std::string* hot) {
    const std::vector<std::vector<std::string>> commands = {
        {"ingest", "--create", store, dir / "mems.jsonl", "--hot-capacity", "300", "--batch", "100"},
        {"descend", store, "--all", "--batch", "70"},
        {"rebuild-index", store, "--partitions", "4"},
        {"ingest", store, dir / "more.jsonl"},
        {"ascend", store, "m1", "m2", "m3", "--evict"},
        {"maintain", store, "--seed", "7"},
        {"backup", store, store + ".bk"},
        {"stats", store, "--output", store + ".stats.json"},
        {"export", store, "--npy", store + ".export"},
        {"delete", store, "m4"},
        {"scrub", store},
    };
    std::vector<size_t> dir_syncs;
    for (const auto& c : commands) {
      CAPTURE(c[0]);
      CAPTURE(store);
      if (c[0] == "maintain") *hot = Aether({"list", store, "--tier", "hot", "--ids-only"}).out;
      const std::string trace = store + ".trace";
      fs::remove(trace);
      std::vector<std::string> with = env;
      with.push_back("AETHER_TRACE_IO=" + trace);
      const RunResult r = Aether(c, "", with);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      size_t n = 0;
      for (const std::string& line : Lines(ReadFile(trace))) n += line.rfind("D ", 0) == 0;
      dir_syncs.push_back(n);
    }
    CHECK(Aether({"verify", store}).exit_code == 0);
    CHECK(Aether({"verify", store + ".bk"}).exit_code == 0);
    CHECK(fs::file_size(store + ".export.npy") > 0);
    return dir_syncs;
  };
  const std::string faulted = dir / "faulted", plain = dir / "plain";
  std::string hot_faulted, hot_plain;
  const std::vector<size_t> without = run_all(faulted, {"AETHER_FAIL_IO=nodirsync:1+"}, &hot_faulted);
  const std::vector<size_t> with = run_all(plain, {}, &hot_plain);
  REQUIRE(without.size() == with.size());
  for (size_t i = 0; i < with.size(); ++i) {
    CAPTURE(i);
    CHECK(without[i] <= with[i]);
    if (i == 0 || i == 2) CHECK(without[i] < with[i]);  // ingest --create, rebuild-index
  }
  std::vector<std::string> ids = Ids(mems);
  for (const std::string& id : Ids(more)) ids.push_back(id);
  CHECK(GetAll(faulted, ids) == GetAll(plain, ids));
  CHECK(GetAll(faulted, ids).size() == ids.size() - 1);  // m4 deleted
  CHECK(Lines(hot_faulted).size() == 53);                // the 50 new, 3 ascended
  CHECK(hot_faulted == hot_plain);
  // EIO is not this: it still fails the command (an fsync of a directory
  // failing with EIO among them: the sweep above, op sync).
  const RunResult eio = Aether({"ingest", "--create", dir / "eio", dir / "mems.jsonl"}, "", {"AETHER_FAIL_IO=sync:1+"});
  CHECK(eio.exit_code == 74);
}
