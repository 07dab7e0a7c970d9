// Fetching a snapshot's object into a local file (bucket/snapshot_objects.h)
// against s3rver on loopback, through the fault proxy: whole or in ranged
// GETs several at once, the file holds exactly the object's bytes, or the
// fetch fails clearly and leaves nothing (no destination, no temporary).

#include "bucket/snapshot_objects.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "env/fault_env.h"
#include "objstore/digest.h"
#include "objstore/s3_client.h"
#include "support/s3_server.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;
namespace fs = std::filesystem;

namespace {

const char* kBucket = "objectfetch";

std::string Bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

S3ClientOptions Quick() {
  S3ClientOptions o;
  o.attempts = 3;
  o.base_delay_ms = 5;
  o.max_delay_ms = 20;
  o.stall_seconds = 1;
  return o;
}

S3ClientPool::Connect ConnectTo(const std::string& endpoint, const std::string& prefix) {
  return [endpoint, prefix]() -> Result<std::unique_ptr<S3Client>> {
    return S3rverClient(endpoint, kBucket, prefix, Quick());
  };
}

// The names in `dir` (the fetch's destination and any temporary it left).
std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// The byte ranges the proxy saw asked of `key` ("A-B"), or "whole" for a
// GET without a Range header.
std::multiset<std::string> RangesAsked(FaultProxy* proxy, const std::string& key) {
  std::multiset<std::string> out;
  static const std::regex range(R"((?:^|\r\n)range: bytes=(\d+-\d+)\r\n)", std::regex::icase);
  for (const auto& [head, body] : proxy->Recorded()) {
    if (head.rfind("GET ", 0) != 0 || head.find(key) == std::string::npos) continue;
    std::smatch m;
    out.insert(std::regex_search(head, m, range) ? std::string(m[1]) : "whole");
  }
  return out;
}

std::string OpenSslMd5(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

}  // namespace

TEST_CASE("snapshot digests: a file's SHA-256 and the ETags an upload of it gets, single-part and multipart") {
  // Small parts, so that every shape is cheap: up to the threshold one
  // part; past it, parts of part_bytes, the last one shorter or whole.
  S3ClientOptions o;
  o.part_bytes = 1000;
  o.multipart_threshold = 2500;
  for (uint64_t n : {uint64_t(0), uint64_t(1), uint64_t(999), uint64_t(1000), uint64_t(2500), uint64_t(2501),
                     uint64_t(3000), uint64_t(7777)}) {
    CAPTURE(n);
    TempDir dir;
    const std::string data = Bytes(size_t(n), n + 3);
    WriteFile(dir / "f", data);
    auto file = Env::Default()->Open(dir / "f", OpenMode::kRead);
    REQUIRE(file.ok());
    auto d = DigestFile(file->get(), o);
    REQUIRE(d.ok());
    CHECK(d->bytes == n);
    CHECK(d->sha256 == ToHex(Sha256(data)));
    // The reference: S3's documented multipart ETag, the MD5 of the parts'
    // MD5s joined, then "-" and the part count; and the whole's MD5.
    std::vector<std::string> want = {ToHex(OpenSslMd5(data))};
    if (n > o.multipart_threshold) {
      std::string md5s;
      uint64_t parts = 0;
      for (uint64_t at = 0; at < n; at += o.part_bytes, ++parts) md5s += OpenSslMd5(data.substr(at, o.part_bytes));
      want.push_back(ToHex(OpenSslMd5(md5s)) + "-" + std::to_string(parts));
    }
    CHECK(d->etags == want);
  }
}

TEST_CASE("object fetch: whole or in ranges several at once, exact bytes, each range asked once, no temporary left") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const uint64_t range = 64 << 10;
  auto put = S3rverClient(server->endpoint(), kBucket, "f1");
  Env* env = Env::Default();
  for (uint64_t n : {uint64_t(0), uint64_t(1), range - 1, range, range + 1, 2 * range, 5 * range + 3}) {
    const std::string data = Bytes(size_t(n), n);
    const std::string sha = ToHex(Sha256(data));
    REQUIRE(put->Put("objects/" + sha, data).ok());
    for (int parallel : {1, 3, 8}) {
      CAPTURE(n);
      CAPTURE(parallel);
      FaultProxy proxy(server->port());
      S3ClientPool pool(ConnectTo(proxy.endpoint(), "f1"));
      TempDir dir;
      const std::string to = dir / "obj";
      std::string missing;
      const Status s = FetchObject(env, &pool, sha, n, to, "test", ObjectFetchOptions{range, parallel}, &missing);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(ReadFile(to) == data);
      CHECK(Names(dir.path()) == std::set<std::string>{"obj"});
      CHECK(missing.empty());
      // Up to one range: one GET of the whole. Past it: every range once,
      // together exactly the object.
      std::multiset<std::string> want;
      if (n <= range) {
        want.insert("whole");
      } else {
        for (uint64_t at = 0; at < n; at += range)
          want.insert(std::to_string(at) + "-" + std::to_string(std::min(n, at + range) - 1));
      }
      CHECK(RangesAsked(&proxy, sha) == want);
      CHECK(pool.requests() == want.size());
    }
  }
  // A destination already there (a cache's damaged copy) is replaced whole.
  TempDir dir;
  const std::string data = Bytes(3 * range, 5), sha = ToHex(Sha256(data)), to = dir / "obj";
  REQUIRE(put->Put("objects/" + sha, data).ok());
  WriteFile(to, "old bytes");
  S3ClientPool pool(ConnectTo(server->endpoint(), "f1"));
  std::string missing;
  REQUIRE(FetchObject(env, &pool, sha, data.size(), to, "test", ObjectFetchOptions{range, 2}, &missing).ok());
  CHECK(ReadFile(to) == data);
}

