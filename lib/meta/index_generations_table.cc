#include "meta/index_generations_table.h"

namespace aether {
namespace {
// Frozen numbers (format-spec/metadata_db.md): 1 building (reserved), 2 active, 3 retired.
constexpr int64_t kActive = 2, kRetired = 3;
}  // namespace

Result<int64_t> IndexGenerationsTable::Highest() {
  return db_->QueryInt("SELECT COALESCE(MAX(generation), 0) FROM index_generations");
}

Result<bool> IndexGenerationsTable::Known(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT 1 FROM index_generations WHERE generation = ?"));
  st.Bind(1, generation);
  return st.Step();
}

Result<uint32_t> IndexGenerationsTable::Partitions(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT partitions FROM index_generations WHERE generation = ?"));
  st.Bind(1, generation);
  AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? uint32_t(st.Int(0)) : 0;
}

Status IndexGenerationsTable::Activate(int64_t generation, int64_t created_ms, uint32_t partitions,
                                       const std::string& path) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("INSERT INTO index_generations(generation, state, created_ms, "
                                                "partitions, path) VALUES(?, ?, ?, ?, ?)"));
  st.Bind(1, generation).Bind(2, kActive).Bind(3, created_ms).Bind(4, int64_t(partitions)).Bind(5, path);
  return st.Run();
}

Status IndexGenerationsTable::Retire(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE index_generations SET state = ? WHERE generation = ?"));
  st.Bind(1, kRetired).Bind(2, generation);
  return st.Run();
}

Result<std::vector<int64_t>> IndexGenerationsTable::Active() {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT generation FROM index_generations WHERE state = ?"));
  st.Bind(1, kActive);
  std::vector<int64_t> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.Int(0));
  }
}

}  // namespace aether
