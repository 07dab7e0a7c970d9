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

Status CentroidsFile::Decode(const std::string& bytes, const std::string& path, uint32_t expected_dim, Centroids* out) {
  const auto* h = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kHeaderSize + 4) return Status::Corruption(path + ": truncated centroids file");
  if (std::memcmp(h, kMagic, 8) != 0) return Status::Corruption(path + ": not a centroids file (bad magic)");
  if (crc32c::Unmask(DecodeFixed32(h + 28)) != crc32c::Value(h, 28))
    return Status::Corruption(path + ": header checksum mismatch");
  if (DecodeFixed32(h + 8) > kVersion)
    return Status::NotSupported(
        fmt::format("{}: centroids version {} is newer than supported", path, DecodeFixed32(h + 8)));
  out->dim = DecodeFixed32(h + 12);
  out->k = DecodeFixed32(h + 16);
  out->generation = DecodeFixed32(h + 20);
  if (out->dim != expected_dim)
    return Status::Corruption(fmt::format("{}: dim {} != store dim {}", path, out->dim, expected_dim));
  size_t body = size_t(out->k) * out->dim * 4;
  if (bytes.size() != kHeaderSize + body + 4)
    return Status::Corruption(
        fmt::format("{}: {} bytes, expected {} for {} centroids", path, bytes.size(), kHeaderSize + body + 4, out->k));
  if (crc32c::Unmask(DecodeFixed32(h + kHeaderSize + body)) != crc32c::Value(h + kHeaderSize, body))
    return Status::Corruption(path + ": centroids checksum mismatch");
  out->data.resize(size_t(out->k) * out->dim);
  DecodeFloats(out->data.data(), h + kHeaderSize, out->data.size());
  return Status::Ok();
}

Status CentroidsFile::Write(Env* env, const std::string& dir, const std::string& name, const Centroids& c) {
  return WriteFileAtomically(env, dir + "/" + name, Encode(c));
}

Result<Centroids> CentroidsFile::Read(Env* env, const std::string& path, uint32_t expected_dim) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  std::string bytes(size, '\0');
  AETHER_RETURN_IF_ERROR(f->Read(0, size, bytes.data()));
  Centroids c;
  AETHER_RETURN_IF_ERROR(Decode(bytes, path, expected_dim, &c));
  return c;
}

}  // namespace aether
