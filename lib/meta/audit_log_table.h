// The audit_log table (format-spec/metadata_db.md): the history of moves,
// feedback, deletes, config changes and ticks. All of its SQL is here. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aether/options.h"
#include "meta/sqlite_db.h"

namespace aether {

class AuditLogTable {
 public:
  explicit AuditLogTable(Db* db) : db_(db) {}
  // id nullopt: an entry naming no memory (a purge's tombstone, a tick);
  // trace_id "": none (NULL).
  Status Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id, const std::string& detail,
                const std::string& trace_id);
  // Deletes the entries older than cutoff_ms; returns how many.
  Result<uint64_t> PruneBefore(int64_t cutoff_ms);
  Status Forget(const std::string& id);  // every entry naming it
  // Entries at or after since_ms, of `id` ("" every one) written under
  // `trace_id` ("" any), oldest first.
  Result<std::vector<HistoryEntry>> Since(const std::string& id, int64_t since_ms, const std::string& trace_id);

 private:
  Db* db_;
};

}  // namespace aether
