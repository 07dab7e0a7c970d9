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

namespace {

// What a scan gave: each frame's offset, row ids, vectors and whether they
// were approximations.
struct Scanned {
  uint64_t offset;
  std::vector<int64_t> row_ids;
  std::vector<float> vectors;
  bool approximate;
  bool operator==(const Scanned& o) const {
    return offset == o.offset && row_ids == o.row_ids && vectors == o.vectors && approximate == o.approximate;
  }
};

// Component d of row r's vector in the frames AppendFrames writes.
float Value(int64_t r, uint32_t d) { return float(r) * 0.25f - float(d) / 3.0f; }

// A new staging shard at `path`, open for writing.
std::unique_ptr<ShardFile> NewShard(const std::string& path, uint32_t dim) {
  REQUIRE(ShardFile::Create(Env::Default(), path, dim, 0, kStagingPartition).ok());
  auto shard = ShardFile::Open(Env::Default(), path, dim, true);
  REQUIRE(shard.ok());
  return std::move(*shard);
}

// Appends to a new shard, from its header on, a frame per (codec, records),
// row ids counting from 1; returns each frame's offset, then the end.
std::vector<uint64_t> AppendFrames(ShardFile* shard, uint32_t dim,
                                   const std::vector<std::pair<uint32_t, uint32_t>>& frames) {
  std::vector<uint64_t> starts{ShardFile::kHeaderSize};
  int64_t row = 1;
  for (const auto& [codec, per] : frames) {
    std::vector<int64_t> ids(per);
    std::vector<float> vecs(size_t(per) * dim);
    for (uint32_t i = 0; i < per; ++i) {
      ids[i] = row++;
      for (uint32_t d = 0; d < dim; ++d) vecs[i * dim + d] = Value(ids[i], d);
    }
    auto frame = EncodeFrame(ids.data(), vecs.data(), per, dim, codec);
    REQUIRE(frame.ok());
    REQUIRE(shard->WriteAt(starts.back(), *frame).ok());
    starts.push_back(starts.back() + frame->size());
  }
  return starts;
}

}  // namespace

TEST_CASE("a scan reading ahead gives what one reading each frame gives: every read-ahead, mode, codec and start") {
  constexpr uint32_t kDim = 3;
  for (uint32_t codec : {kCodecZstdRaw, kCodecZstdShuffle, kCodecFloat16, kCodecSq8, kCodecFloat32}) {
    CAPTURE(codec);
    TempDir dir;
    Env* env = Env::Default();
    std::string path = dir / "s.shard";
    auto shard = NewShard(path, kDim);
    // Frames of 1, 7 and 40 records, twice, each after the last.
    const std::vector<uint64_t> starts =
        AppendFrames(shard.get(), kDim, {{codec, 1}, {codec, 7}, {codec, 40}, {codec, 1}, {codec, 40}, {codec, 7}});
    const uint64_t end = starts.back();
    auto scan = [&](uint64_t begin, ShardFile::ScanMode mode, uint64_t ahead, bool read_frame_inside) {
      std::vector<Scanned> out;
      Status s = shard->ScanRange(
          begin, end,
          [&](uint64_t off, const DecodedFrame& f) {
            // f.data(): a search's codec-4 frame leaves its floats where they were read.
            out.push_back(Scanned{off, f.row_ids, std::vector<float>(f.data(), f.data() + size_t(f.count) * kDim),
                                  f.approximate});
            if (read_frame_inside) {  // another read on this thread between two of the scan's
              DecodedFrame other;
              REQUIRE(shard->ReadFrame(starts[0], &other).ok());
              CHECK(other.row_ids == std::vector<int64_t>{1});
            }
            return Status::Ok();
          },
          mode, ahead);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      return out;
    };
    // The exact vectors, as written; a search's are the same for a lossless
    // codec.
    const std::vector<Scanned> exact = scan(ShardFile::kHeaderSize, ShardFile::ScanMode::kExact, 0, false);
    REQUIRE(exact.size() == 6);
    for (size_t f = 0; f < exact.size(); ++f)
      for (size_t i = 0; i < exact[f].row_ids.size(); ++i)
        for (uint32_t d = 0; d < kDim; ++d) CHECK(exact[f].vectors[i * kDim + d] == Value(exact[f].row_ids[i], d));
    if (codec != kCodecFloat16 && codec != kCodecSq8)
      CHECK(scan(ShardFile::kHeaderSize, ShardFile::ScanMode::kSearch, 1u << 20, false) == exact);
    for (auto mode : {ShardFile::ScanMode::kExact, ShardFile::ScanMode::kSearch}) {
      CAPTURE(int(mode));
      const std::vector<Scanned> whole = scan(ShardFile::kHeaderSize, mode, 0, false);
      REQUIRE(whole.size() == 6);
      std::vector<uint64_t> aheads{1,       kFrameHeaderSize - 1, kFrameHeaderSize, kFrameHeaderSize + 1, end, end + 1,
                                   1u << 20};
      for (size_t f = 0; f + 1 < starts.size(); ++f)
        for (int64_t delta : {-1, 0, 1}) aheads.push_back(uint64_t(int64_t(starts[f + 1] - starts[f]) + delta));
      for (uint64_t ahead : aheads)
        for (size_t first = 0; first < 6; ++first) {
          CAPTURE(ahead);
          CAPTURE(first);
          const std::vector<Scanned> got = scan(starts[first], mode, ahead, first % 2 == 1);
          CHECK(got == std::vector<Scanned>(whole.begin() + long(first), whole.end()));
        }
    }
    // A file shorter than its committed length: the same error whatever
    // the mode and read-ahead (a search reads before it asks the length).
    const std::string full = test::ReadFile(path);
    for (uint64_t n = ShardFile::kHeaderSize; n < end; ++n) {
      test::WriteFile(path, full.substr(0, n));
      auto cut = ShardFile::Open(env, path, kDim, false);
      REQUIRE(cut.ok());
      for (auto mode : {ShardFile::ScanMode::kExact, ShardFile::ScanMode::kSearch})
        for (uint64_t ahead : {uint64_t(0), uint64_t(kFrameHeaderSize), uint64_t(1) << 20}) {
          Status s = (*cut)->Scan(
              end, [](uint64_t, const DecodedFrame&) { return Status::Ok(); }, mode, ahead);
          CHECK_MESSAGE(s.message() == fmt::format("{}: file is {} bytes, its committed length is {}", path, n, end),
                        n << " " << int(mode) << " " << ahead << ": " << s.ToString());
          CHECK(s.code() == Code::kCorruption);
        }
    }
  }
}

