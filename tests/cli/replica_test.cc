// aether publish and aether pull against s3rver on loopback: a replica
// answers exactly as the writer did at its publish; what changed is all that
// moves; damaged objects, faults and kills never leave a replica or a
// bucket half-done.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "objstore/digest.h"
#include "objstore/s3_client.h"
#include "support/s3_server.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;
namespace fs = std::filesystem;

namespace {

const char* kBucket = "replicas";

S3Server* Server() { return SharedS3Server(kBucket); }

std::vector<std::string> S3Env(const std::string& endpoint) { return S3rverEnv(endpoint); }

std::unique_ptr<S3Client> Client(const std::string& endpoint, const std::string& prefix) {
  return S3rverClient(endpoint, kBucket, prefix);
}

nlohmann::json Json(const RunResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out);
}

// What a reader sees: a batch of searches and every memory's record.
std::string Answers(const std::string& store, const std::string& queries, const std::vector<std::string>& ids) {
  auto s = Aether({"search", store, "--queries", "-", "-k", "7", "--no-touch", "--nprobe", "3"}, queries);
  REQUIRE_MESSAGE(s.exit_code == 0, s.err);
  std::vector<std::string> args = {"get", store};
  args.insert(args.end(), ids.begin(), ids.end());
  auto g = Aether(args);  // exit 1 when some are not there (an older state): part of the answer
  REQUIRE((g.exit_code == 0 || g.exit_code == 1));
  return s.out + g.out + std::to_string(g.exit_code);
}

}  // namespace

TEST_CASE("publish and pull: the replica answers as the writer did; only what changed moves; nothing twice") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", replica = dir / "replica", uri = std::string("s3://") + kBucket + "/t1";
  auto mems = RandomMems(600, 8, 21);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "6", "-q"}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(40, 8, 22, "q"));
  const std::string first = Answers(store, queries, Ids(mems));

  auto p1 = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(p1["sequence"] == 1);
  CHECK(p1["memories"] == 600);
  CHECK(p1["objects_uploaded"].get<int>() + p1["objects_present"].get<int>() == p1["files"].get<int>());
  auto r1 = Json(Aether({"pull", uri, replica, "--format", "json"}, "", env));
  CHECK(r1["sequence"] == 1);
  CHECK(r1["files_kept"] == 0);
  CHECK(r1["bytes_fetched"] == p1["bytes"]);
  CHECK(Aether({"verify", replica}).exit_code == 0);
  CHECK(Answers(replica, queries, Ids(mems)) == first);
  // Nothing new: publish writes no manifest, pull changes nothing.
  auto same = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(same["unchanged"] == true);
  CHECK(same["sequence"] == 1);
  CHECK(same["objects_uploaded"] == 0);
  CHECK(Json(Aether({"pull", uri, replica, "--format", "json"}, "", env))["up_to_date"] == true);

  // The writer moves on: memories added, some deleted, some descended. The
  // second publish sends the changed files only; the replica follows and
  // keeps its unchanged files.
  auto more = RandomMems(50, 8, 23, "n");
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(more)).exit_code == 0);
  REQUIRE(Aether({"delete", store, mems[3].id, mems[400].id}).exit_code == 0);
  REQUIRE(Aether({"descend", store, "--all", "-q"}).exit_code == 0);
  auto ids = Ids(mems);
  ids.erase(ids.begin() + 400);
  ids.erase(ids.begin() + 3);
  for (const auto& m : more) ids.push_back(m.id);
  const std::string second = Answers(store, queries, ids);
  auto p2 = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(p2["sequence"] == 2);
  CHECK(p2["objects_present"].get<int>() > 0);  // unchanged partitions are not sent again
  CHECK(p2["bytes_uploaded"].get<uint64_t>() < p2["bytes"].get<uint64_t>());
  // A reader of the old replica still sees the first state until the pull.
  CHECK(Answers(replica, queries, Ids(mems)) == first);
  auto r2 = Json(Aether({"pull", uri, replica, "--format", "json"}, "", env));
  CHECK(r2["sequence"] == 2);
  CHECK(r2["files_kept"].get<int>() > 0);
  CHECK(r2["objects_fetched"].get<int>() + r2["files_kept"].get<int>() == r2["files"].get<int>());
  CHECK(Aether({"verify", replica}).exit_code == 0);
  CHECK(Answers(replica, queries, ids) == second);
  // An older manifest on request, into another directory.
  REQUIRE(Aether({"pull", uri, dir / "old", "--sequence", "1", "-q"}, "", env).exit_code == 0);
  CHECK(Answers(dir / "old", queries, Ids(mems)) == first);
  // Nothing left beside the directories: the snapshot and the staging are gone.
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK_MESSAGE(e.path().filename().string()[0] != '.', e.path());
}

