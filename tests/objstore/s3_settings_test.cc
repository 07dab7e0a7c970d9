// s3:// URIs, and the endpoint, region and credentials resolved from flags,
// the environment and the AWS shared files, in the AWS tools' order.

#include "objstore/s3_settings.h"

#include <doctest/doctest.h>

#include <map>

#include "objstore/s3_client.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;

namespace {

EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("s3 uri: bucket and prefix, and every malformed form named") {
  auto l = ParseS3Uri("s3://my-bucket.v2/agents/a1/");
  REQUIRE(l.ok());
  CHECK(l->bucket == "my-bucket.v2");
  CHECK(l->prefix == "agents/a1");
  CHECK(l->Uri() == "s3://my-bucket.v2/agents/a1");
  l = ParseS3Uri("s3://abc");
  REQUIRE(l.ok());
  CHECK(l->prefix.empty());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"http://b/x", "does not start with s3://"},
      {"s3://ab/x", "3 to 63 characters"},
      {"s3://" + std::string(64, 'a'), "3 to 63 characters"},
      {"s3://My-Bucket", "not 'M'"},
      {"s3://bucket_x", "not '_'"},
      {"s3://-bucket", "starts and ends with a letter or digit"},
      {"s3://bucket/a//b", "empty segment"},
      {"s3://bucket//a", "empty segment"},
      {"s3://bucket/a\nb", "control character"},
      {"s3://bucket/../victim/x", "a '..' segment"},
      {"s3://bucket/a/./b", "a '.' segment"},
      {"s3://bucket/a/..", "a '..' segment"},
      {"s3://bucket/\xC3\x28", "not valid UTF-8"},
  };
  for (const auto& uw : bad) {
    const std::string uri = uw.first, why = uw.second;  // not a structured binding: CAPTURE is a lambda
    CAPTURE(uri);
    auto r = ParseS3Uri(uri);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(why) != std::string::npos, r.status().message());
  }
}

