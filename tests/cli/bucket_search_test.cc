// aether search s3://BUCKET/PREFIX against s3rver on loopback: a store read
// straight from what `publish` wrote, with only a cache on local disk. It
// answers exactly as the writer did at the publish; it fetches the shards
// a search opens and no other; repeats come from the cache, which stays
// under its size limit; a newer manifest is picked up; a damaged object or
// an unreachable bucket is a clear error, never a wrong answer.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "aether/replica.h"
#include "objstore/digest.h"
#include "objstore/s3_client.h"
#include "support/s3_server.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;
namespace fs = std::filesystem;

namespace {

const char* kBucket = "bucketsearch";

S3Server* Server() { return SharedS3Server(kBucket); }

std::vector<std::string> S3Env(const std::string& endpoint) { return S3rverEnv(endpoint); }

std::unique_ptr<S3Client> Client(const std::string& endpoint, const std::string& prefix) {
  return S3rverClient(endpoint, kBucket, prefix);
}

// The --verbose line of a bucket search: "... shards: C from the cache, F
// fetched (B bytes, R requests), E evicted".
struct CacheLine {
  int cached = -1, fetched = -1, evicted = -1;
  uint64_t bytes = 0, requests = 0;
  bool new_manifest = false;
};
CacheLine Parse(const std::string& err) {
  CacheLine c;
  std::smatch m;
  static const std::regex re(
      R"(shards: (\d+) from the cache, (\d+) fetched \((\d+) bytes, (\d+) requests\), (\d+) evicted)");
  if (std::regex_search(err, m, re)) {
    c.cached = std::stoi(m[1]);
    c.fetched = std::stoi(m[2]);
    c.bytes = std::stoull(m[3]);
    c.requests = std::stoull(m[4]);
    c.evicted = std::stoi(m[5]);
  }
  c.new_manifest = err.find("(new: ") != std::string::npos;
  return c;
}

int CachedObjects(const std::string& cache, uint64_t* bytes = nullptr) {
  int n = 0;
  if (bytes) *bytes = 0;
  for (const auto& e : fs::directory_iterator(cache + "/objects"))
    if (e.is_regular_file() && e.path().filename().string().size() == 64) {
      ++n;
      if (bytes) *bytes += e.file_size();
    }
  return n;
}

}  // namespace

TEST_CASE("search s3://: answers as the writer did at its publish, fetching only the shards it opens; cached after") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b1";
  auto mems = RandomMems(900, 8, 31);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const auto qs = RandomMems(30, 8, 32, "q");
  const std::string queries = QueriesJsonl(qs);
  auto search = [&](const std::string& where, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"search", where, "--queries", "-", "-k", "7", "--no-touch"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Aether(args, queries, env);
  };
  for (const char* nprobe : {"1", "3", "8"}) {
    CAPTURE(nprobe);
    const RunResult want = search(store, {"--nprobe", nprobe});
    REQUIRE(want.exit_code == 0);
    // A fresh cache each time: the first search fetches, the second reads
    // the cache alone and answers the same.
    fs::remove_all(cache);
    const RunResult first = search(uri, {"--nprobe", nprobe, "--cache-dir", cache, "--verbose"});
    REQUIRE_MESSAGE(first.exit_code == 0, first.err);
    CHECK(first.out == want.out);
    const CacheLine c1 = Parse(first.err);
    CHECK(c1.new_manifest);
    CHECK(c1.cached == 0);
    CHECK(c1.fetched == CachedObjects(cache));
    CHECK(c1.fetched >= 1);
    const RunResult again = search(uri, {"--nprobe", nprobe, "--cache-dir", cache, "--verbose"});
    REQUIRE_MESSAGE(again.exit_code == 0, again.err);
    CHECK(again.out == want.out);
    const CacheLine c2 = Parse(again.err);
    CHECK_FALSE(c2.new_manifest);
    CHECK(c2.fetched == 0);
    CHECK(c2.bytes == 0);
    CHECK(c2.cached == c1.fetched);
  }
  // One query probing one partition fetches fewer shards than the store has.
  fs::remove_all(cache);
  const RunResult one = Aether({"search", uri, "--vector", "[0,0,0,0,0,0,0,0]", "--nprobe", "1", "--no-touch",
                                "--cache-dir", cache, "--verbose"},
                               "", env);
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  CHECK(one.out == Aether({"search", store, "--vector", "[0,0,0,0,0,0,0,0]", "--nprobe", "1", "--no-touch"}).out);
  int shards = 0;
  for (const auto& e : fs::recursive_directory_iterator(store + "/cold"))
    if (e.path().extension() == ".shard") ++shards;
  CHECK(Parse(one.err).fetched >= 1);
  CHECK(Parse(one.err).fetched <= 2);  // the probed partition, and the staging shard when it holds frames
  CHECK(Parse(one.err).fetched < shards);

  // A cache of one byte: a search keeps the shards it uses while it runs,
  // answers right, and leaves the cache empty.
  fs::remove_all(cache);
  const RunResult want_all = search(store, {"--nprobe", "8"});
  const RunResult small = search(uri, {"--nprobe", "8", "--cache-dir", cache, "--cache-bytes", "1", "--verbose"});
  REQUIRE_MESSAGE(small.exit_code == 0, small.err);
  CHECK(small.out == want_all.out);
  CHECK(Parse(small.err).fetched >= 2);
  CHECK(CachedObjects(cache) == 0);
  // (all evicted as the store closed, after the search: the report says so)
  CHECK(Parse(small.err).evicted == Parse(small.err).fetched);
  // A limit above the whole: nothing evicted, everything kept.
  const RunResult big = search(uri, {"--nprobe", "8", "--cache-dir", cache, "--verbose"});
  CHECK(Parse(big.err).evicted == 0);
  uint64_t cached_bytes = 0;
  CHECK(CachedObjects(cache, &cached_bytes) == Parse(big.err).fetched);
  CHECK(cached_bytes == Parse(big.err).bytes);
  // Half of it: the least recently opened go first. The shards one
  // single-partition search opens are the newest, so they stay.
  const RunResult one_again =
      Aether({"search", uri, "--vector", "[0,0,0,0,0,0,0,0]", "--nprobe", "1", "--no-touch", "--cache-dir", cache,
              "--cache-bytes", std::to_string(cached_bytes / 2), "--verbose"},
             "", env);
  REQUIRE_MESSAGE(one_again.exit_code == 0, one_again.err);
  CHECK(Parse(one_again.err).fetched == 0);
  uint64_t half_bytes = 0;
  const int kept = CachedObjects(cache, &half_bytes);
  CHECK(half_bytes <= cached_bytes / 2);
  CHECK(kept >= Parse(one_again.err).cached);
  const RunResult one_more = Aether({"search", uri, "--vector", "[0,0,0,0,0,0,0,0]", "--nprobe", "1", "--no-touch",
                                     "--cache-dir", cache, "--verbose"},
                                    "", env);
  CHECK(Parse(one_more.err).fetched == 0);  // what it needs was kept

  // The writer moves on and publishes: the next bucket search follows.
  auto more = RandomMems(80, 8, 33, "n");
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(more)).exit_code == 0);
  REQUIRE(Aether({"delete", store, mems[5].id, mems[600].id}).exit_code == 0);
  REQUIRE(Aether({"descend", store, "--all", "-q"}).exit_code == 0);
  const RunResult want2 = search(store, {"--nprobe", "8"});
  CHECK(search(uri, {"--nprobe", "8", "--cache-dir", cache}).out == want_all.out);  // not yet published
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const RunResult after = search(uri, {"--nprobe", "8", "--cache-dir", cache, "--verbose"});
  REQUIRE_MESSAGE(after.exit_code == 0, after.err);
  CHECK(after.out == want2.out);
  CHECK(Parse(after.err).new_manifest);
  CHECK(after.err.find("manifest 2") != std::string::npos);
  // The default cache directory is under XDG_CACHE_HOME.
  auto env_xdg = env;
  env_xdg.push_back("XDG_CACHE_HOME=" + dir / "xdg");
  const RunResult xdg =
      Aether({"search", uri, "--queries", "-", "-k", "7", "--no-touch", "--nprobe", "8"}, queries, env_xdg);
  CHECK(xdg.exit_code == 0);
  CHECK(xdg.out == want2.out);
  CHECK(fs::exists(dir / "xdg/aether/s3"));
}