TEST_CASE(
    "object fetch: a fault in any range is retried to the exact bytes; a range failing every attempt fails "
    "clearly and leaves nothing") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const uint64_t range = 32 << 10;
  const std::string data = Bytes(4 * range + 100, 9), sha = ToHex(Sha256(data));
  REQUIRE(S3rverClient(server->endpoint(), kBucket, "f2")->Put("objects/" + sha, data).ok());
  Env* env = Env::Default();
  FaultProxy proxy(server->port(), 1500);
  int retried = 0, failed = 0;
  for (Fault f : {Fault::k500, Fault::k503, Fault::kResetBefore, Fault::kResetAfter, Fault::kStall, Fault::kTruncate}) {
    // The fault meets the first, a middle or the last of the five GETs (one
    // at a time: parallel 1 makes the order the ranges').
    for (int at : {0, 2, 4}) {
      for (bool every_attempt : {false, true}) {
        if (f == Fault::kStall && every_attempt && at != 2) continue;  // each costs 3 s of stalls
        CAPTURE(FaultName(f));
        CAPTURE(at);
        CAPTURE(every_attempt);
        const std::vector<Fault> plan = FaultsAfter(size_t(at), f, every_attempt ? 3 : 1);
        proxy.Plan(plan);
        S3ClientPool pool(ConnectTo(proxy.endpoint(), "f2"));
        TempDir dir;
        const std::string to = dir / "obj";
        std::string missing;
        const Status s = FetchObject(env, &pool, sha, data.size(), to, "test", ObjectFetchOptions{range, 1}, &missing);
        proxy.Plan({});
        if (!every_attempt) {
          REQUIRE_MESSAGE(s.ok(), s.ToString());
          CHECK(ReadFile(to) == data);
          CHECK(Names(dir.path()) == std::set<std::string>{"obj"});
          ++retried;
        } else {
          CHECK(!s.ok());
          CHECK(s.code() != Code::kCorruption);  // an error, never wrong bytes
          CHECK_MESSAGE(s.message().find("attempts") != std::string::npos, s.message());
          CHECK(Names(dir.path()).empty());
          ++failed;
        }
      }
    }
  }
  MESSAGE("faults: " << retried << " retried to success, " << failed << " failed clearly");
}

TEST_CASE("object fetch: bytes that are not the manifest's are kCorruption, a missing object kNotFound; nothing left") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const uint64_t range = 16 << 10;
  auto put = S3rverClient(server->endpoint(), kBucket, "f3");
  Env* env = Env::Default();
  const std::string data = Bytes(3 * range + 7, 21), sha = ToHex(Sha256(data));
  std::string flipped = data;
  flipped[2 * range + 1] ^= 1;  // in the third range
  struct Case {
    const char* name;
    std::string stored;  // under objects/SHA; "" for none
    Code code;
  };
  const std::vector<Case> cases = {
      {"one bit flipped", flipped, Code::kCorruption},
      {"one byte short", data.substr(0, data.size() - 1), Code::kCorruption},
      {"one byte long", data + "x", Code::kCorruption},
      {"gone", "", Code::kNotFound},
  };
  for (const Case& c : cases) {
    for (uint64_t r : {range, uint64_t(1) << 20}) {  // in ranges, and in one GET
      CAPTURE(c.name);
      CAPTURE(r);
      REQUIRE(put->Delete("objects/" + sha).ok());
      if (!c.stored.empty()) REQUIRE(put->Put("objects/" + sha, c.stored).ok());
      S3ClientPool pool(ConnectTo(server->endpoint(), "f3"));
      TempDir dir;
      std::string missing;
      const Status s =
          FetchObject(env, &pool, sha, data.size(), dir / "obj", "cold/x.shard", ObjectFetchOptions{r, 2}, &missing);
      // Ranged GETs take the object's first bytes: a longer object's are the
      // manifest's (its SHA-256 checked), so that fetch is right.
      if (r == range && std::string(c.name) == "one byte long") {
        CHECK_MESSAGE(s.ok(), s.ToString());
        CHECK(ReadFile(dir / "obj") == data);
        continue;
      }
      CHECK_MESSAGE(s.code() == c.code, s.ToString());
      CHECK(Names(dir.path()).empty());
      const std::string uri = std::string("s3://") + kBucket + "/f3/objects/" + sha;
      CHECK_MESSAGE(s.message().find(uri) != std::string::npos, s.message());
      CHECK(missing == (c.code == Code::kNotFound ? uri : ""));
      if (c.code == Code::kCorruption)
        CHECK_MESSAGE(s.message().find("cold/x.shard") != std::string::npos, s.message());
    }
  }
}

