// The access log (format-spec/access_log.md): what searches record without
// the write lock. A search that is not the store's writer appends one
// checksummed record (its hits, the cold hits it queues for restore) to
// `access.log` under an flock of the file, never synced; the next writer
// folds the records into meta.db (StoreImpl::FoldAccessLog) and empties the
// file under a new epoch. A record is applied only if the file's epoch is
// the one meta.db names, from the offset meta.db says was folded, so a
// crash anywhere folds every record at most once; a crash may lose the
// records not yet folded (they were never synced).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aether/env.h"
#include "aether/status.h"
#include "store/record_log.h"

namespace aether {

// One search's accesses.
struct AccessRecord {
  int64_t ts_ms = 0;
  std::vector<int64_t> hits;                         // row ids, once per hit
  std::vector<std::pair<int64_t, double>> restores;  // (row id, priority)
};

class AccessLog {
 public:
  static constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'A', 'C', 'C', '\0'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kHeaderSize = record_log::kHeaderSize;
  static constexpr uint32_t kRecordMagic = 0x52434341;  // "ACCR"

  // The record's bytes (header and payload).
  static std::string Encode(const AccessRecord& r);

  // Writes a new log of only a header naming `epoch` (the file's old
  // content, if any, is cut first).
  static Status Reset(Env* env, const std::string& path, uint64_t epoch);
  // The epoch in the file's header; 0 when the file is missing, short or
  // not an access log.
  static Result<uint64_t> Epoch(Env* env, const std::string& path);
  // Appends `record` if the file's epoch is `epoch` (under an exclusive
  // flock of the file, so appenders never interleave); false when it is not
  // (the file is missing, or a fold was cut short: the record is dropped).
  static Result<bool> Append(Env* env, const std::string& path, uint64_t epoch, const std::string& record);
  // The records in [from, size of the file) of a file whose epoch is
  // `epoch`: a torn or damaged record is skipped (counted in *skipped_bytes)
  // up to the next record that checks. Returns the end offset read.
  static Result<uint64_t> Read(Env* env, const std::string& path, uint64_t from, std::vector<AccessRecord>* out,
                               uint64_t* skipped_bytes);
};

}  // namespace aether