TEST_CASE("search s3://: a damaged object, an unreachable bucket or a writing command fail clearly; nothing cached") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b2";
  auto mems = RandomMems(300, 4, 41);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const std::vector<std::string> query = {"search", uri,           "--vector", "[1,2,3,4]", "--nprobe",
                                          "3",      "--cache-dir", cache,      "--no-touch"};
  const RunResult intact = Aether(query, "", env);
  REQUIRE(intact.exit_code == 0);

  // A cached shard damaged on the local disk is removed and fetched again:
  // the same answer, a warning, the cache whole again. One object, then
  // every one.
  auto objects = [&] {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(cache + "/objects"))
      if (e.path().filename().string().size() == 64) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto flip_middle = [](const fs::path& p) {
    std::string bytes = ReadFile(p.string());
    REQUIRE(bytes.size() > 64);
    bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x5a);
    WriteFile(p.string(), bytes);
  };
  REQUIRE(objects().size() >= 2);
  for (size_t round = 0; round < 2; ++round) {
    CAPTURE(round);
    const auto all = objects();
    if (round == 0)
      flip_middle(all[0]);
    else
      for (const auto& p : all) flip_middle(p);
    const RunResult healed = Aether(query, "", env);
    CHECK_MESSAGE(healed.exit_code == 0, healed.err);
    CHECK(healed.out == intact.out);
    CHECK(healed.err.find(round == 0
                              ? "1 damaged cached shard removed"
                              : std::to_string(all.size()) + " damaged cached shards removed") != std::string::npos);
    CHECK(healed.err.find("checksum mismatch") != std::string::npos);
    CHECK(objects() == all);
    for (const auto& p : objects()) CHECK(ToHex(Sha256(ReadFile(p.string()))) == p.filename().string());
    const RunResult quiet = Aether(query, "", env);  // whole now: nothing to say
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.err.empty());
  }

  // Every shard object replaced by same-size garbage: each read fails with
  // 79 naming the object, and nothing damaged enters the cache.
  auto client = Client(server->endpoint(), "b2");
  std::string manifest;
  REQUIRE(client->Get("manifests/00000000000000000001.json", &manifest).ok());
  const auto files = nlohmann::json::parse(manifest)["files"];
  int damaged = 0;
  for (const auto& f : files) {
    if (f["path"].get<std::string>().rfind("cold/", 0) != 0 || f["bytes"].get<uint64_t>() == 0) continue;
    REQUIRE(client->Put("objects/" + f["sha256"].get<std::string>(), std::string(f["bytes"].get<size_t>(), 'x')).ok());
    ++damaged;
  }
  REQUIRE(damaged > 0);
  fs::remove_all(cache);
  const RunResult bad = Aether(query, "", env);
  CHECK(bad.exit_code == 79);
  CHECK(bad.err.find("SHA-256") != std::string::npos);
  CHECK(bad.err.find("objects/") != std::string::npos);
  CHECK_MESSAGE(bad.err.find("(for cold/") != std::string::npos, bad.err);                  // the snapshot's file it is
  CHECK_MESSAGE(bad.err.find("local cache may be damaged") == std::string::npos, bad.err);  // the bucket's damage
  CHECK(CachedObjects(cache) == 0);

  // Nothing listens there: a clear I/O error (74), after the retries.
  auto unreachable = env;
  unreachable[0] = "AWS_ENDPOINT_URL=http://127.0.0.1:1";
  const RunResult down = Aether(query, "", unreachable);
  CHECK(down.exit_code == 74);
  CHECK(down.err.find(uri) != std::string::npos);

  // Only search and stats read a bucket; every other command says so (64).
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"get", uri, mems[0].id}, {"ingest", uri}, {"history", uri}, {"verify", uri}}) {
    const RunResult r = Aether(args, "", env);
    CAPTURE(args[0]);
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("pull") != std::string::npos);
  }
  // A bucket where a command writes a local directory: 64, before anything
  // is read or made.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"backup", store, uri + "-copy"},
                                             {"backup", store, dir / "copy", "--incremental", uri},
                                             {"pull", uri, uri + "-replica"}}) {
    const RunResult r = Aether(args, "", env);
    CAPTURE(args[0]);
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("writes a local directory, not a bucket") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir / "copy"));
  // The cache's options on a local store: 64, for search and stats alike.
  for (const std::string cmd : {"search", "stats"})
    for (const std::vector<std::string>& extra :
         std::vector<std::vector<std::string>>{{"--cache-dir", dir / "c-local"}, {"--cache-bytes", "5"}}) {
      std::vector<std::string> args = {cmd, store, "--vector", "[1,2,3,4]"};
      if (cmd == "stats") args.resize(2);
      args.insert(args.end(), extra.begin(), extra.end());
      const RunResult r = Aether(args, "", env);
      CAPTURE(args);
      CHECK(r.exit_code == 64);
      CHECK(r.err.find("are for a store in a bucket") != std::string::npos);
    }
  // A cache directory that is a file, or under one: 73, the file unchanged.
  WriteFile(dir / "a-file", "mine");
  for (const std::string& at : {dir / "a-file", dir / "a-file/sub"}) {
    const RunResult r = Aether({"search", uri, "--vector", "[1,2,3,4]", "--cache-dir", at}, "", env);
    CAPTURE(at);
    CHECK_MESSAGE(r.exit_code == 73, r.err);
    CHECK(r.err.find("not a directory") != std::string::npos);
  }
  CHECK(ReadFile(dir / "a-file") == "mine");
  // A cache the user may not make: 77 (as root, the search runs as nobody).
  {
    const std::string locked = dir / "locked";
    fs::create_directories(locked);
    std::vector<std::string> via;
    std::string why;
    if (geteuid() == 0 && (via = AsNobody(&why)).empty()) {
      MESSAGE(why << ": the part as nobody skipped");
    } else {
      if (!via.empty()) {
        LetOthersReach(locked);
      }
      chmod(locked.c_str(), 0555);
      const std::vector<std::string> args = {"search",          uri,         "--vector", "[1,2,3,4]", "--cache-dir",
                                             locked + "/cache", "--no-touch"};
      const RunResult r = via.empty() ? Aether(args, "", env) : AetherVia(via, args, "", env);
      chmod(locked.c_str(), 0755);
      CHECK_MESSAGE(r.exit_code == 77, r.err);
      CHECK(r.err.find(locked + "/cache") != std::string::npos);
      CHECK_FALSE(fs::exists(locked + "/cache"));
    }
  }
  // No manifest under a prefix: 66, naming it.
  const RunResult none = Aether(
      {"search", std::string("s3://") + kBucket + "/nothing-here", "--vector", "[1,2,3,4]", "--cache-dir", dir / "c2"},
      "", env);
  CHECK(none.exit_code == 66);
  CHECK(none.err.find("no manifest") != std::string::npos);
}

