// The S3 client against a real S3 implementation (s3rver) on loopback, and
// through a proxy that injects the network's failures: every operation
// returns exactly the stored bytes or a clear error, never wrong bytes.

#include "objstore/s3_client.h"

#include <doctest/doctest.h>

#include <map>
#include <random>

#include "objstore/xml.h"
#include "support/s3_server.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;

namespace {

const char* kBucket = "aether-test";

S3Server* Server() { return SharedS3Server(kBucket); }

S3Settings Settings(const std::string& endpoint) { return S3rverSettings(endpoint); }

std::unique_ptr<S3Client> Client(const std::string& endpoint, const std::string& prefix,
                                 S3ClientOptions o = S3ClientOptions()) {
  return S3rverClient(endpoint, kBucket, prefix, o);
}

// Multipart uploads of the smallest part S3 allows (5 MiB) above 5 MiB,
// and backoff of a few ms, for the tests that fault a completion.
S3ClientOptions FaultedMultipart() {
  S3ClientOptions o;
  o.part_bytes = 5u << 20;
  o.multipart_threshold = 5u << 20;
  o.base_delay_ms = 5;
  o.max_delay_ms = 20;
  return o;
}

std::string Bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

std::map<std::string, uint64_t> Listed(S3Client* c, const std::string& prefix = "") {
  auto list = c->List(prefix);
  REQUIRE_MESSAGE(list.ok(), list.status().ToString());
  std::map<std::string, uint64_t> out;
  for (const auto& o : *list) out[o.key] = o.size;
  return out;
}

}  // namespace

TEST_CASE("s3 client: put, get, ranged get, head, paged list and delete against s3rver, keys that need encoding") {
  S3Server* server = Server();
  if (!server) return;
  S3ClientOptions o;
  o.list_page = 3;  // several pages
  auto c = Client(server->endpoint(), "t1/store", o);
  // Keys with what a URL must encode: spaces, '+', '%', '?', '#', '=', '&',
  // UTF-8, and a nested path.
  const std::vector<std::string> keys = {
      "a", "cold/g000001/p000003.shard", "with space", "plus+sign", "pct%41", "q?x=1&y#z", "ünïcødé/ключ", "z"};
  std::map<std::string, std::string> want;
  for (size_t i = 0; i < keys.size(); ++i) {
    want[keys[i]] = Bytes(1000 + 37 * i, i);
    REQUIRE_MESSAGE(c->Put(keys[i], want[keys[i]]).ok(), keys[i]);
  }
  want["empty"] = "";
  REQUIRE(c->Put("empty", "").ok());
  for (const auto& kv : want) {
    const std::string k = kv.first, v = kv.second;  // not a structured binding: CAPTURE is a lambda
    CAPTURE(k);
    std::string got;
    REQUIRE(c->Get(k, &got).ok());
    CHECK(got == v);
    auto head = c->Head(k);
    REQUIRE(head.ok());
    REQUIRE(*head);
    CHECK((*head)->size == v.size());
    CHECK((*head)->etag.size() == 32);  // a single-part upload's ETag: the MD5 in hex
  }
  // Ranges: the first byte, the middle, the last, the whole.
  const std::string& big = want["z"];
  for (auto range :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {100, 500}, {big.size() - 1, 1}, {0, big.size()}, {17, 0}}) {
    const uint64_t off = range.first, len = range.second;  // not a structured binding: CAPTURE is a lambda
    CAPTURE(off);
    CAPTURE(len);
    std::string got = "stale";
    Status rs = c->GetRange("z", off, len, &got);
    REQUIRE_MESSAGE(rs.ok(), rs.ToString());
    CHECK(got == big.substr(off, len));
  }
  std::string got;
  Status past = c->GetRange("z", big.size(), 10, &got);
  CHECK(past.code() == Code::kBadInput);
  CHECK(past.message().find("past the end") != std::string::npos);

  // The listing: every key under the prefix, with its size, over pages of 3;
  // and under a sub-prefix only those.
  std::map<std::string, uint64_t> sizes;
  for (const auto& [k, v] : want) sizes[k] = v.size();
  CHECK(Listed(c.get()) == sizes);
  CHECK(Listed(c.get(), "cold/") ==
        std::map<std::string, uint64_t>{{"cold/g000001/p000003.shard", want[keys[1]].size()}});
  // Another prefix of the same bucket sees nothing of these.
  auto other = Client(server->endpoint(), "t1/store2");
  CHECK(Listed(other.get()).empty());

  // A missing key: NotFound naming the object; Head says absent; a delete
  // of it succeeds.
  Status missing = c->Get("nope", &got);
  CHECK(missing.code() == Code::kNotFound);
  CHECK(missing.message().find("s3://aether-test/t1/store/nope") != std::string::npos);
  CHECK(missing.message().find("NoSuchKey") != std::string::npos);
  auto none = c->Head("nope");
  REQUIRE(none.ok());
  CHECK(!*none);
  CHECK(c->Delete("nope").ok());
  // A body past the size the caller expects is refused before it is all in.
  Status big_one = c->Get("z", &got, big.size() - 1);
  CHECK(big_one.code() == Code::kCorruption);
  CHECK(big_one.message().find("larger than the") != std::string::npos);
  REQUIRE(c->Get("z", &got, big.size()).ok());
  CHECK(got == big);
  // The cap is on the object, not on the store's error document: a missing
  // object expected empty is NotFound, not "larger".
  CHECK(c->Get("nope", &got, 0).code() == Code::kNotFound);
  // Delete: gone from get, head and the listing.
  for (const std::string& k : {keys[2], keys[6]}) {
    REQUIRE(c->Delete(k).ok());
    sizes.erase(k);
    CHECK(c->Get(k, &got).code() == Code::kNotFound);
  }
  CHECK(Listed(c.get()) == sizes);
  // An overwrite replaces the whole object.
  REQUIRE(c->Put("a", "short").ok());
  REQUIRE(c->Get("a", &got).ok());
  CHECK(got == "short");
  CHECK(c->counters().retries == 0);
}

