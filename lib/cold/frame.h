// A cold frame (format-spec/cold_shard.md): one batch of memories, i.e. their
// row ids and float32 vectors, zstd-compressed behind a 28-byte header that
// makes it self-describing (count, dim, codec, lengths) and checksummed.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/status.h"

namespace aether {

constexpr uint32_t kFrameMagic = 0x4D524641;  // "AFRM" little-endian
constexpr size_t kFrameHeaderSize = 28;
// Codec numbers are frozen (equal to ColdCodec's).
constexpr uint32_t kCodecZstdRaw = 0;      // zstd over row ids then vectors, as is
constexpr uint32_t kCodecZstdShuffle = 1;  // zstd over row ids then the vectors' bytes by byte position

struct FrameHeader {
  uint32_t count = 0;
  uint32_t dim = 0;
  uint32_t codec = 0;
  uint32_t payload_len = 0;  // stored (compressed) bytes after the header
  uint32_t raw_len = 0;      // bytes once decompressed: count * (8 + 4 * dim)
  uint64_t frame_size() const { return kFrameHeaderSize + payload_len; }
};

struct DecodedFrame {
  uint32_t count = 0;
  uint32_t dim = 0;
  std::vector<int64_t> row_ids;
  std::vector<float> vectors;  // count * dim, row-major
  const float* vector(uint32_t i) const { return vectors.data() + size_t(i) * dim; }
};

// Builds a frame from count row ids and count*dim floats.
Result<std::string> EncodeFrame(const int64_t* row_ids, const float* vectors, uint32_t count,
                                uint32_t dim, uint32_t codec = kCodecZstdShuffle);
// Parses and sanity-checks the header in p[0, kFrameHeaderSize).
Status DecodeFrameHeader(const uint8_t* p, uint32_t expected_dim, FrameHeader* out);
// Checks and decodes a whole frame, p[0, n) with n == header.frame_size().
Status DecodeFrame(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out);

}  // namespace aether
