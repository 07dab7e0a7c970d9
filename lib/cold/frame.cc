#include "cold/frame.h"

#include <zstd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "format/coding.h"
#include "format/crc32c.h"
#include "vecmath/kernels.h"

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
  size_t i = 0;
#if defined(__SSE2__)
  // Sixteen floats per round by byte and word interleaves (baseline x86-64;
  // the compiler's version of the loop below widens every byte to 32 bits).
  for (; i + 16 <= n; i += 16) {
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n + i));
    const __m128i b2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * n + i));
    const __m128i b3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * n + i));
    const __m128i lo01 = _mm_unpacklo_epi8(b0, b1), hi01 = _mm_unpackhi_epi8(b0, b1);
    const __m128i lo23 = _mm_unpacklo_epi8(b2, b3), hi23 = _mm_unpackhi_epi8(b2, b3);
    auto* d = reinterpret_cast<__m128i*>(dst + i);
    _mm_storeu_si128(d + 0, _mm_unpacklo_epi16(lo01, lo23));
    _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(lo01, lo23));
    _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(hi01, hi23));
    _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(hi01, hi23));
  }
#endif
  for (; i < n; ++i) {
    const uint32_t bits =
        uint32_t(src[i]) | uint32_t(src[n + i]) << 8 | uint32_t(src[2 * n + i]) << 16 | uint32_t(src[3 * n + i]) << 24;
    std::memcpy(dst + i, &bits, 4);
  }
}

uint32_t FrameCrc(const uint8_t* header, const uint8_t* payload, size_t payload_len) {
  uint32_t c = crc32c::Value(header, 24);
  return crc32c::Extend(c, payload, payload_len);
}

bool Lossless(uint32_t codec) { return codec == kCodecZstdRaw || codec == kCodecZstdShuffle || codec == kCodecFloat32; }
bool KnownCodec(uint32_t codec) { return Lossless(codec) || codec == kCodecFloat16 || codec == kCodecSq8; }

// Length of a quantized frame's scan section: row ids, then binary16
// vectors (float16), or per-dimension minimum and step then one code byte
// per value (sq8).
uint64_t ScanSectionLen(uint32_t codec, uint64_t count, uint32_t dim) {
  if (codec == kCodecFloat16) return count * (8 + 2ull * dim);
  return 8ull * dim + count * (8 + uint64_t(dim));
}

uint32_t FullRowCrc(int64_t row_id, const uint8_t* row, uint32_t dim) {
  uint8_t id[8];
  EncodeFixed64(id, static_cast<uint64_t>(row_id));
  return crc32c::Extend(crc32c::Value(id, 8), row, 4ull * dim);
}

// Writes the payload of a quantized frame (scan section, then full rows).
void EncodeQuantized(uint8_t* s, const int64_t* row_ids, const float* vectors, uint32_t count, uint32_t dim,
                     uint32_t codec, uint64_t scan_len) {
  for (uint32_t i = 0; i < count; ++i) EncodeFixed64(s + 8ull * i, static_cast<uint64_t>(row_ids[i]));
  uint8_t* q = s + 8ull * count;
  const size_t m = size_t(count) * dim;
  if (codec == kCodecFloat16) {
    // Saturating: a value beyond binary16's range becomes its largest
    // finite value, so no approximate distance is infinite.
    for (size_t i = 0; i < m; ++i)
      EncodeFixed16(q + 2 * i, simd::FloatToHalf(std::clamp(vectors[i], -65504.0f, 65504.0f)));
  } else {
    // Per dimension j over the frame: x ~ min[j] + code * step[j], step =
    // (max - min) / 255, code rounded to nearest.
    std::vector<float> lo(dim, 0.0f), step(dim, 0.0f);
    for (uint32_t j = 0; j < dim && count > 0; ++j) {
      float a = vectors[j], b = vectors[j];
      for (uint32_t i = 1; i < count; ++i) {
        a = std::min(a, vectors[size_t(i) * dim + j]);
        b = std::max(b, vectors[size_t(i) * dim + j]);
      }
      lo[j] = a;
      step[j] = float((double(b) - double(a)) / 255.0);  // finite: |b - a| <= 2 * FLT_MAX
    }
    EncodeFloats(q, lo.data(), dim);
    EncodeFloats(q + 4ull * dim, step.data(), dim);
    uint8_t* codes = q + 8ull * dim;
    for (uint32_t i = 0; i < count; ++i)
      for (uint32_t j = 0; j < dim; ++j) {
        const double v = step[j] > 0 ? (double(vectors[size_t(i) * dim + j]) - lo[j]) / double(step[j]) : 0.0;
        codes[size_t(i) * dim + j] = uint8_t(std::clamp(std::nearbyint(v), 0.0, 255.0));
      }
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* row = s + scan_len + uint64_t(i) * FrameHeader::full_row_size(dim);
    EncodeFloats(row, vectors + size_t(i) * dim, dim);
    EncodeFixed32(row + 4ull * dim, crc32c::Mask(FullRowCrc(row_ids[i], row, dim)));
  }
}

