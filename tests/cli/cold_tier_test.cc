// A store whose cold tier is in a bucket (init --cold-uri, upgrade
// --cold-uri) against s3rver on loopback, with cold_local_bytes 0 so that
// every shard leaves the local disk after each writing command: it answers
// exactly as a twin store on the local disk through every kind of writer
// (ingest, descend, rebuild-index, ascend, delete --purge, maintain's
// compaction); the bucket holds exactly the objects its rows name; killed
// at every step of an eviction or a collection, the next writer finishes
// the job with nothing lost; an unreachable bucket, or a fault proxy's
// 500s, resets, stalls and cut bodies at each request of a search or an
// eviction, is retried to the right answer or a clear error, never a wrong
// answer or a lost memory; a prefix serves one store; a backup is a local
// store.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "bucket/manifest.h"
#include "objstore/s3_client.h"
#include "support/s3_server.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* kBucket = "coldtier";

std::string Uri(const std::string& prefix) { return std::string("s3://") + kBucket + "/" + prefix; }

// The objects/SHA256 names under the prefix.
std::set<std::string> BucketObjects(S3Server* server, const std::string& prefix) {
  auto client = S3rverClient(server->endpoint(), kBucket, prefix);
  auto listed = client->List("objects/");
  REQUIRE_MESSAGE(listed.ok(), listed.status().ToString());
  std::set<std::string> out;
  for (const auto& o : *listed) out.insert(o.key.substr(8));
  return out;
}

std::set<std::string> NamedObjects(const std::string& store) {
  std::set<std::string> out;
  for (const auto& row : SqlRows(store, "SELECT sha256 FROM cold_objects")) out.insert(row);
  return out;
}

// Shard files on the local disk under cold/.
int LocalShards(const std::string& store) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(store + "/cold"))
    if (e.is_regular_file() && e.path().extension() == ".shard") ++n;
  return n;
}

json Stats(const std::string& store, const std::vector<std::string>& env) {
  auto r = Aether({"stats", store, "--format", "json"}, "", env);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

// Every memory's (id, distance) for each query: an exact ranking (every
// partition probed, k past the store's size), so the tiers the memories
// are in make no difference.
std::vector<std::string> Ranking(const std::string& store, const std::string& queries,
                                 const std::vector<std::string>& env) {
  auto r = Aether({"search", store, "--queries", "-", "-k", "2000", "--nprobe", "1000", "--no-touch"}, queries, env);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> out;
  for (const auto& line : Lines(r.out)) {
    std::string q;
    for (const auto& hit : json::parse(line)["results"])
      q += hit["id"].get<std::string>() + ":" + std::to_string(hit["distance"].get<double>()) + " ";
    out.push_back(q);
  }
  return out;
}

// Manifest `sequence` under the prefix, parsed.
json Manifest(S3Server* server, const std::string& prefix, uint64_t sequence) {
  std::string text;
  auto got = S3rverClient(server->endpoint(), kBucket, prefix)->Get(ManifestKey(sequence), &text);
  REQUIRE_MESSAGE(got.ok(), got.ToString());
  return json::parse(text);
}

// The objects of a cold tier a manifest names.
std::set<std::string> InTier(const json& manifest) {
  std::set<std::string> out;
  for (const auto& f : manifest["files"])
    if (f.value("cold_tier", false)) out.insert(f["sha256"].get<std::string>());
  return out;
}

// What every check after a command asks of a store whose shards all left.
void AllInBucket(S3Server* server, const std::string& store, const std::string& prefix,
                 const std::vector<std::string>& env) {
  CHECK(LocalShards(store) == 0);
  CHECK(Stats(store, env)["cold_remote_shards"].get<int>() ==
        std::stoi(SqlRows(store, "SELECT COUNT(*) FROM shards")[0]));
  const std::set<std::string> named = NamedObjects(store);
  const std::set<std::string> there = BucketObjects(server, prefix);
  for (const auto& sha : named) CHECK_MESSAGE(there.count(sha) == 1, sha);
  auto v = Aether({"verify", store}, "", env);
  CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
}

}  // namespace

