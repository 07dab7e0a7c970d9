#include "cold/frame.h"

#include <zstd.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "format/coding.h"
#include "format/crc32c.h"

namespace aether {
namespace {

constexpr int kZstdLevel = 1;
// A frame holds at most this many raw bytes: lengths are u32 on disk.
constexpr uint64_t kMaxRawLen = 1ull << 31;

// Byte planes: plane b (0..3) holds byte b of each float's little-endian
// encoding, in order. Both loops vectorize.
void ShuffleFloats(uint8_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    dst[i] = uint8_t(bits);
    dst[n + i] = uint8_t(bits >> 8);
    dst[2 * n + i] = uint8_t(bits >> 16);
    dst[3 * n + i] = uint8_t(bits >> 24);
  }
}

void UnshuffleFloats(float* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(src[i]) | uint32_t(src[n + i]) << 8 | uint32_t(src[2 * n + i]) << 16 |
                          uint32_t(src[3 * n + i]) << 24;
    std::memcpy(dst + i, &bits, 4);
  }
}

uint32_t FrameCrc(const uint8_t* header, const uint8_t* payload, size_t payload_len) {
  uint32_t c = crc32c::Value(header, 24);
  return crc32c::Extend(c, payload, payload_len);
}

}  // namespace

Result<std::string> EncodeFrame(const int64_t* row_ids, const float* vectors, uint32_t count,
                                uint32_t dim, uint32_t codec) {
  if (codec != kCodecZstdRaw && codec != kCodecZstdShuffle)
    return Status::InvalidArgument(fmt::format("unknown frame codec {}", codec));
  uint64_t raw_len = uint64_t(count) * (8 + 4ull * dim);
  if (raw_len > kMaxRawLen) return Status::InvalidArgument("frame too large; use a smaller batch");
  std::string raw(raw_len, '\0');
  auto* r = reinterpret_cast<uint8_t*>(raw.data());
  for (uint32_t i = 0; i < count; ++i) EncodeFixed64(r + 8ull * i, static_cast<uint64_t>(row_ids[i]));
  if (codec == kCodecZstdShuffle)
    ShuffleFloats(r + 8ull * count, vectors, size_t(count) * dim);
  else
    EncodeFloats(r + 8ull * count, vectors, size_t(count) * dim);

  std::string out(kFrameHeaderSize + ZSTD_compressBound(raw_len), '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  // One context per thread, freed when the thread ends (search and K-Means
  // run worker threads).
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  size_t n = ZSTD_compressCCtx(cctx.get(), h + kFrameHeaderSize, out.size() - kFrameHeaderSize,
                               raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(kFrameHeaderSize + n);
  h = reinterpret_cast<uint8_t*>(out.data());
  EncodeFixed32(h + 0, kFrameMagic);
  EncodeFixed32(h + 4, count);
  EncodeFixed32(h + 8, dim);
  EncodeFixed32(h + 12, codec);
  EncodeFixed32(h + 16, static_cast<uint32_t>(n));
  EncodeFixed32(h + 20, static_cast<uint32_t>(raw_len));
  EncodeFixed32(h + 24, crc32c::Mask(FrameCrc(h, h + kFrameHeaderSize, n)));
  return out;
}

Status DecodeFrameHeader(const uint8_t* p, uint32_t expected_dim, FrameHeader* out) {
  if (DecodeFixed32(p) != kFrameMagic) return Status::Corruption("bad frame magic");
  out->count = DecodeFixed32(p + 4);
  out->dim = DecodeFixed32(p + 8);
  out->codec = DecodeFixed32(p + 12);
  out->payload_len = DecodeFixed32(p + 16);
  out->raw_len = DecodeFixed32(p + 20);
  if (out->dim != expected_dim)
    return Status::Corruption(fmt::format("frame dim {} != store dim {}", out->dim, expected_dim));
  if (out->codec != kCodecZstdRaw && out->codec != kCodecZstdShuffle)
    return Status::Corruption(fmt::format("unknown frame codec {}", out->codec));
  if (uint64_t(out->count) * (8 + 4ull * out->dim) != out->raw_len)
    return Status::Corruption(fmt::format("frame raw length {} does not match {} records",
                                          out->raw_len, out->count));
  return Status::Ok();
}

Status DecodeFrame(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out) {
  if (n < kFrameHeaderSize) return Status::Corruption("truncated frame header");
  FrameHeader h;
  AETHER_RETURN_IF_ERROR(DecodeFrameHeader(p, expected_dim, &h));
  if (n != h.frame_size())
    return Status::Corruption(fmt::format("frame is {} bytes, header says {}", n, h.frame_size()));
  if (crc32c::Unmask(DecodeFixed32(p + 24)) != FrameCrc(p, p + kFrameHeaderSize, h.payload_len))
    return Status::Corruption("frame checksum mismatch");
  // Reused per thread: a scan decodes many frames of about the same size.
  thread_local std::string raw;
  raw.resize(h.raw_len);
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  size_t got = ZSTD_decompressDCtx(dctx.get(), raw.data(), raw.size(), p + kFrameHeaderSize, h.payload_len);
  if (ZSTD_isError(got) || got != h.raw_len)
    return Status::Corruption(std::string("frame does not decompress: ") +
                              (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output"));
  const auto* r = reinterpret_cast<const uint8_t*>(raw.data());
  out->count = h.count;
  out->dim = h.dim;
  out->row_ids.resize(h.count);
  for (uint32_t i = 0; i < h.count; ++i) out->row_ids[i] = static_cast<int64_t>(DecodeFixed64(r + 8ull * i));
  out->vectors.resize(size_t(h.count) * h.dim);
  if (h.codec == kCodecZstdShuffle)
    UnshuffleFloats(out->vectors.data(), r + 8ull * h.count, out->vectors.size());
  else
    DecodeFloats(out->vectors.data(), r + 8ull * h.count, out->vectors.size());
  return Status::Ok();
}

}  // namespace aether
