// Fixed-width little-endian integer and float coding: the only way aether
// puts numbers into its files (never a memcpy of a struct). Header-only,
// stateless, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace aether {

inline void EncodeFixed32(uint8_t* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void EncodeFixed64(uint8_t* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void EncodeFixed16(uint8_t* dst, uint16_t v) {
  dst[0] = static_cast<uint8_t>(v);
  dst[1] = static_cast<uint8_t>(v >> 8);
}
inline uint16_t DecodeFixed16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t DecodeFixed32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t DecodeFixed64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
// IEEE-754 binary32, little-endian.
inline void EncodeFloat(uint8_t* dst, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  EncodeFixed32(dst, bits);
}
inline float DecodeFloat(const uint8_t* p) {
  uint32_t bits = DecodeFixed32(p);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Appending forms, for building buffers.
inline void PutFixed16(std::string* dst, uint16_t v) {
  uint8_t b[2];
  EncodeFixed16(b, v);
  dst->append(reinterpret_cast<char*>(b), 2);
}
inline void PutFixed32(std::string* dst, uint32_t v) {
  uint8_t b[4];
  EncodeFixed32(b, v);
  dst->append(reinterpret_cast<char*>(b), 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  uint8_t b[8];
  EncodeFixed64(b, v);
  dst->append(reinterpret_cast<char*>(b), 8);
}

// Copies n floats to/from little-endian bytes. On little-endian hosts (all
// aether supports today) this is a memcpy; the loop keeps it portable.
inline void EncodeFloats(uint8_t* dst, const float* src, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(dst, src, n * 4);
#else
  for (size_t i = 0; i < n; ++i) EncodeFloat(dst + 4 * i, src[i]);
#endif
}
inline void DecodeFloats(float* dst, const uint8_t* src, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(dst, src, n * 4);
#else
  for (size_t i = 0; i < n; ++i) dst[i] = DecodeFloat(src + 4 * i);
#endif
}

}  // namespace aether