TEST_CASE("cold tier in a bucket: every shard sent out, the store answers as a local twin through every writer") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const std::string local = dir / "local", remote = dir / "remote";
  REQUIRE(Aether({"init", local, "--dim", "8", "--hot-capacity", "60"}).exit_code == 0);
  auto made = Aether({"init", remote, "--dim", "8", "--hot-capacity", "60", "--cold-uri", Uri("twin")}, "", env);
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  CHECK(made.err.find("cold tier in " + Uri("twin")) != std::string::npos);
  REQUIRE(Aether({"config", remote, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(12, 8, 77, "q"));
  const auto first = RandomMems(500, 8, 71), second = RandomMems(300, 8, 72, "n");
  const std::vector<std::vector<std::string>> steps = {
      {"ingest", "STORE", "-q"},                                     // first: 60 hot, the rest staged cold
      {"rebuild-index", "STORE", "--partitions", "6", "-q"},         // partitions, the staging shard emptied
      {"ingest", "STORE", "-q"},                                     // second: evictions into partitions
      {"descend", "STORE", "--all", "-q"},                           // every hot memory into the partitions
      {"ascend", "STORE", "m1", "m2", "n3", "-q"},                   // cold records become garbage
      {"delete", "STORE", "m4", "m5", "n6", "n7", "--purge", "-q"},  // shards rewritten
      {"maintain", "STORE", "--seed", "1", "-q"},                    // its compaction and collection
      {"rebuild-index", "STORE", "--partitions", "4", "-q"},         // a new generation: the old one's objects go
  };
  int ingests = 0;
  for (const auto& step : steps) {
    CAPTURE(step[0]);
    for (const std::string& store : {local, remote}) {
      std::vector<std::string> args = step;
      std::replace(args.begin(), args.end(), std::string("STORE"), store);
      args.erase(std::remove(args.begin(), args.end(), std::string("-q")), args.end());  // warnings shown
      const std::string input = step[0] != "ingest" ? "" : ToJsonl(ingests == 0 ? first : second);
      auto r = Aether(args, input, env);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      CHECK_MESSAGE(r.err.find("cold tier") == std::string::npos, r.err);  // no notice: every eviction went well
    }
    ingests += step[0] == "ingest";
    CHECK(Ranking(remote, queries, env) == Ranking(local, queries, {}));
    AllInBucket(server, remote, "twin", env);
  }
  // Deleted for good: the objects (and cached copies) that held a purged
  // memory's record are gone once the delete's settle collected them.
  // With room for every shard on the disk: the rewritten partitions stay,
  // and the objects of the shards they replace still go.
  REQUIRE(Aether({"config", remote, "set", "cold_local_bytes", "1e12"}, "", env).exit_code == 0);
  const std::set<std::string> before_purge = NamedObjects(remote);
  REQUIRE(Aether({"delete", remote, "n10", "n11", "--purge", "-q"}, "", env).exit_code == 0);
  REQUIRE(Aether({"delete", local, "n10", "n11", "--purge", "-q"}).exit_code == 0);
  int dropped = 0;
  const std::set<std::string> after_purge = NamedObjects(remote), in_bucket = BucketObjects(server, "twin");
  for (const auto& sha : before_purge)
    if (!after_purge.count(sha)) {
      ++dropped;
      CHECK(!in_bucket.count(sha));
      CHECK(!fs::exists(remote + "/cold-cache/objects/" + sha));
    }
  CHECK(dropped >= 1);
  CHECK(Ranking(remote, queries, env) == Ranking(local, queries, {}));
  for (const auto& sha : after_purge) CHECK(in_bucket.count(sha) == 1);
  auto checked = Aether({"verify", remote}, "", env);
  CHECK_MESSAGE(checked.exit_code == 0, std::string(checked.out + checked.err));
  REQUIRE(Aether({"config", remote, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  REQUIRE(Aether({"maintain", remote, "--seed", "1", "-q"}, "", env).exit_code == 0);
  AllInBucket(server, remote, "twin", env);
  // maintain and the last rebuild collected: the bucket holds what the rows
  // name and nothing else.
  CHECK(BucketObjects(server, "twin") == NamedObjects(remote));
  // Searches fetch into the cache and read from it after.
  CHECK(fs::is_directory(remote + "/cold-cache/objects"));
  CHECK(Ranking(remote, queries, env) == Ranking(local, queries, {}));
}

TEST_CASE("cold tier in a bucket: killed at every step of an eviction or a collection, nothing is lost" *
          doctest::test_suite("sweep")) {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  const auto base = RandomMems(300, 8, 81), extra = RandomMems(200, 8, 82, "x");
  const std::string queries = QueriesJsonl(RandomMems(8, 8, 83, "q"));
  TempDir dir;
  // The twin: what the store holds once the killed command's work is in.
  const std::string twin = dir / "twin";
  REQUIRE(Aether({"ingest", "--create", twin, "--dim", "8", "--hot-capacity", "40", "-q"}, ToJsonl(base)).exit_code ==
          0);
  REQUIRE(Aether({"rebuild-index", twin, "--partitions", "5", "-q"}).exit_code == 0);
  REQUIRE(Aether({"ingest", twin, "-q"}, ToJsonl(extra)).exit_code == 0);
  const auto want = Ranking(twin, queries, {});
  int n = 0, killed = 0;
  for (const std::string point : {"cold.after_upload", "cold.after_commit", "cold.mid_remove", "cold.mid_collect"}) {
    for (int hit = 1; hit <= 2; ++hit) {
      if (!InSweep(size_t(n++))) continue;
      CAPTURE(point);
      CAPTURE(hit);
      const std::string prefix = "kill" + std::to_string(n), store = dir / prefix;
      REQUIRE(
          Aether({"init", store, "--dim", "8", "--hot-capacity", "40", "--cold-uri", Uri(prefix)}, "", env).exit_code ==
          0);
      REQUIRE(Aether({"config", store, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
      REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(base), env).exit_code == 0);
      const bool collecting = point == std::string("cold.mid_collect");
      auto faulty = env;
      faulty.push_back("AETHER_FAULT=" + std::string(point) + ":" + std::to_string(hit));
      REQUIRE(Aether({"rebuild-index", store, "--partitions", "5", "-q"}, "", env).exit_code == 0);
      // The killed command: an ingest in two batches (an eviction after
      // each), or a second rebuild (its collection deletes the first
      // generation's objects).
      auto r = Aether({"ingest", store, "-q", "--batch", "100"}, ToJsonl(extra), collecting ? env : faulty);
      if (collecting) {
        REQUIRE(r.exit_code == 0);
        r = Aether({"rebuild-index", store, "--partitions", "5", "-q"}, "", faulty);
      }
      CHECK((r.exit_code == 0 || r.exit_code == 137));
      killed += r.exit_code == 137;
      // As the kill left it, the store reads whole (a reader replays what
      // the journal holds).
      auto v = Aether({"verify", store}, "", env);
      CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
      // What the kill cut short is made again, as a user would (the batches
      // committed stay, once).
      REQUIRE(Aether({"ingest", store, "-q", "--on-duplicate", "skip"}, ToJsonl(extra), env).exit_code == 0);
      v = Aether({"verify", store}, "", env);
      CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
      CHECK(Ranking(store, queries, env) == want);
      // The next writer finishes the eviction; maintain collects what the
      // killed one left unnamed.
      REQUIRE(Aether({"maintain", store, "--seed", "2", "-q"}, "", env).exit_code == 0);
      CHECK(LocalShards(store) == 0);
      CHECK(BucketObjects(server, prefix) == NamedObjects(store));
      CHECK(Ranking(store, queries, env) == want);
      v = Aether({"verify", store}, "", env);
      CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
    }
  }
  MESSAGE("cold tier kills: " << killed << " commands killed");
  CHECK(killed >= (ShortRun() ? 2 : 7));
}

TEST_CASE("cold tier in a bucket: an unreachable bucket is an error naming it, a damaged object is refused") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem";
  REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "20", "--cold-uri", Uri("down")}, "", env).exit_code ==
          0);
  REQUIRE(Aether({"config", store, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(200, 8, 91)), env).exit_code == 0);
  REQUIRE(LocalShards(store) == 0);
  const std::string queries = QueriesJsonl(RandomMems(5, 8, 92, "q"));
  // stats shows the tier and its cache's running totals: a search with an
  // empty cache fetches every shard it opens (every one: an exact ranking)
  // whole, a second finds them all in the cache.
  fs::remove_all(store + "/cold-cache/objects");
  const json s0 = Stats(store, env);
  CHECK(s0["cold_uri"] == Uri("down"));
  const auto want = Ranking(store, queries, env);
  const json s1 = Stats(store, env);
  Ranking(store, queries, env);
  const json s2 = Stats(store, env);
  const uint64_t shards = std::stoull(SqlRows(store, "SELECT COUNT(*) FROM cold_objects")[0]);
  const uint64_t bytes = std::stoull(SqlRows(store, "SELECT SUM(bytes) FROM cold_objects")[0]);
  REQUIRE(shards >= 1);
  auto delta = [](const json& a, const json& b, const char* key) {
    return b.at(key).get<uint64_t>() - a.at(key).get<uint64_t>();
  };
  CHECK(delta(s0, s1, "cache_opens") == 2);  // stats itself, the search
  CHECK(delta(s0, s1, "cache_shards_fetched") == shards);
  CHECK(delta(s0, s1, "cache_bytes_fetched") == bytes);
  CHECK(delta(s0, s1, "cache_requests") == shards);
  CHECK(delta(s0, s1, "cache_shards_cached") == 0);
  CHECK(delta(s1, s2, "cache_shards_cached") == shards);
  CHECK(delta(s1, s2, "cache_shards_fetched") == 0);
  CHECK(s2["cache_hit_rate"].get<double>() > 0);
  fs::remove_all(store + "/cold-cache");
  // Nothing listens there: the search fails (74) naming the object, after
  // its retries; nothing is answered from what it could not read.
  std::vector<std::string> down = env;
  for (auto& v : down)
    if (v.rfind("AWS_ENDPOINT_URL=", 0) == 0) v = "AWS_ENDPOINT_URL=http://127.0.0.1:9";
  auto r = Aether({"search", store, "--queries", "-", "--no-touch"}, queries, down);
  CHECK(r.exit_code == 74);
  CHECK(r.out.empty());
  CHECK_MESSAGE(r.err.find(Uri("down") + "/objects/") != std::string::npos, r.err);
  // A writer that needs no cold shard commits, and says the eviction waits.
  r = Aether({"pin", store, "m1"}, "", down);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  // A writer that must bring a shard back fails cleanly; the bucket back,
  // everything answers as before.
  r = Aether({"descend", store, "--all", "-q"}, "", down);
  CHECK(r.exit_code == 74);
  CHECK(Ranking(store, queries, env) == want);
  // upgrade --cold-uri towards a bucket it cannot reach fails before it
  // commits anything: the store is as it was (no tier ID kept).
  const std::string plain = dir / "plain";
  REQUIRE(Aether({"ingest", "--create", plain, "--dim", "8", "-q"}, ToJsonl(RandomMems(30, 8, 93))).exit_code == 0);
  auto up = Aether({"upgrade", plain, "--cold-uri", Uri("never")}, "", down);
  CHECK(up.exit_code == 74);
  CHECK_MESSAGE(up.err.find("committed") == std::string::npos, up.err);
  CHECK(SqlRows(plain, "SELECT COUNT(*) FROM config WHERE key IN ('cold_tier_id', 'cold_uri')")[0] == "0");
  // A cached copy that is not the object's bytes is fetched again.
  const std::string cached = store + "/cold-cache/objects/" + *NamedObjects(store).begin();
  REQUIRE(fs::exists(cached));
  FlipByte(cached, 40);
  auto v = Aether({"verify", store}, "", env);
  CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
  CHECK(Ranking(store, queries, env) == want);
  // An object gone from the bucket: verify names it.
  auto client = S3rverClient(server->endpoint(), kBucket, "down");
  for (const auto& sha : NamedObjects(store)) REQUIRE(client->Delete("objects/" + sha).ok());
  fs::remove_all(store + "/cold-cache");
  v = Aether({"verify", store}, "", env);
  CHECK(v.exit_code != 0);
  CHECK_MESSAGE(v.out.find("is not in the bucket") != std::string::npos, std::string(v.out + v.err));
}

TEST_CASE(
    "cold tier in a bucket: upgrade --cold-uri moves a store's cold tier; one store per prefix; a backup is "
    "local") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem";
  REQUIRE(
      Aether({"ingest", "--create", store, "--dim", "8", "--hot-capacity", "50", "-q"}, ToJsonl(RandomMems(400, 8, 95)))
          .exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(6, 8, 96, "q"));
  const auto want = Ranking(store, queries, {});
  REQUIRE(Aether({"config", store, "set", "cold_local_bytes", "0"}).exit_code == 0);
  auto dry = Aether({"upgrade", store, "--cold-uri", Uri("moved"), "--dry-run", "--format", "json"}, "", env);
  REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
  CHECK(json::parse(dry.out)["cold_uri"] == Uri("moved"));
  CHECK(LocalShards(store) == 5);  // a dry run sends nothing
  auto up = Aether({"upgrade", store, "--cold-uri", Uri("moved"), "--format", "json"}, "", env);
  REQUIRE_MESSAGE(up.exit_code == 0, up.err);
  const json j = json::parse(up.out);
  CHECK(j["cold_uri_before"] == "");
  CHECK(j["cold_uri"] == Uri("moved"));
  CHECK(j["cold_shards_sent"] == 5);
  CHECK(LocalShards(store) == 0);
  CHECK(Ranking(store, queries, env) == want);
  CHECK(BucketObjects(server, "moved") == NamedObjects(store));
  // Run again: nothing to do. Another prefix: refused.
  CHECK(json::parse(Aether({"upgrade", store, "--format", "json"}, "", env).out)["up_to_date"] == true);
  CHECK(Aether({"upgrade", store, "--cold-uri", Uri("elsewhere")}, "", env).exit_code == 69);
  // Another store cannot take the prefix, nor can publish share it; a
  // publish prefix is no cold tier's.
  auto other = Aether({"init", dir / "other", "--dim", "8", "--cold-uri", Uri("moved")}, "", env);
  CHECK(other.exit_code == 73);
  CHECK(!fs::exists(dir / "other"));
  CHECK(Aether({"publish", store, Uri("moved")}, "", env).exit_code == 69);
  CHECK(S3rverClient(server->endpoint(), kBucket, "moved")->List("publishes/")->empty());  // refused: no record
  REQUIRE(Aether({"publish", store, Uri("snaps"), "-q"}, "", env).exit_code == 0);
  CHECK(Aether({"init", dir / "third", "--dim", "8", "--cold-uri", Uri("snaps")}, "", env).exit_code == 69);
  // A backup holds every shard itself and no bucket.
  REQUIRE(Aether({"backup", store, dir / "bk", "-q"}, "", env).exit_code == 0);
  CHECK(LocalShards(dir / "bk") == 5);
  CHECK(SqlRows(dir / "bk", "SELECT COUNT(*) FROM config WHERE key = 'cold_uri'")[0] == "0");
  CHECK(SqlRows(dir / "bk", "SELECT COUNT(*) FROM config WHERE key = 'cold_tier_id'")[0] == "0");
  CHECK(SqlRows(dir / "bk", "SELECT COUNT(*) FROM cold_objects")[0] == "0");
  CHECK(Ranking(dir / "bk", queries, {}) == want);
  Verified(dir / "bk");
  // Restored, the backup is the same store (its ID) but not its tier: it
  // cannot take the prefix, whose objects it would collect.
  CHECK(Aether({"upgrade", dir / "bk", "--cold-uri", Uri("moved")}, "", env).exit_code == 73);
  CHECK(Ranking(store, queries, env) == want);
  // The refused publish's objects (sent before it found the marker) are
  // garbage there: maintain collects them, and keeps the shards the
  // publish to snaps/ named.
  // A purge first rewrites shards: the snapshot then names objects the
  // rows do not.
  REQUIRE(Aether({"delete", store, "m1", "m2", "--purge", "-q"}, "", env).exit_code == 0);
  REQUIRE(Aether({"maintain", store, "-q"}, "", env).exit_code == 0);
  std::set<std::string> kept = NamedObjects(store);
  const std::set<std::string> published = InTier(Manifest(server, "snaps", 1));
  CHECK(published.size() == 5);
  CHECK(std::any_of(published.begin(), published.end(), [&](const std::string& sha) { return !kept.count(sha); }));
  kept.insert(published.begin(), published.end());
  CHECK(BucketObjects(server, "moved") == kept);
}

