// The framing two logs share (format-spec/access_log.md, metrics_log.md): a
// 24-byte header naming the log's epoch, then checksummed records back to
// back, each appended under an exclusive flock of the file and never synced.
// A torn or damaged record is skipped byte by byte up to the next one that
// checks. The logs differ only in their magics and their payloads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aether/env.h"
#include "aether/status.h"

namespace aether {

struct RecordLogFormat {
  const char* magic;  // 8 bytes
  uint32_t version;
  uint32_t record_magic;
};

namespace record_log {

constexpr uint64_t kHeaderSize = 24;
constexpr uint64_t kRecordHeaderSize = 16;
constexpr uint32_t kMaxRecordBytes = 64u << 20;

std::string Header(const RecordLogFormat& f, uint64_t epoch);
// A payload framed as one record (header and payload).
std::string Frame(const RecordLogFormat& f, const std::string& payload);
// The epoch in the file's header; 0 when the file is missing, short or
// not a log of this format.
Result<uint64_t> Epoch(Env* env, const std::string& path, const RecordLogFormat& f);
// Cuts the file (creating it if missing) to a header naming `epoch`.
Status Reset(Env* env, const std::string& path, const RecordLogFormat& f, uint64_t epoch);
// Decodes one payload; false when it does not hold what its format says
// (it is then skipped as damaged).
using DecodeFn = std::function<bool(const uint8_t* payload, uint32_t n)>;
// The records in [from, size of the file): each whole record whose CRC
// checks goes to `decode`; the bytes of the others are counted in
// *skipped_bytes. Returns the end offset read.
Result<uint64_t> Read(Env* env, const std::string& path, const RecordLogFormat& f, uint64_t from,
                      const DecodeFn& decode, uint64_t* skipped_bytes);

}  // namespace record_log
}  // namespace aether