TEST_CASE("pull checks every object and refuses what is not a replica; the replica stays as it was") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", replica = dir / "replica", uri = std::string("s3://") + kBucket + "/t2";
  auto mems = RandomMems(300, 8, 31);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", env).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(20, 8, 32, "q"));
  const std::string before = Answers(replica, queries, Ids(mems));
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(30, 8, 33, "n"))).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);

  // Each object the second manifest names, replaced in the bucket by other
  // bytes (or cut short): a pull into a new directory fails as damage
  // naming it, and leaves nothing.
  auto client = Client(server->endpoint(), "t2");
  std::string text;
  REQUIRE(client->Get("manifests/00000000000000000002.json", &text).ok());
  const auto manifest = nlohmann::json::parse(text);
  int damaged = 0;
  for (const auto& f : manifest["files"]) {
    const std::string path = f["path"], key = "objects/" + f["sha256"].get<std::string>();
    if (f["bytes"] == 0 || (path != "meta.db" && path.rfind("cold/", 0) != 0)) continue;
    std::string good;
    REQUIRE(client->Get(key, &good).ok());
    for (const std::string& bad : {good.substr(0, good.size() / 2), good + "x", std::string(good.size(), 'z')}) {
      CAPTURE(path);
      CAPTURE(bad.size());
      REQUIRE(client->Put(key, bad).ok());
      auto r = Aether({"pull", uri, dir / "fresh"}, "", env);
      CHECK_MESSAGE(r.exit_code == 79, r.err);
      CHECK_MESSAGE(r.err.find(key) != std::string::npos, r.err);
      CHECK((r.err.find("the manifest says") != std::string::npos ||  // read whole, then checked
             r.err.find("larger than the") != std::string::npos));    // cut off past its size
      for (const auto& e : fs::directory_iterator(dir.path()))
        CHECK_MESSAGE((e.path().filename() != "fresh" && e.path().filename().string()[0] != '.'), e.path());
      // The replica fetches only what changed since its own manifest: a
      // changed file damaged fails it, and it stays as it was.
      if (path == "meta.db") {
        r = Aether({"pull", uri, replica}, "", env);
        CHECK(r.exit_code == 79);
        CHECK(Answers(replica, queries, Ids(mems)) == before);
      }
      ++damaged;
    }
    REQUIRE(client->Put(key, good).ok());
    if (damaged >= 9) break;  // meta.db and a few shards
  }
  CHECK(damaged >= 6);
  // A damaged manifest: refused as damage too.
  REQUIRE(client->Put("manifests/00000000000000000003.json", "{\"aether_manifest\": 1, \"sequence\": 3}").ok());
  auto r = Aether({"pull", uri, replica}, "", env);
  CHECK(r.exit_code == 79);
  CHECK(r.err.find("00000000000000000003.json: no files list") != std::string::npos);
  REQUIRE(client->Delete("manifests/00000000000000000003.json").ok());
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", env).exit_code == 0);

  // Manifests that would write outside the replica, or are not what they
  // claim: damage (79), nothing written anywhere.
  const std::string meta_sha = [&] {
    for (const auto& f : manifest["files"])
      if (f["path"] == "meta.db") return f["sha256"].get<std::string>();
    return std::string();
  }();
  auto entry = [&](const std::string& path) {
    return nlohmann::json{{"path", path}, {"bytes", 3}, {"sha256", meta_sha}};
  };
  auto tier = [&](const std::string& path) {
    auto e = entry(path);
    e["cold_tier"] = true;
    return e;
  };
  auto meta = entry("meta.db");
  for (const auto& case_ : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, entry("../outside")}}}, "outside the store"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, entry("/etc/x")}}}, "outside the store"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, entry("a/./b")}}}, "outside the store"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, entry("replica.json")}}}, "a replica's own"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, entry("meta.db/x")}}},
            "listed as a file and as the directory"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {meta, meta}}}, "listed twice"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {entry("x")}}}, "no meta.db"},
           {{{"aether_manifest", "1"}, {"sequence", 9}, {"files", {meta}}}, "not an aether manifest"},
           {{{"aether_manifest", 1}, {"sequence", 8}, {"files", {meta}}}, "not an aether manifest of sequence 9"},
           {{{"aether_manifest", 1}, {"sequence", 9}, {"files", {{{"path", 7}}}}}, "without path, bytes and sha256"},
           // Objects of a cold tier: only shards, only beside a cold_uri,
           // and only in a manifest of version 2.
           {{{"aether_manifest", 2}, {"sequence", 9}, {"cold_uri", "s3://bkt/t"}, {"files", {meta, tier("meta.db/x")}}},
            "in the cold tier, but not a shard"},
           {{{"aether_manifest", 2}, {"sequence", 9}, {"files", {meta, tier("cold/a.shard")}}},
            "in the cold tier, but no cold_uri"},
           {{{"aether_manifest", 2}, {"sequence", 9}, {"cold_uri", "http://b/t"}, {"files", {meta}}},
            "a cold_uri that is not an s3:// URI"},
           {{{"aether_manifest", 2}, {"sequence", 9}, {"files", {meta}}}, "aether_manifest 2 without a cold_uri"},
           {{{"aether_manifest", 1},
             {"sequence", 9},
             {"cold_uri", "s3://bkt/t"},
             {"files", {meta, tier("cold/a.shard")}}},
            "a cold_uri in a manifest of aether_manifest 1"},
           {{{"aether_manifest", 2},
             {"sequence", 9},
             {"cold_uri", "s3://bkt/t"},
             {"files",
              {meta,
               [&] {
                 auto e = entry("cold/a.shard");
                 e["cold_tier"] = "yes";
                 return e;
               }()}}},
            "a cold_tier that is not true or false"},
           {{{"aether_manifest", 3}, {"sequence", 9}, {"files", {meta}}}, "not an aether manifest"},
       }) {
    const nlohmann::json& bad = case_.first;
    const std::string why = case_.second;  // not a structured binding: CAPTURE is a lambda
    CAPTURE(why);
    REQUIRE(client->Put("manifests/00000000000000000009.json", bad.dump()).ok());
    auto m = Aether({"pull", uri, dir / "evil", "--sequence", "9"}, "", env);
    CHECK(m.exit_code == 79);
    CHECK_MESSAGE(m.err.find(why) != std::string::npos, m.err);
    CHECK(!fs::exists(dir / "evil"));
    CHECK(!fs::exists(dir / "outside"));
  }
  REQUIRE(client->Delete("manifests/00000000000000000009.json").ok());
  // A name of 20 digits past 64 bits is no manifest of ours (it once threw).
  REQUIRE(client->Put("manifests/99999999999999999999.json", "{}").ok());
  CHECK(Aether({"pull", uri, dir / "r9", "-q"}, "", env).exit_code == 0);
  REQUIRE(client->Delete("manifests/99999999999999999999.json").ok());

  // An object of the right size but other bytes is not taken for the file:
  // the next publish sends it again, and a new replica is whole.
  {
    const std::string shard_key = [&] {
      for (const auto& f : manifest["files"])
        if (f["path"].get<std::string>().rfind("cold/", 0) == 0 && f["bytes"] > 100)
          return "objects/" + f["sha256"].get<std::string>();
      return std::string();
    }();
    REQUIRE(!shard_key.empty());
    std::string shard;
    REQUIRE(client->Get(shard_key, &shard).ok());
    REQUIRE(client->Put(shard_key, std::string(shard.size(), 'q')).ok());
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(3, 8, 34, "e"))).exit_code == 0);
    auto p = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
    CHECK(p["sequence"] == 3);
    REQUIRE(Aether({"pull", uri, dir / "r10", "-q"}, "", env).exit_code == 0);
    CHECK(Aether({"verify", dir / "r10"}).exit_code == 0);
    std::string again;
    REQUIRE(client->Get(shard_key, &again).ok());
    CHECK(again == shard);
  }

  // The replica keeps its permissions; a file a pull did not make is not
  // deleted with the old replica (left in its hidden directory, named).
  fs::permissions(replica, fs::perms::owner_all);
  WriteFile(replica + "/notes.txt", "mine");
  auto kept = Aether({"pull", uri, replica}, "", env);
  REQUIRE_MESSAGE(kept.exit_code == 0, kept.err);
  CHECK((fs::status(replica).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(kept.err.find("held files a pull did not make; left there with them") != std::string::npos);
  CHECK(!fs::exists(replica + "/notes.txt"));
  int hidden_with_notes = 0;
  for (const auto& e : fs::directory_iterator(dir.path()))
    if (e.path().filename().string().rfind(".replica.aether-pull.", 0) == 0) {
      CHECK(ReadFile(e.path().string() + "/notes.txt") == "mine");
      CHECK(std::distance(fs::directory_iterator(e.path()), fs::directory_iterator()) == 1);  // only it
      ++hidden_with_notes;
    }
  CHECK(hidden_with_notes == 1);

  // A directory that is not a replica (a store of the user's, a file) is
  // refused and left alone, before any request.
  for (const std::string& target : {store, dir / "afile"}) {
    if (target != store) WriteFile(target, "mine");
    const auto bytes_before = DirectoryBytes(dir / "mem");
    auto refused = Aether({"pull", uri, target}, "", env);
    CHECK(refused.exit_code == 73);
    CHECK((refused.err.find("pull will not replace it") != std::string::npos ||
           refused.err.find("not a directory") != std::string::npos));
    CHECK(DirectoryBytes(dir / "mem") == bytes_before);
  }
  CHECK(ReadFile(dir / "afile") == "mine");
  // Bad URIs and settings: usage errors before anything.
  CHECK(Aether({"pull", "s3://x/p", dir / "r2"}, "", env).exit_code == 64);
  CHECK(Aether({"publish", store, "http://b/p"}, "", env).exit_code == 64);
  auto nothing = Aether({"pull", std::string("s3://") + kBucket + "/empty", dir / "r3"}, "", env);
  CHECK(nothing.exit_code == 66);
  CHECK(nothing.err.find("no manifest (nothing published there)") != std::string::npos);
  CHECK(!fs::exists(dir / "r3"));
}

// Publish and pull through a proxy that fails every request it is asked to
// (500s, resets), and publish killed at random moments: every outcome is
// the last complete manifest or the new one, whole.
TEST_CASE(
    "publish and pull through failures and kills: the bucket's newest manifest and the replica are always whole") {
  S3Server* server = Server();
  if (!server) return;
  FaultProxy proxy(server->port());
  const auto direct = S3Env(server->endpoint()), faulty = S3Env(proxy.endpoint());
  TempDir dir;
  const std::string store = dir / "mem", replica = dir / "replica", uri = std::string("s3://") + kBucket + "/t3";
  auto mems = RandomMems(400, 8, 41);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "80", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "5", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", direct).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(20, 8, 42, "q"));
  // Every published state, as a reader sees it (the searches see the
  // memories added since; the original ones are read back whole).
  std::vector<std::string> states = {Answers(replica, queries, Ids(mems))};

  // Writers wait for the snapshot only, not for the upload: with the
  // upload's first request held by the proxy, an ingest that will not wait
  // gets the store at once.
  {
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(5, 8, 43, "w"))).exit_code == 0);
    proxy.Plan({Fault::kHold});
    const int pid = SpawnAether({"publish", store, uri, "-q"}, faulty);
    for (int i = 0; i < 3000 && proxy.held() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(proxy.held() == 1);  // the upload has begun: the snapshot is taken
    auto w = Aether({"ingest", store, "--wait", "0", "-q"}, ToJsonl(RandomMems(5, 8, 44, "v")));
    CHECK_MESSAGE(w.exit_code == 0, w.err);
    proxy.Release();
    CHECK(WaitAether(pid) == 0);
    proxy.Plan({});
    REQUIRE(Aether({"pull", uri, replica, "-q"}, "", direct).exit_code == 0);
    states.push_back(Answers(replica, queries, Ids(mems)));
    REQUIRE(Aether({"publish", store, uri, "-q"}, "", direct).exit_code == 0);  // with the v memories
    REQUIRE(Aether({"pull", uri, replica, "-q"}, "", direct).exit_code == 0);
    states.push_back(Answers(replica, queries, Ids(mems)));
  }

  for (int round = 0; round < 6; ++round) {
    CAPTURE(round);
    auto more = RandomMems(20, 8, 100 + round, "r" + std::to_string(round) + "-");
    REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(more)).exit_code == 0);
    // One failure in every few requests is retried away; twenty in a row
    // (every attempt of one request, however the four uploads at once
    // interleave theirs) fail the command cleanly.
    const bool hopeless = round % 2 == 1;
    std::vector<Fault> plan;
    for (int i = 0; i < 40; ++i)
      plan.push_back(hopeless && i >= 6 && i < 26 ? (i % 2 ? Fault::k500 : Fault::kResetBefore)
                     : i % 7 == 3                 ? Fault::k500
                     : i % 7 == 5                 ? Fault::kResetAfter
                                                  : Fault::kNone);
    proxy.Plan(plan);
    auto p = Aether({"publish", store, uri, "-q"}, "", faulty);
    CHECK((p.exit_code == 0 || p.exit_code == 74));
    if (hopeless) CHECK_MESSAGE(p.exit_code == 74, p.err);
    if (p.exit_code == 74) CHECK(p.err.find("gave up after 5 attempts") != std::string::npos);
    proxy.Plan({});
    // A random kill of another publish.
    const int pid = SpawnAether({"publish", store, uri, "-q"}, faulty);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 37 * round));
    kill(pid, SIGKILL);
    WaitAether(pid);
    CHECK(Aether({"verify", store}).exit_code == 0);
    if (p.exit_code == 0) states.push_back(Answers(store, queries, Ids(mems)));
    // The pull, through failures too: the replica is the newest whole state
    // (the killed publish may have finished first: then that one).
    proxy.Plan({Fault::k500, Fault::kNone, Fault::kResetAfter});
    auto r = Aether({"pull", uri, replica, "-q"}, "", faulty);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(Aether({"verify", replica}).exit_code == 0);
    const std::string now = Answers(replica, queries, Ids(mems));
    const bool known = std::find(states.begin(), states.end(), now) != states.end();
    const bool current = now == Answers(store, queries, Ids(mems));  // the killed publish completed
    CHECK((known || current));
    if (!known && current) states.push_back(now);
  }
  // The killed publishes' snapshots are left beside the store (hidden,
  // named with their pid), as a killed backup's are (one killed while its
  // backup ran: the backup's own hidden name for it); the store is whole.
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.')
      CHECK_MESSAGE((name.rfind(".mem.aether-publish.", 0) == 0 || name.rfind("..mem.aether-publish.", 0) == 0), name);
  }
}