void FillHeader(uint8_t* h, uint32_t count, uint32_t dim, uint32_t codec, uint64_t payload_len, uint64_t raw_len,
                uint64_t crc_len) {
  EncodeFixed32(h + 0, kFrameMagic);
  EncodeFixed32(h + 4, count);
  EncodeFixed32(h + 8, dim);
  EncodeFixed32(h + 12, codec);
  EncodeFixed32(h + 16, static_cast<uint32_t>(payload_len));
  EncodeFixed32(h + 20, static_cast<uint32_t>(raw_len));
  EncodeFixed32(h + 24, crc32c::Mask(FrameCrc(h, h + kFrameHeaderSize, crc_len)));
}

Status CheckCrc(const uint8_t* p, uint64_t covered) {
  if (crc32c::Unmask(DecodeFixed32(p + 24)) != FrameCrc(p, p + kFrameHeaderSize, covered))
    return Status::Corruption("frame checksum mismatch");
  return Status::Ok();
}

void DecodeRowIds(const uint8_t* r, uint32_t count, DecodedFrame* out) {
  out->row_ids.resize(count);
  for (uint32_t i = 0; i < count; ++i) out->row_ids[i] = static_cast<int64_t>(DecodeFixed64(r + 8ull * i));
}

// A shuffled frame of fewer floats than this is compressed in one call
// (a chosen size: below it, four more blocks and a second zstd frame, each
// with its own headers and Huffman table, would cost about what so small a
// frame's scan saves).
constexpr size_t kMinShuffledFloats = 4096;

// Where the parts of a raw block end that the compressor keeps in zstd
// blocks of their own: the row ids, then each byte plane (shuffled frames
// of kMinShuffledFloats and more); otherwise one part, the whole block.
std::vector<size_t> PartEnds(uint32_t codec, uint32_t count, uint32_t dim) {
  const size_t ids = 8ull * count, floats = size_t(count) * dim;
  if (codec != kCodecZstdShuffle || floats < kMinShuffledFloats) return {ids + 4 * floats};
  return {ids, ids + floats, ids + 2 * floats, ids + 3 * floats, ids + 4 * floats};
}

// Extra output room for a compression in parts: ZSTD_compressBound is
// documented for one call, each part may end a block early (a 3-byte block
// header each, and a last, possibly empty, block), and the last part is a
// frame of its own (a frame header of at most 18 bytes, and the bound's
// allowance for a small input, at most 64).
size_t PartsMargin(size_t parts) { return parts > 1 ? 8 * parts + 192 : 0; }

