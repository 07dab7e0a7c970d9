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

// How an entry names the trace id of the command that wrote it: by its
// text (a store of format version < 4, which an older aether may read) or
// by the number of its audit_traces row. Neither: none.
struct TraceRef {
  std::string text;
  int64_t number = 0;
};

class AuditLogTable {
 public:
  explicit AuditLogTable(Db* db) : db_(db) {}
  // Entries name their trace by number when the store's format version is
  // 4 or more and its schema has audit_traces (a writer's open adds it);
  // else by text. Asked again after either changes.
  Status UseFormat(uint32_t format_version);
  // The reference to trace_id ("": none) for entries written in the
  // caller's transaction, adding its audit_traces row if need be. Valid
  // only in that transaction (a rollback may take the row away).
  Result<TraceRef> Trace(const std::string& trace_id);
  // id nullopt: an entry naming no memory (a purge's tombstone, a tick);
  // trace_id "": none (NULL).
  // detail nullopt: none (NULL; a descend's or an ascend's implied one).
  Status Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                const std::optional<std::string>& detail, const std::string& trace_id);
  // The same with a reference from Trace, in the same transaction: a
  // migration's many entries look their trace up once.
  Status Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                const std::optional<std::string>& detail, const TraceRef& trace);
  // Deletes the entries older than cutoff_ms, and the audit_traces rows no
  // entry names any more; returns how many entries.
  Result<uint64_t> PruneBefore(int64_t cutoff_ms);
  Status Forget(const std::string& id);  // every entry naming it
  // Deletes the audit_traces rows no entry names (after Forget).
  Status DropUnnamedTraces();
  // Entries at or after since_ms, of `id` ("" every one) written under
  // `trace_id` ("" any), oldest first; a descend or an ascend without a
  // detail gets the one its kind implies.
  Result<std::vector<HistoryEntry>> Since(const std::string& id, int64_t since_ms, const std::string& trace_id);

 private:
  Result<int64_t> NumberedTraces();
  Db* db_;
  bool by_number_ = false;
};

}  // namespace aether
