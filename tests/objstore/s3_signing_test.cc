// s3rver does not check signatures: every request the client sends is
// checked here instead, by the test's own Signature V4 (support/sigv4.h),
// which must first reproduce the signatures of AWS's S3 documentation.

#include <doctest/doctest.h>

#include <random>

#include "objstore/s3_client.h"
#include "support/s3_server.h"
#include "support/sigv4.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;

namespace {

const std::string kExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const std::string kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace

// "Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk (AWS Signature Version 4)", Amazon S3 API Reference: the
// four examples (GET Object, PUT Object, GET Bucket Lifecycle, Get Bucket
// (List Objects)), examplebucket, 20130524T000000Z, us-east-1.
TEST_CASE("sigv4 check: the test's own signer reproduces AWS's S3 examples; a tampered request fails it") {
  const std::string date = "20130524T000000Z";
  CHECK(Sha256Hex("") == kEmptySha);
  CHECK(SigV4Signature("GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                       "x-amz-content-sha256:" +
                           kEmptySha + "\nx-amz-date:" + date + "\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                           kEmptySha,
                       date, "us-east-1", "s3",
                       kExampleSecret) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  const std::string put_sha = Sha256Hex("Welcome to Amazon S3.");
  CHECK(put_sha == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  CHECK(SigV4Signature("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
                       "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" +
                           put_sha + "\nx-amz-date:" + date +
                           "\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                           "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" +
                           put_sha,
                       date, "us-east-1", "s3",
                       kExampleSecret) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  CHECK(SigV4Signature("GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" + kEmptySha +
                           "\nx-amz-date:" + date + "\n\nhost;x-amz-content-sha256;x-amz-date\n" + kEmptySha,
                       date, "us-east-1", "s3",
                       kExampleSecret) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  CHECK(SigV4Signature(
            "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" + kEmptySha +
                "\nx-amz-date:" + date + "\n\nhost;x-amz-content-sha256;x-amz-date\n" + kEmptySha,
            date, "us-east-1", "s3",
            kExampleSecret) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");

  // The whole check on the GET Object example as sent, then tampered with.
  const std::string auth =
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n";
  const std::string rest =
      "Host: examplebucket.s3.amazonaws.com\r\nRange: bytes=0-9\r\nx-amz-content-sha256: " + kEmptySha +
      "\r\nx-amz-date: " + date + "\r\n";
  CHECK(SigV4Problem("GET /test.txt HTTP/1.1\r\n" + auth + rest + "\r\n", "", kExampleSecret).empty());
  CHECK(SigV4Problem("GET /test.tx HTTP/1.1\r\n" + auth + rest + "\r\n", "", kExampleSecret).find("signature") == 0);
  CHECK(!SigV4Problem("GET /test.txt HTTP/1.1\r\n" + auth + rest + "\r\n", "", "wrong").empty());
  CHECK(SigV4Problem("GET /test.txt HTTP/1.1\r\n" + auth + rest + "x-amz-meta-a: 1\r\n\r\n", "", kExampleSecret) ==
        "a header sent but not signed: x-amz-meta-a");
  CHECK(SigV4Problem("GET /test.txt HTTP/1.1\r\n" + auth + rest + "\r\n", "body", kExampleSecret) ==
        "x-amz-content-sha256 is not the body's SHA-256");
}

// Every kind of request the client makes, with keys and queries that need
// encoding and a session token, through a recording proxy to s3rver: each
// one signed as S3 checks it.
TEST_CASE(
    "s3 client: every request it sends carries a valid Signature V4 (put, parts, get, range, head, list pages, "
    "delete)") {
  std::string why;
  auto server = S3Server::Start("sign-test", &why);
  if (!server) {
    MESSAGE("skipped: no S3 server: " << why);
    return;
  }
  FaultProxy proxy(server->port());
  S3Settings s;
  s.endpoint = proxy.endpoint();
  s.region = "eu-central-1";
  s.access_key = "S3RVER";
  s.secret_key = "S3RVER";
  s.session_token = "token/with+odd=chars";
  s.addressing = S3Addressing::kPath;
  S3ClientOptions o;
  o.part_bytes = o.multipart_threshold = 5u << 20;
  o.list_page = 2;
  auto c = S3Client::Create(s, S3Location{"sign-test", "a prefix/ü"}, o);
  REQUIRE(c.ok());
  std::mt19937_64 rng(3);
  std::string big((5u << 20) + 100, '\0');
  for (char& ch : big) ch = char(rng());
  std::string got;
  for (const std::string key : {"plain", "sp ace", "q?x=1&y=2", "pct%2F", "tilde~star*", "deep/er/key"})
    REQUIRE((*c)->Put(key, "v:" + key).ok());
  REQUIRE((*c)->Put("big", big).ok());
  REQUIRE((*c)->Get("q?x=1&y=2", &got).ok());
  CHECK(got == "v:q?x=1&y=2");
  REQUIRE((*c)->GetRange("big", 5, 100, &got).ok());
  REQUIRE((*c)->Head("sp ace").ok());
  auto listed = (*c)->List();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 7);  // four pages of two: continuation tokens signed too
  REQUIRE((*c)->Delete("pct%2F").ok());
  const auto recorded = proxy.Recorded();
  CHECK(recorded.size() == 6 + 4 + 1 + 1 + 1 + 4 + 1);  // puts, multipart (start, 2 parts, complete), ...
  size_t with_query = 0;
  for (const auto& hb : recorded) {
    const std::string head = hb.first, body = hb.second;  // not a structured binding: CAPTURE is a lambda
    CAPTURE(head.substr(0, head.find("\r\n")));
    CHECK_MESSAGE(SigV4Problem(head, body, "S3RVER").empty(), SigV4Problem(head, body, "S3RVER"));
    CHECK(head.find("x-amz-security-token: token/with+odd=chars\r\n") != std::string::npos);
    with_query += head.substr(0, head.find("\r\n")).find('?') != std::string::npos;
  }
  CHECK(with_query == 4 + 4);  // the multipart requests and the list pages
}
