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

TEST_CASE("WriteSlots writes the same bytes as one WriteSlot per slot: runs, gaps, any order, runs past the cap") {
  // dim 65536: a slot is 262,160 bytes, so kMaxWriteRun cuts a run of
  // consecutive slots every 16.
  for (uint32_t dim : {3u, 65536u}) {
    CAPTURE(dim);
    const std::vector<uint64_t> order = {0,  1,  2,  5,  6,  4,  3,  40, 7,  8,  9,  10, 11, 12,
                                         13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                         27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 38, 37};
    std::vector<std::vector<float>> vecs(order.size(), std::vector<float>(dim));
    for (size_t i = 0; i < order.size(); ++i)
      for (uint32_t d = 0; d < dim; ++d) vecs[i][d] = float(i * 7 + d % 11) - 3.5f;
    TempDir dir;
    Env* env = Env::Default();
    std::string batched = dir / "batched", single = dir / "single";
    std::vector<SlotFile::SlotWrite> writes;
    for (size_t i = 0; i < order.size(); ++i) writes.push_back({order[i], int64_t(100 + i), vecs[i].data()});
    REQUIRE(SlotFile::Create(env, batched, dim).ok());
    REQUIRE(SlotFile::Create(env, single, dim).ok());
    {
      auto f = SlotFile::Open(env, batched, dim, true);
      REQUIRE((*f)->WriteSlots(writes).ok());
      auto g = SlotFile::Open(env, single, dim, true);
      for (const auto& w : writes) REQUIRE((*g)->WriteSlot(w.slot, w.row_id, w.vector).ok());
    }
    CHECK(test::ReadFile(batched) == test::ReadFile(single));
    auto f = SlotFile::Open(env, batched, dim, false);
    for (size_t i = 0; i < order.size(); ++i) {
      int64_t row = 0;
      std::vector<float> out(dim);
      REQUIRE((*f)->ReadSlot(order[i], &row, out.data()).ok());
      CHECK(row == int64_t(100 + i));
      CHECK(out == vecs[i]);
    }
  }
}
