#include "meta/audit_log_table.h"

namespace aether {

std::string MoveDetail(Tier from, Tier to) {
  return std::string("{\"from\":\"") + TierName(from) + "\",\"to\":\"" + TierName(to) + "\"}";
}

std::string ImpliedMoveDetail(const std::string& kind) {
  if (kind == "descend") return MoveDetail(Tier::kHot, Tier::kCold);
  if (kind == "ascend") return MoveDetail(Tier::kCold, Tier::kHot);
  return "";
}

Status AuditLogTable::UseFormat(uint32_t format_version) {
  by_number_ = false;
  if (format_version < 4) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(int64_t numbered, NumberedTraces());
  by_number_ = numbered != 0;
  return Status::Ok();
}

Result<TraceRef> AuditLogTable::Trace(const std::string& trace_id) {
  TraceRef ref;
  if (trace_id.empty()) return ref;
  if (!by_number_) {
    ref.text = trace_id;
    return ref;
  }
  {
    AETHER_ASSIGN_OR_RETURN(StmtLease add,
                            db_->PrepareCached("INSERT OR IGNORE INTO audit_traces(trace_id) VALUES(?)"));
    add->Bind(1, trace_id);
    AETHER_RETURN_IF_ERROR(add->Run());
  }
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT trace FROM audit_traces WHERE trace_id = ?"));
  st->Bind(1, trace_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return Status::Internal(db_->path() + ": audit_traces lost the row just added");
  ref.number = st->Int(0);
  return ref;
}

Status AuditLogTable::Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                             const std::optional<std::string>& detail, const std::string& trace_id) {
  AETHER_ASSIGN_OR_RETURN(TraceRef trace, Trace(trace_id));
  return Append(ts_ms, kind, id, detail, trace);
}

Status AuditLogTable::Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                             const std::optional<std::string>& detail, const TraceRef& trace) {
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st,
      db_->PrepareCached(trace.number
                             ? "INSERT INTO audit_log(ts_ms, kind, id, detail, trace) VALUES(?, ?, ?, ?, ?)"
                             : "INSERT INTO audit_log(ts_ms, kind, id, detail, trace_id) VALUES(?, ?, ?, ?, ?)"));
  st->Bind(1, ts_ms).Bind(2, kind);
  if (id) st->Bind(3, *id);
  if (detail) st->Bind(4, *detail);
  if (trace.number) st->Bind(5, trace.number);
  if (!trace.text.empty()) st->Bind(5, trace.text);
  return st->Run();
}

Result<uint64_t> AuditLogTable::PruneBefore(int64_t cutoff_ms) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM audit_log WHERE ts_ms < ?"));
  st.Bind(1, cutoff_ms);
  AETHER_RETURN_IF_ERROR(st.Run());
  const uint64_t pruned = uint64_t(db_->Changes());
  if (pruned > 0) AETHER_RETURN_IF_ERROR(DropUnnamedTraces());
  return pruned;
}

Status AuditLogTable::DropUnnamedTraces() {
  AETHER_ASSIGN_OR_RETURN(int64_t numbered, NumberedTraces());
  if (!numbered) return Status::Ok();
  // One pass over the entries.
  return db_->Exec("DELETE FROM audit_traces WHERE trace NOT IN (SELECT trace FROM audit_log WHERE trace IS NOT NULL)");
}

// Whether this DB has audit_traces and audit_log.trace (a reader of a store
// no writer of this aether has opened yet finds neither).
Result<int64_t> AuditLogTable::NumberedTraces() {
  return db_->QueryInt("SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'trace'");
}

Status AuditLogTable::Forget(const std::string& id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("DELETE FROM audit_log WHERE id = ?"));
  st->Bind(1, id);
  return st->Run();
}

Result<std::vector<HistoryEntry>> AuditLogTable::Since(const std::string& id, int64_t since_ms,
                                                       const std::string& trace_id) {
  // A reader of a store an older aether made (no writer has upgraded its
  // schema yet) finds no trace_id column: its rows have none.
  AETHER_ASSIGN_OR_RETURN(int64_t traced,
                          db_->QueryInt("SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'trace_id'"));
  if (!traced && !trace_id.empty()) return std::vector<HistoryEntry>{};
  // An entry's trace id: its text (trace_id), or the audit_traces row its
  // number names (trace; the column is added after trace_id).
  AETHER_ASSIGN_OR_RETURN(int64_t numbered, NumberedTraces());
  const std::string trace_of = !traced     ? "''"
                               : !numbered ? "COALESCE(a.trace_id, '')"
                                           : "COALESCE(a.trace_id, t.trace_id, '')";
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare("SELECT a.seq, a.ts_ms, a.kind, COALESCE(a.id, ''), COALESCE(a.detail, ''), " + trace_of +
                            " FROM audit_log a" + (numbered ? " LEFT JOIN audit_traces t ON t.trace = a.trace" : "") +
                            " WHERE a.ts_ms >= ? AND (? = '' OR a.id = ?)" +
                            (traced ? " AND (? = '' OR " + trace_of + " = ?)" : "") + " ORDER BY a.seq"));
  st.Bind(1, since_ms).Bind(2, id).Bind(3, id);
  if (traced) st.Bind(4, trace_id).Bind(5, trace_id);
  std::vector<HistoryEntry> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back({st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5)});
    if (out.back().detail.empty()) out.back().detail = ImpliedMoveDetail(out.back().kind);
    if (!ValidTraceId(out.back().trace_id)) out.back().trace_id.clear();  // damaged: the label is lost, nothing else
  }
}

}  // namespace aether
