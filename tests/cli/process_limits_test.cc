// A process's limits reached, as on a busy shared host, in a tight
// container or under a service manager's defaults: every command must do
// its work within them and answer exactly as an unlimited run.
//
// No thread to be had: a user's process limit (RLIMIT_NPROC, which also
// counts threads) reached. Every command that works on more than one
// thread (ingest reading a file ahead, export formatting, the scan,
// K-Means, a migration's compression and syncs, printing a batch's
// results) must do its work on the threads it has, one if need be: before,
// ingest from a file and export stopped with "internal error: Resource
// temporarily unavailable" (70). As root the limited commands run as
// nobody (root is not held to the limit), with prlimit(1).
//
// Few file descriptors (RLIMIT_NOFILE; 1,024 is the usual soft limit): a
// descend into more partitions than that held a descriptor for each until
// all were synced, and an ascend from them one for each it read; both
// stopped with "Too many open files" (74).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

// Whether prlimit(1) is missing (said so: the test is skipped).
bool PrlimitMissing() {
  if (access("/usr/bin/prlimit", X_OK) == 0) return false;
  MESSAGE("prlimit is missing: skipped");
  return true;
}

// An export's ids and vectors, sorted (in tier order: twins' tiers may
// differ, as maintain samples what it moves at random).
std::vector<std::string> IdsAndVectors(const std::string& exported) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(exported)) {
    const auto j = nlohmann::json::parse(line);
    out.push_back(j["id"].dump() + j["vector"].dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("no thread to be had (RLIMIT_NPROC): ingest, export, indexing, queries and maintain agree with a free run") {
  std::vector<std::string> limited;
  if (geteuid() == 0) {
    std::string why;
    limited = AsNobody(&why);
    if (limited.empty()) {
      MESSAGE(why << ": skipped");
      return;
    }
  }
  if (PrlimitMissing()) return;
  // prlimit first, as this user: the limit outlives the exec of setpriv,
  // which becomes nobody and runs the binary itself (nobody may not reach
  // a checkout under a directory closed to others, mktemp -d's 0700).
  limited.insert(limited.begin(), {"/usr/bin/prlimit", "--nproc=1", "--"});
  TempDir dir;
  // nobody works in it: every directory on the way searchable, it writable.
  LetOthersReach(dir.path());
  chmod(dir.path().c_str(), 0777);
  auto as_limited = [&](const std::vector<std::string>& args) { return AetherVia(limited, args); };
  // The limit holds: under it a shell cannot start a second process.
  std::string shell;
  for (const std::string& a : limited) shell += a + " ";
  CHECK(std::system("/bin/sh -c '/bin/true; /bin/true' 2>/dev/null") == 0);
  REQUIRE(std::system((shell + "/bin/sh -c '/bin/true; /bin/true' 2>/dev/null").c_str()) != 0);
  const std::string free_store = dir / "free", limited_store = dir / "limited";
  const auto mems = RandomMems(3000, 16, 71);
  const std::vector<Mem> first(mems.begin(), mems.begin() + 2000), second(mems.begin() + 2000, mems.end());
  WriteFile(dir / "first.jsonl", ToJsonl(first));
  WriteFile(dir / "second.jsonl", ToJsonl(second));
  WriteFile(dir / "queries.jsonl", QueriesJsonl(RandomMems(40, 16, 72, "q")));
  for (const char* f : {"first.jsonl", "second.jsonl", "queries.jsonl"}) chmod((dir / f).c_str(), 0644);

  // The free run: JSONL from a file, then its export as .npy and ids.
  REQUIRE(Aether({"ingest", "--create", free_store, "--hot-capacity", "500", dir / "first.jsonl", "-q"}).exit_code ==
          0);
  REQUIRE(Aether({"export", free_store, "--npy", dir / "first"}).exit_code == 0);
  for (const char* f : {"first.npy", "first.ids"}) chmod((dir / f).c_str(), 0644);
  REQUIRE(Aether({"ingest", free_store, dir / "second.jsonl", "-q"}).exit_code == 0);
  // The limited run: the same memories from the .npy (read ahead on a
  // second thread when one is to be had) and the second JSONL file.
  const RunResult npy = as_limited({"ingest", "--create", limited_store, "--hot-capacity", "500", dir / "first.npy",
                                    "--ids", dir / "first.ids", "-q"});
  REQUIRE_MESSAGE(npy.exit_code == 0, npy.err);
  const RunResult jsonl = as_limited({"ingest", limited_store, dir / "second.jsonl", "-q"});
  REQUIRE_MESSAGE(jsonl.exit_code == 0, jsonl.err);

  // Cold moves, the index, then exact queries (every partition probed).
  for (const std::string& store : {free_store, limited_store}) {
    const bool lim = store == limited_store;
    CAPTURE(lim);
    for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
             {"descend", store, "--all", "-q"}, {"rebuild-index", store, "--partitions", "6", "-q"}}) {
      const RunResult r = lim ? as_limited(cmd) : Aether(cmd);
      CHECK_MESSAGE(r.exit_code == 0, cmd[0] << ": " << r.err);
    }
  }
  const std::vector<std::string> query = {"--queries", dir / "queries.jsonl", "--nprobe", "6",         "-k",
                                          "10",        "--threads",           "4",        "--no-touch"};
  std::vector<std::string> q_free = {"search", free_store}, q_limited = {"search", limited_store};
  q_free.insert(q_free.end(), query.begin(), query.end());
  q_limited.insert(q_limited.end(), query.begin(), query.end());
  const RunResult want = Aether(q_free), got = as_limited(q_limited);
  REQUIRE(want.exit_code == 0);
  CHECK_MESSAGE(got.exit_code == 0, got.err);
  CHECK(ParseSearchOutput(got.out).size() == 40);
  CHECK(got.out == want.out);

  // Export (formatted on two threads when it has them): the same memories.
  const RunResult ex_free = Aether({"export", free_store}), ex_limited = as_limited({"export", limited_store});
  REQUIRE(ex_free.exit_code == 0);
  CHECK_MESSAGE(ex_limited.exit_code == 0, ex_limited.err);
  auto essentials = [](const std::string& text) {
    std::vector<std::string> out;
    for (const std::string& line : Lines(text)) {
      const auto j = nlohmann::json::parse(line);
      out.push_back(j["id"].dump() + j["vector"].dump() + j.value("tier", std::string()));
    }
    return out;
  };
  CHECK(essentials(ex_limited.out) == essentials(ex_free.out));
  CHECK(Lines(ex_limited.out).size() == mems.size());

  // Maintenance and checks, limited.
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"maintain", limited_store, "-q"}, {"verify", limited_store}, {"backup", limited_store, dir / "b", "-q"}}) {
    const RunResult r = as_limited(cmd);
    CHECK_MESSAGE(r.exit_code == 0, cmd[0] << ": " << r.err);
  }
  CHECK(Aether({"verify", dir / "b"}).exit_code == 0);
}

