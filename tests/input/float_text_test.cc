// ShortestDecimalValue against its definition: fmt's shortest decimal of f
// as text, read by std::from_chars (correctly rounded, as strtod), and the
// property it is for: the JSON text of that double reads back as f.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "aether/jsonl.h"

namespace aether {
namespace {

double ByText(float f) {
  const std::string text = fmt::format("{}", f);
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

uint64_t Bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

// Every sign and exponent (subnormals and the largest finite included),
// each with its smallest, largest and some random mantissas, and random
// bit patterns: the same double as the text path, bit for bit.
TEST_CASE("the shortest decimal's double equals the text path's for floats of every exponent, and reads back") {
  std::vector<float> floats;
  std::mt19937 rng(31);
  for (uint32_t sign : {0u, 1u})
    for (uint32_t e = 0; e < 255; ++e)
      for (int i = 0; i < 64; ++i) {
        const uint32_t mantissa = i == 0 ? 0 : i == 1 ? 0x7fffff : i == 2 ? 1 : rng() & 0x7fffff;
        floats.push_back(FromBits(sign << 31 | e << 23 | mantissa));
      }
  for (int i = 0; i < 400000; ++i) {
    const float f = FromBits(uint32_t(rng()));
    if (std::isfinite(f)) floats.push_back(f);
  }
  // Distances as searches print them: squared sums of moderate values.
  for (int i = 0; i < 200000; ++i) floats.push_back(float(rng() % 100000000) * 1e-6f);
  floats.push_back(FromBits(0x15ae43fdu));  // the one magnitude that misreads
  floats.push_back(FromBits(0x95ae43fdu));
  size_t fast = 0;
  for (float f : floats) {
    CAPTURE(f);
    const double got = ShortestDecimalValue(f);
    const double want = ShortestDecimalMisreads(f) ? double(f) : ByText(f);
    REQUIRE(Bits(got) == Bits(want));
    // What a JSON writer prints for it reads back as f, sign of zero kept.
    const float back = float(nlohmann::json::parse(nlohmann::json(got).dump()).get<double>());
    REQUIRE(std::memcmp(&back, &f, 4) == 0);
    const int e = fmt::detail::dragonbox::to_decimal(std::fabs(f)).exponent;
    fast += f != 0 && e >= -22 && e <= 22;
  }
  CHECK(fast > floats.size() / 2);  // most lie in the exact multiply's range, the rest beyond it
  CHECK(Bits(ShortestDecimalValue(0.0f)) == Bits(0.0));
  CHECK(Bits(ShortestDecimalValue(-0.0f)) == Bits(-0.0));
}

}  // namespace
}  // namespace aether