TEST_CASE("search s3:// through faults: each fault once is retried to the right answer; every attempt faulted fails") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b3";
  auto mems = RandomMems(400, 4, 51);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "20", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", S3Env(server->endpoint())).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(10, 4, 52, "q"));
  const std::vector<std::string> args = {"search", uri,  "--queries", "-",          "--nprobe",
                                         "3",      "-k", "5",         "--no-touch", "--cache-dir"};
  const RunResult want = Aether({"search", store, "--queries", "-", "--nprobe", "3", "-k", "5", "--no-touch"}, queries);
  REQUIRE(want.exit_code == 0);
  FaultProxy proxy(server->port(), 300);
  const auto env = S3Env(proxy.endpoint());
  auto search = [&](const std::string& c) {
    std::vector<std::string> a = args;
    a.push_back(c);
    return Aether(a, queries, env);
  };
  // How many requests a search with an empty cache makes: the LIST, the
  // manifest, the replica's files, the shards.
  int n = 0;
  {
    const int before = proxy.requests();
    const RunResult clean = search(dir / "clean");
    REQUIRE_MESSAGE(clean.exit_code == 0, clean.err);
    CHECK(clean.out == want.out);
    n = proxy.requests() - before;
  }
  REQUIRE(n >= 5);
  int retried = 0, failed = 0;
  for (int at = 0; at < n; ++at) {
    if (!InSweep(size_t(at))) continue;  // a short run: every third request
    for (Fault f : {Fault::k500, Fault::kResetBefore, Fault::kResetAfter, Fault::kStall, Fault::kTruncate}) {
      if (f == Fault::kStall && at % 3 != 0) continue;  // 300 ms each: some of them
      CAPTURE(at);
      CAPTURE(FaultName(f));
      fs::remove_all(cache);
      const std::vector<Fault> plan = FaultsAfter(size_t(at), f);
      proxy.Plan(plan);
      const RunResult r = search(cache);
      proxy.Plan({});
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      CHECK(r.out == want.out);
      ++retried;
    }
    // Every attempt of one request refused: a clear error, no answer at
    // all; the next search, unfaulted, answers right from what is cached.
    // Twenty 503s in turn: up to four requests run at once (the replica's
    // files, fetched four at a time; two scan workers' shards), and however
    // their attempts interleave, one of them meets all five of its own.
    CAPTURE(at);
    fs::remove_all(cache);
    const std::vector<Fault> plan = FaultsAfter(size_t(at), Fault::k503, 20);
    proxy.Plan(plan);
    const RunResult r = search(cache);
    proxy.Plan({});
    CHECK(r.exit_code == 74);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("attempts") != std::string::npos, r.err);
    const RunResult after = search(cache);
    CHECK_MESSAGE(after.exit_code == 0, after.err);
    CHECK(after.out == want.out);
    ++failed;
  }
  MESSAGE("bucket search faults: " << retried << " retried to the right answer, " << failed << " failed clearly");
}