TEST_CASE("more partitions than the descriptor limit (RLIMIT_NOFILE): every command works, as a free run") {
  if (PrlimitMissing()) return;
  TempDir dir;
  const auto mems = RandomMems(6000, 4, 73);
  const std::string queries = QueriesJsonl(RandomMems(20, 4, 74, "q"));
  // Lossless frames, and sq8 ones, whose search re-reads the exact rows of
  // its candidates from every partition it probed.
  for (const std::string codec : {"zstd-shuffle", "sq8"}) {
    CAPTURE(codec);
    std::vector<std::string> found, exported;
    for (bool limited : {false, true}) {
      CAPTURE(limited);
      const std::string store = dir / (codec + (limited ? "-limited" : "-free"));
      // Under 40 descriptors, a store of 400 partitions: every memory hot,
      // indexed, back up (reading from every partition), then one descend
      // batch into nearly all of them, and the maintenance that follows.
      auto run = [&](const std::vector<std::string>& args, const std::string& in = "") {
        return limited ? AetherVia({"/usr/bin/prlimit", "--nofile=40", "--"}, args, in) : Aether(args, in);
      };
      const std::vector<std::vector<std::string>> steps = {
          {"ingest", "--create", store, "--hot-capacity", "10000", "--codec", codec, "-q"},
          {"descend", store, "--all", "-q"},
          {"rebuild-index", store, "--partitions", "400", "-q"},
          {"ascend", store, "--where", "importance >= 0", "-q"},
          {"descend", store, "--all", "--batch", "10000", "-q"},
          {"ascend", store, "--where", "importance >= 0", "--to", "warm", "-q"},
          {"maintain", store, "-q"},
          {"rebuild-index", store, "--keep-centroids", "-q"},
          {"verify", store},
          {"backup", store, dir / (codec + (limited ? "-b-limited" : "-b-free")), "-q"},
      };
      for (const auto& step : steps) {
        CAPTURE(step[0]);
        const RunResult r = run(step, step[0] == "ingest" ? ToJsonl(mems) : "");
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      }
      const auto partitions = SqlRows(store, "SELECT COUNT(*) FROM shards WHERE partition IS NOT NULL AND live > 0");
      REQUIRE(partitions.size() == 1);
      CHECK(std::stoi(partitions[0]) > 300);
      const RunResult q =
          run({"search", store, "--queries", "-", "--nprobe", "400", "-k", "10", "--no-touch"}, queries);
      CHECK_MESSAGE(q.exit_code == 0, q.err);
      // Candidates of every query from nearly every partition (an sq8
      // store re-ranks them: each partition's exact rows read again), with
      // every memory cold (the warm tier holds float32 rows: no re-rank).
      REQUIRE(run({"descend", store, "--all", "-q"}).exit_code == 0);
      const auto warm = SqlRows(store, "SELECT COUNT(*) FROM memories WHERE tier <> 1");
      REQUIRE(warm.size() == 1);
      CHECK(warm[0] == "0");
      const RunResult wide =
          run({"search", store, "--queries", "-", "--nprobe", "400", "-k", "1000", "--no-touch"}, queries);
      CHECK_MESSAGE(wide.exit_code == 0, wide.err);
      CHECK(ParseSearchOutput(wide.out).size() == 20);
      // Ids and distances (maintain samples what it moves at random: the
      // twins' tiers may differ).
      std::string hits;
      for (const std::string* out : {&q.out, &wide.out})
        for (const auto& query : ParseSearchOutput(*out))
          for (const Hit& h : query) hits += h.id + " " + std::to_string(h.distance) + "\n";
      found.push_back(hits);
      const RunResult ex = run({"export", store});
      CHECK_MESSAGE(ex.exit_code == 0, ex.err);
      exported.push_back(ex.out);
      CHECK(Lines(ex.out).size() == mems.size());
      CHECK(Aether({"verify", dir / (codec + (limited ? "-b-limited" : "-b-free"))}).exit_code == 0);
    }
    CHECK(found[0] == found[1]);
    CHECK(IdsAndVectors(exported[0]) == IdsAndVectors(exported[1]));
  }
}