TEST_CASE("object fetch: every local step failing in turn (ranges on 3 threads) is an I/O error; nothing half left") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const uint64_t range = 16 << 10;
  const std::string data = Bytes(5 * range + 11, 31), sha = ToHex(Sha256(data));
  REQUIRE(S3rverClient(server->endpoint(), kBucket, "f4")->Put("objects/" + sha, data).ok());
  S3ClientPool pool(ConnectTo(server->endpoint(), "f4"));
  int failed = 0;
  for (uint64_t step = 1;; ++step) {
    CAPTURE(step);
    REQUIRE(step < 100);
    TempDir dir;
    FaultEnv env(Env::Default());
    env.FailAt(step, false);
    const std::string to = dir / "obj";
    std::string missing;
    const Status s = FetchObject(&env, &pool, sha, data.size(), to, "test", ObjectFetchOptions{range, 3}, &missing);
    if (!env.failed()) {  // past the last step: the fetch is whole
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(ReadFile(to) == data);
      break;
    }
    ++failed;
    // The injected error, whichever thread met it: never taken for damage
    // or for an object the bucket lacks.
    CHECK(!s.ok());
    CHECK_MESSAGE(s.code() == Code::kIOError, s.ToString());
    CHECK(missing.empty());
    // Nothing but the object itself (when only the directory's sync after
    // the rename failed), and no temporary.
    const std::set<std::string> names = Names(dir.path());
    CHECK((names.empty() || (names == std::set<std::string>{"obj"} && ReadFile(to) == data)));
  }
  CHECK(failed >= 9);  // the create, 6 writes, the sync, the rename, the directory's sync
}

TEST_CASE(
    "object fetch: ranges run at once (3 held together), their temporary held from trims; Range ignored: refused") {
  S3Server* server = SharedS3Server(kBucket);
  if (!server) return;
  const uint64_t range = 16 << 10;
  const std::string data = Bytes(5 * range, 41), sha = ToHex(Sha256(data));
  REQUIRE(S3rverClient(server->endpoint(), kBucket, "f5")->Put("objects/" + sha, data).ok());
  FaultProxy proxy(server->port());
  proxy.Plan({Fault::kHold, Fault::kHold, Fault::kHold});
  S3ClientPool pool(ConnectTo(proxy.endpoint(), "f5"));
  TempDir dir;
  Status s;
  std::thread fetch([&] {
    s = FetchObject(Env::Default(), &pool, sha, data.size(), dir / "obj", "test", ObjectFetchOptions{range, 3},
                    nullptr);
  });
  // Three GETs held at once: three threads asked at the same time (one at
  // a time would stop at one held). A liveness wait, not a timing.
  for (int i = 0; i < 3000 && proxy.held() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(proxy.held() == 3);
  // Meanwhile its temporary, however old it looks, is no killed fetch's:
  // the fetch holds its flock.
  std::string tmp;
  for (const std::string& name : Names(dir.path())) tmp = dir / name;
  REQUIRE_MESSAGE(tmp.size() > 4, "no temporary");
  CHECK(tmp.substr(tmp.size() - 4) == ".tmp");
  CHECK_FALSE(AbandonedTemporary(Env::Default(), tmp, 2 * kAbandonedAfterMs));
  proxy.Release();
  fetch.join();
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(ReadFile(dir / "obj") == data);
  // A temporary nobody holds: abandoned once old enough; never a link.
  WriteFile(tmp, "partial");
  CHECK_FALSE(AbandonedTemporary(Env::Default(), tmp, kAbandonedAfterMs - 1));
  CHECK(AbandonedTemporary(Env::Default(), tmp, kAbandonedAfterMs));
  fs::remove(tmp);
  fs::create_symlink(dir / "obj", tmp);
  CHECK_FALSE(AbandonedTemporary(Env::Default(), tmp, 2 * kAbandonedAfterMs));

  // An answer longer than the range asked for (as from a server that
  // ignores Range and sends the whole object) stops as it passes the cap.
  auto c = S3rverClient(server->endpoint(), kBucket, "f5");
  std::string got;
  const Status capped = c->GetRange("objects/" + sha, 0, 1000, &got, 500);
  CHECK(capped.code() == Code::kIOError);
  CHECK_MESSAGE(capped.message().find("does not serve byte ranges") != std::string::npos, capped.message());
  REQUIRE(c->GetRange("objects/" + sha, 1000, 500, &got, 500).ok());
  CHECK(got == data.substr(1000, 500));
}
