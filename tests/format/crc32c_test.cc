#include <doctest/doctest.h>

#include <string>

#include "format/crc32c.h"

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
