#include "cold/shard_file.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "aether/env.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

namespace {

// Appends `frames` frames of `per` records each; returns the end offset.
uint64_t Fill(ShardFile* shard, int frames, uint32_t per, uint32_t dim, uint32_t codec = kCodecZstdShuffle) {
  uint64_t at = ShardFile::kHeaderSize;
  int64_t row = 1;
  for (int f = 0; f < frames; ++f) {
    std::vector<int64_t> ids(per);
    std::vector<float> vecs(size_t(per) * dim);
    for (uint32_t i = 0; i < per; ++i) {
      ids[i] = row++;
      for (uint32_t d = 0; d < dim; ++d) vecs[i * dim + d] = float(ids[i]) + d * 0.5f;
    }
    auto frame = EncodeFrame(ids.data(), vecs.data(), per, dim, codec);
    REQUIRE(frame.ok());
    REQUIRE(shard->WriteAt(at, *frame).ok());
    at += frame->size();
  }
  REQUIRE(shard->Sync().ok());
  return at;
}

}  // namespace

TEST_CASE("a shard scans its frames in order and reads one by offset") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "s.shard";
  REQUIRE(ShardFile::Create(env, path, 3, 0, kStagingPartition).ok());
  auto shard = ShardFile::Open(env, path, 3, true);
  REQUIRE(shard.ok());
  uint64_t end = Fill(shard->get(), 4, 5, 3);
  std::vector<uint64_t> offsets;
  int64_t expect = 1;
  REQUIRE((*shard)
              ->Scan(end,
                     [&](uint64_t off, const DecodedFrame& f) {
                       offsets.push_back(off);
                       for (uint32_t i = 0; i < f.count; ++i) {
                         CHECK(f.row_ids[i] == expect);
                         CHECK(f.vector(i)[2] == float(expect) + 1.0f);
                         ++expect;
                       }
                       return Status::Ok();
                     })
              .ok());
  CHECK(offsets.size() == 4);
  CHECK(offsets[0] == ShardFile::kHeaderSize);
  DecodedFrame third;
  REQUIRE((*shard)->ReadFrame(offsets[2], &third).ok());
  CHECK(third.row_ids[0] == 11);
}

TEST_CASE("a shard reader reports every truncation and names file and offset") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "s.shard";
  REQUIRE(ShardFile::Create(env, path, 2, 0, kStagingPartition).ok());
  uint64_t end;
  {
    auto shard = ShardFile::Open(env, path, 2, true);
    REQUIRE(shard.ok());
    end = Fill(shard->get(), 3, 4, 2);
  }
  std::string full = test::ReadFile(path);
  for (uint64_t n = 0; n < end; ++n) {
    test::WriteFile(path, full.substr(0, n));
    auto shard = ShardFile::Open(env, path, 2, false);
    if (!shard.ok()) {
      CHECK(shard.status().code() == Code::kCorruption);
      continue;
    }
    Status s = (*shard)->Scan(end, [](uint64_t, const DecodedFrame&) { return Status::Ok(); });
    CHECK_MESSAGE(s.code() == Code::kCorruption, n << ": " << s.ToString());
    CHECK(s.message().find(path) != std::string::npos);
  }
}

TEST_CASE("a shard with a damaged header or another dimension is refused") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "s.shard";
  REQUIRE(ShardFile::Create(env, path, 2, 0, kStagingPartition).ok());
  CHECK(ShardFile::Open(env, path, 3, false).status().code() == Code::kCorruption);
  for (uint64_t i = 0; i < ShardFile::kHeaderSize; ++i) {
    REQUIRE(ShardFile::Create(env, path, 2, 0, kStagingPartition).ok());
    test::FlipByte(path, i);
    CHECK_MESSAGE(!ShardFile::Open(env, path, 2, false).ok(), "byte " << i);
  }
}

TEST_CASE("a search scan of quantized frames reads only their scan sections; full rows are read one by one") {
  for (uint32_t codec : {kCodecFloat16, kCodecSq8}) {
    CAPTURE(codec);
    TempDir dir;
    Env* env = Env::Default();
    std::string path = dir / "s.shard";
    REQUIRE(ShardFile::Create(env, path, 3, 0, kStagingPartition).ok());
    auto shard = ShardFile::Open(env, path, 3, true);
    REQUIRE(shard.ok());
    uint64_t end = Fill(shard->get(), 3, 5, 3, codec);
    std::vector<uint64_t> offsets;
    std::vector<FrameHeader> headers;
    REQUIRE((*shard)
                ->Scan(end,
                       [&](uint64_t off, const DecodedFrame& f) {
                         CHECK(!f.approximate);
                         offsets.push_back(off);
                         CHECK(f.vector(4)[2] == float(f.row_ids[4]) + 1.0f);  // exact
                         return Status::Ok();
                       })
                .ok());
    REQUIRE(offsets.size() == 3);
    std::string bytes = test::ReadFile(path);
    for (uint64_t off : offsets) {
      FrameHeader h;
      REQUIRE(DecodeFrameHeader(reinterpret_cast<const uint8_t*>(bytes.data()) + off, 3, &h).ok());
      headers.push_back(h);
    }
    // Damage the last full row of the middle frame: a search scan does not
    // read it, an exact scan and that row's read report it, with file and offset.
    const uint64_t bad = offsets[1] + headers[1].full_row_offset(4) + 2;
    test::FlipByte(path, bad);
    int frames = 0;
    REQUIRE((*shard)
                ->Scan(
                    end,
                    [&](uint64_t, const DecodedFrame& f) {
                      CHECK(f.approximate);
                      CHECK(std::fabs(f.vector(1)[2] - (float(f.row_ids[1]) + 1.0f)) < 0.1f);
                      ++frames;
                      return Status::Ok();
                    },
                    ShardFile::ScanMode::kSearch)
                .ok());
    CHECK(frames == 3);
    Status s = (*shard)->Scan(end, [](uint64_t, const DecodedFrame&) { return Status::Ok(); });
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message().find(fmt::format("frame at offset {}", offsets[1])) != std::string::npos);
    float row[3];
    REQUIRE((*shard)->ReadFullRow(offsets[1], 3, 9, row).ok());
    CHECK(row[0] == 9.0f);
    CHECK(row[2] == 10.0f);
    s = (*shard)->ReadFullRow(offsets[1], 4, 10, row);
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message().find(path) != std::string::npos);
    CHECK(s.message().find(fmt::format("frame at offset {}, record 4", offsets[1])) != std::string::npos);
    // Past the frame's records, or in a lossless frame: refused, not read.
    CHECK((*shard)->ReadFullRow(offsets[1], 5, 11, row).code() == Code::kCorruption);
  }
}