TEST_CASE("cold tier in a bucket: SIGKILL at random moments of ingests that send shards loses nothing") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const auto base = RandomMems(300, 8, 101), extra = RandomMems(600, 8, 102, "x");
  const std::string queries = QueriesJsonl(RandomMems(6, 8, 103, "q"));
  const std::string twin = dir / "twin", store = dir / "mem", more = dir / "more.jsonl";
  WriteFile(more, ToJsonl(extra));
  for (const std::string& s : {twin, store}) {
    const bool remote = s == store;
    std::vector<std::string> init = {"init", s, "--dim", "8", "--hot-capacity", "30"};
    if (remote) init.insert(init.end(), {"--cold-uri", Uri("random")});
    REQUIRE(Aether(init, "", env).exit_code == 0);
    if (remote) REQUIRE(Aether({"config", s, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
    REQUIRE(Aether({"ingest", s, "-q"}, ToJsonl(base), env).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", s, "--partitions", "6", "-q"}, "", env).exit_code == 0);
  }
  REQUIRE(Aether({"ingest", twin, more, "-q"}).exit_code == 0);
  const auto want = Ranking(twin, queries, {});
  // Each round: an ingest of small batches (each batch a commit, then an
  // eviction of the partitions it wrote), killed after a random delay; the
  // store reads whole after it, and the ingest run again completes it.
  uint64_t seed = 12345;
  int killed = 0;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const int delay_ms = 20 + int((seed >> 33) % 200);
    const int pid = SpawnAether({"ingest", store, more, "--batch", "40", "--on-duplicate", "skip", "-q"}, env);
    usleep(useconds_t(delay_ms) * 1000);
    kill(pid, SIGKILL);
    const int code = WaitAether(pid);
    CHECK((code == 0 || code == 137));
    killed += code == 137;
    auto v = Aether({"verify", store}, "", env);
    CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
  }
  MESSAGE("cold tier random kills: " << killed << " of 5 ingests killed");
  CHECK(killed >= 1);
  REQUIRE(Aether({"ingest", store, more, "--on-duplicate", "skip", "-q"}, "", env).exit_code == 0);
  CHECK(Ranking(store, queries, env) == want);
  REQUIRE(Aether({"maintain", store, "-q"}, "", env).exit_code == 0);
  CHECK(LocalShards(store) == 0);
  CHECK(BucketObjects(server, "random") == NamedObjects(store));
  CHECK(Ranking(store, queries, env) == want);
}

TEST_CASE(
    "cold tier in a bucket through faults: each fault once is retried to the right answer and a complete "
    "eviction; every attempt faulted is a clear error with nothing lost") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  TempDir dir;
  const std::string twin = dir / "twin", store = dir / "mem";
  FaultProxy proxy(server->port(), 300);
  const auto env = S3rverEnv(proxy.endpoint());
  REQUIRE(Aether({"init", twin, "--dim", "8", "--hot-capacity", "20"}).exit_code == 0);
  REQUIRE(
      Aether({"init", store, "--dim", "8", "--hot-capacity", "20", "--cold-uri", Uri("faults")}, "", env).exit_code ==
      0);
  REQUIRE(Aether({"config", store, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  for (const std::string& s : {twin, store}) {
    REQUIRE(Aether({"ingest", s, "-q"}, ToJsonl(RandomMems(300, 8, 111)), env).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", s, "--partitions", "3", "-q"}, "", env).exit_code == 0);
  }
  REQUIRE(LocalShards(store) == 0);
  const std::string queries = QueriesJsonl(RandomMems(6, 8, 112, "q"));
  const std::vector<std::string> search = {"search", "STORE",    "--queries", "-",         "-k",
                                           "8",      "--nprobe", "3",         "--no-touch"};
  auto run_search = [&](const std::string& s) {
    std::vector<std::string> a = search;
    a[1] = s;
    return Aether(a, queries, s == store ? env : std::vector<std::string>{});
  };
  auto drop_cache = [&] { fs::remove_all(store + "/cold-cache/objects"); };
  // How many requests a search with an empty cache makes (the shards' GETs).
  drop_cache();
  int n = proxy.requests();
  RunResult want = run_search(twin);
  REQUIRE(want.exit_code == 0);
  REQUIRE(run_search(store).out == want.out);
  n = proxy.requests() - n;
  REQUIRE(n >= 3);
  const std::vector<Fault> once = {Fault::k500, Fault::kResetBefore, Fault::kResetAfter, Fault::kStall,
                                   Fault::kTruncate};
  int retried = 0, failed = 0;
  for (int at = 0; at < n; ++at) {
    if (!InSweep(size_t(at))) continue;
    CAPTURE(at);
    for (Fault f : once) {
      if (f == Fault::kStall && at % 3 != 0) continue;  // 300 ms each: some of them
      CAPTURE(FaultName(f));
      drop_cache();
      const std::vector<Fault> plan = FaultsAfter(size_t(at), f);
      proxy.Plan(plan);
      const RunResult r = run_search(store);
      proxy.Plan({});
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      CHECK(r.out == want.out);
      ++retried;
    }
    // Every attempt refused: 74 naming the attempts, no answer at all
    // (two scan workers fetch at once: twenty 503s exhaust one of them).
    drop_cache();
    const std::vector<Fault> plan = FaultsAfter(size_t(at), Fault::k503, 20);
    proxy.Plan(plan);
    const RunResult r = run_search(store);
    proxy.Plan({});
    CHECK(r.exit_code == 74);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("attempts") != std::string::npos, r.err);
    CHECK(run_search(store).out == want.out);
    ++failed;
  }
  // Writers: each ingest brings the staging shard back (GET), commits, then
  // checks the prefix's marker and sends the shards it wrote (HEAD, PUT,
  // HEAD). A fault at each of its requests in turn: retried, the eviction
  // completes. Every attempt of one request refused: the ingest fails
  // before its commit (74, nothing changed) or commits and says the
  // eviction waits; the next writer sends what is left. Either way the
  // store answers as its twin, and verify passes.
  int batch = 0, waited = 0, refused = 0;
  auto ingest = [&](const std::vector<Fault>& plan) {
    const std::string rows = ToJsonl(RandomMems(15, 8, uint64_t(200 + batch), "b" + std::to_string(batch) + "-"));
    ++batch;
    proxy.Plan(plan);
    const RunResult r = Aether({"ingest", store}, rows, env);
    proxy.Plan({});
    if (r.exit_code == 0) REQUIRE(Aether({"ingest", twin, "-q"}, rows).exit_code == 0);
    return r;
  };
  int m = proxy.requests();
  REQUIRE(ingest({}).exit_code == 0);
  m = proxy.requests() - m;
  REQUIRE(m >= 4);
  for (int at = 0; at < m; ++at) {
    if (!InSweep(size_t(at))) continue;
    CAPTURE(at);
    for (Fault f : once) {
      if (f == Fault::kStall && at % 3 != 0) continue;
      CAPTURE(FaultName(f));
      const std::vector<Fault> plan = FaultsAfter(size_t(at), f);
      const RunResult r = ingest(plan);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      CHECK_MESSAGE(r.err.find("next writer") == std::string::npos, r.err);
      CHECK(LocalShards(store) == 0);
      ++retried;
    }
    const std::vector<Fault> plan = FaultsAfter(size_t(at), Fault::k503, 20);
    const RunResult r = ingest(plan);
    if (r.exit_code == 0) {
      CHECK_MESSAGE(r.err.find("the next writer tries again") != std::string::npos, r.err);
      ++waited;
    } else {
      CHECK_MESSAGE(r.exit_code == 74, r.err);
      ++refused;
    }
    auto v = Aether({"verify", store}, "", env);
    CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
    CHECK(run_search(store).out == run_search(twin).out);
    ++failed;
  }
  REQUIRE(Aether({"maintain", store, "-q"}, "", env).exit_code == 0);
  CHECK(LocalShards(store) == 0);
  CHECK(BucketObjects(server, "faults") == NamedObjects(store));
  CHECK(Ranking(store, queries, env) == Ranking(twin, queries, {}));  // maintain moved memories between tiers
  MESSAGE("cold tier faults: " << retried << " retried, " << failed << " failed clearly (" << refused
                               << " ingests refused, " << waited << " committed with the eviction waiting)");
  CHECK(refused >= 1);
  CHECK(waited >= 1);
}

TEST_CASE("cold tier in a bucket: init and upgrade --cold-uri killed around the prefix's claim, then run again") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const auto mems = RandomMems(200, 8, 121);
  const std::string queries = QueriesJsonl(RandomMems(5, 8, 122, "q"));
  auto marker = [&](const std::string& prefix) {
    auto c = S3rverClient(server->endpoint(), kBucket, prefix);
    std::string text;
    return c->Get("cold-tier.json", &text, 1 << 16).ok();
  };
  // init killed with its store in place, the prefix not yet claimed: the
  // store is whole, and its first eviction claims the prefix.
  std::vector<std::string> faulty = env;
  faulty.push_back("AETHER_FAULT=cold.before_claim");
  const std::string made = dir / "made";
  auto r = Aether({"init", made, "--dim", "8", "--hot-capacity", "20", "--cold-uri", Uri("claim-init")}, "", faulty);
  CHECK(r.exit_code == 137);
  CHECK(!marker("claim-init"));
  auto v = Aether({"verify", made}, "", env);
  CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
  REQUIRE(Aether({"config", made, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  REQUIRE(Aether({"ingest", made, "-q"}, ToJsonl(mems), env).exit_code == 0);
  CHECK(marker("claim-init"));
  CHECK(LocalShards(made) == 0);
  CHECK(BucketObjects(server, "claim-init") == NamedObjects(made));
  // A killed bring-back's copy beside a shard ("NAME.<hex>.tmp") goes with
  // the next writer's settle; names aether did not make stay.
  const std::string dead = made + "/cold/staging.shard.0123456789abcdef.tmp";
  const std::vector<std::string> kept = {made + "/cold/staging.shard.notes", made + "/cold/mine.0123456789abcdef.tmp",
                                         made + "/cold/staging.shard.0123456789abcdeg.tmp",
                                         made + "/cold/staging.shard.tmp"};
  WriteFile(dead, std::string(4096, 'x'));
  for (const std::string& k : kept) WriteFile(k, "not aether's");
  REQUIRE(Aether({"ingest", made, "-q"}, ToJsonl(RandomMems(30, 8, 123, "t")), env).exit_code == 0);
  CHECK(!fs::exists(dead));
  for (const std::string& k : kept) CHECK_MESSAGE(ReadFile(k) == "not aether's", k);
  v = Aether({"verify", made}, "", env);
  CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
  // The prefix is the store's now: another store's init is refused.
  CHECK(Aether({"init", dir / "other", "--dim", "8", "--cold-uri", Uri("claim-init")}, "", env).exit_code == 73);
  CHECK(!fs::exists(dir / "other"));
  // upgrade killed with the prefix claimed, the config not yet naming it:
  // the store is as it was (local), and upgrade run again finishes.
  const std::string moved = dir / "moved";
  REQUIRE(Aether({"ingest", "--create", moved, "--dim", "8", "--hot-capacity", "20", "-q"}, ToJsonl(mems)).exit_code ==
          0);
  REQUIRE(Aether({"config", moved, "set", "cold_local_bytes", "0"}).exit_code == 0);
  const auto want = Ranking(moved, queries, {});
  faulty.back() = "AETHER_FAULT=cold.after_claim";
  r = Aether({"upgrade", moved, "--cold-uri", Uri("claim-up")}, "", faulty);
  CHECK(r.exit_code == 137);
  CHECK(marker("claim-up"));
  CHECK(SqlRows(moved, "SELECT COUNT(*) FROM config WHERE key = 'cold_uri'")[0] == "0");
  Verified(moved);
  // A backup taken now has neither the prefix nor the tier's ID (restored,
  // it could otherwise claim the prefix as this store).
  REQUIRE(Aether({"backup", moved, dir / "bk", "-q"}).exit_code == 0);
  CHECK(SqlRows(dir / "bk", "SELECT COUNT(*) FROM config WHERE key = 'cold_tier_id'")[0] == "0");
  CHECK(Aether({"upgrade", dir / "bk", "--cold-uri", Uri("claim-up")}, "", env).exit_code == 73);
  CHECK(Ranking(moved, queries, {}) == want);
  r = Aether({"upgrade", moved, "--cold-uri", Uri("claim-up"), "-q"}, "", env);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(LocalShards(moved) == 0);
  CHECK(BucketObjects(server, "claim-up") == NamedObjects(moved));
  CHECK(Ranking(moved, queries, env) == want);
  v = Aether({"verify", moved}, "", env);
  CHECK_MESSAGE(v.exit_code == 0, std::string(v.out + v.err));
}

TEST_CASE(
    "cold tier in a bucket: publish names the tier's objects, replicas read them there, the writer keeps what a "
    "manifest names") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const auto env = S3rverEnv(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", local = dir / "local";
  REQUIRE(
      Aether({"init", store, "--dim", "8", "--hot-capacity", "40", "--cold-uri", Uri("pubtier")}, "", env).exit_code ==
      0);
  REQUIRE(Aether({"config", store, "set", "cold_local_bytes", "0"}, "", env).exit_code == 0);
  REQUIRE(Aether({"init", local, "--dim", "8", "--hot-capacity", "40"}).exit_code == 0);
  const auto mems = RandomMems(400, 8, 131);
  for (const std::string& s : {store, local}) {
    REQUIRE(Aether({"ingest", s, "-q"}, ToJsonl(mems), env).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", s, "--partitions", "4", "-q"}, "", env).exit_code == 0);
  }
  REQUIRE(LocalShards(store) == 0);
  const std::string queries = QueriesJsonl(RandomMems(6, 8, 132, "q"));
  const auto want = Ranking(local, queries, {});
  REQUIRE(Ranking(store, queries, env) == want);
  const std::set<std::string> rows = NamedObjects(store);

  // The shards are named where they are, not sent again: the publish
  // prefix gets the other files only.
  auto p1 = Aether({"publish", store, Uri("pubsnap"), "--format", "json"}, "", env);
  REQUIRE_MESSAGE(p1.exit_code == 0, p1.err);
  const json r1 = json::parse(p1.out);
  CHECK(r1["objects_in_cold_tier"].get<size_t>() == rows.size());
  CHECK(r1["objects_uploaded"].get<size_t>() + r1["objects_present"].get<size_t>() +
            r1["objects_in_cold_tier"].get<size_t>() ==
        r1["files"].get<size_t>());
  for (const auto& sha : BucketObjects(server, "pubsnap")) CHECK(!rows.count(sha));
  const json m1 = Manifest(server, "pubsnap", 1);
  CHECK(m1["aether_manifest"] == 2);
  CHECK(m1["cold_uri"] == Uri("pubtier"));
  const std::set<std::string> in_tier1 = InTier(m1);
  CHECK(in_tier1 == rows);

  // A replica directory, and a search on the bucket, answer as the writer.
  REQUIRE(Aether({"pull", Uri("pubsnap"), dir / "replica", "-q"}, "", env).exit_code == 0);
  CHECK(LocalShards(dir / "replica") == int(rows.size()));
  CHECK(Ranking(dir / "replica", queries, {}) == want);
  Verified(dir / "replica");
  auto on_bucket = Aether(
      {"search", Uri("pubsnap"), "--cache-dir", dir / "cache", "--queries", "-", "-k", "2000", "--nprobe", "1000"},
      queries, env);
  REQUIRE_MESSAGE(on_bucket.exit_code == 0, on_bucket.err);
  auto on_store =
      Aether({"search", store, "--queries", "-", "-k", "2000", "--nprobe", "1000", "--no-touch"}, queries, env);
  CHECK(on_bucket.out == on_store.out);

  // The writer rewrites shards (their rows then name other objects) and
  // collects: the objects manifest 1 names stay, and a replica of it is
  // still whole.
  for (const std::string& s : {store, local}) {
    REQUIRE(Aether({"delete", s, "m3", "m4", "m5", "--purge", "-q"}, "", env).exit_code == 0);
    REQUIRE(Aether({"maintain", s, "--seed", "1", "-q"}, "", env).exit_code == 0);
  }
  const auto want2 = Ranking(local, queries, {});
  CHECK(Ranking(store, queries, env) == want2);
  const std::set<std::string> rows2 = NamedObjects(store);
  REQUIRE(std::any_of(in_tier1.begin(), in_tier1.end(), [&](const std::string& sha) { return !rows2.count(sha); }));
  std::set<std::string> kept = rows2;
  kept.insert(in_tier1.begin(), in_tier1.end());
  CHECK(BucketObjects(server, "pubtier") == kept);
  REQUIRE(Aether({"pull", Uri("pubsnap"), dir / "old", "--sequence", "1", "-q"}, "", env).exit_code == 0);
  CHECK(Ranking(dir / "old", queries, {}) == want);
  Verified(dir / "old");

  // While a publish of the store runs (its turn: a flock on the store's
  // directory), a collection deletes nothing, and maintain says so; the
  // collection is owed (config cold_collect_due) and the next writer's
  // settle, a pin, makes it.
  auto garbage = [&] {  // objects neither the rows nor manifest 1 name
    std::set<std::string> out, named = NamedObjects(store);
    for (const auto& sha : BucketObjects(server, "pubtier"))
      if (!named.count(sha) && !in_tier1.count(sha)) out.insert(sha);
    return out;
  };
  auto due = [&] { return SqlRows(store, "SELECT COUNT(*) FROM config WHERE key = 'cold_collect_due'")[0]; };
  {
    const int fd = open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX) == 0);
    REQUIRE(Aether({"delete", store, "m6", "m7", "--purge", "-q"}, "", env).exit_code == 0);
    auto m = Aether({"maintain", store, "--seed", "2"}, "", env);
    CHECK(m.exit_code == 0);
    CHECK_MESSAGE(m.err.find("a publish of this store is running") != std::string::npos, m.err);
    close(fd);
  }
  CHECK(!garbage().empty());  // the purge's old shards' objects
  CHECK(due() == "1");
  REQUIRE(Aether({"pin", store, "m10", "-q"}, "", env).exit_code == 0);
  CHECK(garbage().empty());
  CHECK(due() == "0");

  // A record of a publish prefix that is not aether's: the collection
  // stops before deleting (what it names is not known), and says why.
  auto tier_client = S3rverClient(server->endpoint(), kBucket, "pubtier");
  const std::string bogus = "publishes/" + std::string(64, 'a') + ".json";
  REQUIRE(tier_client->Put(bogus, "{\"uri\": 7}\n").ok());
  REQUIRE(tier_client->Put("publishes/", "").ok());  // a console's folder marker: not a record, skipped
  auto m = Aether({"delete", store, "m11", "m12", "--purge"}, "", env);
  CHECK(m.exit_code == 0);
  CHECK_MESSAGE(m.err.find("not a record of a publish prefix") != std::string::npos, m.err);
  CHECK(!garbage().empty());
  REQUIRE(tier_client->Delete(bogus).ok());
  // Then the next collection deletes what neither the rows nor manifest 1
  // name.
  REQUIRE(Aether({"maintain", store, "--seed", "4", "-q"}, "", env).exit_code == 0);
  CHECK(garbage().empty());
  kept = NamedObjects(store);
  kept.insert(in_tier1.begin(), in_tier1.end());
  CHECK(BucketObjects(server, "pubtier") == kept);

  // Published again keeping one manifest: what only the first named goes
  // with the writer's next collection; the bucket then holds what the rows
  // and the kept manifest name, and its reader answers as the writer did
  // at that publish.
  auto at_publish =
      Aether({"search", store, "--queries", "-", "-k", "2000", "--nprobe", "1000", "--no-touch"}, queries, env);
  auto p2 = Aether({"publish", store, Uri("pubsnap"), "--keep", "1", "--format", "json"}, "", env);
  REQUIRE_MESSAGE(p2.exit_code == 0, p2.err);
  const json r2 = json::parse(p2.out);
  CHECK(r2["manifests_removed"] == 1);
  const std::set<std::string> in_tier2 = InTier(Manifest(server, "pubsnap", r2["sequence"].get<uint64_t>()));
  CHECK(in_tier2 == NamedObjects(store));
  REQUIRE(Aether({"delete", store, "m8", "m9", "--purge", "-q"}, "", env).exit_code == 0);
  REQUIRE(Aether({"maintain", store, "--seed", "5", "-q"}, "", env).exit_code == 0);
  kept = NamedObjects(store);
  kept.insert(in_tier2.begin(), in_tier2.end());
  CHECK(BucketObjects(server, "pubtier") == kept);
  int gone = 0;
  for (const auto& sha : in_tier1) gone += !kept.count(sha);
  CHECK(gone >= 1);
  on_bucket = Aether(
      {"search", Uri("pubsnap"), "--cache-dir", dir / "cache", "--queries", "-", "-k", "2000", "--nprobe", "1000"},
      queries, env);
  REQUIRE_MESSAGE(on_bucket.exit_code == 0, on_bucket.err);
  CHECK(on_bucket.out == at_publish.out);
  CHECK(Ranking(dir / "old", queries, {}) == want);  // a pulled replica holds its own copies

  // A publish reaching the bucket with other settings than the store's
  // (here --endpoint, the same server named another way) copies every
  // shard (a manifest of version 1); the next publish --keep 1 names the
  // tier's objects again and deletes those copies.
  auto p3 = Aether({"publish", store, Uri("pubsnap"), "--endpoint", server->endpoint(), "--format", "json"}, "", env);
  REQUIRE_MESSAGE(p3.exit_code == 0, p3.err);
  const json r3 = json::parse(p3.out);
  CHECK(r3["objects_in_cold_tier"] == 0);
  const json m3 = Manifest(server, "pubsnap", r3["sequence"].get<uint64_t>());
  CHECK(m3["aether_manifest"] == 1);
  CHECK(!m3.contains("cold_uri"));
  std::set<std::string> copies;
  for (const auto& sha : BucketObjects(server, "pubsnap"))
    if (NamedObjects(store).count(sha)) copies.insert(sha);
  CHECK(copies == NamedObjects(store));
  auto p4 = Aether({"publish", store, Uri("pubsnap"), "--keep", "1", "--format", "json"}, "", env);
  REQUIRE_MESSAGE(p4.exit_code == 0, p4.err);
  CHECK(json::parse(p4.out)["objects_in_cold_tier"].get<size_t>() == NamedObjects(store).size());
  for (const auto& sha : BucketObjects(server, "pubsnap")) CHECK(!copies.count(sha));
  REQUIRE(Aether({"pull", Uri("pubsnap"), dir / "last", "-q"}, "", env).exit_code == 0);
  CHECK(Ranking(dir / "last", queries, {}) == Ranking(store, queries, env));
  AllInBucket(server, store, "pubtier", env);

  // A shard whose object is gone from the tier is not named (readers would
  // miss it): publish copies it, here from the writer's cache.
  const std::string lost = *NamedObjects(store).begin();
  const std::string cached = ReadFile(store + "/cold-cache/objects/" + lost);
  REQUIRE(tier_client->Delete("objects/" + lost).ok());
  auto p5 = Aether({"publish", store, Uri("pubsnap2"), "--format", "json"}, "", env);
  REQUIRE_MESSAGE(p5.exit_code == 0, p5.err);
  CHECK(json::parse(p5.out)["objects_in_cold_tier"].get<size_t>() == NamedObjects(store).size() - 1);
  CHECK(!InTier(Manifest(server, "pubsnap2", 1)).count(lost));
  REQUIRE(Aether({"pull", Uri("pubsnap2"), dir / "copied", "-q"}, "", env).exit_code == 0);
  CHECK(Ranking(dir / "copied", queries, {}) == Ranking(store, queries, env));
  REQUIRE(tier_client->Put("objects/" + lost, cached).ok());

  // The marker gone while the store has shards in the prefix (another
  // endpoint or bucket of the same name, or a hand's delete): no writer
  // sends a shard there or writes a new marker, publish refuses, and once
  // the marker is back the next writer sends them.
  std::string marker;
  REQUIRE(tier_client->Get("cold-tier.json", &marker).ok());
  REQUIRE(tier_client->Delete("cold-tier.json").ok());
  auto w = Aether({"ingest", store}, ToJsonl(RandomMems(60, 8, 133, "late")), env);
  CHECK(w.exit_code == 0);
  CHECK_MESSAGE(w.err.find("no marker there, but this store has shards in its cold tier") != std::string::npos, w.err);
  CHECK(LocalShards(store) > 0);
  CHECK(!tier_client->Head("cold-tier.json")->has_value());
  auto refused = Aether({"publish", store, Uri("pubsnap2")}, "", env);
  CHECK(refused.exit_code == 69);
  CHECK_MESSAGE(refused.err.find("no marker there") != std::string::npos, refused.err);
  REQUIRE(tier_client->Put("cold-tier.json", marker).ok());
  REQUIRE(Aether({"maintain", store, "--seed", "6", "-q"}, "", env).exit_code == 0);
  AllInBucket(server, store, "pubtier", env);
}
