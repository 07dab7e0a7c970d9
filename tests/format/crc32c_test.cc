#include "format/crc32c.h"

#include <doctest/doctest.h>

#include <string>

using namespace aether;

TEST_CASE("crc32c matches the published check values") {
  // RFC 3720 B.4 and the common "123456789" check value.
  CHECK(crc32c::Value("123456789", 9) == 0xE3069283u);
  std::string zeros(32, '\0');
  CHECK(crc32c::Value(zeros.data(), zeros.size()) == 0x8A9136AAu);
  std::string ones(32, '\xff');
  CHECK(crc32c::Value(ones.data(), ones.size()) == 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  CHECK(crc32c::Value(inc.data(), inc.size()) == 0x46DD794Eu);
}

TEST_CASE("crc32c extends in pieces like in one call") {
  std::string data = "the quick brown fox jumps over the lazy dog, repeatedly and at length";
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t a = crc32c::Extend(crc32c::Value(data.data(), split), data.data() + split, data.size() - split);
    CHECK(a == crc32c::Value(data.data(), data.size()));
  }
}

TEST_CASE("masking is reversible and changes the value") {
  for (uint32_t c : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu}) {
    CHECK(crc32c::Unmask(crc32c::Mask(c)) == c);
    CHECK(crc32c::Mask(c) != c);
  }
}

TEST_CASE("the hardware crc32c path equals the table-driven one for every length and offset") {
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((x = x * 1103515245u + 12345u) >> 16));
  CHECK(crc32c::ExtendPortable(0, "123456789", 9) == 0xE3069283u);
  bool same = true;
  for (size_t off = 0; off < 8; ++off)
    for (size_t n = 0; off + n <= data.size(); ++n)
      for (uint32_t init : {0u, 0xDEADBEEFu})
        if (crc32c::Extend(init, data.data() + off, n) != crc32c::ExtendPortable(init, data.data() + off, n))
          same = false;
  CHECK(same);
}

TEST_CASE("the three-stream hardware crc32c equals the table-driven one on long inputs") {
  std::string data;
  uint32_t x = 777;
  for (int i = 0; i < 20000; ++i) data.push_back(static_cast<char>((x = x * 1103515245u + 12345u) >> 16));
  size_t checked = 0, differ = 0;
  // Around each multiple of the three 1,024-byte stripes, at odd offsets.
  for (size_t n : {3071, 3072, 3073, 3079, 6143, 6144, 6151, 9216, 12289, 19000})
    for (size_t off : {0, 1, 3, 7})
      for (uint32_t init : {0u, 0xDEADBEEFu}) {
        ++checked;
        differ += crc32c::Extend(init, data.data() + off, n) != crc32c::ExtendPortable(init, data.data() + off, n);
      }
  CHECK(checked == 80);
  CHECK(differ == 0);
}