TEST_CASE("search s3://: the cache never follows a link or trims what it did not make; a republished prefix is new") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", uri = std::string("s3://") + kBucket + "/b4";
  auto mems = RandomMems(300, 4, 61);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const std::vector<std::string> q = {"--vector", "[1,2,3,4]", "--nprobe", "3"};
  auto search = [&](const std::string& cache, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"search", uri};
    a.insert(a.end(), q.begin(), q.end());
    a.push_back("--cache-dir");
    a.push_back(cache);
    a.insert(a.end(), extra.begin(), extra.end());
    return Aether(a, "", env);
  };
  std::vector<std::string> local = {"search", store};
  local.insert(local.end(), q.begin(), q.end());
  local.push_back("--no-touch");
  const std::string want = Aether(local).out;
  const std::string hex64(64, 'a');

  // objects/ a link to another directory, a cache directory that is a link,
  // a directory that holds other things: refused (73), nothing touched.
  fs::create_directories(dir / "victim");
  WriteFile(dir / ("victim/" + hex64), "not aether's");
  fs::create_directories(dir / "c1");
  WriteFile(dir / "c1/aether-cache", "");
  fs::create_directory_symlink(dir / "victim", dir / "c1/objects");
  const RunResult linked = search(dir / "c1", {"--cache-bytes", "1"});
  CHECK(linked.exit_code == 73);
  fs::create_directory_symlink(dir / "victim", dir / "c2");
  CHECK(search(dir / "c2", {"--cache-bytes", "1"}).exit_code == 73);
  fs::create_directories(dir / "mirror/objects");
  WriteFile(dir / ("mirror/objects/" + hex64), "a mirror's object");
  const RunResult mirror = search(dir / "mirror", {"--cache-bytes", "1"});
  CHECK(mirror.exit_code == 73);
  CHECK(mirror.err.find("not a cache aether made") != std::string::npos);
  CHECK(ReadFile(dir / ("victim/" + hex64)) == "not aether's");
  CHECK(ReadFile(dir / ("mirror/objects/" + hex64)) == "a mirror's object");
  CHECK(std::distance(fs::directory_iterator(dir / "victim"), fs::directory_iterator()) == 1);
  // A cache reached through a link on the way works (~/.cache may be one).
  fs::create_directories(dir / "real");
  fs::create_directory_symlink(dir / "real", dir / "via");
  const RunResult via = search(dir / "via/cache", {"--no-touch"});
  CHECK_MESSAGE(via.exit_code == 0, via.err);
  CHECK(via.out == want);
  // A --cache-dir is made, not its parents (a mistyped path makes nothing).
  const RunResult typo = search(dir / "no/such/cache");
  CHECK(typo.exit_code == 66);
  CHECK_MESSAGE(typo.err.find("no/such: no such directory (--cache-dir is made, not its parents)") != std::string::npos,
                typo.err);
  CHECK_FALSE(fs::exists(dir / "no"));

  // A search that records accesses records none in the cache.
  const std::string cache = dir / "cache";
  REQUIRE(search(cache).exit_code == 0);
  REQUIRE(search(cache).exit_code == 0);
  for (const auto& e : fs::recursive_directory_iterator(cache))
    if (e.path().filename() == "access.log") CHECK_MESSAGE(e.file_size() == FileSize(store + "/access.log"), e.path());

  // The old manifest's replica with links planted in it: when a new
  // manifest comes, it goes, and nothing is removed through the links.
  std::string old_replica;
  for (const auto& e : fs::directory_iterator(cache))
    if (e.path().filename().string().rfind("replica-", 0) == 0) old_replica = e.path().string();
  REQUIRE_FALSE(old_replica.empty());
  fs::create_directories(dir / "victim2/g000001");
  for (const auto& e : fs::recursive_directory_iterator(old_replica + "/index"))
    if (e.is_regular_file()) WriteFile(dir / ("victim2/" + e.path().filename().string()), "keep");
  for (const auto& e : fs::recursive_directory_iterator(old_replica + "/cold"))
    if (e.is_directory()) fs::create_directories(dir / ("victim2/cold/" + e.path().filename().string()));
  fs::remove_all(old_replica + "/index");
  fs::create_directory_symlink(dir / "victim2", old_replica + "/index");
  auto count = [](const std::string& d) {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(d)) n += e.is_regular_file() || e.is_directory();
    return n;
  };
  const int victims = count(dir / "victim2");
  REQUIRE(victims > 1);
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(20, 4, 62, "n"))).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const RunResult after = search(cache, {"--no-touch"});
  CHECK_MESSAGE(after.exit_code == 0, after.err);
  CHECK(after.out == Aether(local).out);
  CHECK(count(dir / "victim2") == victims);

  // The prefix emptied and another store published there: its sequences
  // start again, reach the one the cache has, and the search answers from
  // the new store (a manifest is known by its ETag too).
  auto client = Client(server->endpoint(), "b4");
  auto listed = client->List();
  REQUIRE(listed.ok());
  for (const auto& o : *listed) REQUIRE(client->Delete(o.key).ok());
  const std::string other = dir / "other";
  REQUIRE(
      Aether({"ingest", "--create", other, "--hot-capacity", "10", "-q"}, ToJsonl(RandomMems(300, 4, 63))).exit_code ==
      0);
  const RunResult republish = Aether({"publish", other, uri, "--format", "json"}, "", env);
  REQUIRE_MESSAGE(republish.exit_code == 0, republish.err);
  REQUIRE(nlohmann::json::parse(republish.out)["sequence"] == 1);
  // ... and again, to the sequence the cache's replica has (2).
  REQUIRE(Aether({"ingest", other, "-q"}, ToJsonl(RandomMems(5, 4, 64, "o"))).exit_code == 0);
  const RunResult second = Aether({"publish", other, uri, "--format", "json"}, "", env);
  REQUIRE(nlohmann::json::parse(second.out)["sequence"] == 2);
  std::vector<std::string> other_search = {"search", other};
  other_search.insert(other_search.end(), q.begin(), q.end());
  other_search.push_back("--no-touch");
  const RunResult republished = search(cache, {"--no-touch"});
  CHECK_MESSAGE(republished.exit_code == 0, republished.err);
  CHECK(republished.out == Aether(other_search).out);
  CHECK(republished.out != want);

  // --cache-dir on a local store is a usage error; an s3:// AETHER_STORE
  // does not stand in for --store.
  CHECK(Aether({"search", store, "--vector", "[1,2,3,4]", "--cache-dir", cache}).exit_code == 64);
  // A cache is a local directory: an s3:// one is a usage error, and
  // nothing is made for it (no ./s3:/...).
  for (const char* cmd : {"search", "stats"}) {
    std::vector<std::string> args = {cmd, uri, "--cache-dir", uri + "/cache"};
    if (std::string(cmd) == "search") args.insert(args.end(), {"--vector", "[1,2,3,4]"});
    const RunResult r = Aether(args, "", S3Env(server->endpoint()));
    CHECK_MESSAGE(r.exit_code == 64, r.err);
    CHECK_MESSAGE(r.err.find("not a bucket") != std::string::npos, r.err);
    CHECK_FALSE(fs::exists("s3:"));
  }
  CHECK(Aether({"stats", "--store", store}, "", {"AETHER_STORE=" + uri}).exit_code == 0);
}

