#include "meta/shards_table.h"

#include <fmt/format.h>

namespace aether {
namespace {

constexpr const char* kColumns = "shard_id, path, generation, file_bytes, records, live, raw_bytes, partition";

ShardInfo InfoAt(const Stmt& st) {
  ShardInfo info{st.Int(0),           st.Text(1),          st.Int(2),          uint64_t(st.Int(3)),
                 uint64_t(st.Int(4)), uint64_t(st.Int(5)), uint64_t(st.Int(6))};
  info.partition = st.IsNull(7) ? -1 : st.Int(7);
  return info;
}

}  // namespace

Result<ShardInfo> ShardsTable::Get(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached(std::string("SELECT ") + kColumns + " FROM shards WHERE shard_id = ?"));
  st->Bind(1, shard_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return Status::Corruption(fmt::format("{}: shard {} is not registered", db_->path(), shard_id));
  return InfoAt(*st);
}

namespace {

// Every row a statement gives.
Result<std::vector<ShardInfo>> InfosOf(Stmt& st) {
  std::vector<ShardInfo> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(InfoAt(st));
  }
}

}  // namespace

Result<std::vector<ShardInfo>> ShardsTable::All() {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(std::string("SELECT ") + kColumns + " FROM shards ORDER BY shard_id"));
  return InfosOf(st);
}

Result<std::vector<ShardInfo>> ShardsTable::InGeneration(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare(std::string("SELECT ") + kColumns + " FROM shards WHERE generation = ? ORDER BY shard_id"));
  st.Bind(1, generation);
  return InfosOf(st);
}

Result<std::vector<std::pair<int64_t, int64_t>>> ShardsTable::Partitions(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT shard_id, partition FROM shards WHERE generation = ?"));
  st.Bind(1, generation);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.emplace_back(st.Int(0), st.IsNull(1) ? -1 : st.Int(1));
  }
}

Result<std::optional<ShardInfo>> ShardsTable::OfPartition(int64_t generation, int64_t partition) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached(std::string("SELECT ") + kColumns +
                                                           " FROM shards WHERE generation = ? AND partition = ? "
                                                           "ORDER BY shard_id DESC LIMIT 1"));
  st->Bind(1, generation).Bind(2, partition);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<ShardInfo>();
  return std::optional<ShardInfo>(InfoAt(*st));
}

Result<uint64_t> ShardsTable::CountInGeneration(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT COUNT(*) FROM shards WHERE generation = ?"));
  st->Bind(1, generation);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? uint64_t(st->Int(0)) : 0;
}

Status ShardsTable::InsertStaging(int64_t shard_id, const std::string& path, uint64_t header_bytes) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("INSERT INTO shards(shard_id, path, generation, partition, file_bytes, "
                                                "records, live, raw_bytes) VALUES(?, ?, 0, NULL, ?, 0, 0, 0)"));
  st.Bind(1, shard_id).Bind(2, path).Bind(3, int64_t(header_bytes));
  return st.Run();
}

Result<int64_t> ShardsTable::InsertPartition(const std::string& path, int64_t generation, uint32_t partition,
                                             uint64_t bytes, uint64_t records, uint64_t raw_bytes) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("INSERT INTO shards(path, generation, partition, "
                                                           "file_bytes, records, live, raw_bytes) "
                                                           "VALUES(?, ?, ?, ?, ?, ?, ?)"));
  st->Bind(1, path).Bind(2, generation).Bind(3, int64_t(partition)).Bind(4, int64_t(bytes));
  st->Bind(5, int64_t(records)).Bind(6, int64_t(records)).Bind(7, int64_t(raw_bytes));
  AETHER_RETURN_IF_ERROR(st->Run());
  return db_->LastInsertRowId();
}

Status ShardsTable::InsertRewritten(int64_t shard_id, const std::string& path, int64_t generation, uint32_t partition,
                                    uint64_t header_bytes) {
  AETHER_ASSIGN_OR_RETURN(Stmt st,
                          db_->Prepare("INSERT INTO shards(shard_id, path, generation, partition, "
                                       "file_bytes, records, live, raw_bytes) VALUES(?, ?, ?, ?, ?, 0, 0, 0)"));
  st.Bind(1, shard_id).Bind(2, path).Bind(3, generation).Bind(4, int64_t(partition)).Bind(5, int64_t(header_bytes));
  return st.Run();
}

Status ShardsTable::Delete(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM shards WHERE shard_id = ?"));
  st.Bind(1, shard_id);
  return st.Run();
}

Result<bool> ShardsTable::Grow(int64_t shard_id, uint64_t len_before, uint64_t len_after, uint64_t n,
                               uint64_t raw_bytes) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("UPDATE shards SET file_bytes = ?, records = records + ?, "
                                             "live = live + ?, raw_bytes = raw_bytes + ? WHERE shard_id = ? AND "
                                             "file_bytes = ?"));
  st->Bind(1, int64_t(len_after)).Bind(2, int64_t(n)).Bind(3, int64_t(n)).Bind(4, int64_t(raw_bytes));
  st->Bind(5, shard_id).Bind(6, int64_t(len_before));
  AETHER_RETURN_IF_ERROR(st->Run());
  return db_->Changes() == 1;
}

Status ShardsTable::Release(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("UPDATE shards SET live = live - 1 WHERE shard_id = ?"));
  st->Bind(1, shard_id);
  return st->Run();
}

Status ShardsTable::DeleteGeneration(int64_t generation) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM shards WHERE generation = ? AND generation > 0"));
  st.Bind(1, generation);
  return st.Run();
}

Status ShardsTable::Empty(int64_t shard_id, uint64_t header_bytes) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE shards SET file_bytes = ?, records = 0, live = 0, "
                                                "raw_bytes = 0 WHERE shard_id = ?"));
  st.Bind(1, int64_t(header_bytes)).Bind(2, shard_id);
  return st.Run();
}

Result<uint64_t> ShardsTable::EmptyGarbageOnly(uint64_t header_bytes) {
  AETHER_ASSIGN_OR_RETURN(int64_t garbage,
                          db_->QueryInt("SELECT COALESCE(SUM(records), 0) FROM shards WHERE live = 0"));
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE shards SET file_bytes = ?1, records = 0, live = 0, "
                                                "raw_bytes = 0 WHERE live = 0 AND file_bytes > ?1"));
  st.Bind(1, int64_t(header_bytes));
  AETHER_RETURN_IF_ERROR(st.Run());
  return uint64_t(garbage);
}

Result<uint64_t> ShardsTable::CountGarbageOnly(uint64_t header_bytes) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT COUNT(*) FROM shards WHERE live = 0 AND file_bytes > ?"));
  st.Bind(1, int64_t(header_bytes));
  AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? uint64_t(st.Int(0)) : 0;
}

Result<uint64_t> ShardsTable::CountWithGarbage() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM shards WHERE records > live"));
  return uint64_t(n);
}

}  // namespace aether
