// BucketEnv's view of a cached object: a file cut since it was sent reads
// as its length, never as the object's longer bytes (File::Read: bytes
// past Size() are a kCorruption).
#include "bucket/bucket_env.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>

#include "aether/env.h"
#include "objstore/s3_client.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

TEST_CASE("a bucket file cut since it was sent reads as its length: bytes past it are kCorruption, as past an end") {
  TempDir dir;
  Env* env = Env::Default();
  const std::string objects = dir / "cache/objects";
  std::filesystem::create_directories(objects);
  const std::string bytes = "0123456789abcdefghij";  // the object: 20 bytes
  const std::string sha = std::string(64, 'a');      // its name (the cache does not check a cached object again)
  test::WriteFile(objects + "/" + sha, bytes);
  const std::string path = dir / "replica/cold/s.shard";
  BucketFile f;
  f.bytes = bytes.size();
  f.sha256 = sha;
  f.size = 12;  // cut to 12 bytes since it was sent
  BucketEnv bucket(env, {{path, f}}, objects, 1 << 20,
                   []() -> Result<std::unique_ptr<S3Client>> { return Status::IOError("no bucket in this test"); });
  auto file = bucket.Open(path, OpenMode::kRead);
  REQUIRE_MESSAGE(file.ok(), file.status().ToString());
  CHECK(*(*file)->Size() == 12);
  char out[20];
  for (uint64_t offset = 0; offset <= 20; ++offset)
    for (size_t n = 0; offset + n <= 21; ++n) {
      CAPTURE(offset);
      CAPTURE(n);
      Status s = (*file)->Read(offset, n, out);
      if (n == 0 || offset + n <= 12) {
        REQUIRE(s.ok());
        CHECK(std::string(out, n) == bytes.substr(offset, n));
      } else {
        CHECK(s.code() == Code::kCorruption);
        CHECK(s.message().find("unexpected end of file") != std::string::npos);
      }
    }
}