// A publish --keep deletes the snapshot a reader is reading, between its
// LIST and a GET (a fault proxy holds that GET, or for a pull's files the
// four it fetches at once, while the writer publishes):
// the reader moves on to the snapshot that replaced it and answers as the
// writer now does. Held at each kind of GET: a search's shard (its replica
// cached), a search's manifest (an empty cache), a pull's manifest and a
// pull's file. An object the newest manifest names but the bucket lost is
// a clear 79 that says so, and a publish mends it.
TEST_CASE("search s3:// and pull: a snapshot --keep deletes under a reader is left for the newest; a lost object 79") {
  S3Server* server = Server();
  if (!server) return;
  const auto direct = S3Env(server->endpoint());
  TempDir dir;
  const std::string base = dir / "base";
  REQUIRE(
      Aether({"ingest", "--create", base, "--hot-capacity", "10", "-q"}, ToJsonl(RandomMems(300, 4, 61))).exit_code ==
      0);
  REQUIRE(Aether({"rebuild-index", base, "--partitions", "3", "-q"}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(5, 4, 62, "q"));
  const std::vector<std::string> query = {"--queries", "-", "--nprobe", "4", "-k", "5", "--no-touch"};
  struct Case {
    const char* what;
    bool pull;
    bool cached_replica;
    size_t held_at;        // the request held: 0 the first
    const char* held_get;  // what it asks for
    int holds;             // that request and the next ones: a pull fetches 4 files at once
  };
  int n = 0;
  for (const Case& c : {Case{"a search's shard", false, true, 1, "/objects/", 1},
                        Case{"a search's manifest", false, false, 2, "/manifests/", 1},
                        Case{"a pull's manifest", true, false, 1, "/manifests/", 1},
                        Case{"a pull's file", true, false, 2, "/objects/", 4}}) {
    const std::string what = c.what;
    CAPTURE(what);
    const std::string name = "keep" + std::to_string(++n);
    const std::string store = dir / ("s-" + name), cache = dir / ("c-" + name), replica = dir / ("r-" + name);
    const std::string uri = std::string("s3://") + kBucket + "/" + name;
    fs::copy(base, store, fs::copy_options::recursive);
    REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);
    std::vector<std::string> reader = {"search", uri, "--cache-dir", cache};
    if (c.pull) reader = {"pull", uri, replica, "-q"};
    if (!c.pull) reader.insert(reader.end(), query.begin(), query.end());
    if (c.cached_replica) {  // the replica cached, its shards evicted at the end
      std::vector<std::string> warm = reader;
      warm.insert(warm.end(), {"--cache-bytes", "1"});
      REQUIRE(Aether(warm, queries, direct).exit_code == 0);
      REQUIRE(CachedObjects(cache) == 0);
    }
    // The writer's next snapshot: new shards throughout.
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(50, 4, 63, "n"))).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
    const RunResult want =
        Aether({"search", store, "--queries", "-", "--nprobe", "4", "-k", "5", "--no-touch"}, queries);
    REQUIRE(want.exit_code == 0);

    FaultProxy proxy(server->port());
    const std::vector<Fault> plan = FaultsAfter(c.held_at, Fault::kHold, size_t(c.holds));
    proxy.Plan(plan);
    RunResult got;
    std::thread t([&] { got = Aether(reader, queries, S3Env(proxy.endpoint())); });
    for (int i = 0; i < 3000 && proxy.held() < c.holds; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const bool held = proxy.held() == c.holds;
    const RunResult published = Aether({"publish", store, uri, "--keep", "1", "--format", "json"}, "", direct);
    proxy.Release();
    t.join();
    REQUIRE(held);
    const auto recorded = proxy.Recorded();
    REQUIRE(recorded.size() > c.held_at);
    CHECK(recorded[c.held_at].first.rfind("GET ", 0) == 0);
    CHECK(recorded[c.held_at].first.find(c.held_get) != std::string::npos);
    REQUIRE_MESSAGE(published.exit_code == 0, published.err);
    CHECK(nlohmann::json::parse(published.out)["manifests_removed"] == 1);
    CHECK_MESSAGE(got.exit_code == 0, got.err);
    if (c.pull) {
      CHECK(nlohmann::json::parse(ReadFile(replica + "/replica.json"))["sequence"] == 2);
      const RunResult r =
          Aether({"search", replica, "--queries", "-", "--nprobe", "4", "-k", "5", "--no-touch"}, queries);
      CHECK(r.out == want.out);
    } else {
      CHECK(got.out == want.out);
      if (c.cached_replica)
        CHECK_MESSAGE(got.err.find("manifest 1 was deleted while this search read it") != std::string::npos, got.err);
    }
  }

  // An object the newest manifest names, deleted from the bucket by
  // something else: 79, saying so (not the cache's advice); a publish of
  // the unchanged store uploads it again, and the search answers.
  const std::string store = dir / "s-lost", cache = dir / "c-lost", uri = std::string("s3://") + kBucket + "/lost";
  fs::copy(base, store, fs::copy_options::recursive);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);
  const RunResult want = Aether({"search", store, "--queries", "-", "--nprobe", "4", "-k", "5", "--no-touch"}, queries);
  std::vector<std::string> search = {"search", uri, "--cache-dir", cache, "-v"};
  search.insert(search.end(), query.begin(), query.end());
  auto client = Client(server->endpoint(), "lost");
  std::string manifest;
  REQUIRE(client->Get("manifests/00000000000000000001.json", &manifest).ok());
  int deleted = 0;
  const auto files = nlohmann::json::parse(manifest)["files"];
  for (const auto& f : files)
    if (f["path"].get<std::string>().rfind("cold/", 0) == 0 && f["bytes"].get<uint64_t>() > 0) {
      const std::string key = "objects/" + f["sha256"].get<std::string>();
      REQUIRE(client->Delete(key).ok());
      std::string data;
      CHECK(client->Get(key, &data).code() == Code::kNotFound);
      ++deleted;
    }
  REQUIRE(deleted > 0);
  const RunResult lost = Aether(search, queries, direct);
  CHECK_MESSAGE(lost.exit_code == 79, lost.err);
  CHECK(lost.out.empty());
  CHECK_MESSAGE(lost.err.find("the newest manifest (1) names an object the bucket no longer has (GET " + uri +
                              "/objects/") != std::string::npos,
                lost.err);
  // A pull of the newest says the same.
  const RunResult pulled = Aether({"pull", uri, dir / "r-lost"}, "", direct);
  CHECK(pulled.exit_code == 79);
  CHECK_MESSAGE(pulled.err.find("the newest manifest (1) names an object the bucket no longer has (GET " + uri +
                                "/objects/") != std::string::npos,
                pulled.err);
  CHECK(lost.err.find("publish again") != std::string::npos);
  CHECK(lost.err.find("local cache") == std::string::npos);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);
  const RunResult mended = Aether(search, queries, direct);
  CHECK_MESSAGE(mended.exit_code == 0, mended.err);
  CHECK(mended.out == want.out);
}

