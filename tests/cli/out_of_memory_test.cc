// An allocation that fails, anywhere in a command: while the command line
// is parsed, inside a migration, in a scan or K-Means worker, in export's
// formatters or a batch's printing threads. A library preloaded into the
// binary (support/fail_new.cc) makes the N-th operator new throw
// std::bad_alloc, for N swept from the first allocation to the last. Every
// command must end with "out of memory" (70) or, where the failure was
// absorbed, with its usual answer; never abort on an exception no one
// caught (SIGABRT), and leave its store as before or as a free run leaves
// it: verify passes, and the memories are one of the two.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

#ifdef AETHER_FAIL_NEW_LIB
namespace {

// Every memory's id, vector and payload, sorted: what a command must keep.
std::vector<std::string> Contents(const std::string& store) {
  RunResult r = Aether({"export", store});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> out;
  for (const std::string& line : Lines(r.out)) {
    const auto j = nlohmann::json::parse(line);
    out.push_back(j["id"].dump() + j["vector"].dump() + j.value("payload", nlohmann::json()).dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The allocation counts to fail at: 1, 2, 3, then growing by half each
// time to `total`, and the `last` ones (a short run takes every third).
std::vector<long> FailurePoints(long total, long last) {
  std::vector<long> at;
  for (long n = 1; n <= total; n = std::max(n + 1, n * 3 / 2)) at.push_back(n);
  for (long n = std::max(1L, total - last + 1); n <= total; ++n) at.push_back(n);
  std::sort(at.begin(), at.end());
  at.erase(std::unique(at.begin(), at.end()), at.end());
  std::vector<long> picked;
  for (size_t i = 0; i < at.size(); ++i)
    if (InSweep(i)) picked.push_back(at[i]);
  return picked;
}

}  // namespace

TEST_CASE("an allocation that fails anywhere in a command: out of memory (70), never an abort; the store whole" *
          doctest::test_suite("sweep")) {
  TempDir dir;
  const std::string pristine = dir / "pristine", store = dir / "s", out = dir / "out",
                    preload = "LD_PRELOAD=" AETHER_FAIL_NEW_LIB;
  // Hot and cold memories with payloads, an index of a few partitions; a
  // query batch large enough to be printed on two threads (512 lines and
  // more), and a new batch to ingest.
  std::string base;
  for (const Mem& m : RandomMems(400, 8, 21, "m"))
    base += "{\"id\":\"" + m.id + "\",\"vector\":" + VectorJson(m.vec) + ",\"payload\":{\"n\":\"" + m.id + "\"}}\n";
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "150"}, base).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "6"}).exit_code == 0);
  WriteFile(dir / "q.jsonl", QueriesJsonl(RandomMems(600, 8, 22, "q")));
  WriteFile(dir / "new.jsonl", ToJsonl(RandomMems(60, 8, 23, "n")));
  const std::vector<std::string> before = Contents(pristine);

  struct Command {
    const char* name;
    std::vector<std::string> args;
    // Fail only allocations made off the main thread: threads that always
    // allocate (a batch's printing threads format their share of the lines,
    // export's formatters every batch), not ParallelFor's workers, which
    // may find the work taken before they start (its own test, in
    // tests/search/scan_engine_test.cc, throws from every worker).
    bool threads_only;
  };
  const std::vector<Command> commands = {
      {"search (batch)", {"search", store, "--queries", dir / "q.jsonl", "-k", "5"}, false},
      {"search (batch), a worker",
       {"search", store, "--queries", dir / "q.jsonl", "-k", "5", "--tier", "cold", "--threads", "2"},
       true},
      {"export", {"export", store}, false},
      {"export, a formatter", {"export", store}, true},
      {"ingest", {"ingest", store, dir / "new.jsonl"}, false},
      {"descend", {"descend", store, "--all"}, false},
      {"rebuild-index", {"rebuild-index", store, "--partitions", "4"}, false},
      {"maintain", {"maintain", store}, false},
      {"delete", {"delete", store, "m1", "m2", "m300"}, false},
      {"verify", {"verify", store}, false},
      {"init", {"init", out, "--dim", "8"}, false},
      {"backup", {"backup", store, out}, false},
      {"export --npy", {"export", store, "--npy", out}, false},
      {"get", {"get", store, "m1", "m200", "m399"}, false},
      {"list", {"list", store, "--where", "tier == \"cold\""}, false},
      {"update", {"update", store, "m3", "--payload", "{\"n\":\"changed\"}"}, false},
      {"ascend", {"ascend", store, "m390", "m391", "m392", "--evict"}, false},
      {"pin", {"pin", store, "m380", "m381"}, false},
      {"feedback", {"feedback", store, "m4", "1"}, false},
      {"config", {"config", store, "set", "sample_rate", "0.2"}, false},
      {"stats", {"stats", store, "--format", "prometheus"}, false},
      {"history", {"history", store}, false},
  };
  // What a run may add beside the store: its output (init, backup, export
  // --npy), and nothing else, whether it succeeded or not (a temporary
  // left by a failed one would be new here).
  auto entries = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind("out", 0) != 0) names.insert(e.path().filename().string());
    return names;
  };
  auto remove_outputs = [&] {
    for (const char* suffix : {"", ".npy", ".ids", ".meta.jsonl"}) fs::remove_all(out + suffix);
  };
  const std::string count_file = dir / "count";
  WriteFile(count_file, "0");
  fs::copy(pristine, store, fs::copy_options::recursive);
  const std::set<std::string> beside = entries();
  int failed = 0, runs = 0;
  for (const Command& c : commands) {
    const std::string name = c.name;
    CAPTURE(name);
    // A free run: the answer and the store every run must match, and how
    // many allocations it makes.
    fs::remove_all(store);
    remove_outputs();
    fs::copy(pristine, store, fs::copy_options::recursive);
    WriteFile(count_file, "0");  // a free run that wrote no count is not taken for the last one's
    RunResult free_run = Aether(
        c.args, "", {preload, "FAIL_NEW_COUNT=" + count_file, c.threads_only ? "FAIL_NEW=thread:0" : "FAIL_NEW=0"});
    REQUIRE_MESSAGE(free_run.exit_code == 0, free_run.err);
    const std::vector<std::string> after = Contents(store);
    const long total = std::stol(ReadFile(count_file));
    REQUIRE(total > 0);
    int failed_here = 0;
    // init: every one of its last allocations, after the store is in place
    // (its report, its metrics) among them.
    for (long n : FailurePoints(total, name == "init" ? 100 : 3)) {
      CAPTURE(n);
      fs::remove_all(store);
      remove_outputs();
      fs::copy(pristine, store, fs::copy_options::recursive);
      const std::string spec = std::string("FAIL_NEW=") + (c.threads_only ? "thread:" : "") + std::to_string(n);
      RunResult r = Aether(c.args, "", {preload, spec});
      ++runs;
      // Threads make the count differ a little between runs: a run may
      // finish before its n-th allocation, or absorb the failure (a thread
      // that cannot be started leaves its share to the others).
      if (r.exit_code == 0) {
        // (init and backup name their own files; maintain samples at random)
        if (c.args[0] != "init" && c.args[0] != "backup" && c.args[0] != "maintain") CHECK(r.out == free_run.out);
      } else {
        ++failed;
        ++failed_here;
        CHECK_MESSAGE(r.exit_code == 70, r.err);
        CHECK_MESSAGE(r.err.find("out of memory") != std::string::npos, r.err);
        // Made whole or not at all; export --npy's three files, too.
        if ((name == "init" || name == "backup") && fs::exists(out)) CHECK(Aether({"verify", out}).exit_code == 0);
        // A store made says it is kept (init's only change).
        if (name == "init")
          CHECK_MESSAGE(fs::exists(out) == (r.err.find("had committed changes before the error") != std::string::npos),
                        r.err);
        if (name == "export --npy")
          for (const char* suffix : {".npy", ".ids", ".meta.jsonl"}) CHECK_FALSE(fs::exists(out + suffix));
      }
      {
        std::string new_entries;
        for (const std::string& e : entries())
          if (!beside.count(e)) new_entries += e + " ";
        CHECK_MESSAGE(entries() == beside, new_entries);
      }
      RunResult v = Aether({"verify", store});
      CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
      const std::vector<std::string> now = Contents(store);
      CHECK_MESSAGE((now == before || now == after), "memories neither as before nor as after the command");
    }
    CHECK(failed_here > 0);  // the sweep reaches into every command and variant
  }
  MESSAGE(runs << " runs, " << failed << " failed with out of memory");
  CHECK(failed > runs / 2);  // most points fail: the sweep reaches into every command
}
#else
TEST_CASE("an allocation that fails anywhere in a command: out of memory (70), never an abort; the store whole") {
  MESSAGE("a sanitized build: its runtime replaces operator new; the allocation-failure sweep runs unsanitized");
}
#endif
