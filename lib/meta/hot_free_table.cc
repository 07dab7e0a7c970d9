#include "meta/hot_free_table.h"

#include <algorithm>

namespace aether {

Status HotFreeTable::Free(int64_t slot) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("INSERT INTO hot_free(slot) VALUES(?)"));
  st->Bind(1, slot);
  return st->Run();
}

Status HotFreeTable::Claim(int64_t slot) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("DELETE FROM hot_free WHERE slot = ?"));
  st->Bind(1, slot);
  return st->Run();
}

Result<std::vector<int64_t>> HotFreeTable::Lowest(size_t n) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT slot FROM hot_free ORDER BY slot LIMIT ?"));
  st.Bind(1, static_cast<int64_t>(n));
  std::vector<int64_t> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.Int(0));
  }
}

Result<std::vector<int64_t>> HotFreeTable::All() { return db_->QueryInts("SELECT slot FROM hot_free ORDER BY slot"); }

Result<uint64_t> HotFreeTable::End() {
  AETHER_ASSIGN_OR_RETURN(int64_t end, db_->QueryInt("SELECT COALESCE(MAX(slot) + 1, 0) FROM hot_free"));
  return uint64_t(std::max<int64_t>(end, 0));
}

Result<uint64_t> HotFreeTable::Count() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM hot_free"));
  return uint64_t(std::max<int64_t>(n, 0));
}

Result<uint64_t> HotFreeTable::DropTail(uint64_t end) {
  uint64_t first = end;
  {
    AETHER_ASSIGN_OR_RETURN(StmtLease st,
                            db_->PrepareCached("SELECT slot FROM hot_free WHERE slot < ? ORDER BY slot DESC"));
    st->Bind(1, static_cast<int64_t>(end));
    for (;;) {
      AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row || st->Int(0) != int64_t(first) - 1) break;
      --first;
    }
  }
  AETHER_ASSIGN_OR_RETURN(StmtLease del, db_->PrepareCached("DELETE FROM hot_free WHERE slot >= ? AND slot < ?"));
  del->Bind(1, static_cast<int64_t>(first)).Bind(2, static_cast<int64_t>(end));
  AETHER_RETURN_IF_ERROR(del->Run());
  return first;
}

}  // namespace aether
