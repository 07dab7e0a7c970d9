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

Status AuditLogTable::Append(int64_t ts_ms, const std::string& kind, const std::optional<std::string>& id,
                             const std::optional<std::string>& detail, const std::string& trace_id) {
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st,
      db_->PrepareCached("INSERT INTO audit_log(ts_ms, kind, id, detail, trace_id) VALUES(?, ?, ?, ?, ?)"));
  st->Bind(1, ts_ms).Bind(2, kind);
  if (id) st->Bind(3, *id);
  if (detail) st->Bind(4, *detail);
  if (!trace_id.empty()) st->Bind(5, trace_id);
  return st->Run();
}

Result<uint64_t> AuditLogTable::PruneBefore(int64_t cutoff_ms) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM audit_log WHERE ts_ms < ?"));
  st.Bind(1, cutoff_ms);
  AETHER_RETURN_IF_ERROR(st.Run());
  return uint64_t(db_->Changes());
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
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare(std::string("SELECT seq, ts_ms, kind, COALESCE(id, ''), COALESCE(detail, ''), ") +
                            (traced ? "COALESCE(trace_id, '')" : "''") +
                            " FROM audit_log WHERE ts_ms >= ? AND (? = '' OR id = ?)" +
                            (traced ? " AND (? = '' OR trace_id = ?)" : "") + " ORDER BY seq"));
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
