#include "format/file_header.h"

#include <fmt/format.h>

#include <cstring>

#include "format/coding.h"
#include "format/crc32c.h"

namespace aether {

void EncodeFileHeader(uint8_t* out, const char (&magic)[8], const FileHeader& h) {
  std::memset(out, 0, FileHeader::kSize);
  std::memcpy(out, magic, 8);
  EncodeFixed32(out + 8, h.version);
  EncodeFixed32(out + 12, h.dim);
  for (size_t i = 0; i < 3; ++i) EncodeFixed32(out + 16 + 4 * i, h.fields[i]);
  EncodeFixed32(out + 28, crc32c::Mask(crc32c::Value(out, 28)));
}

Status DecodeFileHeader(const uint8_t* in, const char (&magic)[8], uint32_t max_version, const std::string& kind,
                        const std::string& path, FileHeader* out) {
  if (std::memcmp(in, magic, 8) != 0) return Status::Corruption(path + ": not an aether " + kind + " file (bad magic)");
  if (crc32c::Unmask(DecodeFixed32(in + 28)) != crc32c::Value(in, 28))
    return Status::Corruption(path + ": header checksum mismatch");
  out->version = DecodeFixed32(in + 8);
  if (out->version > max_version)
    return Status::NotSupported(
        fmt::format("{}: {} file version {} is newer than supported ({})", path, kind, out->version, max_version));
  out->dim = DecodeFixed32(in + 12);
  for (size_t i = 0; i < 3; ++i) out->fields[i] = DecodeFixed32(in + 16 + 4 * i);
  return Status::Ok();
}

Result<std::unique_ptr<File>> OpenWithHeader(Env* env, const std::string& path, bool writable,
                                             uint8_t (&header)[FileHeader::kSize]) {
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, writable ? OpenMode::kReadWrite : OpenMode::kRead));
  // A read past the end is the one Corruption a read returns: the file is
  // shorter than a header (asked without a stat first: a search opens a
  // file per partition).
  Status read = file->Read(0, FileHeader::kSize, header);
  if (read.code() == Code::kCorruption) return Status::Corruption(path + ": truncated header");
  AETHER_RETURN_IF_ERROR(read);
  return file;
}

}  // namespace aether