TEST_CASE("s3 client: a large object goes up in checked parts and comes back exact") {
  S3Server* server = Server();
  if (!server) return;
  S3ClientOptions o;
  o.part_bytes = 5u << 20;
  o.multipart_threshold = 5u << 20;
  auto c = Client(server->endpoint(), "t2", o);
  const std::string big = Bytes((11u << 20) + 12345, 7);  // 3 parts, the last short
  const uint64_t before = c->counters().requests;
  REQUIRE(c->Put("big", big).ok());
  CHECK(c->counters().requests - before == 5);  // start, 3 parts, complete
  std::string got;
  REQUIRE(c->Get("big", &got).ok());
  CHECK(got == big);
  REQUIRE(c->GetRange("big", (5u << 20) - 3, 10, &got).ok());  // across a part boundary
  CHECK(got == big.substr((5u << 20) - 3, 10));
  CHECK(Listed(c.get()) == std::map<std::string, uint64_t>{{"big", big.size()}});
}

// A completion the store carried out but whose answer was lost (the
// connection reset after it reached the server) is sent again and fails
// (S3: NoSuchUpload; s3rver: 500): the object, whose ETag says it is these
// parts (S3's MD5 of the parts' MD5s), is the upload's, so the put
// succeeded.
TEST_CASE("s3 client: a multipart completion whose answer was lost succeeded; its retries' failure is no error") {
  S3Server* server = Server();
  if (!server) return;
  FaultProxy proxy(server->port());
  auto c = Client(proxy.endpoint(), "t2l", FaultedMultipart());
  const std::string big = Bytes((10u << 20) + 11, 10);  // 3 parts
  proxy.Plan({Fault::kNone, Fault::kNone, Fault::kNone, Fault::kNone, Fault::kResetAfter});
  const uint64_t before = c->counters().requests;
  const Status put = c->Put("big", big);
  CHECK_MESSAGE(put.ok(), put.message());
  // start, 3 parts, the completion and its retries, then a HEAD
  CHECK(c->counters().requests - before >= 7);
  const auto recorded = proxy.Recorded();
  REQUIRE(recorded.size() >= 7);
  CHECK(recorded.back().first.rfind("HEAD ", 0) == 0);
  std::string got;
  REQUIRE(c->Get("big", &got).ok());
  CHECK(got == big);
}

