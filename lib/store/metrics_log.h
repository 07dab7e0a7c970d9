// metrics.log (format-spec/metrics_log.md): one record per process of what
// it did, appended at its end under an exclusive flock of the file, never
// under the store lock and never synced. A writer folds the records into
// meta.db's metrics table (StoreImpl::FoldMetricsLog) and resets the file
// to a new epoch. Which records are folded: meta.db keeps the epoch and end
// offset of the last fold (config metrics_log_prev_epoch / _prev_end); a log
// with that epoch is read from that offset, any other log from its first
// record. A fold cut short after its commit therefore folds only what came
// after, and a reset log starts anew: no record is folded twice, none lost
// but the crashing process's own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/env.h"
#include "aether/metrics.h"
#include "aether/status.h"
#include "store/record_log.h"

namespace aether {

struct MetricsRecord {
  int64_t ts_ms = 0;
  std::vector<MetricSample> samples;
};

// A new log of only a header (a random epoch): what init and the first
// writer to open a store without one make.
Status CreateMetricsLog(Env* env, const std::string& path);

class MetricsLog {
 public:
  static constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'M', 'E', 'T', '\0'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint32_t kRecordMagic = 0x5254454d;  // "METR"
  static constexpr RecordLogFormat kFormat{kMagic, kVersion, kRecordMagic};
  // Appends stop here (a writer's fold empties the file; every writer's
  // open folds it past 1 MiB).
  static constexpr uint64_t kMaxLogBytes = 64u << 20;
  // Samples per record at most, and their largest value (2^40): a record
  // past either is damaged.
  static constexpr uint32_t kMaxSamples = 4096;
  static constexpr int64_t kMaxValue = int64_t(1) << 40;

  // The record's bytes; InvalidArgument for a name or labels of more than
  // 65,535 bytes or a record over the framing's limit.
  static Result<std::string> Encode(const MetricsRecord& r);
  // Appends `record` under an exclusive flock of the file (waiting up to
  // wait_seconds); a file shorter than a header and holding a prefix of
  // one (a fold cut short) first gets a header of `new_epoch`.
  // kFailedPrecondition, nothing written, when the file is missing or not
  // a regular file (a writer creates it), holds another header (a newer
  // aether's, damage), or would grow past kMaxLogBytes.
  static Status Append(Env* env, const std::string& path, const std::string& record, uint64_t new_epoch,
                       double wait_seconds);
  // The records from `from` (see record_log::Read); a record whose names or
  // labels are not valid is skipped as damaged.
  static Result<uint64_t> Read(Env* env, const std::string& path, uint64_t from, std::vector<MetricsRecord>* out,
                               uint64_t* skipped_bytes);
};

}  // namespace aether
