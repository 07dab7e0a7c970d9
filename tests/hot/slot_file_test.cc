#include "hot/slot_file.h"

#include <doctest/doctest.h>

#include "aether/env.h"
#include "format/coding.h"
#include "format/crc32c.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

TEST_CASE("slots round-trip and sit at documented offsets") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "hot.slots";
  REQUIRE(SlotFile::Create(env, path, 4).ok());
  CHECK(test::FileSize(path) == 32);
  auto f = SlotFile::Open(env, path, 4, true);
  REQUIRE(f.ok());
  float v[4] = {1, 2, 3, 4};
  REQUIRE((*f)->WriteSlot(2, 77, v).ok());
  CHECK(*(*f)->SlotCount() == 3);
  CHECK(test::FileSize(path) == 32 + 3 * (16 + 16));
  int64_t row = 0;
  float out[4];
  REQUIRE((*f)->ReadSlot(2, &row, out).ok());
  CHECK(row == 77);
  CHECK(out[3] == 4.0f);
  std::string bytes = test::ReadFile(path);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  CHECK(bytes.substr(0, 8) == std::string("AETHHOT\0", 8));
  CHECK(DecodeFixed32(p + 8) == 1);    // version
  CHECK(DecodeFixed32(p + 12) == 4);   // dim
  CHECK(DecodeFixed32(p + 16) == 32);  // slot size
  CHECK(DecodeFixed64(p + 32 + 2 * 32) == 77);
  CHECK(DecodeFloat(p + 32 + 2 * 32 + 16) == 1.0f);
}

TEST_CASE("a flipped byte in a slot is reported as a checksum mismatch") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "hot.slots";
  REQUIRE(SlotFile::Create(env, path, 3).ok());
  float v[3] = {0.5f, -1, 2};
  {
    auto f = SlotFile::Open(env, path, 3, true);
    REQUIRE((*f)->WriteSlot(0, 5, v).ok());
  }
  for (uint64_t i = 0; i < SlotFile::SlotSize(3); ++i) {
    std::string clean = test::ReadFile(path);
    test::FlipByte(path, 32 + i);
    auto f = SlotFile::Open(env, path, 3, false);
    int64_t row;
    float out[3];
    Status s = (*f)->ReadSlot(0, &row, out);
    CHECK_MESSAGE(s.code() == Code::kCorruption, "byte " << i);
    test::WriteFile(path, clean);
  }
}

TEST_CASE("a slot file header from a newer version is refused, a damaged one is corruption") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "hot.slots";
  REQUIRE(SlotFile::Create(env, path, 3).ok());
  std::string bytes = test::ReadFile(path);
  auto* p = reinterpret_cast<uint8_t*>(bytes.data());
  EncodeFixed32(p + 8, 2);
  EncodeFixed32(p + 28, crc32c::Mask(crc32c::Value(p, 28)));
  test::WriteFile(path, bytes);
  CHECK(SlotFile::Open(env, path, 3, false).status().code() == Code::kNotSupported);
  for (uint64_t n = 0; n < 32; ++n) {
    REQUIRE(SlotFile::Create(env, path, 3).ok());
    test::TruncateFile(path, n);
    CHECK(SlotFile::Open(env, path, 3, false).status().code() == Code::kCorruption);
  }
}
