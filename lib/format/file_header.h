// The 32-byte header every aether data file starts with (hot.slots, shards,
// centroids; format-spec/): magic[8], version u32, dim u32, three u32 fields
// the file kind defines, the masked CRC-32C of bytes 0..27. One encoder and
// one checked decoder for all of them. Stateless; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "aether/env.h"
#include "aether/status.h"

namespace aether {

struct FileHeader {
  static constexpr size_t kSize = 32;
  uint32_t version = 0;
  uint32_t dim = 0;
  std::array<uint32_t, 3> fields{};  // bytes 16..27, per file kind
};

void EncodeFileHeader(uint8_t* out, const char (&magic)[8], const FileHeader& h);
// Checks magic ("not an aether <kind> file (bad magic)"), CRC ("header
// checksum mismatch": Corruption) and version (NotSupported when newer than
// max_version); errors start with `path`.
Status DecodeFileHeader(const uint8_t* in, const char (&magic)[8], uint32_t max_version, const std::string& kind,
                        const std::string& path, FileHeader* out);
// Opens `path` (read-write or read-only) and reads its header bytes into
// `header`: Corruption "<path>: truncated header" when the file is shorter.
Result<std::unique_ptr<File>> OpenWithHeader(Env* env, const std::string& path, bool writable,
                                             uint8_t (&header)[FileHeader::kSize]);

}  // namespace aether
