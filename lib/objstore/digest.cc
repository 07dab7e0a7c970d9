#include "objstore/digest.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace aether {
namespace {

uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
uint32_t Rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

constexpr uint32_t kSha256K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// MD5's per-step left rotations and sine-derived constants (RFC 1321 3.4).
constexpr int kMd5Shift[64] = {7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
                               14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
                               4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
constexpr uint32_t kMd5K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

// FIPS 180-4 6.2.2 on n blocks, one round at a time.
void Sha256BlocksPortable(uint32_t h[8], const uint8_t* b, size_t n) {
  for (; n > 0; --n, b += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(b[4 * i]) << 24 | uint32_t(b[4 * i + 1]) << 16 | uint32_t(b[4 * i + 2]) << 8 | b[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
      const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = bb;
      bb = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
}

#if defined(__x86_64__)
// The same with the x86 SHA extensions (Intel's SHA-NI: four rounds and a
// quarter of the message schedule per instruction pair). The state is kept
// as the instructions want it, ABEF and CDGH, and put back at the end.
__attribute__((target("sha,sse4.1,ssse3"))) void Sha256BlocksShaNi(uint32_t h[8], const uint8_t* b, size_t n) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)), 0xB1);       // CDAB
  __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4)), 0x1B);  // EFGH
  __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);                                                      // ABEF
  cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);                                                           // CDGH
  for (; n > 0; --n, b += 64) {
    const __m128i abef_was = abef, cdgh_was = cdgh;
    __m128i w[4];  // the schedule's words 4g .. 4g + 3 in w[g % 4]
    for (int g = 0; g < 16; ++g) {
      __m128i& wg = w[g % 4];
      if (g < 4) {
        wg = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * g)), byte_swap);
      } else {
        // W[t-16] + s0(W[t-15]), + W[t-7], then + s1(W[t-2]).
        const __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]),
                                        _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4));
        wg = _mm_sha256msg2_epu32(t, w[(g + 3) % 4]);
      }
      const __m128i msg = _mm_add_epi32(wg, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kSha256K + 4 * g)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
    }
    abef = _mm_add_epi32(abef, abef_was);
    cdgh = _mm_add_epi32(cdgh, cdgh_was);
  }
  tmp = _mm_shuffle_epi32(abef, 0x1B);                                                 // FEBA
  cdgh = _mm_shuffle_epi32(cdgh, 0xB1);                                                // DCHG
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_blend_epi16(tmp, cdgh, 0xF0));   // DCBA
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), _mm_alignr_epi8(cdgh, tmp, 8));  // HGFE
}

// CPUID leaf 7's EBX bit 29 (SHA) and leaf 1's SSSE3 and SSE4.1 (GCC 12's
// __builtin_cpu_supports has no "sha").
bool CpuHasShaNi() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return false;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA) != 0;
}
#endif

// RFC 1321 3.4 on n blocks.
void Md5Blocks(uint32_t h[4], const uint8_t* b, size_t n) {
  for (; n > 0; --n, b += 64) {
    uint32_t m[16];
    for (int i = 0; i < 16; ++i)
      m[i] = uint32_t(b[4 * i]) | uint32_t(b[4 * i + 1]) << 8 | uint32_t(b[4 * i + 2]) << 16 |
             uint32_t(b[4 * i + 3]) << 24;
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (bb & c) | (~bb & d), g = i;
      } else if (i < 32) {
        f = (d & bb) | (~d & c), g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = bb ^ c ^ d, g = (3 * i + 5) % 16;
      } else {
        f = c ^ (bb | ~d), g = (7 * i) % 16;
      }
      const uint32_t next = bb + Rotl(a + f + kMd5K[i] + m[g], kMd5Shift[i]);
      a = d;
      d = c;
      c = bb;
      bb = next;
    }
    h[0] += a, h[1] += bb, h[2] += c, h[3] += d;
  }
}

}  // namespace

bool Sha256HasShaNi() {
#if defined(__x86_64__)
  static const bool has = CpuHasShaNi();
  return has;
#else
  return false;
#endif
}

void BlockDigest::Update(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  if (buffered_) {  // first the block begun by an earlier call
    const size_t take = std::min(n, sizeof buf_ - buffered_);
    std::memcpy(buf_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < sizeof buf_) return;
    blocks_(h_, buf_, 1);
    buffered_ = 0;
  }
  if (n >= 64) blocks_(h_, p, n / 64);
  buffered_ = n % 64;
  std::memcpy(buf_, p + n / 64 * 64, buffered_);
}

// FIPS 180-4 5.1.1 and RFC 1321 3.1-3.2: a 1 bit, zeros to 56 bytes into a
// block, then the length in bits as 64 bits (big- or little-endian).
void BlockDigest::Pad() {
  const uint64_t bits = total_ * 8;
  uint8_t tail[72] = {0x80};
  const size_t pad = (buffered_ < 56 ? 56 : 120) - buffered_;
  for (int i = 0; i < 8; ++i) tail[pad + size_t(i)] = uint8_t(bits >> (big_endian_ ? 56 - 8 * i : 8 * i));
  Update(tail, pad + 8);
}

Sha256Stream::Sha256Stream(bool portable) : BlockDigest(Sha256BlocksPortable, true) {
  const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::copy(init, init + 8, h_);
#if defined(__x86_64__)
  if (!portable && Sha256HasShaNi()) blocks_ = Sha256BlocksShaNi;
#else
  (void)portable;
#endif
}

std::string Sha256Stream::Final() {
  Pad();
  std::string out(32, '\0');
  for (int i = 0; i < 32; ++i) out[size_t(i)] = char(h_[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

std::string Sha256Portable(const std::string& data) {
  Sha256Stream s(true);
  s.Update(data.data(), data.size());
  return s.Final();
}

std::string Sha256(const std::string& data) {
  Sha256Stream s;
  s.Update(data.data(), data.size());
  return s.Final();
}

Md5Stream::Md5Stream() : BlockDigest(Md5Blocks, false) {
  const uint32_t init[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::copy(init, init + 4, h_);
}

std::string Md5Stream::Final() {
  Pad();
  std::string out(16, '\0');
  for (int i = 0; i < 16; ++i) out[size_t(i)] = char(h_[i / 4] >> (8 * (i % 4)));
  return out;
}

std::string Md5(const std::string& data) {
  Md5Stream s;
  s.Update(data.data(), data.size());
  return s.Final();
}

std::string ToHex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    const uint32_t v = uint32_t(p[i]) << 16 | (n > 1 ? uint32_t(p[i + 1]) << 8 : 0) | (n > 2 ? p[i + 2] : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += n > 1 ? kAlphabet[(v >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[v & 63] : '=';
  }
  return out;
}

}  // namespace aether
