#include <doctest/doctest.h>

#include <random>

#include "cold/frame.h"
#include "format/coding.h"

using namespace aether;

namespace {

std::string MakeFrame(uint32_t count, uint32_t dim, std::vector<int64_t>* ids, std::vector<float>* vecs) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  ids->resize(count);
  vecs->resize(size_t(count) * dim);
  for (uint32_t i = 0; i < count; ++i) (*ids)[i] = 1000 + i * 3;
  for (auto& v : *vecs) v = u(rng);
  auto frame = EncodeFrame(ids->data(), vecs->data(), count, dim);
  REQUIRE(frame.ok());
  return *frame;
}

const uint8_t* U(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

TEST_CASE("a frame round-trips its row ids and vectors exactly") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(37, 5, &ids, &vecs);
  DecodedFrame d;
  REQUIRE(DecodeFrame(U(f), f.size(), 5, &d).ok());
  CHECK(d.count == 37);
  CHECK(d.row_ids == ids);
  CHECK(d.vectors == vecs);
}

TEST_CASE("the frame header is byte-exact as documented") {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::string f = MakeFrame(3, 2, &ids, &vecs);
  const uint8_t* p = U(f);
  CHECK(std::string(f.data(), 4) == "AFRM");
  CHECK(DecodeFixed32(p + 4) == 3);            // count
  CHECK(DecodeFixed32(p + 8) == 2);            // dim
  CHECK(DecodeFixed32(p + 12) == kCodecZstdRaw);
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