// A file-size limit (RLIMIT_FSIZE, `ulimit -f`): a write past it sends
// SIGXFSZ, whose default action kills the process (exit 153) with its work
// half done. Every command must instead fail that write like any I/O error
// (74, "File too large") and leave the store whole: under limits from 16
// KiB (below meta.db's first pages) to 4 MiB (past every file but the
// biggest), each step of a store's life is run limited; it exits 0 or 74,
// never by a signal; verify then passes; the step run again without the
// limit succeeds (a step may have committed its work before a later write
// failed: every step here may be run again); and at the end the store holds
// exactly what a free run's holds (ids and vectors; tiers may differ:
// maintain samples at random).
TEST_CASE("a file-size limit (RLIMIT_FSIZE): a write past it exits 74 'File too large', never a signal; nothing lost") {
  if (PrlimitMissing()) return;
  TempDir dir;
  const auto mems = RandomMems(3000, 16, 75);
  WriteFile(dir / "mems.jsonl", ToJsonl(mems));
  std::string ids700;
  for (size_t i = 0; i < 700; ++i) ids700 += mems[i * 4].id + "\n";
  WriteFile(dir / "ids700", ids700);
  const std::string queries = QueriesJsonl(RandomMems(5, 16, 76, "q"));
  std::vector<std::string> want;
  int failed = 0;
  // The short run (sanitizers) takes every other limit.
  const std::vector<const char*> limits =
      ShortRun() ? std::vector<const char*>{"", "16384", "262144", "4194304"}
                 : std::vector<const char*>{"", "16384", "65536", "262144", "1048576", "4194304"};
  for (const char* limit : limits) {
    CAPTURE(limit);
    const std::string name = *limit ? std::string("s") + limit : "free";
    const std::string store = dir / name;
    const std::vector<std::vector<std::string>> steps = {
        {"ingest", "--create", store, dir / "mems.jsonl", "--hot-capacity", "1000", "--batch", "500", "--on-duplicate",
         "skip", "-q"},
        {"descend", store, "--all", "-q"},
        {"rebuild-index", store, "--partitions", "8", "-q"},
        {"ascend", store, "--ids-from", dir / "ids700", "-q"},  // by id: run again, it skips the hot ones
        {"descend", store, "--all", "--to", "warm", "-q"},
        {"maintain", store, "-q"},
        {"search", store, "--queries", dir / "q.jsonl", "--nprobe", "8", "-q"},
        {"backup", store, dir / (name + "-backup"), "-q"},
        {"export", store, "--npy", dir / (name + "-export"), "-q"},
    };
    WriteFile(dir / "q.jsonl", queries);
    for (const auto& step : steps) {
      CAPTURE(step[0]);
      if (*limit) {
        const RunResult r = AetherVia({"/usr/bin/prlimit", std::string("--fsize=") + limit, "--"}, step);
        CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 74), r.exit_code << ": " << r.err);
        if (r.exit_code == 0) continue;
        ++failed;
        CHECK_MESSAGE(r.err.find("File too large") != std::string::npos, r.err);
        CHECK(r.err.find("internal error") == std::string::npos);
        if (fs::exists(store + "/meta.db")) {
          const RunResult v = Aether({"verify", store});
          CHECK_MESSAGE(v.exit_code == 0, v.out << v.err);
        }
        // A backup or export cut short is made anew.
        if (step[0] == "backup") fs::remove_all(step[2]);
        if (step[0] == "export")
          for (const char* ext : {".npy", ".ids", ".meta.jsonl"}) fs::remove(step[3] + ext);
      }
      // Without the limit (again, when it cut the step short: that finishes it).
      const RunResult r = Aether(step);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
    CHECK(Aether({"verify", store}).exit_code == 0);
    CHECK(Aether({"verify", dir / (name + "-backup")}).exit_code == 0);
    const RunResult ex = Aether({"export", store});
    REQUIRE(ex.exit_code == 0);
    CHECK(Lines(ex.out).size() == mems.size());
    if (want.empty())
      want = IdsAndVectors(ex.out);
    else
      CHECK(IdsAndVectors(ex.out) == want);
  }
  // The limits did cut steps short (else the sweep tested nothing).
  CHECK(failed >= (ShortRun() ? 6 : 10));
  MESSAGE("file-size limits: " << failed << " limited steps failed cleanly with exit 74");
}
