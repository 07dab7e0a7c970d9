#include "journal/journal.h"

namespace aether {

const char* StateName(MigrationState s) {
  switch (s) {
    case MigrationState::kIntent: return "intent";
    case MigrationState::kWritten: return "written";
    case MigrationState::kCommitted: return "committed";
  }
  return "unknown";
}

Result<int64_t> Journal::Insert(Migration m, const std::vector<MigrationItem>& items) {
  AETHER_ASSIGN_OR_RETURN(
      Stmt ins, db_->Prepare("INSERT INTO migrations(kind, state, created_ms, hot_slots_before, "
                             "generation, old_generation) VALUES(?, ?, ?, ?, ?, ?)"));
  ins.Bind(1, m.kind)
      .Bind(2, static_cast<int64_t>(MigrationState::kIntent))
      .Bind(3, m.created_ms)
      .Bind(4, static_cast<int64_t>(m.hot_slots_before))
      .Bind(5, m.generation)
      .Bind(6, m.old_generation);
  AETHER_RETURN_IF_ERROR(ins.Run());
  int64_t id = db_->LastInsertRowId();
  AETHER_ASSIGN_OR_RETURN(Stmt target, db_->Prepare("INSERT INTO migration_targets(migration_id, shard_id, "
                                                    "len_before, len_after) VALUES(?, ?, ?, ?)"));
  for (const ShardTarget& t : m.targets) {
    target.Bind(1, id).Bind(2, t.shard_id).Bind(3, static_cast<int64_t>(t.len_before))
        .Bind(4, static_cast<int64_t>(t.len_after));
    AETHER_RETURN_IF_ERROR(target.Run());
  }

  AETHER_ASSIGN_OR_RETURN(
      Stmt item, db_->Prepare("INSERT INTO migration_items(migration_id, seq, row_id, id, tier, "
                              "slot, shard_id, frame_offset, frame_index, importance, payload, "
                              "replaces_row_id, src_tier, src_slot, src_shard_id, "
                              "src_frame_offset, src_frame_index) "
                              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  for (size_t i = 0; i < items.size(); ++i) {
    const MigrationItem& it = items[i];
    item.Bind(1, id).Bind(2, static_cast<int64_t>(i)).Bind(3, it.row_id).Bind(4, it.id).Bind(5, it.tier);
    if (it.slot >= 0) item.Bind(6, it.slot);
    if (it.shard_id != 0) item.Bind(7, it.shard_id).Bind(8, it.frame_offset).Bind(9, it.frame_index);
    item.Bind(10, it.importance);
    if (it.payload) item.Bind(11, *it.payload);
    if (it.replaces_row_id != 0) item.Bind(12, it.replaces_row_id);
    if (it.src.tier >= 0) {
      item.Bind(13, it.src.tier);
      if (it.src.slot >= 0) item.Bind(14, it.src.slot);
      if (it.src.shard_id != 0)
        item.Bind(15, it.src.shard_id).Bind(16, it.src.frame_offset).Bind(17, it.src.frame_index);
    }
    AETHER_RETURN_IF_ERROR(item.Run());
  }
  return id;
}

Status Journal::SetState(int64_t id, MigrationState state) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE migrations SET state = ? WHERE id = ?"));
  st.Bind(1, static_cast<int64_t>(state)).Bind(2, id);
  return st.Run();
}

Status Journal::Remove(int64_t id) {
  for (const char* table : {"migration_items", "migration_targets"}) {
    AETHER_ASSIGN_OR_RETURN(Stmt del, db_->Prepare(std::string("DELETE FROM ") + table + " WHERE migration_id = ?"));
    del.Bind(1, id);
    AETHER_RETURN_IF_ERROR(del.Run());
  }
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM migrations WHERE id = ?"));
  st.Bind(1, id);
  return st.Run();
}

Result<std::vector<Migration>> Journal::All() {
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare("SELECT id, kind, state, created_ms, hot_slots_before, generation, "
                            "old_generation FROM migrations ORDER BY id"));
  AETHER_ASSIGN_OR_RETURN(Stmt tg, db_->Prepare("SELECT shard_id, len_before, len_after FROM migration_targets "
                                                "WHERE migration_id = ? ORDER BY shard_id"));
  std::vector<Migration> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Migration m;
    m.id = st.Int(0);
    m.kind = st.Text(1);
    m.state = static_cast<MigrationState>(st.Int(2));
    m.created_ms = st.Int(3);
    m.hot_slots_before = static_cast<uint64_t>(st.Int(4));
    m.generation = st.Int(5);
    m.old_generation = st.Int(6);
    tg.Bind(1, m.id);
    for (;;) {
      AETHER_ASSIGN_OR_RETURN(bool t, tg.Step());
      if (!t) break;
      m.targets.push_back({tg.Int(0), uint64_t(tg.Int(1)), uint64_t(tg.Int(2))});
    }
    tg.Reset();
    if (m.state < MigrationState::kIntent || m.state > MigrationState::kCommitted)
      return Status::Corruption(db_->path() + ": migration " + std::to_string(m.id) +
                                " has unknown state " + std::to_string(st.Int(2)));
    out.push_back(m);
  }
  return out;
}

Result<std::vector<MigrationItem>> Journal::Items(int64_t id) {
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare("SELECT row_id, id, tier, slot, shard_id, frame_offset, frame_index, "
                            "importance, payload, replaces_row_id, src_tier, src_slot, src_shard_id, "
                            "src_frame_offset, src_frame_index FROM migration_items "
                            "WHERE migration_id = ? ORDER BY seq"));
  st.Bind(1, id);
  std::vector<MigrationItem> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    MigrationItem it;
    it.row_id = st.Int(0);
    it.id = st.Text(1);
    it.tier = st.Int(2);
    it.slot = st.IsNull(3) ? -1 : st.Int(3);
    it.shard_id = st.IsNull(4) ? 0 : st.Int(4);
    it.frame_offset = st.Int(5);
    it.frame_index = st.Int(6);
    it.importance = st.Double(7);
    if (!st.IsNull(8)) it.payload = st.Text(8);
    it.replaces_row_id = st.IsNull(9) ? 0 : st.Int(9);
    if (!st.IsNull(10)) {
      it.src.tier = st.Int(10);
      it.src.slot = st.IsNull(11) ? -1 : st.Int(11);
      it.src.shard_id = st.IsNull(12) ? 0 : st.Int(12);
      it.src.frame_offset = st.Int(13);
      it.src.frame_index = st.Int(14);
    }
    out.push_back(std::move(it));
  }
  return out;
}

}  // namespace aether