// publish --keep N: the manifests older than the newest N go, then every
// object none of the N names (old snapshots' and a killed publish's), and
// nothing else under the prefix; the kept snapshots pull whole. A kept
// manifest that cannot be read stops it before anything is deleted.
TEST_CASE("publish --keep: old manifests and the objects only they name go; kept snapshots stay whole") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", uri = std::string("s3://") + kBucket + "/t-keep";
  auto client = Client(server->endpoint(), "t-keep");
  auto mems = RandomMems(300, 8, 61);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(20, 8, 62, "q"));
  // Four snapshots, each after a change, with the answers each gives.
  std::vector<std::string> answers;
  std::vector<std::vector<std::string>> ids_at;
  auto ids = Ids(mems);
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      auto more = RandomMems(40, 8, 70 + i, "n" + std::to_string(i) + "-");
      REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(more)).exit_code == 0);
      REQUIRE(Aether({"delete", store, ids[size_t(i) * 7]}).exit_code == 0);
      ids.erase(ids.begin() + i * 7);
      for (const auto& m : more) ids.push_back(m.id);
      REQUIRE(Aether({"descend", store, "--all", "-q"}).exit_code == 0);
      REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);  // new shards each time
    }
    REQUIRE(Aether({"publish", store, uri, "-q"}, "", env).exit_code == 0);
    answers.push_back(Answers(store, queries, ids));
    ids_at.push_back(ids);
  }
  // A publish killed before its manifest left an object; names aether did
  // not write stay whatever happens.
  const std::string orphan = "objects/" + std::string(64, 'a');
  REQUIRE(client->Put(orphan, "left by a killed publish").ok());
  for (const char* foreign : {"objects/README", "manifests/notes.txt", "elsewhere/x"})
    REQUIRE(client->Put(foreign, "not aether's").ok());
  auto keys = [&](const std::string& under) {
    std::set<std::string> out;
    auto listed = client->List(under);
    REQUIRE(listed.ok());
    for (const auto& o : *listed) out.insert(o.key);
    return out;
  };
  auto named_by = [&](int sequence) {
    std::string text;
    REQUIRE(client->Get(fmt::format("manifests/{:020}.json", sequence), &text).ok());
    std::set<std::string> out;
    const nlohmann::json manifest = nlohmann::json::parse(text);
    for (const auto& f : manifest["files"]) out.insert("objects/" + f["sha256"].get<std::string>());
    return out;
  };
  std::set<std::string> all_named;
  for (int s = 1; s <= 4; ++s)
    for (const auto& k : named_by(s)) all_named.insert(k);
  std::set<std::string> want = named_by(3);
  for (const auto& k : named_by(4)) want.insert(k);
  REQUIRE(want.size() < all_named.size());  // the older snapshots hold objects of their own

  // A kept manifest damaged: nothing is deleted, the publish is done, a
  // warning says why.
  std::string third;
  REQUIRE(client->Get("manifests/00000000000000000003.json", &third).ok());
  REQUIRE(client->Put("manifests/00000000000000000003.json", "{\"aether_manifest\": 1}").ok());
  const auto objects_before = keys("objects/");
  const RunResult stopped = Aether({"publish", store, uri, "--keep", "2"}, "", env);
  CHECK_MESSAGE(stopped.exit_code == 0, stopped.err);
  CHECK(stopped.err.find("--keep 2 stopped") != std::string::npos);
  CHECK(stopped.out.find("; removed 0 older manifests and 0 objects (0 bytes)") != std::string::npos);
  CHECK(stopped.err.find("00000000000000000003.json") != std::string::npos);
  CHECK(keys("objects/") == objects_before);
  CHECK(keys("manifests/").size() == 5);
  REQUIRE(client->Put("manifests/00000000000000000003.json", third).ok());

  auto kept = Json(Aether({"publish", store, uri, "--keep", "2", "--format", "json"}, "", env));
  CHECK(kept["unchanged"] == true);  // the store did not change: no new manifest, the old ones still go
  CHECK(kept["manifests_removed"] == 2);
  std::set<std::string> objects_now = keys("objects/");
  want.insert("objects/README");
  CHECK(objects_now == want);
  CHECK(kept["objects_removed"].get<size_t>() == objects_before.size() - objects_now.size());
  CHECK(keys("manifests/") == std::set<std::string>{"manifests/00000000000000000003.json",
                                                    "manifests/00000000000000000004.json", "manifests/notes.txt"});
  CHECK(keys("elsewhere/").size() == 1);
  // The kept snapshots pull whole and answer as the writer did then; a
  // removed one is gone (66).
  for (int s : {3, 4}) {
    const std::string replica = dir / ("replica" + std::to_string(s));
    REQUIRE(Aether({"pull", uri, replica, "--sequence", std::to_string(s), "-q"}, "", env).exit_code == 0);
    CHECK(Aether({"verify", replica}).exit_code == 0);
    CHECK(Answers(replica, queries, ids_at[size_t(s - 1)]) == answers[size_t(s - 1)]);
  }
  CHECK(Aether({"pull", uri, dir / "gone", "--sequence", "1"}, "", env).exit_code == 66);
  // Again: nothing more to remove.
  auto again = Json(Aether({"publish", store, uri, "--keep", "2", "--format", "json"}, "", env));
  CHECK(again["manifests_removed"] == 0);
  CHECK(again["objects_removed"] == 0);
  CHECK(again["keep_stopped"] == "");
  // A new snapshot and the collection in one publish: 3 goes, 4 and 5 stay
  // with every object they name.
  auto later = RandomMems(30, 8, 80, "later");
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(later)).exit_code == 0);
  REQUIRE(Aether({"descend", store, "--all", "-q"}).exit_code == 0);
  for (const auto& m : later) ids.push_back(m.id);
  auto fifth = Json(Aether({"publish", store, uri, "--keep", "2", "--format", "json"}, "", env));
  CHECK(fifth["sequence"] == 5);
  CHECK(fifth["manifests_removed"] == 1);
  std::set<std::string> want5 = named_by(4);
  for (const auto& k : named_by(5)) want5.insert(k);
  want5.insert("objects/README");
  CHECK(keys("objects/") == want5);
  REQUIRE(Aether({"pull", uri, dir / "replica5", "-q"}, "", env).exit_code == 0);
  CHECK(Aether({"verify", dir / "replica5"}).exit_code == 0);
  CHECK(Answers(dir / "replica5", queries, ids) == Answers(store, queries, ids));
  // Publishes of one store take turns: while another holds the store's
  // directory, a publish waits --wait seconds, then exits busy, changing
  // nothing in the bucket.
  {
    const int held = open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(held >= 0);
    REQUIRE(flock(held, LOCK_EX) == 0);
    const auto bucket_before = keys("");
    const RunResult busy = Aether({"publish", store, uri, "--keep", "1", "--wait", "0.2"}, "", env);
    CHECK(busy.exit_code == 75);
    CHECK(busy.err.find("another publish of this store is running") != std::string::npos);
    CHECK(keys("") == bucket_before);
    // A publish waiting for its turn holds no lock of the store: a writer
    // goes on meanwhile, and the publish runs once the turn is free.
    const int waiting = SpawnAether({"publish", store, uri, "-q", "--wait", "30"}, env);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const RunResult writer = Aether({"ingest", store, "-q", "--wait", "1"}, ToJsonl(RandomMems(5, 8, 90, "w")));
    CHECK_MESSAGE(writer.exit_code == 0, writer.err);
    close(held);
    CHECK(WaitAether(waiting) == 0);
    CHECK(keys("manifests/").count("manifests/00000000000000000006.json") == 1);
  }
  // No store there: 66, as before the publish took its turn first.
  const RunResult missing = Aether({"publish", dir / "no-store", uri}, "", env);
  CHECK(missing.exit_code == 66);
  CHECK(missing.err.find("no such store") != std::string::npos);
  // --keep 0 is a usage error.
  CHECK(Aether({"publish", store, uri, "--keep", "0"}, "", env).exit_code == 64);
}

