#include "meta/cold_objects_table.h"

namespace aether {
namespace {

constexpr char kSelect[] =
    "SELECT c.shard_id, s.path, c.bytes, c.sha256, s.file_bytes FROM cold_objects c JOIN shards s "
    "ON s.shard_id = c.shard_id";

ColdObject RowOf(const Stmt& st) {
  return ColdObject{st.Int(0), st.Text(1), uint64_t(st.Int(2)), st.Text(3), uint64_t(st.Int(4))};
}

}  // namespace

Result<std::vector<ColdObject>> ColdObjectsTable::All() {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(std::string(kSelect) + " ORDER BY c.shard_id"));
  std::vector<ColdObject> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(RowOf(st));
  }
}

Result<std::optional<ColdObject>> ColdObjectsTable::Of(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(std::string(kSelect) + " WHERE c.shard_id = ?"));
  st.Bind(1, shard_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ColdObject>();
  return std::optional<ColdObject>(RowOf(st));
}

Status ColdObjectsTable::Put(int64_t shard_id, uint64_t bytes, const std::string& sha256) {
  AETHER_ASSIGN_OR_RETURN(Stmt st,
                          db_->Prepare("INSERT OR REPLACE INTO cold_objects(shard_id, bytes, sha256) VALUES(?, ?, ?)"));
  st.Bind(1, shard_id).Bind(2, int64_t(bytes)).Bind(3, sha256);
  return st.Run();
}

Result<std::set<std::string>> ColdObjectsTable::Named() {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT DISTINCT sha256 FROM cold_objects"));
  std::set<std::string> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.insert(st.Text(0));
  }
}

Result<uint64_t> ColdObjectsTable::Count() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM cold_objects"));
  return uint64_t(n);
}

Status ColdObjectsTable::Delete(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM cold_objects WHERE shard_id = ?"));
  st.Bind(1, shard_id);
  return st.Run();
}

Status ColdObjectsTable::Clear() { return db_->Exec("DELETE FROM cold_objects"); }

}  // namespace aether
