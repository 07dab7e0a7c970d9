#include "meta/restore_queue_table.h"

namespace aether {

Status RestoreQueueTable::Put(int64_t row_id, double priority, int64_t now_ms) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("INSERT INTO restore_queue(row_id, priority, attempts, "
                                             "next_attempt_ms) VALUES(?, ?, 0, ?) ON CONFLICT(row_id) "
                                             "DO UPDATE SET priority = max(priority, excluded.priority)"));
  st->Bind(1, row_id).Bind(2, priority).Bind(3, now_ms);
  return st->Run();
}

Status RestoreQueueTable::PutIfCold(int64_t row_id, double priority, int64_t now_ms) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("INSERT INTO restore_queue(row_id, priority, attempts, next_attempt_ms) "
                                             "SELECT row_id, ?, 0, ? FROM memories WHERE row_id = ? AND tier > 0 "
                                             "ON CONFLICT(row_id) DO UPDATE SET priority = max(priority, "
                                             "excluded.priority)"));
  st->Bind(1, priority).Bind(2, now_ms).Bind(3, row_id);
  return st->Run();
}

Result<uint64_t> RestoreQueueTable::CapAt(uint64_t max) {
  AETHER_ASSIGN_OR_RETURN(int64_t depth, db_->QueryInt("SELECT COUNT(*) FROM restore_queue"));
  if (uint64_t(depth) <= max) return uint64_t(0);
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM restore_queue WHERE row_id IN (SELECT row_id FROM "
                                                "restore_queue ORDER BY priority ASC, row_id DESC LIMIT ?)"));
  st.Bind(1, depth - int64_t(max));
  AETHER_RETURN_IF_ERROR(st.Run());
  return uint64_t(depth) - max;
}

Result<std::vector<RestoreQueueTable::Due>> RestoreQueueTable::DueAt(int64_t now_ms) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT q.row_id, m.id, m.tier, m.slot, m.shard_id, m.frame_offset, "
                                                "m.frame_index FROM restore_queue q LEFT JOIN memories m ON "
                                                "m.row_id = q.row_id WHERE q.next_attempt_ms <= ? "
                                                "ORDER BY q.priority DESC, q.row_id"));
  st.Bind(1, now_ms);
  std::vector<Due> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    Due d{st.Int(0), std::nullopt};
    if (!st.IsNull(1))
      d.memory = MemoryRef{st.Int(0), st.Text(1),
                           Place{static_cast<Tier>(st.Int(2)), st.IsNull(3) ? -1 : st.Int(3),
                                 st.IsNull(4) ? 0 : st.Int(4), st.Int(5), st.Int(6)}};
    out.push_back(std::move(d));
  }
}

Result<std::unordered_map<int64_t, double>> RestoreQueueTable::Priorities() {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id, priority FROM restore_queue"));
  std::unordered_map<int64_t, double> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out[st.Int(0)] = st.Double(1);
  }
}

Result<int64_t> RestoreQueueTable::Attempts(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT attempts FROM restore_queue WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->Int(0) : 0;
}

Status RestoreQueueTable::Defer(int64_t row_id, int64_t attempts, int64_t next_attempt_ms, const std::string& error) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("UPDATE restore_queue SET attempts = ?, next_attempt_ms = ?, "
                                             "last_error = ? WHERE row_id = ?"));
  st->Bind(1, attempts).Bind(2, next_attempt_ms).Bind(3, error).Bind(4, row_id);
  return st->Run();
}

Status RestoreQueueTable::Remove(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("DELETE FROM restore_queue WHERE row_id = ?"));
  st->Bind(1, row_id);
  return st->Run();
}

Result<uint64_t> RestoreQueueTable::Depth() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM restore_queue"));
  return uint64_t(n);
}

}  // namespace aether
