#include "cold/frame.h"

#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "format/coding.h"
#include "format/crc32c.h"

using namespace aether;

namespace {

std::string MakeFrame(uint32_t count, uint32_t dim, std::vector<int64_t>* ids, std::vector<float>* vecs,
                      uint32_t codec = kCodecZstdShuffle) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  ids->resize(count);
  vecs->resize(size_t(count) * dim);
  for (uint32_t i = 0; i < count; ++i) (*ids)[i] = 1000 + i * 3;
  for (auto& v : *vecs) v = u(rng);
  auto frame = EncodeFrame(ids->data(), vecs->data(), count, dim, codec);
  REQUIRE(frame.ok());
  return *frame;
}

const uint8_t* U(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

constexpr uint32_t kAllCodecs[] = {kCodecZstdRaw, kCodecZstdShuffle, kCodecFloat16, kCodecSq8, kCodecFloat32};

}  // namespace

TEST_CASE("a frame round-trips its row ids and vectors exactly, with every codec") {
  for (uint32_t codec : kAllCodecs) {
    CAPTURE(codec);
    std::vector<int64_t> ids;
    std::vector<float> vecs;
    std::string f = MakeFrame(37, 5, &ids, &vecs, codec);
    // Special values survive too: the shuffle moves bits, it does not compute.
    vecs[0] = -0.0f;
    vecs[1] = std::numeric_limits<float>::denorm_min();
    vecs[2] = std::numeric_limits<float>::max();
    f = *EncodeFrame(ids.data(), vecs.data(), 37, 5, codec);
    CHECK(DecodeFixed32(U(f) + 12) == codec);
    DecodedFrame d;
    REQUIRE(DecodeFrame(U(f), f.size(), 5, &d).ok());
    CHECK(d.count == 37);
    CHECK(d.row_ids == ids);
    CHECK(std::memcmp(d.vectors.data(), vecs.data(), vecs.size() * 4) == 0);
  }
}

TEST_CASE("codec 1 is zstd over the row ids and the float bytes grouped by byte position") {
  std::vector<int64_t> ids = {7, 9};
  std::vector<float> vecs = {1.0f, -2.5f, 0.15625f, 3.0e38f};
  auto f = EncodeFrame(ids.data(), vecs.data(), 2, 2, kCodecZstdShuffle);
  REQUIRE(f.ok());
  // Decompress the payload by hand and check the documented layout.
  const uint8_t* p = U(*f);
  std::string raw(DecodeFixed32(p + 20), '\0');
  size_t got = ZSTD_decompress(raw.data(), raw.size(), p + kFrameHeaderSize, DecodeFixed32(p + 16));
  REQUIRE(got == 2 * (8 + 4 * 2));
  const auto* r = reinterpret_cast<const uint8_t*>(raw.data());
  CHECK(DecodeFixed64(r) == 7);
  CHECK(DecodeFixed64(r + 8) == 9);
  for (size_t i = 0; i < 4; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &vecs[i], 4);
    for (size_t b = 0; b < 4; ++b) CHECK(r[16 + b * 4 + i] == uint8_t(bits >> (8 * b)));
  }
  CHECK(EncodeFrame(ids.data(), vecs.data(), 2, 2, 7).status().code() == Code::kInvalidArgument);
}

namespace {

// The zstd blocks of the standard zstd frame at p (RFC 8878): type (0 raw,
// 1 RLE, 2 compressed) and size field of each, in order; *end: the
// frame's length.
std::vector<std::pair<int, uint32_t>> ZstdBlocks(const uint8_t* p, size_t n, size_t* end) {
  REQUIRE(n >= 6);
  REQUIRE(DecodeFixed32(p) == 0xFD2FB528u);
  const uint8_t fhd = p[4];
  const int fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, dict_flag = fhd & 3;
  size_t at = 5 + (single ? 0 : 1) + (dict_flag == 3 ? 4 : dict_flag);
  at += fcs_flag == 0 ? size_t(single) : size_t(1) << fcs_flag;
  std::vector<std::pair<int, uint32_t>> blocks;
  for (bool last = false; !last;) {
    REQUIRE(at + 3 <= n);
    const uint32_t bh = p[at] | uint32_t(p[at + 1]) << 8 | uint32_t(p[at + 2]) << 16;
    last = bh & 1;
    const int type = int(bh >> 1) & 3;
    const uint32_t size = bh >> 3;
    blocks.emplace_back(type, size);
    at += 3 + (type == 1 ? 1 : size);
  }
  *end = at + ((fhd >> 2) & 1) * 4;
  REQUIRE(*end <= n);
  return blocks;
}

// The blocks of each of the concatenated zstd frames filling p[0, n).
std::vector<std::vector<std::pair<int, uint32_t>>> ZstdFrames(const uint8_t* p, size_t n) {
  std::vector<std::vector<std::pair<int, uint32_t>>> frames;
  for (size_t at = 0, end = 0; at < n; at += end) frames.push_back(ZstdBlocks(p + at, n - at, &end));
  return frames;
}

}  // namespace