// Compresses raw[begin, ends.back()) into one standard zstd frame at level
// kZstdLevel (hash_log: that level's hash table, or 2^hash_log entries),
// ending a zstd block at each of `ends`.
Result<size_t> CompressStream(ZSTD_CCtx* cctx, const uint8_t* raw, size_t begin, const std::vector<size_t>& ends,
                              int hash_log, uint8_t* dst, size_t capacity) {
  auto check = [](size_t r) {
    return ZSTD_isError(r) ? Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(r)) : Status::Ok();
  };
  AETHER_RETURN_IF_ERROR(check(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters)));
  AETHER_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, kZstdLevel)));
  if (hash_log) AETHER_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, hash_log)));
  AETHER_RETURN_IF_ERROR(check(ZSTD_CCtx_setPledgedSrcSize(cctx, ends.back() - begin)));
  ZSTD_outBuffer out{dst, capacity, 0};
  for (size_t k = 0; k < ends.size(); ++k) {
    ZSTD_inBuffer in{raw + begin, ends[k] - begin, 0};
    const ZSTD_EndDirective how = k + 1 == ends.size() ? ZSTD_e_end : ZSTD_e_flush;
    size_t left;
    do {
      left = ZSTD_compressStream2(cctx, &out, &in, how);
      AETHER_RETURN_IF_ERROR(check(left));
      // Single-threaded, zstd stops short only when the output is full.
      if (left != 0 && out.pos == out.size) return Status::Internal("zstd: output larger than its bound");
    } while (left != 0 || in.pos != in.size);
    begin = ends[k];
  }
  return out.pos;
}

// The sign-and-exponent plane's zstd hash table: 2^6 entries. With level
// 1's own (2^13-2^14 by the input's size), zstd codes that plane as many short matches between
// literals, which decode at about 1.4 GB/s here; with 64 entries it finds
// few, and codes the plane as Huffman-coded literals: 2x faster to decode
// and 10% smaller (format-spec/cold_shard.md, codec 1).
constexpr int kSignExponentHashLog = 6;

// Compresses raw[0, ends.back()) into standard zstd data of one frame or
// two (format-spec/cold_shard.md, codec 1). One part: one call, as before
// parts existed. Parts (a shuffled frame's row ids and byte planes): the
// row ids and the three low planes in one frame, a zstd block ending at
// each, so that zstd decides per plane whether Huffman coding pays; the
// sign-and-exponent plane in a second frame of its own, with a small hash
// table.
Result<size_t> CompressParts(ZSTD_CCtx* cctx, const uint8_t* raw, const std::vector<size_t>& ends, uint8_t* dst,
                             size_t capacity) {
  if (ends.size() == 1) {
    const size_t n = ZSTD_compressCCtx(cctx, dst, capacity, raw, ends[0], kZstdLevel);
    if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    return n;
  }
  const std::vector<size_t> low(ends.begin(), ends.end() - 1);
  AETHER_ASSIGN_OR_RETURN(size_t first, CompressStream(cctx, raw, 0, low, 0, dst, capacity));
  AETHER_ASSIGN_OR_RETURN(size_t second, CompressStream(cctx, raw, low.back(), {ends.back()}, kSignExponentHashLog,
                                                        dst + first, capacity - first));
  return first + second;
}

}  // namespace

