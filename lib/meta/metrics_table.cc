#include "meta/metrics_table.h"

#include <fmt/format.h>

namespace aether {

Result<bool> MetricsTable::Exists() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                                                   "AND name = 'metrics'"));
  return n > 0;
}

Status MetricsTable::Add(const std::map<int64_t, Sums>& by_period) {
  if (by_period.empty()) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("INSERT INTO metrics(period_ms, name, labels, value) "
                                                           "VALUES(?, ?, ?, ?) ON CONFLICT(period_ms, name, labels) "
                                                           "DO UPDATE SET value = value + excluded.value"));
  for (const auto& [period, sums] : by_period)
    for (const auto& [key, value] : sums) {
      st->Reset();
      st->Bind(1, period).Bind(2, key.first).Bind(3, key.second).Bind(4, value);
      AETHER_RETURN_IF_ERROR(st->Run());
    }
  return Status::Ok();
}

Result<MetricsTable::Sums> MetricsTable::SumSince(int64_t since_ms) {
  Sums out;
  AETHER_ASSIGN_OR_RETURN(bool exists, Exists());
  if (!exists) return out;
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT name, labels, SUM(value) FROM metrics WHERE period_ms >= ? "
                                                "GROUP BY name, labels"));
  st.Bind(1, since_ms);
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (st.TypeOf(0) != Stmt::Type::kText || st.TypeOf(1) != Stmt::Type::kText || st.TypeOf(2) != Stmt::Type::kInteger)
      return Status::Corruption(db_->path() + ": metrics: a row whose name, labels or value has the wrong type");
    out[{st.Text(0), st.Text(1)}] += st.Int(2);
  }
  return out;
}

// Rows matching `where` (?1 = bound) are summed into the period
// `period_expr` computes from period_ms (one that `where` never matches),
// then deleted. SQLite reads the whole SELECT before the first insert.
Status MetricsTable::MergeInto(const char* where, const char* period_expr, int64_t bound) {
  AETHER_ASSIGN_OR_RETURN(
      Stmt merge, db_->Prepare(fmt::format("INSERT INTO metrics(period_ms, name, labels, value) SELECT {}, name, "
                                           "labels, SUM(value) FROM metrics WHERE {} GROUP BY 1, 2, 3 "
                                           "ON CONFLICT(period_ms, name, labels) DO UPDATE SET value = value + "
                                           "excluded.value",
                                           period_expr, where)));
  merge.Bind(1, bound);
  AETHER_RETURN_IF_ERROR(merge.Run());
  AETHER_ASSIGN_OR_RETURN(Stmt drop, db_->Prepare(fmt::format("DELETE FROM metrics WHERE {}", where)));
  drop.Bind(1, bound);
  return drop.Run();
}

Status MetricsTable::RollUp(int64_t before_ms, int64_t drop_before_ms) {
  AETHER_ASSIGN_OR_RETURN(bool exists, Exists());
  if (!exists) return Status::Ok();
  AETHER_RETURN_IF_ERROR(MergeInto("period_ms > 0 AND period_ms < ?1 AND period_ms % 3600000 != 0",
                                   "period_ms - period_ms % 3600000", before_ms));
  return MergeInto("period_ms > 0 AND period_ms < ?1", "0", drop_before_ms);
}

}  // namespace aether