// A writer that publishes with --keep faster than a reader reads: each
// snapshot is deleted while the reader is held at its manifest's GET and
// replaced by a newer one, six times over. The reader gives up with 75
// (Busy), saying so, rather than chase the writer for ever (a search and
// a pull alike: kReplacedRetries); read once the writer pauses, it answers
// as the writer does.
TEST_CASE("search s3:// and pull: six snapshots deleted under a reader in a row: 75, then a read answers") {
  S3Server* server = Server();
  if (!server) return;
  const auto direct = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(RandomMems(200, 4, 64))).exit_code ==
      0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(3, 4, 65, "q"));
  for (bool pull : {false, true}) {
    CAPTURE(pull);
    const std::string uri = std::string("s3://") + kBucket + (pull ? "/busy-pull" : "/busy-search");
    const std::string replica = dir / (pull ? "r" : "unused"), cache = dir / (pull ? "unused" : "c");
    REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);
    std::vector<std::string> reader = {"pull", uri, replica, "-q"};
    if (!pull) reader = {"search", uri, "--cache-dir", cache, "--queries", "-", "--nprobe", "3", "-k", "5"};
    FaultProxy proxy(server->port());
    // The first round: a pull LISTs then GETs the manifest; a search LISTs
    // twice (the cache's, the pull's) first. Each round after: the LIST
    // that finds the newer manifest, the pull's LIST, the GET.
    const std::vector<Fault> plan = FaultsAfter(pull ? 1 : 2, Fault::kHold);
    proxy.Plan(plan);
    RunResult got;
    std::thread t([&] { got = Aether(reader, queries, S3Env(proxy.endpoint())); });
    int rounds = 0;
    for (; rounds < aether::kReplacedRetries + 1; ++rounds) {
      for (int i = 0; i < 3000 && proxy.held() <= rounds; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (proxy.held() != rounds + 1) break;
      // A new snapshot needs a change (an unchanged store publishes none).
      const std::string id = "r" + std::to_string(pull) + "-" + std::to_string(rounds);
      if (Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(1, 4, 66 + uint64_t(rounds), id))).exit_code != 0) break;
      const RunResult published = Aether({"publish", store, uri, "--keep", "1", "-q"}, "", direct);
      if (published.exit_code != 0) break;
      proxy.Plan({Fault::kNone, Fault::kNone, Fault::kHold});
      proxy.ReleaseHeld();
    }
    // Past the last round nothing is held: the reader must have given up.
    proxy.Plan({});
    proxy.Release();
    t.join();
    CHECK(rounds == aether::kReplacedRetries + 1);
    for (const auto& recorded : proxy.Recorded()) {
      const std::string& request = recorded.first;  // not a structured binding: CHECK_MESSAGE's lambda takes it
      if (request.find("/manifests/") != std::string::npos) CHECK_MESSAGE(request.rfind("GET ", 0) == 0, request);
    }
    CHECK(got.exit_code == 75);
    CHECK(got.out.empty());
    CHECK_MESSAGE(got.err.find(std::to_string(aether::kReplacedRetries + 1) +
                               " newer snapshots were published while this reader read each one") != std::string::npos,
                  got.err);
    // The writer pauses: the reader answers as it does.
    const RunResult want =
        Aether({"search", store, "--queries", "-", "--nprobe", "3", "-k", "5", "--no-touch"}, queries);
    REQUIRE(want.exit_code == 0);
    const RunResult again = Aether(reader, queries, direct);
    CHECK_MESSAGE(again.exit_code == 0, again.err);
    if (pull)
      CHECK(Aether({"search", replica, "--queries", "-", "--nprobe", "3", "-k", "5", "--no-touch"}, queries).out ==
            want.out);
    else
      CHECK(again.out == want.out);
  }
}

