// CRC-32C (Castagnoli), the checksum of every aether frame and slot, and the
// LevelDB-style mask applied before storing it (a CRC of data that itself
// contains CRCs is then not trivially related to them). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aether::crc32c {

// Returns the CRC-32C of data[0, n) continuing from `init` (0 to start).
// Uses the CPU's crc32 instruction (SSE4.2) when it has one, chosen at run
// time; the same value as ExtendPortable.
uint32_t Extend(uint32_t init, const void* data, size_t n);
// Table-driven (slicing-by-8), any CPU; the reference the tests compare with.
uint32_t ExtendPortable(uint32_t init, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
// Three independent CRCs at once: crc[i] = Extend(crc[i], data[i], n), with
// the three streams interleaved so the instruction's latency is hidden (for
// many short records of one length, e.g. the slots of a hot block).
void Extend3(uint32_t crc[3], const void* const data[3], size_t n);

constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace aether::crc32c