TEST_CASE("codec 1 ends a zstd block at each byte plane, so noisy planes are stored raw and the rest coded") {
  // Bytes 0-2 of every float are random (incompressible), byte 3 is one
  // value. With a block per part, zstd stores each noisy plane as one raw
  // block of exactly M bytes, and byte 3, in a second zstd frame of its
  // own, as one block of a few bytes; one block of all planes (what one call makes of
  // these sizes, all under 128 KiB) would be coded as a whole. A frame of
  // fewer than 4,096 floats is one call, and codec 0 always is: one zstd
  // frame of one block.
  for (uint32_t codec : {kCodecZstdShuffle, kCodecZstdRaw})
    for (uint32_t count : {1u, 64u, 255u, 256u, 700u, 1024u}) {
      CAPTURE(codec);
      CAPTURE(count);
      const uint32_t dim = 16;
      const size_t m = size_t(count) * dim;
      std::mt19937 rng(count);
      std::vector<int64_t> ids(count);
      std::vector<float> vecs(m);
      for (uint32_t i = 0; i < count; ++i) ids[i] = i;
      for (auto& v : vecs) {
        const uint32_t bits = (rng() & 0x00FFFFFFu) | 0x3F000000u;
        std::memcpy(&v, &bits, 4);
      }
      auto f = EncodeFrame(ids.data(), vecs.data(), count, dim, codec);
      REQUIRE(f.ok());
      const uint8_t* p = U(*f);
      const auto frames = ZstdFrames(p + kFrameHeaderSize, f->size() - kFrameHeaderSize);
      if (codec == kCodecZstdShuffle && m >= 4096) {
        REQUIRE(frames.size() == 2);
        REQUIRE(frames[0].size() == 4);  // row ids, planes 0-2; the last marked last
        for (int b = 1; b <= 3; ++b) CHECK(frames[0][b] == std::make_pair(0, uint32_t(m)));
        REQUIRE(frames[1].size() == 1);   // plane 3
        CHECK(frames[1][0].first == 2);   // compressed, not stored
        CHECK(frames[1][0].second < 64);  // a few bytes for m equal bytes
      } else {
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].size() == 1);
      }
      DecodedFrame d;
      REQUIRE(DecodeFrame(p, f->size(), dim, &d).ok());
      CHECK(d.row_ids == ids);
      CHECK(std::memcmp(d.vectors.data(), vecs.data(), m * 4) == 0);
    }
}

TEST_CASE("the frame header is byte-exact as documented") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(3, 2, &ids, &vecs);
  const uint8_t* p = U(f);
  CHECK(std::string(f.data(), 4) == "AFRM");
  CHECK(DecodeFixed32(p + 4) == 3);                             // count
  CHECK(DecodeFixed32(p + 8) == 2);                             // dim
  CHECK(DecodeFixed32(p + 12) == kCodecZstdShuffle);            // the default
  CHECK(DecodeFixed32(p + 16) == f.size() - kFrameHeaderSize);  // payload length
  CHECK(DecodeFixed32(p + 20) == 3 * (8 + 4 * 2));              // raw length
  // The payload is standard zstd data (a frame's magic 0xFD2FB528).
  CHECK(DecodeFixed32(p + kFrameHeaderSize) == 0xFD2FB528u);
}

TEST_CASE("every truncation of a frame is reported as corruption, with every codec") {
  for (uint32_t codec : kAllCodecs) {
    CAPTURE(codec);
    std::vector<int64_t> ids;
    std::vector<float> vecs;
    std::string f = MakeFrame(20, 8, &ids, &vecs, codec);
    for (size_t n = 0; n < f.size(); ++n) {
      DecodedFrame d;
      Status s = DecodeFrame(U(f), n, 8, &d);
      CHECK_MESSAGE(s.code() == Code::kCorruption, "prefix of " << n << " bytes: " << s.ToString());
    }
  }
}

TEST_CASE("every single-byte corruption of a frame is detected, with every codec") {
  for (uint32_t codec : kAllCodecs) {
    CAPTURE(codec);
    std::vector<int64_t> ids;
    std::vector<float> vecs;
    std::string f = MakeFrame(10, 4, &ids, &vecs, codec);
    FrameHeader h;
    REQUIRE(DecodeFrameHeader(U(f), 4, &h).ok());
    for (size_t i = 0; i < f.size(); ++i) {
      std::string g = f;
      g[i] = static_cast<char>(g[i] ^ 0x20);
      DecodedFrame d;
      Status s = DecodeFrame(U(g), g.size(), 4, &d);
      CHECK_MESSAGE(s.code() == Code::kCorruption, "byte " << i << ": " << s.ToString());
      // What a search reads of it: the scan section of a quantized frame.
      if (i < h.scan_size()) {
        s = DecodeFrameScan(U(g), h.scan_size(), 4, &d);
        CHECK_MESSAGE(s.code() == Code::kCorruption, "scan, byte " << i << ": " << s.ToString());
      }
    }
  }
}

