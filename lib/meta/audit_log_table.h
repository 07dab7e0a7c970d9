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

// The detail of a move between tiers: {"from":"hot","to":"cold"}.
std::string MoveDetail(Tier from, Tier to);
// The move detail a kind implies: a descend's hot to cold, an ascend's cold
// to hot; "" for every other kind. Such entries are written without it.
std::string ImpliedMoveDetail(const std::string& kind);

class AuditLogTable {
 public:
  explicit AuditLogTable(Db* db) : db_(db) {}
  // id nullopt: an entry naming no memory (a purge's tombstone, a tick);
  // trace_id "": none (NULL).
  // detail nullopt: none (NULL; a descend's or an ascend's implied one).
  Status Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                const std::optional<std::string>& detail, const std::string& trace_id);
  // Deletes the entries older than cutoff_ms; returns how many.
  Result<uint64_t> PruneBefore(int64_t cutoff_ms);
  Status Forget(const std::string& id);  // every entry naming it
  // Entries at or after since_ms, of `id` ("" every one) written under
  // `trace_id` ("" any), oldest first; a descend or an ascend without a
  // detail gets the one its kind implies.
  Result<std::vector<HistoryEntry>> Since(const std::string& id, int64_t since_ms, const std::string& trace_id);

 private:
  Db* db_;
};

}  // namespace aether