TEST_CASE("a search's scan of float32 frames after frames of another codec: unaligned floats copied, the same values") {
  // A zstd frame's length is any number of bytes, so the float32 frames
  // after it (a store whose codec changed) may lie unaligned in the read.
  constexpr uint32_t kDim = 5;
  int unaligned = 0, copied = 0, viewed = 0;
  for (uint32_t first_count = 1; first_count <= 8; ++first_count) {
    CAPTURE(first_count);
    TempDir dir;
    auto shard = NewShard(dir / "s.shard", kDim);
    const std::vector<uint64_t> starts =
        AppendFrames(shard.get(), kDim, {{kCodecZstdShuffle, first_count}, {kCodecFloat32, 3}, {kCodecFloat32, 3}});
    const uint64_t at = starts.back();
    unaligned += (starts[1] - ShardFile::kHeaderSize) % 4 != 0;
    for (uint64_t ahead : {uint64_t(0), uint64_t(1) << 20}) {
      size_t frames = 0;
      Status s = shard->Scan(
          at,
          [&](uint64_t off, const DecodedFrame& f) {
            ++frames;
            CHECK(!f.approximate);
            for (uint32_t i = 0; i < f.count; ++i)
              for (uint32_t d = 0; d < kDim; ++d) CHECK(f.vector(i)[d] == Value(f.row_ids[i], d));
            if (off != starts[0]) {
              // A float32 frame: in place, unless read together with the
              // zstd frame before it (from an aligned buffer, whose start
              // is the first frame's) at an offset not a multiple of 4.
              const bool aligned = ahead == 0 || (off - ShardFile::kHeaderSize) % 4 == 0;
              CHECK((f.view != nullptr) == aligned);
              if (f.view) CHECK(reinterpret_cast<uintptr_t>(f.view) % alignof(float) == 0);
              copied += f.view == nullptr;
              viewed += f.view != nullptr;
            }
            return Status::Ok();
          },
          ShardFile::ScanMode::kSearch, ahead);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(frames == 3);
    }
  }
  CHECK(unaligned > 0);
  CHECK(copied > 0);  // both ways were taken
  CHECK(viewed > 0);
}

TEST_CASE("a file shorter than a header is refused as a truncated header") {
  TempDir dir;
  Env* env = Env::Default();
  std::string path = dir / "s.shard";
  REQUIRE(ShardFile::Create(env, path, 2, 0, kStagingPartition).ok());
  const std::string full = test::ReadFile(path);
  for (uint64_t n = 0; n < ShardFile::kHeaderSize; ++n) {
    test::WriteFile(path, full.substr(0, n));
    auto shard = ShardFile::Open(env, path, 2, false);
    CHECK(shard.status().code() == Code::kCorruption);
    CHECK(shard.status().message() == path + ": truncated header");
  }
}