// stats s3://BUCKET/PREFIX shows the cache's running totals: every search
// through the cache adds its figures (the --verbose line's) when it closes
// the store, so the totals are their sums, also for searches running at
// once (no add lost); what was fetched and not evicted is what the cache
// holds. A damaged totals file is reported and started again; a link there
// is never written through.
TEST_CASE("stats s3://: the cache's totals are the sums of every search's, also at once; a damaged or linked file") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b6";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "50", "-q"}, ToJsonl(RandomMems(700, 8, 61))).exit_code ==
      0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  auto stats = [&](const std::string& c, const std::vector<std::string>& extra_env = {}) {
    auto e = env;
    e.insert(e.end(), extra_env.begin(), extra_env.end());
    const RunResult r = Aether({"stats", uri, "--cache-dir", c, "--format", "json"}, "", e);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return std::make_pair(nlohmann::json::parse(r.out), r.err);
  };
  struct Sum {
    uint64_t opens = 0, cached = 0, fetched = 0, bytes = 0, requests = 0, evicted = 0;
  };
  auto search = [&](const std::string& c, int query, const std::string& nprobe, const std::string& cache_bytes,
                    Sum* sum) {
    const RunResult r = Aether({"search", uri, "--vector", VectorJson(RandomMems(1, 8, 700 + query)[0].vec), "--nprobe",
                                nprobe, "--no-touch", "--cache-dir", c, "--cache-bytes", cache_bytes, "--verbose"},
                               "", env);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    const CacheLine line = Parse(r.err);
    CHECK(line.cached >= 0);
    sum->opens += 1;
    sum->cached += uint64_t(line.cached);
    sum->fetched += uint64_t(line.fetched);
    sum->bytes += line.bytes;
    sum->requests += line.requests;
    sum->evicted += uint64_t(line.evicted);
  };
  auto check = [&](const nlohmann::json& j, const Sum& want) {
    CHECK(j["cache_opens"] == want.opens);
    CHECK(j["cache_shards_cached"] == want.cached);
    CHECK(j["cache_shards_fetched"] == want.fetched);
    CHECK(j["cache_bytes_fetched"] == want.bytes);
    CHECK(j["cache_requests"] == want.requests);
    CHECK(j["cache_evicted"] == want.evicted);
    const double shards = double(want.cached + want.fetched);
    CHECK(j["cache_hit_rate"].get<double>() == doctest::Approx(shards > 0 ? double(want.cached) / shards : 0));
  };

  // None yet: all zero (stats itself opens the bucket; it counts from then).
  const auto none_run = stats(cache);
  const nlohmann::json& none = none_run.first;
  check(none, Sum{});
  CHECK(none["cache_since_seconds"] == 0);
  // Searches one after another, some with a cache too small to keep what
  // they fetched: the totals are the sums of what each reported.
  Sum sum{1};  // the stats above
  for (int i = 0; i < 12; ++i) search(cache, i, i % 3 == 0 ? "8" : "2", i % 4 == 3 ? "3000" : "1073741824", &sum);
  const auto seq_run = stats(cache);
  const nlohmann::json& seq = seq_run.first;
  check(seq, sum);
  CHECK(seq["cache_since_seconds"].get<int64_t>() > 0);
  CHECK(sum.cached > 0);
  CHECK(sum.evicted > 0);
  // Every object came in by a fetch and leaves only by an eviction.
  CHECK(seq["cache_shards_fetched"].get<uint64_t>() - seq["cache_evicted"].get<uint64_t>() ==
        uint64_t(CachedObjects(cache)));
  // Cached copies damaged on local disk are fetched again (the search
  // heals them): counted as fetched, not as found in the cache.
  int damaged_objects = 0;
  for (const auto& e : fs::directory_iterator(cache + "/objects"))
    if (e.is_regular_file() && e.path().filename().string().size() == 64 && e.file_size() > 0) {
      std::string bytes = ReadFile(e.path());
      bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x40);
      WriteFile(e.path(), bytes);
      ++damaged_objects;
    }
  REQUIRE(damaged_objects > 0);
  Sum healed;
  search(cache, 50, "8", "1073741824", &healed);
  CHECK(healed.cached == 0);
  CHECK(healed.fetched >= uint64_t(damaged_objects));
  // At once: no process's figures lost.
  const std::string cache2 = dir / "cache2";
  std::vector<Sum> sums(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) search(cache2, t * 3 + i, "8", "1073741824", &sums[size_t(t)]);
    });
  for (auto& t : threads) t.join();
  Sum all;
  for (const Sum& s2 : sums) {
    all.opens += s2.opens;
    all.cached += s2.cached;
    all.fetched += s2.fetched;
    all.bytes += s2.bytes;
    all.requests += s2.requests;
    all.evicted += s2.evicted;
  }
  CHECK(all.evicted == 0);
  check(stats(cache2).first, all);
  // The Prometheus form: the running totals as counters, and promtool
  // (when installed, as scripts/setup does) accepts the whole output.
  const RunResult prom = Aether({"stats", uri, "--cache-dir", cache2, "--format", "prometheus"}, "", env);
  REQUIRE(prom.exit_code == 0);
  CHECK(prom.out.find("# TYPE aether_bucket_cache_opens_total counter\naether_bucket_cache_opens_total " +
                      std::to_string(all.opens + 1) + "\n") != std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    WriteFile(dir / "m.prom", prom.out);
    CHECK(std::system(("promtool check metrics < '" + dir / "m.prom" + "' > '" + dir / "p.out" + "' 2>&1").c_str()) ==
          0);
    CHECK_MESSAGE(ReadFile(dir / "p.out").empty(), ReadFile(dir / "p.out"));
  }

  // A damaged file: stats says so and shows zeros; the next search starts
  // the totals again, from its own figures, at its clock.
  const std::string counters = cache + "/counters";
  const std::string good = ReadFile(counters);
  REQUIRE(good.size() == 80);
  for (const std::string& bad : {good.substr(0, 40), std::string(good).replace(30, 1, "\x7f"), good + "x"}) {
    WriteFile(counters, bad);
    const auto damaged_run = stats(cache);
    const nlohmann::json& damaged = damaged_run.first;
    const std::string& damaged_err = damaged_run.second;
    CHECK_MESSAGE(damaged_err.find(counters + ": not a counters record") != std::string::npos, damaged_err);
    CHECK_FALSE(damaged.contains("cache_opens"));  // left out, not zeros
  }
  WriteFile(counters, "garbage");
  Sum fresh;
  search(cache, 99, "8", "1073741824", &fresh);
  // (the stats of the loop above each started the totals again too)
  const auto restarted_run = stats(cache, {"AETHER_NOW_MS=1800000000000"});
  const nlohmann::json& restarted = restarted_run.first;
  const std::string& restarted_err = restarted_run.second;
  check(restarted, fresh);
  CHECK(restarted_err.empty());
  WriteFile(counters, "garbage");
  stats(cache, {"AETHER_NOW_MS=1800000000000"});
  CHECK(stats(cache).first["cache_since_seconds"] == 1800000000);
  // A link there (to a file of the user's): never written through, left.
  fs::remove(counters);
  WriteFile(dir / "mine", "mine");
  fs::create_symlink(dir / "mine", counters);
  Sum ignored;
  search(cache, 100, "8", "1073741824", &ignored);
  const auto linked_run = stats(cache);
  const nlohmann::json& linked = linked_run.first;
  const std::string& linked_err = linked_run.second;
  CHECK(linked_err.find(counters) != std::string::npos);
  CHECK(ReadFile(dir / "mine") == "mine");
  CHECK(fs::is_symlink(counters));
  CHECK_FALSE(linked.contains("cache_opens"));
  // A hard link (the user's file under the name too): left as it is.
  fs::remove(counters);
  const std::string theirs = std::string(80, 'u');  // a counters record's size
  WriteFile(dir / "theirs", theirs);
  fs::create_hard_link(dir / "theirs", counters);
  search(cache, 101, "8", "1073741824", &ignored);
  const std::string hard_err = stats(cache).second;
  CHECK_MESSAGE(hard_err.find(counters + ": has other names") != std::string::npos, hard_err);
  CHECK(ReadFile(dir / "theirs") == theirs);
}

TEST_CASE("search s3:// and pull: a shard larger than one range comes in ranged GETs at once, through faults, exact") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b8";
  // 30,000 random 128-d vectors, all but 100 in the staging shard: about
  // 12 MB, past the 8 MiB range (format-spec/s3_snapshots.md).
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(RandomMems(30000, 128, 71)))
              .exit_code == 0);
  fs::path big;
  for (const auto& e : fs::recursive_directory_iterator(store + "/cold"))
    if (e.path().extension() == ".shard" && (big.empty() || e.file_size() > fs::file_size(big))) big = e.path();
  const uint64_t big_bytes = fs::file_size(big), range = 8ull << 20;
  REQUIRE(big_bytes > range);
  const std::string big_sha = ToHex(Sha256(ReadFile(big.string())));
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", S3Env(server->endpoint())).exit_code == 0);
  // The shard's GETs the proxy saw, by their Range header.
  auto big_gets = [&](FaultProxy& proxy) {
    std::multiset<std::string> out;
    for (const auto& [head, body] : proxy.Recorded())
      if (head.rfind("GET ", 0) == 0 && head.find(big_sha) != std::string::npos) {
        const size_t at = head.find("Range: bytes=");
        out.insert(at == std::string::npos ? "whole" : head.substr(at + 13, head.find('\r', at) - at - 13));
      }
    return out;
  };
  std::multiset<std::string> ranges;
  for (uint64_t at = 0; at < big_bytes; at += range)
    ranges.insert(std::to_string(at) + "-" + std::to_string(std::min(big_bytes, at + range) - 1));
  const std::string queries = QueriesJsonl(RandomMems(20, 128, 72, "q"));
  const std::vector<std::string> search = {"search", "--queries", "-", "-k", "5", "--no-touch"};
  auto args = [&](const std::string& where, std::vector<std::string> extra) {
    std::vector<std::string> a = search;
    a.insert(a.begin() + 1, where);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const RunResult want = Aether(args(store, {}), queries);
  REQUIRE(want.exit_code == 0);
  // Without faults, then with a fault on some of the first GETs (each
  // retried): the same answer, the shard asked for in its ranges.
  for (const std::vector<Fault>& plan :
       {std::vector<Fault>{}, std::vector<Fault>{Fault::kNone, Fault::kNone, Fault::kNone, Fault::k500,
                                                 Fault::kTruncate, Fault::kResetBefore, Fault::kTruncate}}) {
    CAPTURE(plan.size());
    FaultProxy proxy(server->port());
    proxy.Plan(plan);
    fs::remove_all(cache);
    const RunResult got = Aether(args(uri, {"--cache-dir", cache, "--verbose"}), queries, S3Env(proxy.endpoint()));
    REQUIRE_MESSAGE(got.exit_code == 0, got.err);
    CHECK(got.out == want.out);
    CHECK(ReadFile(cache + "/objects/" + big_sha) == ReadFile(big.string()));
    const std::multiset<std::string> asked = big_gets(proxy);
    std::set<std::string> distinct(asked.begin(), asked.end());
    CHECK(distinct == std::set<std::string>(ranges.begin(), ranges.end()));  // retried ones asked again
    CHECK(Parse(got.err).bytes >= big_bytes);
  }
  // pull: the replica's copy of the shard is the writer's, fetched the same way.
  FaultProxy proxy(server->port());
  const RunResult pulled = Aether({"pull", uri, dir / "replica", "-q"}, "", S3Env(proxy.endpoint()));
  REQUIRE_MESSAGE(pulled.exit_code == 0, pulled.err);
  CHECK(ReadFile(dir / ("replica/" + fs::relative(big, store).string())) == ReadFile(big.string()));
  CHECK(big_gets(proxy) == ranges);
  CHECK(Aether(args(dir / "replica", {}), queries).out == want.out);
}