TEST_CASE("a float32 frame decoded for a scan: aligned floats read in place, unaligned ones copied") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  const std::string f = MakeFrame(13, 6, &ids, &vecs, kCodecFloat32);
  FrameHeader h;
  REQUIRE(DecodeFrameHeader(U(f), 6, &h).ok());
  REQUIRE(h.scan_size() == f.size());
  // The frame at every offset of an aligned buffer: its floats aligned at
  // every fourth (frames start at multiples of 4 in a float32 shard).
  std::vector<uint32_t> buf((f.size() + 16) / 4 + 1);
  auto* base = reinterpret_cast<uint8_t*>(buf.data());
  for (size_t shift = 0; shift < 8; ++shift) {
    CAPTURE(shift);
    std::memcpy(base + shift, f.data(), f.size());
    DecodedFrame d;
    REQUIRE(DecodeFrameScan(base + shift, f.size(), 6, &d).ok());
    CHECK(d.count == 13);
    CHECK(!d.approximate);
    CHECK(d.row_ids == ids);
    CHECK((d.view != nullptr) == (shift % 4 == 0));
    if (d.view) CHECK(reinterpret_cast<const uint8_t*>(d.view) == base + shift + 28 + 8 * 13);
    CHECK(std::memcmp(d.data(), vecs.data(), vecs.size() * 4) == 0);
    for (uint32_t i = 0; i < 13; ++i) CHECK(std::memcmp(d.vector(i), vecs.data() + 6 * i, 24) == 0);
    // The same DecodedFrame then decoding a copy (the whole frame, or
    // another codec's scan) holds its own vectors again.
    REQUIRE(DecodeFrame(base + shift, f.size(), 6, &d).ok());
    CHECK(d.view == nullptr);
    CHECK(std::memcmp(d.data(), vecs.data(), vecs.size() * 4) == 0);
    REQUIRE(DecodeFrameScan(base + shift, f.size(), 6, &d).ok());
    std::vector<int64_t> sq_ids;
    std::vector<float> sq_vecs;
    const std::string sq = MakeFrame(5, 6, &sq_ids, &sq_vecs, kCodecSq8);
    FrameHeader sh;
    REQUIRE(DecodeFrameHeader(U(sq), 6, &sh).ok());
    REQUIRE(DecodeFrameScan(U(sq), sh.scan_size(), 6, &d).ok());
    CHECK(d.view == nullptr);
    CHECK(d.data() == d.vectors.data());
    CHECK(d.approximate);
  }
}

TEST_CASE("quantized frames: exact vectors in full, approximations in the scan, each within its codec's error") {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 2);
  for (uint32_t codec : {kCodecFloat16, kCodecSq8}) {
    for (uint32_t count : {1u, 2u, 37u, 1024u}) {
      CAPTURE(codec);
      CAPTURE(count);
      const uint32_t dim = 13;
      std::vector<int64_t> ids(count);
      std::vector<float> vecs(size_t(count) * dim);
      for (uint32_t i = 0; i < count; ++i) ids[i] = 5 + 2 * i;
      for (auto& v : vecs) v = g(rng);
      vecs[0] = 1e6f;  // beyond binary16: saturates in the scan, exact in full
      vecs[1] = -0.0f;
      auto f = EncodeFrame(ids.data(), vecs.data(), count, dim, codec);
      REQUIRE(f.ok());
      FrameHeader h;
      REQUIRE(DecodeFrameHeader(U(*f), dim, &h).ok());
      CHECK(h.quantized());
      CHECK(f->size() == h.frame_size());
      CHECK(h.scan_size() < h.frame_size());
      DecodedFrame full, scan;
      REQUIRE(DecodeFrame(U(*f), f->size(), dim, &full).ok());
      CHECK_FALSE(full.approximate);
      CHECK(full.row_ids == ids);
      CHECK(std::memcmp(full.vectors.data(), vecs.data(), vecs.size() * 4) == 0);
      // A search decodes from the scan section alone.
      REQUIRE(DecodeFrameScan(U(*f), h.scan_size(), dim, &scan).ok());
      CHECK(scan.approximate);
      CHECK(scan.row_ids == ids);
      REQUIRE(scan.vectors.size() == vecs.size());
      for (uint32_t j = 0; j < dim; ++j) {
        float lo = vecs[j], hi = vecs[j];
        for (uint32_t i = 0; i < count; ++i) {
          lo = std::min(lo, vecs[size_t(i) * dim + j]);
          hi = std::max(hi, vecs[size_t(i) * dim + j]);
        }
        for (uint32_t i = 0; i < count; ++i) {
          const float x = vecs[size_t(i) * dim + j], y = scan.vectors[size_t(i) * dim + j];
          if (codec == kCodecFloat16) {
            const float want = std::clamp(x, -65504.0f, 65504.0f);
            CHECK(std::fabs(y - want) <= std::fabs(want) * 0x1p-11f + 0x1p-25f);
          } else {
            // Half a step, plus the float rounding of min + code * step.
            const double step = (double(hi) - lo) / 255;
            CHECK(std::fabs(double(y) - x) <= step / 2 + 1e-6 * (std::fabs(lo) + std::fabs(hi)));
          }
        }
      }
      // The full rows, one at a time, as a re-rank reads them.
      std::vector<float> row(dim);
      for (uint32_t i = 0; i < count; i += 7) {
        REQUIRE(DecodeFullRow(U(*f) + h.full_row_offset(i), dim, ids[i], row.data()).ok());
        CHECK(std::memcmp(row.data(), vecs.data() + size_t(i) * dim, dim * 4) == 0);
        // The checksum covers the row id: a row read for another id fails.
        CHECK(DecodeFullRow(U(*f) + h.full_row_offset(i), dim, ids[i] + 1, row.data()).code() == Code::kCorruption);
      }
    }
  }
}

