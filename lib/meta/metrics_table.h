// The metrics table (format-spec/metadata_db.md): the counters and
// histogram buckets folded from metrics.log, summed per period (a minute,
// an hour once older than a day, period 0 once older than metrics_keep_days).
// All of its SQL is here. A store whose meta.db predates the table (opened
// read-only before a writer added it) reads as holding none. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "meta/sqlite_db.h"

namespace aether {

class MetricsTable {
 public:
  // (name, labels) -> value.
  using Sums = std::map<std::pair<std::string, std::string>, int64_t>;

  explicit MetricsTable(Db* db) : db_(db) {}
  // Adds each value to its (period, name, labels) row, in the caller's
  // transaction.
  Status Add(const std::map<int64_t, Sums>& by_period);
  // Sums of the rows whose period starts at or after since_ms (0: all).
  Result<Sums> SumSince(int64_t since_ms);
  // Merges rows of periods in (0, before_ms) that are not whole hours into
  // their hour, then rows of periods in (0, drop_before_ms) into period 0;
  // in the caller's transaction.
  Status RollUp(int64_t before_ms, int64_t drop_before_ms);
  // False in a meta.db an older aether made, until a writer adds the table.
  Result<bool> Exists();

 private:
  Status MergeInto(const char* where, const char* period_expr, int64_t bound);
  Db* db_;
};

}  // namespace aether
