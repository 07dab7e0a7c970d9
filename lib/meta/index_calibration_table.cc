#include "meta/index_calibration_table.h"

#include <fmt/format.h>

namespace aether {

Result<std::optional<CalibrationRow>> IndexCalibrationTable::Get(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(int64_t exists, db_->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                                                        "AND name = 'index_calibration'"));
  if (!exists) return std::optional<CalibrationRow>();
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached("SELECT target, k, queries, nprobe, recall, std_error, created_ms, micros, "
                                       "curve FROM index_calibration WHERE generation = ?"));
  st->Bind(1, generation);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<CalibrationRow>();
  CalibrationRow r;
  r.generation = generation;
  r.target = st->Double(0);
  r.k = uint32_t(st->Int(1));
  r.queries = uint32_t(st->Int(2));
  const int64_t nprobe = st->Int(3);
  r.nprobe = nprobe >= 1 && nprobe <= int64_t(UINT32_MAX) ? uint32_t(nprobe) : 0;
  r.recall = st->Double(4);
  r.std_error = st->Double(5);
  r.created_ms = st->Int(6);
  r.micros = st->Int(7);
  r.curve = st->Text(8);
  if (!(r.target > 0 && r.target <= 1))
    return Status::Corruption(
        fmt::format("index_calibration: target {} outside (0, 1] for generation {} (run aether rebuild-index)",
                    r.target, generation));
  if (st->TypeOf(3) != Stmt::Type::kInteger || r.nprobe == 0)
    return Status::Corruption(
        fmt::format("index_calibration: bad nprobe for generation {} (run aether rebuild-index)", generation));
  return std::optional<CalibrationRow>(std::move(r));
}

Status IndexCalibrationTable::Put(const CalibrationRow& r) {
  AETHER_RETURN_IF_ERROR(db_->Exec("DELETE FROM index_calibration"));
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("INSERT INTO index_calibration(generation, target, k, queries, "
                                                "nprobe, recall, std_error, created_ms, micros, curve) "
                                                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, r.generation)
      .Bind(2, r.target)
      .Bind(3, int64_t(r.k))
      .Bind(4, int64_t(r.queries))
      .Bind(5, int64_t(r.nprobe))
      .Bind(6, r.recall)
      .Bind(7, r.std_error)
      .Bind(8, r.created_ms)
      .Bind(9, r.micros)
      .Bind(10, r.curve);
  return st.Run();
}

}  // namespace aether