TEST_CASE("quantized frame layouts are byte-exact as documented") {
  std::vector<int64_t> ids = {7, 9};
  std::vector<float> vecs = {1.0f, -2.5f, 0.25f, 3.0f};  // two rows of two
  auto f16 = EncodeFrame(ids.data(), vecs.data(), 2, 2, kCodecFloat16);
  REQUIRE(f16.ok());
  const uint8_t* p = U(*f16);
  CHECK(DecodeFixed32(p + 12) == kCodecFloat16);
  CHECK(DecodeFixed32(p + 20) == 2 * (8 + 2 * 2));                    // R: the scan section
  CHECK(DecodeFixed32(p + 16) == 2 * (8 + 2 * 2) + 2 * (4 * 2 + 4));  // P: + full rows
  const uint8_t* s = p + kFrameHeaderSize;
  CHECK(DecodeFixed64(s) == 7);
  CHECK(DecodeFixed64(s + 8) == 9);
  CHECK(DecodeFixed16(s + 16) == 0x3C00);  // 1.0
  CHECK(DecodeFixed16(s + 18) == 0xC100);  // -2.5
  CHECK(DecodeFixed16(s + 20) == 0x3400);  // 0.25
  CHECK(DecodeFixed16(s + 22) == 0x4200);  // 3.0
  const uint8_t* row1 = s + 24 + 12;       // second full row: 2 floats + crc
  CHECK(DecodeFloat(row1) == 0.25f);
  CHECK(DecodeFloat(row1 + 4) == 3.0f);
  uint8_t id[8];
  EncodeFixed64(id, 9);
  CHECK(crc32c::Unmask(DecodeFixed32(row1 + 8)) == crc32c::Extend(crc32c::Value(id, 8), row1, 8));
  // The header CRC covers the header and the scan section only.
  CHECK(crc32c::Unmask(DecodeFixed32(p + 24)) == crc32c::Extend(crc32c::Value(p, 24), s, 24));

  auto sq8 = EncodeFrame(ids.data(), vecs.data(), 2, 2, kCodecSq8);
  REQUIRE(sq8.ok());
  p = U(*sq8);
  s = p + kFrameHeaderSize;
  CHECK(DecodeFixed32(p + 20) == 8 * 2 + 2 * (8 + 2));
  CHECK(DecodeFloat(s + 16) == 0.25f);              // min of dimension 0
  CHECK(DecodeFloat(s + 20) == -2.5f);              // min of dimension 1
  CHECK(DecodeFloat(s + 24) == float(0.75 / 255));  // step of dimension 0
  CHECK(DecodeFloat(s + 28) == float(5.5 / 255));   // step of dimension 1
  CHECK(std::vector<int>(s + 32, s + 36) == std::vector<int>{255, 0, 0, 255});
}

TEST_CASE("a frame of another dimension is refused") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(2, 4, &ids, &vecs);
  DecodedFrame d;
  Status s = DecodeFrame(U(f), f.size(), 5, &d);
  CHECK(s.code() == Code::kCorruption);
  CHECK(s.message().find("dim") != std::string::npos);
}
