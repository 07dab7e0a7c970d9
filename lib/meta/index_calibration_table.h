// The index_calibration table (format-spec/metadata_db.md): the recall
// calibration of an index generation, written by the transaction that
// commits it. All of its SQL is here. A store whose meta.db predates the table
// (opened read-only before a writer added it) reads as uncalibrated.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "meta/sqlite_db.h"

namespace aether {

struct CalibrationRow {
  int64_t generation = 0;
  double target = 0;
  uint32_t k = 10;
  uint32_t queries = 0;
  uint32_t nprobe = 0;
  double recall = 0, std_error = 0;
  int64_t created_ms = 0;
  int64_t micros = 0;  // what the measurement took
  std::string curve;   // EncodeCurve (index/calibration.h)
};

class IndexCalibrationTable {
 public:
  explicit IndexCalibrationTable(Db* db) : db_(db) {}
  // The generation's row; nullopt when it has none.
  Result<std::optional<CalibrationRow>> Get(int64_t generation);
  // Replaces every row by this one (only the active generation's is kept).
  Status Put(const CalibrationRow& row);

 private:
  Db* db_;
};

}  // namespace aether