Result<std::string> EncodeFrame(const int64_t* row_ids, const float* vectors, uint32_t count, uint32_t dim,
                                uint32_t codec) {
  if (!KnownCodec(codec)) return Status::InvalidArgument(fmt::format("unknown frame codec {}", codec));
  if (!Lossless(codec)) {
    const uint64_t scan_len = ScanSectionLen(codec, count, dim);
    const uint64_t payload_len = scan_len + count * FrameHeader::full_row_size(dim);
    if (payload_len > kMaxRawLen) return Status::InvalidArgument("frame too large; use a smaller batch");
    std::string out(kFrameHeaderSize + payload_len, '\0');
    auto* h = reinterpret_cast<uint8_t*>(out.data());
    EncodeQuantized(h + kFrameHeaderSize, row_ids, vectors, count, dim, codec, scan_len);
    FillHeader(h, count, dim, codec, payload_len, scan_len, scan_len);
    return out;
  }
  uint64_t raw_len = uint64_t(count) * (8 + 4ull * dim);
  if (raw_len > kMaxRawLen) return Status::InvalidArgument("frame too large; use a smaller batch");
  std::string raw(raw_len, '\0');
  auto* r = reinterpret_cast<uint8_t*>(raw.data());
  for (uint32_t i = 0; i < count; ++i) EncodeFixed64(r + 8ull * i, static_cast<uint64_t>(row_ids[i]));
  if (codec == kCodecZstdShuffle)
    ShuffleFloats(r + 8ull * count, vectors, size_t(count) * dim);
  else
    EncodeFloats(r + 8ull * count, vectors, size_t(count) * dim);
  if (codec == kCodecFloat32) {  // the raw block is the payload
    std::string out(kFrameHeaderSize, '\0');
    out += raw;
    FillHeader(reinterpret_cast<uint8_t*>(out.data()), count, dim, codec, raw_len, raw_len, raw_len);
    return out;
  }

  const std::vector<size_t> ends = PartEnds(codec, count, dim);
  std::string out(kFrameHeaderSize + ZSTD_compressBound(raw_len) + PartsMargin(ends.size()), '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  // One context per thread, freed when the thread ends (search and K-Means
  // run worker threads).
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  AETHER_ASSIGN_OR_RETURN(size_t n,
                          CompressParts(cctx.get(), r, ends, h + kFrameHeaderSize, out.size() - kFrameHeaderSize));
  out.resize(kFrameHeaderSize + n);
  FillHeader(reinterpret_cast<uint8_t*>(out.data()), count, dim, codec, n, raw_len, n);
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
  if (!KnownCodec(out->codec)) return Status::Corruption(fmt::format("unknown frame codec {}", out->codec));
  if (Lossless(out->codec)) {
    if (uint64_t(out->count) * (8 + 4ull * out->dim) != out->raw_len)
      return Status::Corruption(fmt::format("frame raw length {} does not match {} records", out->raw_len, out->count));
    if (out->codec == kCodecFloat32 && out->payload_len != out->raw_len)
      return Status::Corruption(
          fmt::format("uncompressed frame of {} bytes holds {} bytes of records", out->payload_len, out->raw_len));
    return Status::Ok();
  }
  if (ScanSectionLen(out->codec, out->count, out->dim) != out->raw_len ||
      out->raw_len + out->count * FrameHeader::full_row_size(out->dim) != out->payload_len)
    return Status::Corruption(
        fmt::format("frame lengths {}, {} do not match {} records", out->payload_len, out->raw_len, out->count));
  return Status::Ok();
}

namespace {

// Decodes a quantized frame's scan section (CRC already checked) into
// approximate vectors.
void DecodeScanSection(const FrameHeader& h, const uint8_t* s, DecodedFrame* out) {
  out->count = h.count;
  out->dim = h.dim;
  out->codec = h.codec;
  out->approximate = true;
  out->view = nullptr;
  DecodeRowIds(s, h.count, out);
  const uint8_t* q = s + 8ull * h.count;
  const size_t m = size_t(h.count) * h.dim;
  out->vectors.resize(m);
  if (h.codec == kCodecFloat16) {
    // Little-endian host (as the format's coding helpers assume): the
    // binary16 values are read in place, unaligned loads included.
    thread_local std::vector<uint16_t> halves;
    halves.resize(m);
    std::memcpy(halves.data(), q, 2 * m);
    simd::Active().half_to_float(halves.data(), out->vectors.data(), m);
    return;
  }
  thread_local std::vector<float> lo, step;
  lo.resize(h.dim);
  step.resize(h.dim);
  DecodeFloats(lo.data(), q, h.dim);
  DecodeFloats(step.data(), q + 4ull * h.dim, h.dim);
  const uint8_t* codes = q + 8ull * h.dim;
  for (uint32_t i = 0; i < h.count; ++i) {
    float* v = out->vectors.data() + size_t(i) * h.dim;
    const uint8_t* c = codes + size_t(i) * h.dim;
    for (uint32_t j = 0; j < h.dim; ++j) v[j] = lo[j] + float(c[j]) * step[j];
  }
}

// Decodes the header and checks that p[0, n) is the whole frame, or (scan) what a search reads of it.
Status CheckedHeader(const uint8_t* p, size_t n, uint32_t expected_dim, FrameHeader* h, bool scan) {
  if (n < kFrameHeaderSize) return Status::Corruption("truncated frame header");
  AETHER_RETURN_IF_ERROR(DecodeFrameHeader(p, expected_dim, h));
  const uint64_t size = scan ? h->scan_size() : h->frame_size();
  if (n != size) return Status::Corruption(fmt::format("frame is {} bytes, header says {}", n, size));
  return Status::Ok();
}

}  // namespace

Status DecodeFullRow(const uint8_t* p, uint32_t dim, int64_t row_id, float* out) {
  if (crc32c::Unmask(DecodeFixed32(p + 4ull * dim)) != FullRowCrc(row_id, p, dim))
    return Status::Corruption(fmt::format("full-precision row of row id {}: checksum mismatch", row_id));
  DecodeFloats(out, p, dim);
  return Status::Ok();
}

namespace {

// A lossless frame's records, its header checked: the payload's checksum,
// then its raw block (the payload itself for codec 4, else decompressed).
// in_place (a search's scan): a codec-4 frame's floats are left where they
// were read, when aligned for a float (on a little-endian host, where the
// format's bytes are the floats): a frame of another codec before it in
// the read may have left them unaligned.
Status DecodeLossless(const FrameHeader& h, const uint8_t* p, bool in_place, DecodedFrame* out) {
  out->approximate = false;
  out->view = nullptr;
  out->codec = h.codec;
  AETHER_RETURN_IF_ERROR(CheckCrc(p, h.payload_len));
  const uint8_t* r = p + kFrameHeaderSize;
  if (h.codec != kCodecFloat32) {
    // Reused per thread: a scan decodes many frames of about the same size.
    thread_local std::string raw;
    raw.resize(h.raw_len);
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    size_t got = ZSTD_decompressDCtx(dctx.get(), raw.data(), raw.size(), p + kFrameHeaderSize, h.payload_len);
    if (ZSTD_isError(got) || got != h.raw_len)
      return Status::Corruption(std::string("frame does not decompress: ") +
                                (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output"));
    r = reinterpret_cast<const uint8_t*>(raw.data());
  }
  out->count = h.count;
  out->dim = h.dim;
  DecodeRowIds(r, h.count, out);
  const uint8_t* floats = r + 8ull * h.count;
  if (in_place && h.codec == kCodecFloat32 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&
      reinterpret_cast<uintptr_t>(floats) % alignof(float) == 0) {
    out->view = reinterpret_cast<const float*>(floats);
    return Status::Ok();
  }
  out->vectors.resize(size_t(h.count) * h.dim);
  if (h.codec == kCodecZstdShuffle)
    UnshuffleFloats(out->vectors.data(), floats, out->vectors.size());
  else
    DecodeFloats(out->vectors.data(), floats, out->vectors.size());
  return Status::Ok();
}

}  // namespace

Status DecodeFrameScan(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out) {
  FrameHeader h;
  AETHER_RETURN_IF_ERROR(CheckedHeader(p, n, expected_dim, &h, /*scan=*/true));
  if (!h.quantized()) return DecodeLossless(h, p, /*in_place=*/true, out);
  AETHER_RETURN_IF_ERROR(CheckCrc(p, h.raw_len));
  DecodeScanSection(h, p + kFrameHeaderSize, out);
  return Status::Ok();
}

Status DecodeFrame(const uint8_t* p, size_t n, uint32_t expected_dim, DecodedFrame* out) {
  FrameHeader h;
  AETHER_RETURN_IF_ERROR(CheckedHeader(p, n, expected_dim, &h, /*scan=*/false));
  if (!h.quantized()) return DecodeLossless(h, p, /*in_place=*/false, out);
  out->approximate = false;
  out->view = nullptr;
  out->codec = h.codec;
  AETHER_RETURN_IF_ERROR(CheckCrc(p, h.raw_len));
  out->count = h.count;
  out->dim = h.dim;
  DecodeRowIds(p + kFrameHeaderSize, h.count, out);
  out->vectors.resize(size_t(h.count) * h.dim);
  for (uint32_t i = 0; i < h.count; ++i)
    AETHER_RETURN_IF_ERROR(
        DecodeFullRow(p + h.full_row_offset(i), h.dim, out->row_ids[i], out->vectors.data() + size_t(i) * h.dim));
  return Status::Ok();
}

}  // namespace aether
