#include <doctest/doctest.h>

#include <zstd.h>

#include <cstring>
#include <limits>
#include <random>

#include "cold/frame.h"
#include "format/coding.h"

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

}  // namespace

TEST_CASE("a frame round-trips its row ids and vectors exactly, with either codec") {
  for (uint32_t codec : {kCodecZstdRaw, kCodecZstdShuffle}) {
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

TEST_CASE("the frame header is byte-exact as documented") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(3, 2, &ids, &vecs);
  const uint8_t* p = U(f);
  CHECK(std::string(f.data(), 4) == "AFRM");
  CHECK(DecodeFixed32(p + 4) == 3);            // count
  CHECK(DecodeFixed32(p + 8) == 2);            // dim
  CHECK(DecodeFixed32(p + 12) == kCodecZstdShuffle);  // the default
  CHECK(DecodeFixed32(p + 16) == f.size() - kFrameHeaderSize);  // payload length
  CHECK(DecodeFixed32(p + 20) == 3 * (8 + 4 * 2));              // raw length
  // The payload is one standard zstd frame (magic 0xFD2FB528).
  CHECK(DecodeFixed32(p + kFrameHeaderSize) == 0xFD2FB528u);
}

TEST_CASE("every truncation of a frame is reported as corruption") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(20, 8, &ids, &vecs);
  for (size_t n = 0; n < f.size(); ++n) {
    DecodedFrame d;
    Status s = DecodeFrame(U(f), n, 8, &d);
    CHECK_MESSAGE(s.code() == Code::kCorruption, "prefix of " << n << " bytes: " << s.ToString());
  }
}

TEST_CASE("every single-byte corruption of a frame is detected") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(10, 4, &ids, &vecs);
  for (size_t i = 0; i < f.size(); ++i) {
    std::string g = f;
    g[i] = static_cast<char>(g[i] ^ 0x20);
    DecodedFrame d;
    Status s = DecodeFrame(U(g), g.size(), 4, &d);
    CHECK_MESSAGE(s.code() == Code::kCorruption, "byte " << i << ": " << s.ToString());
  }
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