TEST_CASE("s3 settings: flags, then the environment, then the shared files; path-style where virtual hosts fail") {
  TempDir dir;
  WriteFile(dir / "credentials",
            "# comment\n[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n\n"
            "[work]\naws_access_key_id=WORKKEY\naws_secret_access_key=WORKSECRET\naws_session_token = WORKTOKEN\n");
  WriteFile(dir / "config",
            "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-south-1\nendpoint_url = http://minio:9000\n"
            "s3 =\n  addressing_style = path\n  region = nested-not-top-level\n  endpoint_url = http://nested:1\n");
  const std::map<std::string, std::string> files = {{"AWS_SHARED_CREDENTIALS_FILE", dir / "credentials"},
                                                    {"AWS_CONFIG_FILE", dir / "config"}};
  auto with = [&](std::map<std::string, std::string> more) {
    more.insert(files.begin(), files.end());
    return EnvOf(more);
  };

  // Nothing but the files: the default profile; AWS's endpoint for its region.
  auto s = ResolveS3Settings({}, with({}));
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  CHECK(s->access_key == "DEFKEY");
  CHECK(s->secret_key == "DEFSECRET");
  CHECK(s->session_token.empty());
  CHECK(s->region == "eu-west-1");
  CHECK(s->endpoint == "https://s3.eu-west-1.amazonaws.com");
  CHECK(s->credentials_from.find("profile 'default'") != std::string::npos);
  CHECK(!UsesPathStyle(*s, "bucket"));    // AWS: virtual-hosted
  CHECK(UsesPathStyle(*s, "my.bucket"));  // a dotted bucket: path-style

  // AWS_PROFILE picks a profile: its keys, token, region and endpoint.
  s = ResolveS3Settings({}, with({{"AWS_PROFILE", "work"}}));
  REQUIRE(s.ok());
  CHECK(s->access_key == "WORKKEY");
  CHECK(s->session_token == "WORKTOKEN");
  CHECK(s->region == "ap-south-1");
  CHECK(s->endpoint == "http://minio:9000");
  CHECK(UsesPathStyle(*s, "bucket"));  // not AWS: path-style

  // The environment's keys win over a profile from AWS_PROFILE, and its
  // region and endpoint over the file's.
  s = ResolveS3Settings({}, with({{"AWS_PROFILE", "work"},
                                  {"AWS_ACCESS_KEY_ID", "ENVKEY"},
                                  {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
                                  {"AWS_SESSION_TOKEN", "ENVTOKEN"},
                                  {"AWS_REGION", "us-west-2"},
                                  {"AWS_DEFAULT_REGION", "ignored"},
                                  {"AWS_ENDPOINT_URL", "http://127.0.0.1:4568/"}}));
  REQUIRE(s.ok());
  CHECK(s->access_key == "ENVKEY");
  CHECK(s->session_token == "ENVTOKEN");
  CHECK(s->region == "us-west-2");
  CHECK(s->endpoint == "http://127.0.0.1:4568");
  s = ResolveS3Settings({}, with({{"AWS_DEFAULT_REGION", "ca-central-1"},
                                  {"AWS_ENDPOINT_URL", "http://a:1"},
                                  {"AWS_ENDPOINT_URL_S3", "http://s3only:2"}}));
  REQUIRE(s.ok());
  CHECK(s->region == "ca-central-1");
  CHECK(s->endpoint == "http://s3only:2");

  // Flags win over everything; --profile over the environment's keys.
  S3Overrides flags;
  flags.profile = "work";
  flags.region = "sa-east-1";
  flags.endpoint = "https://storage.example";
  flags.addressing = S3Addressing::kVirtual;
  s = ResolveS3Settings(
      flags,
      with({{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"}, {"AWS_REGION", "us-west-2"}}));
  REQUIRE(s.ok());
  CHECK(s->access_key == "WORKKEY");
  CHECK(s->region == "sa-east-1");
  CHECK(s->endpoint == "https://storage.example");
  CHECK(!UsesPathStyle(*s, "bucket"));

  // What is missing or malformed is named.
  struct Bad {
    S3Overrides flags;
    std::map<std::string, std::string> env;
    std::string why;
  };
  S3Overrides nobody;
  nobody.profile = "nobody";
  S3Overrides with_path;
  with_path.endpoint = "http://host:1/path";
  S3Overrides ftp;
  ftp.endpoint = "ftp://host";
  S3Overrides query;
  query.endpoint = "http://127.0.0.1:4700?x=1";
  S3Overrides nohost;
  nohost.endpoint = "http://";
  WriteFile(dir / "broken", "[default\naws_access_key_id = x\n");
  WriteFile(dir / "orphan", "aws_access_key_id = x\n");
  for (const Bad& b : std::vector<Bad>{
           {nobody, {}, "profile 'nobody' (--profile) has no aws_access_key_id and aws_secret_access_key in "},
           {{},
            {{"AWS_PROFILE", "nobody"}},
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile 'nobody'"},
           {{}, {{"AWS_ACCESS_KEY_ID", "k"}}, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"},
           {with_path, {}, "has a path"},
           {ftp, {}, "is not an http:// or https:// URL"},
           {query, {}, "has a path, query, fragment or user"},
           {nohost, {}, "'http:' is not an http:// or https:// URL"},
           {{}, {{"AWS_SHARED_CREDENTIALS_FILE", dir / "broken"}}, "broken:1: a section line without ']'"},
           {{}, {{"AWS_SHARED_CREDENTIALS_FILE", dir / "orphan"}}, "orphan:1: a setting before any [section]"},
       }) {
    CAPTURE(b.why);
    std::map<std::string, std::string> env = b.env;
    env.insert(files.begin(), files.end());  // keeps b.env's own files
    auto r = ResolveS3Settings(b.flags, EnvOf(env));
    REQUIRE(!r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_MESSAGE(r.status().message().find(b.why) != std::string::npos, r.status().message());
  }
  // No files at all (a fresh HOME): only the environment can give keys.
  auto bare = EnvOf({{"HOME", dir / "nohome"}});
  CHECK(ResolveS3Settings({}, bare).status().code() == Code::kInvalidArgument);
  s = ResolveS3Settings({},
                        EnvOf({{"HOME", dir / "nohome"}, {"AWS_ACCESS_KEY_ID", "k"}, {"AWS_SECRET_ACCESS_KEY", "s"}}));
  REQUIRE(s.ok());
  CHECK(s->region == "us-east-1");
}

TEST_CASE("s3 encoding: unreserved bytes kept, every other byte as %XX, '/' only where asked") {
  CHECK(S3Encode("AZaz09-_.~", false) == "AZaz09-_.~");
  CHECK(S3Encode("a b+c%d/e", true) == "a%20b%2Bc%25d/e");
  CHECK(S3Encode("a/b", false) == "a%2Fb");
  CHECK(S3Encode("\xC3\xBC", true) == "%C3%BC");
}
