#include "index/centroids_file.h"

#include <fmt/format.h>

#include <cstring>

#include "format/coding.h"
#include "format/crc32c.h"
#include "format/file_header.h"

namespace aether {

std::string CentroidsFile::Encode(const Centroids& c) {
  std::string out(kHeaderSize + c.data.size() * 4 + 4, '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  EncodeFileHeader(h, kMagic, FileHeader{kVersion, c.dim, {c.k, c.generation, 0}});
  EncodeFloats(h + kHeaderSize, c.data.data(), c.data.size());
  size_t body = c.data.size() * 4;
  EncodeFixed32(h + kHeaderSize + body, crc32c::Mask(crc32c::Value(h + kHeaderSize, body)));
  return out;
}

namespace {

// The header's checks, given the file's size: what k * dim floats follow.
Status DecodeHeader(const uint8_t* h, uint64_t size, const std::string& path, uint32_t expected_dim, Centroids* out) {
  if (size < CentroidsFile::kHeaderSize + 4) return Status::Corruption(path + ": truncated centroids file");
  if (std::memcmp(h, CentroidsFile::kMagic, 8) != 0)
    return Status::Corruption(path + ": not a centroids file (bad magic)");
  if (crc32c::Unmask(DecodeFixed32(h + 28)) != crc32c::Value(h, 28))
    return Status::Corruption(path + ": header checksum mismatch");
  if (DecodeFixed32(h + 8) > CentroidsFile::kVersion)
    return Status::NotSupported(
        fmt::format("{}: centroids version {} is newer than supported", path, DecodeFixed32(h + 8)));
  out->dim = DecodeFixed32(h + 12);
  out->k = DecodeFixed32(h + 16);
  out->generation = DecodeFixed32(h + 20);
  if (out->dim != expected_dim)
    return Status::Corruption(fmt::format("{}: dim {} != store dim {}", path, out->dim, expected_dim));
  const uint64_t expected = CentroidsFile::kHeaderSize + uint64_t(out->k) * out->dim * 4 + 4;
  if (size != expected)
    return Status::Corruption(fmt::format("{}: {} bytes, expected {} for {} centroids", path, size, expected, out->k));
  return Status::Ok();
}

Status CheckBody(const uint8_t* body, size_t n, const uint8_t* trailer, const std::string& path) {
  if (crc32c::Unmask(DecodeFixed32(trailer)) != crc32c::Value(body, n))
    return Status::Corruption(path + ": centroids checksum mismatch");
  return Status::Ok();
}

// Opens path and checks its header (dim, k, generation into *head).
Result<std::unique_ptr<File>> OpenChecked(Env* env, const std::string& path, uint32_t expected_dim, Centroids* head) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  uint8_t h[CentroidsFile::kHeaderSize] = {};
  if (size >= CentroidsFile::kHeaderSize) AETHER_RETURN_IF_ERROR(f->Read(0, CentroidsFile::kHeaderSize, h));
  AETHER_RETURN_IF_ERROR(DecodeHeader(h, size, path, expected_dim, head));
  return f;
}

}  // namespace

Status CentroidsFile::Decode(const std::string& bytes, const std::string& path, uint32_t expected_dim, Centroids* out) {
  const auto* h = reinterpret_cast<const uint8_t*>(bytes.data());
  AETHER_RETURN_IF_ERROR(DecodeHeader(h, bytes.size(), path, expected_dim, out));
  const size_t body = size_t(out->k) * out->dim * 4;
  AETHER_RETURN_IF_ERROR(CheckBody(h + kHeaderSize, body, h + kHeaderSize + body, path));
  out->data.resize(size_t(out->k) * out->dim);
  DecodeFloats(out->data.data(), h + kHeaderSize, out->data.size());
  return Status::Ok();
}

Status CentroidsFile::Write(Env* env, const std::string& dir, const std::string& name, const Centroids& c) {
  return WriteFileAtomically(env, dir + "/" + name, Encode(c));
}

// The floats are read straight into the result (no second buffer of the
// file's size: a one-shot search pays for every page it touches).
Result<Centroids> CentroidsFile::Read(Env* env, const std::string& path, uint32_t expected_dim) {
  Centroids c;
  AETHER_ASSIGN_OR_RETURN(auto f, OpenChecked(env, path, expected_dim, &c));
  c.data.resize(size_t(c.k) * c.dim);
  auto* body = reinterpret_cast<uint8_t*>(c.data.data());
  const size_t n = c.data.size() * 4;
  uint8_t trailer[4];
  AETHER_RETURN_IF_ERROR(f->Read(kHeaderSize, n, body));
  AETHER_RETURN_IF_ERROR(f->Read(kHeaderSize + n, 4, trailer));
  AETHER_RETURN_IF_ERROR(CheckBody(body, n, trailer, path));
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
  for (float& v : c.data) v = DecodeFloat(reinterpret_cast<const uint8_t*>(&v));
#endif
  return c;
}

Result<std::unique_ptr<CentroidsStream>> CentroidsStream::Open(Env* env, const std::string& path,
                                                               uint32_t expected_dim) {
  Centroids head;
  AETHER_ASSIGN_OR_RETURN(auto f, OpenChecked(env, path, expected_dim, &head));
  return std::unique_ptr<CentroidsStream>(new CentroidsStream(std::move(f), std::move(head)));
}

Result<const float*> CentroidsStream::Rows(uint32_t c0, uint32_t n) {
  if (c0 != next_ || n > head_.k - c0)
    return Status::Internal(fmt::format("{}: centroids {}..{} read out of order", file_->path(), c0, c0 + n));
  const size_t bytes = size_t(n) * head_.dim * 4;
  buf_.resize(size_t(n) * head_.dim);
  auto* p = reinterpret_cast<uint8_t*>(buf_.data());
  AETHER_RETURN_IF_ERROR(file_->Read(CentroidsFile::kHeaderSize + uint64_t(c0) * head_.dim * 4, bytes, p));
  crc_ = crc32c::Extend(crc_, p, bytes);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
  for (float& v : buf_) v = DecodeFloat(reinterpret_cast<const uint8_t*>(&v));
#endif
  next_ = c0 + n;
  return buf_.data();
}

Status CentroidsStream::Finish() {
  if (next_ != head_.k)
    return Status::Internal(fmt::format("{}: {} of {} centroids read", file_->path(), next_, head_.k));
  uint8_t trailer[4];
  AETHER_RETURN_IF_ERROR(file_->Read(CentroidsFile::kHeaderSize + uint64_t(head_.k) * head_.dim * 4, 4, trailer));
  if (crc32c::Unmask(DecodeFixed32(trailer)) != crc_)
    return Status::Corruption(file_->path() + ": centroids checksum mismatch");
  return Status::Ok();
}

}  // namespace aether