// S3 may answer CompleteMultipartUpload 200 with an error in the body: a
// transient one is retried like a 500 (the upload completes, the object is
// exact); on every attempt, a clear error after the last, and the object
// is the earlier one, whole.
TEST_CASE("s3 client: a multipart upload completed with an error in a 200 is completed again, or fails clearly") {
  S3Server* server = Server();
  if (!server) return;
  FaultProxy proxy(server->port());
  S3ClientOptions o = FaultedMultipart();
  o.attempts = 3;
  auto c = Client(proxy.endpoint(), "t2e", o);
  const std::string first = Bytes((10u << 20) + 7, 8), second = Bytes((10u << 20) + 7, 9);  // 3 parts each
  proxy.Plan({Fault::kNone, Fault::kNone, Fault::kNone, Fault::kNone, Fault::k200Error});
  const uint64_t before = c->counters().requests;
  REQUIRE(c->Put("big", first).ok());
  CHECK(c->counters().requests - before == 6);  // start, 3 parts, complete twice
  std::string got;
  REQUIRE(c->Get("big", &got).ok());
  CHECK(got == first);
  proxy.Plan(
      {Fault::kNone, Fault::kNone, Fault::kNone, Fault::kNone, Fault::k200Error, Fault::k200Error, Fault::k200Error});
  const Status failed = c->Put("big", second);
  CHECK(failed.code() == Code::kIOError);
  CHECK(failed.message().find("InternalError") != std::string::npos);
  CHECK(failed.message().find("attempts") != std::string::npos);
  proxy.Plan({});
  REQUIRE(c->Get("big", &got).ok());
  CHECK(got == first);
}

// Each failure of the network, once: the request is repeated and the bytes
// are exact. The same failure on every attempt: a clear error after the
// last, naming the object and the attempts, and the object is whole (old or
// new), never torn.
TEST_CASE("s3 client: injected faults are retried to exact bytes, or fail clearly after every attempt; never wrong") {
  S3Server* server = Server();
  if (!server) return;
  FaultProxy proxy(server->port(), 1500);
  S3ClientOptions o;
  o.attempts = 3;
  o.base_delay_ms = 5;
  o.max_delay_ms = 20;
  o.stall_seconds = 1;
  o.list_page = 2;
  auto c = Client(proxy.endpoint(), "t3", o);
  const std::string v1 = Bytes(4000, 1), v2 = Bytes(3000, 2);
  REQUIRE(c->Put("obj", v1).ok());
  REQUIRE(c->Put("other", "x").ok());
  const std::vector<Fault> faults = {Fault::k500,        Fault::k503,   Fault::kResetBefore,
                                     Fault::kResetAfter, Fault::kStall, Fault::kTruncate};
  struct Op {
    const char* name;
    bool has_body;  // the answer has a body to truncate
    std::function<Status()> run;
  };
  std::string got;
  const std::vector<Op> ops = {
      {"put", false, [&] { return c->Put("obj", v2); }},
      {"get", true,
       [&] {
         AETHER_RETURN_IF_ERROR(c->Get("obj", &got));
         return got == v1 || got == v2 ? Status::Ok() : Status::Corruption("get returned wrong bytes");
       }},
      {"range", true,
       [&] {
         AETHER_RETURN_IF_ERROR(c->GetRange("obj", 100, 2000, &got));
         return got == v1.substr(100, 2000) || got == v2.substr(100, 2000)
                    ? Status::Ok()
                    : Status::Corruption("range returned wrong bytes");
       }},
      {"head", false,
       [&] {
         auto h = c->Head("obj");
         AETHER_RETURN_IF_ERROR(h.status());
         return *h && ((*h)->size == v1.size() || (*h)->size == v2.size()) ? Status::Ok()
                                                                           : Status::Corruption("head: wrong size");
       }},
      {"list", true,
       [&] {
         auto l = c->List();
         AETHER_RETURN_IF_ERROR(l.status());
         return l->size() == 2 ? Status::Ok() : Status::Corruption("list: wrong keys");
       }},
      {"delete", false, [&] { return c->Delete("gone"); }},
  };
  int retried = 0, failed = 0;
  for (const Op& op : ops) {
    for (Fault f : faults) {
      if (f == Fault::kTruncate && !op.has_body) continue;
      for (bool every_attempt : {false, true}) {
        // A stall costs the client's stall limit (1 s) per attempt: every
        // attempt stalled is tried on one operation.
        if (f == Fault::kStall && every_attempt && std::string(op.name) != "get") continue;
        CAPTURE(op.name);
        CAPTURE(FaultName(f));
        CAPTURE(every_attempt);
        REQUIRE(c->Put("obj", v1).ok());
        proxy.Plan(std::vector<Fault>(every_attempt ? o.attempts : 1, f));
        const uint64_t retries = c->counters().retries;
        Status s = op.run();
        if (!every_attempt) {
          CHECK_MESSAGE(s.ok(), s.ToString());
          CHECK(c->counters().retries == retries + 1);
          ++retried;
        } else {
          CHECK(!s.ok());
          CHECK(s.code() != Code::kCorruption);  // an error, never wrong bytes
          CHECK_MESSAGE(s.message().find("attempts") != std::string::npos, s.message());
          ++failed;
        }
        proxy.Plan({});
        // Whatever happened, the object is one whole version.
        REQUIRE(c->Get("obj", &got).ok());
        CHECK((got == v1 || got == v2));
      }
    }
  }
  MESSAGE("faults: " << retried << " retried to success, " << failed << " failed clearly");
}

