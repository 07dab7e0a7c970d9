// Helpers shared by the tests: temporary directories, running the real
// aether binary, byte poking, and an independent brute-force reference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aether/store.h"

namespace aether::test {

// Opens the store at `path` through the library, without waiting for its
// lock (env nullptr: the real one); a failure fails the test case.
std::unique_ptr<Store> OpenStoreOrFail(const std::string& path, AccessMode mode, Env* env = nullptr,
                                       bool discard_damaged = false);

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  // in_memory: under /dev/shm when it exists, for tests that make thousands
  // of stores in process and need no durability (fsync there is free).
  explicit TempDir(bool in_memory = false);
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// Runs the aether binary with args, feeding `stdin_data`, with extra
// environment entries ("NAME=value"); the test's AETHER_* variables are not
// passed on, and with AETHER_TEST_CHILD_LEAKS=0 it skips LeakSanitizer's
// exit scan (test_util.cc, ChildEnv).
//
// With AETHER_TEST_COLD_TIER=1 (ctest's aether_tests_cold_tier), every
// store of the current format that a successful command names is moved,
// once, to a cold tier of its own in a bucket on s3rver (`config set
// cold_local_bytes 0`, `upgrade --cold-uri`), so that from then on each
// writing command sends its shards out, and a shard is read from the
// bucket after each time it was sent (then from the store's cache, as a
// user's store reads it): the same tests, the same answers.
RunResult Aether(const std::vector<std::string>& args, const std::string& stdin_data = "",
                 const std::vector<std::string>& env = {});
// Aether without that move.
RunResult RunAether(const std::vector<std::string>& args, const std::string& stdin_data = "",
                    const std::vector<std::string>& env = {});
// Whether AETHER_TEST_COLD_TIER is set (not 0).
bool ColdTierRun();

// Runs aether through another program, e.g. {"/usr/bin/setpriv", "--reuid=nobody", ...}.
RunResult AetherVia(const std::vector<std::string>& prefix, const std::vector<std::string>& args,
                    const std::string& stdin_data = "", const std::vector<std::string>& env = {});

// As root: the prefix that runs aether as `nobody` (setpriv(1)), or an
// empty vector, with `*why` saying why, when nobody cannot run this build's
// binary so (setpriv missing, or `aether --version` run so fails): a test
// skips its nobody part then. Environment entries go through AetherVia's
// `env`, not /usr/bin/env: started as nobody, env could not reach a
// checkout under a directory closed to other users (mktemp -d's 0700),
// where setpriv running the binary itself did.
std::vector<std::string> AsNobody(std::string* why);
// Lets other users (nobody) reach `path`: read and search bits for group
// and others added to it and to every directory above it, its other bits
// (/tmp's sticky bit and world write) kept.
void LetOthersReach(const std::string& path);

// Starts aether without waiting; stdin is /dev/null, output discarded.
int SpawnAether(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
// Starts aether without waiting, reading standard input from stdin_fd
// (the caller's, still open), stderr to err_path, stdout discarded.
int SpawnAetherReading(const std::vector<std::string>& args, int stdin_fd, const std::string& err_path);
// Waits for a spawned process; returns its exit code (128 + signal).
int WaitAether(int pid);

std::string ReadFile(const std::string& path);
// Runs `sql` on the store's meta.db; each row's columns joined by '|'
// (NULL as "NULL").
std::vector<std::string> SqlRows(const std::string& store, const std::string& sql);
// Every regular file under `dir` and its bytes, by path relative to `dir`:
// what "nothing changed" is checked against. metrics.log is left out: every
// command appends its record there, dry runs and readers included
// (format-spec/metrics_log.md).
std::map<std::string, std::string> DirectoryBytes(const std::string& dir);

// How many seeds (or sample points) a sweep that repeats one path runs: all
// of them, or with AETHER_TEST_SHORT=1 (the sanitizer run in CI, after the
// full sweep ran unsanitized) about a third, at least one.
int SweepSize(int full);
// Whether this is a short run (AETHER_TEST_SHORT set, not 0).
bool ShortRun();
// Whether the i-th point of a sweep runs: every point, or in a short run
// every third (0, 3, 6, ...): a sweep that counts its points over all of its
// loops still reaches each kind of point, with fewer values of each.
bool InSweep(size_t i);
void WriteFile(const std::string& path, const std::string& data);
void FlipByte(const std::string& path, uint64_t offset);
void TruncateFile(const std::string& path, uint64_t size);
uint64_t FileSize(const std::string& path);

// Test data: memories with deterministic pseudo-random vectors.
struct Mem {
  std::string id;
  std::vector<float> vec;
};
std::vector<Mem> RandomMems(size_t n, uint32_t dim, uint64_t seed, const std::string& prefix = "m");
std::string ToJsonl(const std::vector<Mem>& mems);
std::vector<std::string> Ids(const std::vector<Mem>& mems);
std::string VectorJson(const std::vector<float>& v);
// Queries as `search --queries` reads them: {"id", "vector"} per line.
std::string QueriesJsonl(const std::vector<Mem>& qs);

// Independent reference: exact top-k ids by brute force in double precision.
// metric: "l2", "cosine" or "ip". Returns (distance, id) ascending.
std::vector<std::pair<double, std::string>> BruteForce(const std::vector<Mem>& mems, const std::vector<float>& q,
                                                       size_t k, const std::string& metric);

// Parses one line of `aether search` JSONL output into (id, distance, tier).
struct Hit {
  std::string id;
  double distance;
  std::string tier;
};
std::vector<std::vector<Hit>> ParseSearchOutput(const std::string& jsonl);
std::vector<std::string> Lines(const std::string& text);

// True when `got` is the exact top-k of `want`: the same ids, except that
// ids whose reference distances tie within eps may swap.
bool SameTopK(const std::vector<Hit>& got, const std::vector<std::pair<double, std::string>>& want, double eps = 1e-4);

// Every (id -> vector) in the store, through `aether get` of the given ids.
std::map<std::string, std::vector<float>> GetAll(const std::string& store, const std::vector<std::string>& ids);

// (vector, payload as compact JSON) per id, through `aether get`.
struct Stored {
  std::vector<float> vec;
  std::string payload;
  std::string tier;
  bool operator==(const Stored& o) const { return vec == o.vec && payload == o.payload; }
};
// Each memory's tier ("hot", "cold") by id, through `aether list`.
std::map<std::string, std::string> Tiers(const std::string& store);
// The pinned memories' ids (aether list --where 'pinned == true').
std::set<std::string> Pinned(const std::string& store);
std::map<std::string, Stored> GetRecords(const std::string& store, const std::vector<std::string>& ids);
// `aether export STORE`'s output (the export must succeed).
std::string Export(const std::string& store);
// Checks that `aether verify STORE` passes, naming the store and problems.
void Verified(const std::string& store);
// first_n: the payload's "n" of mems[0] (each memory's n is its index in
// the batch that first stored it, so a later slice re-sends the same payload).
std::string ToJsonlWithPayload(const std::vector<Mem>& mems, size_t first_n = 0);

}  // namespace aether::test