TEST_CASE("search s3://: a killed fetch's temporary goes once nobody writes it; a live, a young one and a link stay") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b9";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(RandomMems(200, 4, 81))).exit_code ==
      0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const std::vector<std::string> search = {"search",    uri,        "--cache-dir", cache,       "--vector",
                                           "[1,2,3,4]", "--nprobe", "4",           "--no-touch"};
  const RunResult want = Aether(search, "", env);
  REQUIRE_MESSAGE(want.exit_code == 0, want.err);
  // What killed fetches leave in objects/, and what looks like it.
  const std::string objects = cache + "/objects/", sha = std::string(64, 'a');
  const std::string killed = objects + sha + ".0123456789abcdef.tmp";  // old, nobody holds it: goes
  const std::string live = objects + sha + ".1123456789abcdef.tmp";    // old, but its writer holds its flock
  const std::string young = objects + sha + ".2123456789abcdef.tmp";   // nobody holds it, written just now
  const std::string link = objects + sha + ".3123456789abcdef.tmp";    // a link to a file elsewhere
  const std::string other = objects + sha + ".tmp";                    // not a fetch's name
  const std::string outside = dir / "outside";
  for (const std::string& p : {killed, live, young, other, outside}) WriteFile(p, "partial bytes");
  fs::create_symlink(outside, link);
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(2);
  for (const std::string& p : {killed, live, other, outside}) fs::last_write_time(p, old);
  const int held = open(live.c_str(), O_RDONLY);
  REQUIRE(held >= 0);
  REQUIRE(flock(held, LOCK_EX) == 0);
  const RunResult r = Aether(search, "", env);
  close(held);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == want.out);
  CHECK_FALSE(fs::exists(killed));
  CHECK(fs::exists(live));
  CHECK(fs::exists(young));
  CHECK(fs::is_symlink(link));
  CHECK(ReadFile(outside) == "partial bytes");
  CHECK(fs::exists(other));
  // Its writer gone (the flock released), the old one goes at the next search.
  REQUIRE(Aether(search, "", env).exit_code == 0);
  CHECK_FALSE(fs::exists(live));
  CHECK(fs::exists(young));
}

// A bucket search fetches the shards it will scan before the scan, 4 at
// once, whatever its scan threads: with one scan thread, 4 GETs of shards
// are held by the proxy together (a liveness wait, not a timing); the
// answer is the writer's, and each shard was fetched once.
TEST_CASE("search s3://: the probed shards are fetched before the scan, 4 at once with one scan thread; exact") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", cache = dir / "cache", uri = std::string("s3://") + kBucket + "/b12";
  auto mems = RandomMems(900, 8, 121);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(30, 8, 122, "q"));
  auto args = [&](const std::string& where, const std::string& nprobe) {
    std::vector<std::string> a = {"search", where, "--queries", "-", "-k", "7", "--no-touch", "--nprobe", nprobe};
    if (where != store) a.insert(a.end(), {"--cache-dir", cache, "--threads", "1", "--verbose"});
    return a;
  };
  // An unfiltered search, and one with a filter that scans (its plan, the
  // probed partitions, as the unfiltered one's).
  for (const std::vector<std::string>& filter :
       {std::vector<std::string>{}, std::vector<std::string>{"--where", "id != \"m5\"", "--where-plan", "scan"}}) {
    CAPTURE(filter.size());
    // The replica made and one partition's shard (and the staging shard's)
    // fetched, without the proxy.
    fs::remove_all(cache);
    REQUIRE(
        Aether({"search", uri, "--vector", "[0,0,0,0,0,0,0,0]", "--nprobe", "1", "--no-touch", "--cache-dir", cache},
               "", env)
            .exit_code == 0);
    const int before = CachedObjects(cache);
    REQUIRE(before <= 2);
    FaultProxy proxy(server->port());
    proxy.Plan({Fault::kNone, Fault::kHold, Fault::kHold, Fault::kHold, Fault::kHold});  // the LIST, then 4 GETs
    RunResult r;
    auto bucket_args = args(uri, "8"), store_args = args(store, "8");
    bucket_args.insert(bucket_args.end(), filter.begin(), filter.end());
    store_args.insert(store_args.end(), filter.begin(), filter.end());
    std::thread t([&] { r = Aether(bucket_args, queries, S3Env(proxy.endpoint())); });
    for (int i = 0; i < 3000 && proxy.held() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int held = proxy.held();
    // Not more than 4 either: no fifth request while those are held (it
    // would pass the proxy unheld).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const int requests = proxy.requests();
    proxy.Release();
    t.join();
    CHECK(held == 4);
    CHECK(requests == 5);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out == Aether(store_args, queries).out);
    const CacheLine c = Parse(r.err);
    CHECK(c.cached == before);
    CHECK(c.fetched == CachedObjects(cache) - before);
    CHECK(c.fetched >= 4);
    int gets = 0;
    for (const auto& [head, body] : proxy.Recorded())
      gets += head.rfind("GET ", 0) == 0 && head.find("/objects/") != std::string::npos;
    CHECK(gets == c.fetched);  // each once
  }
}
