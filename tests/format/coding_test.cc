#include "format/coding.h"

#include <doctest/doctest.h>

#include <limits>

using namespace aether;

TEST_CASE("fixed-width integers are little-endian on disk") {
  uint8_t b[8];
  EncodeFixed32(b, 0x01020304u);
  CHECK(b[0] == 0x04);
  CHECK(b[3] == 0x01);
  CHECK(DecodeFixed32(b) == 0x01020304u);
  EncodeFixed64(b, 0x0102030405060708ull);
  CHECK(b[0] == 0x08);
  CHECK(b[7] == 0x01);
  CHECK(DecodeFixed64(b) == 0x0102030405060708ull);
  EncodeFixed16(b, 0xBEEF);
  CHECK(b[0] == 0xEF);
  CHECK(DecodeFixed16(b) == 0xBEEF);
}

TEST_CASE("fixed-width coding round-trips extreme values") {
  uint8_t b[8];
  for (uint64_t v : {0ull, 1ull, 0xFFFFFFFFFFFFFFFFull, 0x8000000000000000ull}) {
    EncodeFixed64(b, v);
    CHECK(DecodeFixed64(b) == v);
  }
  std::string s;
  PutFixed32(&s, 7);
  PutFixed64(&s, 9);
  PutFixed16(&s, 3);
  REQUIRE(s.size() == 14);
  CHECK(DecodeFixed32(reinterpret_cast<const uint8_t*>(s.data())) == 7);
  CHECK(DecodeFixed64(reinterpret_cast<const uint8_t*>(s.data()) + 4) == 9);
}

TEST_CASE("floats are IEEE-754 binary32 little-endian") {
  uint8_t b[4];
  EncodeFloat(b, 1.0f);  // 0x3F800000
  CHECK(b[0] == 0x00);
  CHECK(b[2] == 0x80);
  CHECK(b[3] == 0x3F);
  for (float f : {0.0f, -0.0f, 3.25f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min()}) {
    EncodeFloat(b, f);
    CHECK(DecodeFloat(b) == f);
  }
  float in[3] = {1.5f, -2.0f, 1e-20f}, out[3];
  uint8_t buf[12];
  EncodeFloats(buf, in, 3);
  DecodeFloats(out, buf, 3);
  CHECK(out[0] == in[0]);
  CHECK(out[2] == in[2]);
  CHECK(DecodeFloat(buf + 4) == -2.0f);
}
