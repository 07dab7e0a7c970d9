// A cold frame (format-spec/cold_shard.md): one batch of memories, i.e. their
// row ids and float32 vectors behind a 28-byte header that makes it
// self-describing (count, dim, codec, lengths) and checksummed.
//  - Codecs 0 and 1 (lossless) compress the batch with zstd; codec 4
//    (lossless: warm frames, and a float32 store's cold ones) stores it as
//    is.
//  - Codecs 2 (float16) and 3 (sq8) hold a scan section (row ids and the
//    vectors quantized) that a search reads, and after it every vector in
//    full precision, row by row with a checksum each, read only for the few
//    candidates a search re-ranks, and by everything else (get, ascend,
//    rebuild, verify).
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

constexpr uint32_t kFrameMagic = 0x4D524641;  // "AFRM" little-endian
constexpr size_t kFrameHeaderSize = 28;
// Codec numbers are frozen (equal to ColdCodec's).
constexpr uint32_t kCodecZstdRaw = 0;      // zstd over row ids then vectors, as is
constexpr uint32_t kCodecZstdShuffle = 1;  // zstd over row ids then the vectors' bytes by byte position
constexpr uint32_t kCodecFloat16 = 2;      // scan section of binary16 vectors + full-precision rows
constexpr uint32_t kCodecSq8 = 3;          // scan section of 8-bit codes (per-frame min/step) + full rows
// The warm tier's frames (format version 5) and a store's cold codec
// float32 (format version 7).
constexpr uint32_t kCodecFloat32 = 4;  // row ids then the float32 vectors, as is: nothing to decompress
// A store's cold_codec is written into each frame as its number: the two
// numberings are one.
static_assert(kCodecZstdRaw == uint32_t(ColdCodec::kZstd) && kCodecZstdShuffle == uint32_t(ColdCodec::kZstdShuffle) &&
              kCodecFloat16 == uint32_t(ColdCodec::kFloat16) && kCodecSq8 == uint32_t(ColdCodec::kSq8) &&
              kCodecFloat32 == uint32_t(ColdCodec::kFloat32));

struct FrameHeader {
  uint32_t count = 0;
  uint32_t dim = 0;
  uint32_t codec = 0;
  uint32_t payload_len = 0;  // stored bytes after the header
  // Codecs 0, 1, 4: bytes once decompressed, count * (8 + 4 * dim) (codec 4:
  // the payload's length too). Codecs 2, 3: the length of the scan section,
  // which starts the payload.
  uint32_t raw_len = 0;
  uint64_t frame_size() const { return kFrameHeaderSize + payload_len; }
  bool quantized() const { return codec == kCodecFloat16 || codec == kCodecSq8; }
  // What a search reads of the frame: the header and the scan section of a
  // quantized frame, the whole of a lossless one.
  uint64_t scan_size() const { return quantized() ? kFrameHeaderSize + raw_len : frame_size(); }
  // Offset, from the frame's start, of full-precision row i (quantized only).
  uint64_t full_row_offset(uint32_t i) const { return kFrameHeaderSize + raw_len + uint64_t(i) * full_row_size(dim); }
  static uint64_t full_row_size(uint32_t dim) { return 4ull * dim + 4; }
};

struct DecodedFrame {
  uint32_t count = 0;
  uint32_t dim = 0;
  uint32_t codec = 0;  // the frame's (its header's)
  // True when `vectors` are a quantized frame's approximations
  // (DecodeFrameScan); false when they are exact.
  bool approximate = false;
  std::vector<int64_t> row_ids;
  std::vector<float> vectors;  // count * dim, row-major (when `view` is null)
  // Set only by DecodeFrameScan for a codec-4 frame whose floats are
  // aligned where they were read: those floats, in place of `vectors`
  // (nothing copied), valid as long as the bytes it was given.
  const float* view = nullptr;
  const float* data() const { return view ? view : vectors.data(); }
  const float* vector(uint32_t i) const { return data() + size_t(i) * dim; }
};

// Builds a frame from count row ids and count*dim floats.
Result<std::string> EncodeFrame(const int64_t* row_ids, const float* vectors, uint32_t count, uint32_t dim,
                                uint32_t codec = kCodecZstdShuffle);
// Parses and sanity-checks the header in p[0, kFrameHeaderSize).
Status DecodeFrameHeader(const uint8_t* p, uint32_t expected_dim, FrameHeader* out);
// Checks and decodes a whole frame, p[0, n) with n == header.frame_size():
// the exact vectors, whatever the codec.
Status DecodeFrame(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out);
// Checks and decodes what a search scans, p[0, n) with n ==
// header.scan_size(): a quantized frame's approximate vectors (approximate
// is set), or a lossless frame's exact ones (a codec-4 frame's may be left
// in p: out->view, valid while p is).
Status DecodeFrameScan(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out);
// Checks full-precision row p[0, FrameHeader::full_row_size(dim)) of a
// quantized frame against its checksum, which covers `row_id` too (a row
// read from the wrong place fails), and decodes its dim floats into out.
Status DecodeFullRow(const uint8_t* p, uint32_t dim, int64_t row_id, float* out);

}  // namespace aether
