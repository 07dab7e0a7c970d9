#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace aether::crc32c {
namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial 0x82F63B78.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

uint32_t ExtendPortable(uint32_t init, const void* data, size_t n) {
  const auto& t = GetTables().t;
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~init;
  while (n >= 8) {
    uint32_t lo = c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^
        t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
namespace {

// The instruction has a 3-cycle latency and a 1-cycle throughput, so long
// inputs run as three independent streams over consecutive stripes, joined
// by shifting the earlier streams' registers over the later stripes' length
// (the register update over zero bytes is linear in the register: a table).
constexpr size_t kStripe = 1024;

__attribute__((target("sse4.2"))) uint32_t OverZeros(uint32_t c, size_t n) {
  uint64_t r = c;
  for (size_t i = 0; i < n; i += 8) r = _mm_crc32_u64(r, 0);
  return uint32_t(r);
}

// The raw register after kStripe zero bytes, as a function of the register:
// four byte-indexed tables, built from the images of the 32 unit vectors.
struct StripeShift {
  uint32_t t[4][256];
  StripeShift() {
    uint32_t unit[32];
    for (int i = 0; i < 32; ++i) unit[i] = OverZeros(1u << i, kStripe);
    for (int k = 0; k < 4; ++k)
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t v = 0;
        for (int j = 0; j < 8; ++j)
          if (b >> j & 1u) v ^= unit[8 * k + j];
        t[k][b] = v;
      }
  }
  uint32_t operator()(uint32_t c) const {
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t init, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~init;
  if (n >= 3 * kStripe) {
    static const StripeShift shift;
    do {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t wa, wb, wd;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, p + kStripe + i, 8);
        std::memcpy(&wd, p + 2 * kStripe + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        d = _mm_crc32_u64(d, wd);
      }
      // crc(A B C) = shift²(crc(A)) ^ shift(crc(B)) ^ crc(C), each stripe kStripe long.
      c = shift(shift(uint32_t(a)) ^ uint32_t(b)) ^ uint32_t(d);
      p += 3 * kStripe;
      n -= 3 * kStripe;
    } while (n >= 3 * kStripe);
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  auto c32 = uint32_t(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

__attribute__((target("sse4.2"))) void Extend3Sse42(uint32_t crc[3], const void* const data[3], size_t n) {
  const auto* p0 = static_cast<const uint8_t*>(data[0]);
  const auto* p1 = static_cast<const uint8_t*>(data[1]);
  const auto* p2 = static_cast<const uint8_t*>(data[2]);
  uint64_t a = ~crc[0], b = ~crc[1], c = ~crc[2];
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t wa, wb, wc;
    std::memcpy(&wa, p0 + i, 8);
    std::memcpy(&wb, p1 + i, 8);
    std::memcpy(&wc, p2 + i, 8);
    a = _mm_crc32_u64(a, wa);
    b = _mm_crc32_u64(b, wb);
    c = _mm_crc32_u64(c, wc);
  }
  auto a32 = uint32_t(a), b32 = uint32_t(b), c32 = uint32_t(c);
  for (; i < n; ++i) {
    a32 = _mm_crc32_u8(a32, p0[i]);
    b32 = _mm_crc32_u8(b32, p1[i]);
    c32 = _mm_crc32_u8(c32, p2[i]);
  }
  crc[0] = ~a32;
  crc[1] = ~b32;
  crc[2] = ~c32;
}

}  // namespace

uint32_t Extend(uint32_t init, const void* data, size_t n) {
  static const bool hw = __builtin_cpu_supports("sse4.2");
  return hw ? ExtendSse42(init, data, n) : ExtendPortable(init, data, n);
}

void Extend3(uint32_t crc[3], const void* const data[3], size_t n) {
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return Extend3Sse42(crc, data, n);
  for (int i = 0; i < 3; ++i) crc[i] = ExtendPortable(crc[i], data[i], n);
}
#else
uint32_t Extend(uint32_t init, const void* data, size_t n) { return ExtendPortable(init, data, n); }
void Extend3(uint32_t crc[3], const void* const data[3], size_t n) {
  for (int i = 0; i < 3; ++i) crc[i] = ExtendPortable(crc[i], data[i], n);
}
#endif

}  // namespace aether::crc32c