TEST_CASE(
    "publish: a file past the multipart threshold goes up in parts; unchanged, its multipart ETag keeps it there") {
  S3Server* server = Server();
  if (!server) return;
  const auto env = S3Env(server->endpoint());
  TempDir dir;
  const std::string store = dir / "mem", uri = std::string("s3://") + kBucket + "/t9";
  // 48,000 random 128-d vectors, all but 100 in the staging shard: past
  // the 16 MiB above which an object goes up in 8 MiB parts.
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(RandomMems(48000, 128, 91)))
              .exit_code == 0);
  fs::path big;
  for (const auto& e : fs::recursive_directory_iterator(store + "/cold"))
    if (e.path().extension() == ".shard" && (big.empty() || e.file_size() > fs::file_size(big))) big = e.path();
  const uint64_t big_bytes = fs::file_size(big);
  REQUIRE(big_bytes > (16u << 20));
  auto p1 = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(p1["objects_uploaded"].get<int>() + p1["objects_present"].get<int>() == p1["files"].get<int>());
  const std::string sha = ToHex(Sha256(ReadFile(big.string())));
  auto head = Client(server->endpoint(), "t9")->Head("objects/" + sha);
  REQUIRE(head.ok());
  REQUIRE(*head);
  CHECK((*head)->size == big_bytes);
  MESSAGE("the multipart object's ETag: " << (*head)->etag);
  // Only meta.db changes: the second publish sends it alone; the shard,
  // recognised by its ETag, stays.
  REQUIRE(Aether({"config", store, "set", "search_timeout_ms", "1000"}).exit_code == 0);
  auto p2 = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(p2["sequence"] == 2);
  CHECK(p2["objects_uploaded"] == 1);
  CHECK(p2["objects_present"].get<int>() == p2["files"].get<int>() - 1);
  CHECK(p2["bytes_uploaded"].get<uint64_t>() < big_bytes);
  // The object is the file: pulled back, byte for byte.
  auto r = Json(Aether({"pull", uri, dir / "replica", "--format", "json"}, "", env));
  CHECK(r["sequence"] == 2);
  CHECK(ReadFile(dir / ("replica/" + fs::relative(big, store).string())) == ReadFile(big.string()));
  CHECK(Aether({"verify", dir / "replica"}).exit_code == 0);

  // A file that changes after publish hashed it (here while the proxy
  // holds the LIST that follows the hashing) is never sent under its former
  // SHA-256: exit 79, no new manifest, no object of that name; one sent
  // whole (meta.db, the snapshot's own copy) and one sent in parts (the
  // large shard) alike. A later publish sends the right bytes.
  const std::string big_sha = ToHex(Sha256(ReadFile(big.string())));
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(300, 128, 92, "n"))).exit_code == 0);
  REQUIRE(ToHex(Sha256(ReadFile(big.string()))) != big_sha);  // memories descended into it
  auto changed_meanwhile = [&](const std::string& file) {
    FaultProxy proxy(server->port());
    proxy.Plan({Fault::kNone, Fault::kNone, Fault::kHold});  // the manifests' LIST, the newest's GET, then it
    RunResult out;
    std::thread t([&] { out = Aether({"publish", store, uri}, "", S3Env(proxy.endpoint())); });
    for (int i = 0; i < 3000 && proxy.held() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::string snapshot;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind(".mem.aether-publish.", 0) == 0) snapshot = e.path().string();
    const std::string path = snapshot + "/" + file;
    const std::string bytes = snapshot.empty() ? "" : ReadFile(path);
    const std::string hashed = ToHex(Sha256(bytes));
    const bool linked = !snapshot.empty() && fs::equivalent(path, store + "/" + file);
    auto flip = [&] {  // a byte of the last part
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(std::streamoff(bytes.size() - 5));
      f.put(char(bytes[bytes.size() - 5] ^ 0x5a));
    };
    if (!bytes.empty()) flip();
    proxy.Release();
    t.join();
    CHECK(proxy.held() == 1);
    REQUIRE(!bytes.empty());
    if (linked) {  // the store's own file: as it was
      std::fstream f(store + "/" + file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(std::streamoff(bytes.size() - 5));
      f.put(bytes[bytes.size() - 5]);
    }
    CHECK(out.exit_code == 79);
    CHECK_MESSAGE(out.err.find(file + ": changed while publish read it") != std::string::npos, out.err);
    auto gone = Client(server->endpoint(), "t9")->Head("objects/" + hashed);
    REQUIRE(gone.ok());
    CHECK(!*gone);
    CHECK(Client(server->endpoint(), "t9")->List("manifests/")->size() == 2);
    if (bytes.size() > (16u << 20)) {  // sent in parts: the upload aborted
      int aborted = 0;
      for (const auto& [request, body] : proxy.Recorded())
        aborted += request.rfind("DELETE ", 0) == 0 && request.find("uploadId=") != std::string::npos;
      CHECK(aborted == 1);
    }
  };
  // Each time a file the bucket lacks: what a failed publish sent whole
  // stays there (its objects are right), so meta.db is changed in between.
  changed_meanwhile(fs::relative(big, store).string());
  REQUIRE(Aether({"config", store, "set", "search_timeout_ms", "2000"}).exit_code == 0);
  changed_meanwhile("meta.db");
  auto p3 = Json(Aether({"publish", store, uri, "--format", "json"}, "", env));
  CHECK(p3["sequence"] == 3);
  auto r3 = Json(Aether({"pull", uri, dir / "replica", "--format", "json"}, "", env));
  CHECK(r3["sequence"] == 3);
  CHECK(Aether({"verify", dir / "replica"}).exit_code == 0);
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("publish sends and pull fetches 4 objects at once (held by the proxy together); the replica answers right") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  const std::string store = dir / "mem", replica = dir / "replica", uri = std::string("s3://") + kBucket + "/t10";
  auto mems = RandomMems(800, 8, 101);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  // Each command through a proxy that lets its first requests pass (the
  // LISTs, the manifest's GET) and holds the next four: all four held at
  // once means four objects in flight together (one at a time would stop
  // at one held). A liveness wait, not a timing.
  auto four_at_once = [&](const std::vector<std::string>& args, int pass) {
    FaultProxy proxy(server->port());
    const std::vector<Fault> plan = FaultsAfter(size_t(pass), Fault::kHold, 4);
    proxy.Plan(plan);
    RunResult r;
    std::thread t([&] { r = Aether(args, "", S3Env(proxy.endpoint())); });
    for (int i = 0; i < 3000 && proxy.held() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int held = proxy.held();
    proxy.Release();
    t.join();
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(held == 4);
    int puts_or_gets = 0;
    for (const auto& [head, body] : proxy.Recorded())
      if (head.find("/objects/") != std::string::npos) ++puts_or_gets;
    CHECK(puts_or_gets >= 8);
  };
  four_at_once({"publish", store, uri, "-q"}, 2);  // LIST manifests/ (none yet), LIST objects/
  four_at_once({"pull", uri, replica, "-q"}, 2);   // LIST manifests/, GET the manifest
  const std::string queries = QueriesJsonl(RandomMems(30, 8, 102, "q"));
  CHECK(Answers(replica, queries, Ids(mems)) == Answers(store, queries, Ids(mems)));
  CHECK(Aether({"verify", replica}).exit_code == 0);
}

// A pull (or a bucket search building its cache's replica) killed while it
// fetched leaves its staging directory; the next one into the same place
// removes what the killed one made, and nothing else: a file someone put
// there stays (with the directory, named in a warning), as do directories
// of other names and an older one without a marker that still holds a file.
TEST_CASE("a killed pull's staging directory is removed by the next pull; only the names it made") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  const std::string store = dir / "mem", replica = dir / "r", cache = dir / "cache";
  const std::string uri = std::string("s3://") + kBucket + "/t11";
  auto mems = RandomMems(800, 8, 111);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "8", "-q"}).exit_code == 0);
  REQUIRE(Aether({"publish", store, uri, "-q"}, "", S3Env(server->endpoint())).exit_code == 0);
  // Killed with two of its fetches held by the proxy (after the `pass`
  // requests before them: LISTs of manifests, the manifest's GET): their
  // temporaries exist then.
  auto killed = [&](const std::vector<std::string>& args, const std::string& in, const std::string& prefix, int pass) {
    FaultProxy proxy(server->port());
    const std::vector<Fault> plan = FaultsAfter(size_t(pass), Fault::kHold, 2);
    proxy.Plan(plan);
    const int pid = SpawnAether(args, S3Env(proxy.endpoint()));
    for (int i = 0; i < 3000 && proxy.held() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(proxy.held() == 2);
    kill(pid, SIGKILL);
    CHECK(WaitAether(pid) == 128 + SIGKILL);
    proxy.Release();
    std::vector<std::string> staging;
    for (const auto& e : fs::directory_iterator(in))
      if (e.path().filename().string().rfind(prefix, 0) == 0) staging.push_back(e.path().string());
    return staging;
  };
  auto temporaries = [](const std::string& d) {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(d)) n += e.path().extension() == ".tmp";
    return n;
  };
  auto first = killed({"pull", uri, replica, "-q"}, dir.path(), ".r.aether-pull.", 2);
  REQUIRE(first.size() == 1);
  CHECK(fs::exists(first[0] + "/replica.json.building"));
  CHECK(temporaries(first[0]) >= 2);  // the held ones, and any others in flight
  // The next pull (killed too) removed it as it began.
  auto then = killed({"pull", uri, replica, "-q"}, dir.path(), ".r.aether-pull.", 2);
  REQUIRE(then.size() == 1);
  CHECK(then[0] != first[0]);
  const std::string second = then[0];
  WriteFile(second + "/mine.txt", "mine");
  // Not a killed pull's, or not of this DIR: left as they are.
  const std::string notes = dir / ".r.aether-pull.123.0badf00d", other = dir / ".other.aether-pull.1.deadbeef";
  const std::string empty = dir / ".r.aether-pull.7.00c0ffee";
  fs::create_directories(notes);
  fs::create_directories(empty);
  WriteFile(notes + "/notes.txt", "mine");
  fs::copy(second, other, fs::copy_options::recursive);
  const auto other_before = DirectoryBytes(other);
  // A link of that name (to a copy of a killed pull's directory) is not
  // followed; a marker that does not read as one removes nothing.
  const std::string target = dir / "target", link = dir / ".r.aether-pull.9.abcdef01";
  const std::string bad_marker = dir / ".r.aether-pull.8.0000beef";
  fs::copy(second, target, fs::copy_options::recursive);
  fs::create_directory_symlink(target, link);
  const auto target_before = DirectoryBytes(target);
  fs::copy(second, bad_marker, fs::copy_options::recursive);
  WriteFile(bad_marker + "/replica.json.building", "{\"files\": 7}");
  const auto bad_before = DirectoryBytes(bad_marker);

  auto r = Aether({"pull", uri, replica}, "", S3Env(server->endpoint()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(!fs::exists(empty));
  CHECK(ReadFile(notes + "/notes.txt") == "mine");
  CHECK(DirectoryBytes(other) == other_before);
  CHECK(fs::is_symlink(link));
  CHECK(DirectoryBytes(target) == target_before);
  CHECK(DirectoryBytes(bad_marker) == bad_before);
  CHECK(r.err.find(".r.aether-pull.8.0000beef") != std::string::npos);
  CHECK(!fs::exists(replica + "/replica.json.building"));
  CHECK(fs::exists(replica + "/replica.json"));
  REQUIRE(fs::exists(second));
  CHECK(ReadFile(second + "/mine.txt") == "mine");
  CHECK(std::distance(fs::directory_iterator(second), fs::directory_iterator()) == 1);  // only it
  CHECK(r.err.find("a killed pull's directory held files a pull did not make") != std::string::npos);
  CHECK(r.err.find(fs::path(second).filename().string()) != std::string::npos);
  CHECK(Aether({"verify", replica}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(20, 8, 112, "q"));
  CHECK(Answers(replica, queries, Ids(mems)) == Answers(store, queries, Ids(mems)));

  // A bucket search killed while it built its cache's replica: the next
  // search removes that directory (under the cache's lock) and answers.
  const std::string q1 = "[" + std::string("0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8") + "]";
  auto in_cache = killed({"search", uri, "--vector", q1, "--cache-dir", cache}, cache, ".replica-", 3);
  REQUIRE(in_cache.size() == 1);
  CHECK(fs::exists(in_cache[0] + "/replica.json.building"));
  auto s = Aether({"search", uri, "--vector", q1, "--cache-dir", cache, "--no-touch"}, "", S3Env(server->endpoint()));
  CHECK_MESSAGE(s.exit_code == 0, s.err);
  CHECK(!fs::exists(in_cache[0]));
  CHECK(s.out == Aether({"search", store, "--vector", q1, "--no-touch"}).out);
}

// A prefix serves one store: each manifest names the store that published
// it (its ID), and another store's publish there stops before it sends
// anything. Without that, a mistyped prefix (or two agents given one)
// switches every reader of the prefix to another store silently, and one
// store's --keep deletes the other's snapshots.
TEST_CASE("publish: a prefix serves one store; another store's publish exits 73 and sends nothing; --take-over") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b", replica = dir / "replica";
  const std::string uri = std::string("s3://") + kBucket + "/t12";
  const auto env = S3Env(server->endpoint());
  const auto mems_a = RandomMems(300, 8, 121, "a"), mems_b = RandomMems(300, 8, 122, "b");
  REQUIRE(Aether({"ingest", "--create", a, "-q"}, ToJsonl(mems_a)).exit_code == 0);
  REQUIRE(Aether({"ingest", "--create", b, "-q"}, ToJsonl(mems_b)).exit_code == 0);
  auto store_id = [](const std::string& store) {
    const auto rows = SqlRows(store, "SELECT value FROM config WHERE key = 'store_id'");
    return rows.empty() ? std::string() : rows[0];
  };
  const std::string id_a = store_id(a), id_b = store_id(b);
  CHECK(id_a.size() == 32);
  CHECK(id_a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(id_a != id_b);
  auto client = Client(server->endpoint(), "t12");
  auto manifest = [&](int sequence) {
    std::string text;
    REQUIRE(client->Get(fmt::format("manifests/{:020}.json", sequence), &text).ok());
    return nlohmann::json::parse(text);
  };
  auto bucket = [&] {  // every key there, with its ETag
    std::vector<std::string> keys;
    auto listed = client->List("");
    REQUIRE(listed.ok());
    for (const auto& o : *listed) keys.push_back(o.key + " " + o.etag);
    return keys;
  };

  auto pa = Json(Aether({"publish", a, uri, "--format", "json"}, "", env));
  CHECK(pa["store_id"] == id_a);
  CHECK(pa["took_over_from"] == "");
  CHECK(manifest(1)["store"] == id_a);
  const std::string queries = QueriesJsonl(RandomMems(10, 8, 123, "q"));
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", env).exit_code == 0);
  const std::string answers_a = Answers(replica, queries, Ids(mems_a));
  CHECK(answers_a == Answers(a, queries, Ids(mems_a)));

  // B there: refused, naming both stores and the way out; its requests
  // only read (the LIST and the newest manifest's GET), the bucket as it was.
  const auto before = bucket();
  for (const char* keep : {"", "--keep"}) {
    CAPTURE(keep);
    FaultProxy proxy(server->port());
    std::vector<std::string> args = {"publish", b, uri};
    if (*keep) args.insert(args.end(), {"--keep", "1"});
    auto r = Aether(args, "", S3Env(proxy.endpoint()));
    CHECK(r.exit_code == 73);
    CHECK_MESSAGE(r.err.find("another store's (store ID " + id_a + "; this store's is " + id_b) != std::string::npos,
                  r.err);
    CHECK(r.err.find("--take-over") != std::string::npos);
    CHECK(r.err.find("manifests/00000000000000000001.json") != std::string::npos);
    const auto recorded = proxy.Recorded();
    CHECK(recorded.size() == 2);
    for (const auto& request : recorded) CHECK_MESSAGE(request.first.rfind("GET ", 0) == 0, request.first);
    CHECK(bucket() == before);
  }
  for (const auto& e : fs::directory_iterator(dir.path()))  // its snapshot removed
    CHECK(e.path().filename().string().find("aether-publish") == std::string::npos);
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", env).exit_code == 0);
  CHECK(Answers(replica, queries, Ids(mems_a)) == answers_a);

  // A goes on publishing there.
  REQUIRE(Aether({"ingest", a, "-q"}, ToJsonl(RandomMems(20, 8, 124, "a2-"))).exit_code == 0);
  CHECK(Json(Aether({"publish", a, uri, "--format", "json"}, "", env))["sequence"] == 2);

  // --take-over: B's snapshot is the newest, with a warning naming A; the
  // prefix's readers follow B; --keep 1 leaves B's snapshot alone; A is
  // the one refused now.
  auto t = Aether({"publish", b, uri, "--take-over", "--keep", "1", "--format", "json"}, "", env);
  REQUIRE_MESSAGE(t.exit_code == 0, t.err);
  const auto tj = nlohmann::json::parse(t.out);
  CHECK(tj["took_over_from"] == id_a);
  CHECK(tj["store_id"] == id_b);
  CHECK(tj["sequence"] == 3);
  CHECK(tj["manifests_removed"] == 2);
  CHECK_MESSAGE(t.err.find("took over from store " + id_a) != std::string::npos, t.err);
  CHECK(manifest(3)["store"] == id_b);
  REQUIRE(Aether({"pull", uri, replica, "-q"}, "", env).exit_code == 0);
  CHECK(Answers(replica, queries, Ids(mems_b)) == Answers(b, queries, Ids(mems_b)));
  CHECK(Aether({"verify", replica}).exit_code == 0);
  auto refused = Aether({"publish", a, uri}, "", env);
  CHECK(refused.exit_code == 73);
  CHECK(refused.err.find("store ID " + id_b) != std::string::npos);
  REQUIRE(Aether({"ingest", b, "-q"}, ToJsonl(RandomMems(20, 8, 125, "b2-"))).exit_code == 0);
  auto own = Aether({"publish", b, uri, "--take-over", "--format", "json"}, "", env);  // its own: nothing taken
  REQUIRE_MESSAGE(own.exit_code == 0, own.err);
  CHECK(nlohmann::json::parse(own.out)["sequence"] == 4);
  CHECK(nlohmann::json::parse(own.out)["took_over_from"] == "");
  CHECK(own.err.find("took over") == std::string::npos);

  // A manifest without a store (as an older aether wrote it) names none:
  // A's publish goes on, and its manifest names A again.
  auto older = manifest(4);
  older.erase("store");
  REQUIRE(client->Put(fmt::format("manifests/{:020}.json", 4), older.dump(1) + "\n").ok());
  auto after_older = Json(Aether({"publish", a, uri, "--format", "json"}, "", env));
  CHECK(after_older["sequence"] == 5);
  CHECK(after_older["took_over_from"] == "");
  CHECK(manifest(5)["store"] == id_a);
  // Nor does a `store` that is not a string.
  auto odd = manifest(5);
  odd["store"] = 5;
  REQUIRE(client->Put(fmt::format("manifests/{:020}.json", 5), odd.dump(1) + "\n").ok());
  REQUIRE(Aether({"ingest", b, "-q"}, ToJsonl(RandomMems(5, 8, 128, "b3-"))).exit_code == 0);
  auto after_odd = Json(Aether({"publish", b, uri, "--format", "json"}, "", env));
  CHECK(after_odd["sequence"] == 6);
  CHECK(after_odd["took_over_from"] == "");

  // A store that publishes there while another's objects go up stops that
  // one before its manifest: A's publish, held at its LIST of objects/
  // (after the manifests' LIST and the newest's GET), meets B's newer
  // manifest when it LISTs again, and exits 73; B's snapshot stays the newest.
  REQUIRE(Aether({"publish", a, uri, "--take-over", "-q"}, "", env).exit_code == 0);  // 7, A's
  REQUIRE(Aether({"ingest", a, "-q"}, ToJsonl(RandomMems(5, 8, 129, "a5-"))).exit_code == 0);
  {
    FaultProxy proxy(server->port());
    proxy.Plan({Fault::kNone, Fault::kNone, Fault::kHold});
    RunResult held;
    std::thread holder([&] { held = Aether({"publish", a, uri}, "", S3Env(proxy.endpoint())); });
    for (int i = 0; i < 3000 && proxy.held() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(proxy.held() == 1);
    CHECK(Aether({"publish", b, uri, "--take-over", "-q"}, "", env).exit_code == 0);  // 8, B's
    proxy.Release();
    holder.join();
    CHECK(held.exit_code == 73);
    CHECK_MESSAGE(held.err.find("manifests/00000000000000000008.json: the newest snapshot there is another store's") !=
                      std::string::npos,
                  held.err);
    CHECK(held.err.find("no manifest was written") != std::string::npos);
    auto listed = client->List("manifests/");
    REQUIRE(listed.ok());
    CHECK(listed->size() == 8 - 2);  // --keep 1 above removed 1 and 2
    CHECK(manifest(8)["store"] == id_b);
  }

  // A store an older aether made has no ID: the first writer's open makes
  // one (a reader's does not), and it stays.
  SqlRows(a, "DELETE FROM config WHERE key = 'store_id'");
  REQUIRE(Aether({"stats", a}).exit_code == 0);
  CHECK(store_id(a).empty());
  auto dry = Aether({"upgrade", a, "--dry-run"});
  CHECK_MESSAGE(dry.out.find("config: add the store's ID") != std::string::npos, dry.out);
  REQUIRE(Aether({"ingest", a, "-q"}, ToJsonl(RandomMems(5, 8, 126, "a3-"))).exit_code == 0);
  const std::string made = store_id(a);
  CHECK(made.size() == 32);
  REQUIRE(Aether({"ingest", a, "-q"}, ToJsonl(RandomMems(5, 8, 127, "a4-"))).exit_code == 0);
  CHECK(store_id(a) == made);
  // Its publish: the prefix's newest manifest is B's.
  CHECK(Aether({"publish", a, uri}, "", env).exit_code == 73);
}

// A store and a replica named as long as a file name may be (255 bytes):
// publish's snapshot and pull's staging directory beside them are named
// from a shortened stem of the name (its first bytes, "~" and a hash), not
// "File name too long"; a killed pull's staging directory of that stem is
// removed by the next pull into the same replica, and not one of a name
// that differs only in its last byte.
TEST_CASE("publish and pull under names of 255 bytes; a killed pull's shortened staging name is swept") {
  S3Server* server = Server();
  if (!server) return;
  TempDir dir;
  auto long_name = [](char first, char last) { return std::string(1, first) + std::string(253, 'x') + last; };
  const std::string store = dir / long_name('s', 'a'), replica = dir / long_name('r', 'a');
  const std::string other = dir / long_name('r', 'b');  // the same first 254 bytes
  const std::string uri = std::string("s3://") + kBucket + "/t-long";
  auto mems = RandomMems(500, 8, 121);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "6", "-q"}).exit_code == 0);
  const RunResult pub = Aether({"publish", store, uri, "-q"}, "", S3Env(server->endpoint()));
  REQUIRE_MESSAGE(pub.exit_code == 0, pub.err);
  // Killed while two fetches are held: its staging directory stays.
  auto killed_pull = [&](const std::string& into) {
    FaultProxy proxy(server->port());
    const std::vector<Fault> plan = FaultsAfter(2, Fault::kHold, 2);  // LIST manifests/, GET the manifest
    proxy.Plan(plan);
    const int pid = SpawnAether({"pull", uri, into, "-q"}, S3Env(proxy.endpoint()));
    for (int i = 0; i < 3000 && proxy.held() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(proxy.held() == 2);
    kill(pid, SIGKILL);
    CHECK(WaitAether(pid) == 128 + SIGKILL);
    proxy.Release();
  };
  auto staging = [&] {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().find(".aether-pull.") != std::string::npos) found.push_back(e.path().string());
    return found;
  };
  killed_pull(other);
  const auto others = staging();
  REQUIRE(others.size() == 1);
  killed_pull(replica);
  const auto left = staging();
  REQUIRE(left.size() == 2);
  for (const std::string& s : left) {
    const std::string name = fs::path(s).filename().string();
    CHECK(name.size() <= 255);
    CHECK(name.rfind(".r" + std::string(200, 'x'), 0) == 0);
    CHECK(name.find('~') != std::string::npos);  // the shortened stem
  }
  CHECK(fs::path(left[0]).filename().string().substr(0, 240) != fs::path(left[1]).filename().string().substr(0, 240));
  const RunResult pulled = Aether({"pull", uri, replica, "-q"}, "", S3Env(server->endpoint()));
  REQUIRE_MESSAGE(pulled.exit_code == 0, pulled.err);
  const auto after = staging();
  CHECK(after == others);  // the other replica's, not this one's
  CHECK(Aether({"verify", replica}).exit_code == 0);
  const std::string queries = QueriesJsonl(RandomMems(20, 8, 122, "q"));
  CHECK(Answers(replica, queries, Ids(mems)) == Answers(store, queries, Ids(mems)));
  // Its own next pull removes the other's.
  REQUIRE(Aether({"pull", uri, other, "-q"}, "", S3Env(server->endpoint())).exit_code == 0);
  CHECK(staging().empty());
}