TEST_CASE("s3 client: final answers are not retried; an unreachable store fails after its attempts") {
  S3Server* server = Server();
  if (!server) return;
  S3ClientOptions o;
  o.attempts = 3;
  o.base_delay_ms = 5;
  // A bucket that does not exist: NotFound, one request.
  auto nb = S3Client::Create(Settings(server->endpoint()), S3Location{"no-such-bucket", ""}, o);
  REQUIRE(nb.ok());
  std::string got;
  Status s = (*nb)->Get("k", &got);
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().find("NoSuchBucket") != std::string::npos);
  CHECK((*nb)->counters().requests == 1);
  // An access key the store does not know: PermissionDenied, one request.
  S3Settings bad = Settings(server->endpoint());
  bad.access_key = "NOBODY";
  auto nk = S3Client::Create(bad, S3Location{kBucket, ""}, o);
  REQUIRE(nk.ok());
  s = (*nk)->Put("k", "v");
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("InvalidAccessKeyId") != std::string::npos);
  CHECK((*nk)->counters().requests == 1);
  // Nothing listening: every attempt made, then an I/O error.
  int port = 0;
  {
    FaultProxy gone(server->port());
    port = gone.port();
  }
  auto nc = S3Client::Create(Settings("http://127.0.0.1:" + std::to_string(port)), S3Location{kBucket, ""}, o);
  REQUIRE(nc.ok());
  s = (*nc)->Get("k", &got);
  CHECK(s.code() == Code::kIOError);
  CHECK_MESSAGE(s.message().find("gave up after 3 attempts") != std::string::npos, s.message());
  CHECK((*nc)->counters().requests == 3);
}

TEST_CASE("s3 xml: the elements S3 answers with, entities decoded; malformed text yields nothing") {
  const std::string xml =
      "<ListBucketResult><KeyCount>2</KeyCount><Contents><Key>a&amp;b &lt;c&gt; &#x41;&#66;&#x10348;</Key>"
      "<Size>12</Size></Contents><Contents><Key>d</Key><Size>0</Size></Contents><IsTruncated>false</IsTruncated>"
      "<Empty/></ListBucketResult>";
  const auto blocks = XmlBlocks(xml, "Contents");
  REQUIRE(blocks.size() == 2);
  CHECK(XmlFirst(blocks[0], "Key") == "a&b <c> AB\xF0\x90\x8D\x88");
  CHECK(XmlFirst(blocks[1], "Size") == "0");
  CHECK(XmlFirst(xml, "Key") == XmlFirst(blocks[0], "Key"));  // <KeyCount> is not <Key>
  CHECK(XmlFirst(xml, "IsTruncated") == "false");
  CHECK(XmlFirst(xml, "Empty").empty());
  CHECK(XmlFirst(xml, "Missing").empty());
  for (const char* bad : {"<K>&bogus;</K>", "<K>&amp</K>", "<K>&#xD800;</K>", "<K>&#0;</K>", "<K>&#x110000;</K>"})
    CHECK_MESSAGE(XmlFirst(bad, "K").empty(), bad);
  std::string round;
  REQUIRE(XmlUnescape(XmlEscape("<a href=\"x\">'&'</a>"), &round));
  CHECK(round == "<a href=\"x\">'&'</a>");
}
