// The migration engine shared by ingest, descend and ascend
// (format-spec/journal.md):
//   RunMigration    intent txn -> write + sync -> written -> commit -> cleanup
//   CommitMigration the commit transaction (also the replay's roll forward)
//   RollBackWrites  the replay's roll back: truncate targets to recorded lengths
//   VerifyWritten   the replay's check before rolling forward
#include <fmt/format.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "env/fault_point.h"
#include "env/parallel.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

void Fault(const std::string& kind, const char* step) { HitFaultPoint((kind + "." + step).c_str()); }

}  // namespace

Result<std::vector<int64_t>> StoreImpl::AllocateSlots(size_t n, uint64_t slot_count) {
  std::vector<int64_t> slots;
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT slot FROM hot_free ORDER BY slot LIMIT ?"));
  st.Bind(1, static_cast<int64_t>(n));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    slots.push_back(st.Int(0));
  }
  for (uint64_t s = slot_count; slots.size() < n; ++s) slots.push_back(static_cast<int64_t>(s));
  return slots;
}

Status StoreImpl::BuildFrames(std::vector<MigrationItem>* items, const std::vector<size_t>& which,
                              const std::vector<const float*>& vectors, const ShardInfo& shard, Migration* m,
                              PendingWrites* w) {
  if (which.empty()) return Status::Ok();
  std::vector<std::string>& frames = w->frames[shard.shard_id];
  uint64_t offset = shard.file_bytes;
  for (size_t b = 0; b < which.size(); b += kMaxFrameRecords) {
    size_t e = std::min(which.size(), b + kMaxFrameRecords);
    uint32_t count = static_cast<uint32_t>(e - b);
    std::vector<int64_t> ids(count);
    std::vector<float> vecs(size_t(count) * config_.dim);
    for (uint32_t j = 0; j < count; ++j) {
      size_t i = which[b + j];
      MigrationItem& it = (*items)[i];
      ids[j] = it.row_id;
      std::copy(vectors[i], vectors[i] + config_.dim, vecs.begin() + size_t(j) * config_.dim);
      it.tier = kTierCold;
      it.slot = -1;
      it.shard_id = shard.shard_id;
      it.frame_offset = static_cast<int64_t>(offset);
      it.frame_index = j;
    }
    AETHER_ASSIGN_OR_RETURN(std::string frame,
                            EncodeFrame(ids.data(), vecs.data(), count, config_.dim, uint32_t(config_.codec)));
    offset += frame.size();
    frames.push_back(std::move(frame));
  }
  m->targets.push_back({shard.shard_id, shard.file_bytes, offset});
  return Status::Ok();
}

namespace {

// Syncs every shard, several at a time: each fdatasync of a grown file waits
// for a file-system journal commit, and concurrent ones share commits (a
// descend into an indexed store appends to hundreds of partitions). Every
// sync runs once; the first failure is returned, never retried.
Status SyncAll(std::vector<std::unique_ptr<ShardFile>>& shards) {
  // I/O-bound, not CPU-bound: up to 8 at once, whatever the core count.
  constexpr size_t kMaxSyncs = 8;
  return ParallelFor(shards.size(), std::min(kMaxSyncs, std::max<size_t>(1, shards.size() / 2)),
                     [&](size_t i, size_t) { return shards[i]->Sync(); });
}

}  // namespace

Status StoreImpl::RunMigration(Migration* m, const std::vector<MigrationItem>& items, const PendingWrites& w,
                               const std::function<Status()>& also_in_intent) {
  if (access_ != AccessMode::kWrite) return Status::Internal(m->kind + " on a store opened read-only");
  Journal journal(db_.get());
  m->created_ms = m->created_ms ? m->created_ms : env_->NowMs();
  // 1. intent
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    if (also_in_intent) AETHER_RETURN_IF_ERROR(also_in_intent());
    return journal.Insert(m, items);
  }));
  Fault(m->kind, "after_intent");

  // 2. write and sync. A failure is final for this migration: never retry a
  // sync; the replay below (or the next open) rolls the intent back.
  auto write = [&]() -> Status {
    std::unique_ptr<SlotFile> hot;
    if (!w.slots.empty()) {
      AETHER_ASSIGN_OR_RETURN(hot, OpenHot(/*writable=*/true));
      for (const auto& s : w.slots) AETHER_RETURN_IF_ERROR(hot->WriteSlot(s.slot, s.row_id, s.vector));
    }
    Fault(m->kind, "mid_write");
    std::vector<std::unique_ptr<ShardFile>> shards;
    for (const ShardTarget& t : m->targets) {
      AETHER_ASSIGN_OR_RETURN(ShardInfo info, GetShard(t.shard_id));
      AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, /*writable=*/true));
      uint64_t at = t.len_before;
      for (const std::string& f : w.frames.at(t.shard_id)) {
        AETHER_RETURN_IF_ERROR(shard->WriteAt(at, f));
        at += f.size();
      }
      shards.push_back(std::move(shard));
    }
    Fault(m->kind, "after_write");
    AETHER_RETURN_IF_ERROR(SyncAll(shards));
    if (hot) AETHER_RETURN_IF_ERROR(hot->Sync());
    Fault(m->kind, "after_sync");
    return InTransaction(db_.get(), [&] { return journal.SetState(*m, MigrationState::kWritten); });
  };
  if (Status s = write(); !s.ok()) {
    Status undo = ReplayJournal();  // best effort; the next open retries
    (void)undo;
    return s;
  }
  Fault(m->kind, "after_written");

  // 3. commit, 4. cleanup
  if (Status s = CommitMigration(*m, items); !s.ok()) {
    Status undo = ReplayJournal();  // rolls forward, or back if it can never commit
    (void)undo;
    return s;
  }
  Fault(m->kind, "after_commit");
  return InTransaction(db_.get(), [&] { return journal.Remove(m->id); });
}

// The commit transaction, shared by the live path and the replay's roll
// forward. New memories (ingest) are inserted, replacing same-id ones; moved
// memories get their new place and their source is released (slot to
// hot_free, cold record to garbage). Marks the row committed.
Status StoreImpl::CommitMigration(const Migration& m, const std::vector<MigrationItem>& items) {
  return InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(Stmt ins,
                            db_->Prepare("INSERT INTO memories(row_id, id, tier, slot, shard_id, frame_offset, "
                                         "frame_index, importance, created_ms, last_access_ms, access_count, "
                                         "payload) VALUES(?,?,?,?,?,?,?,?,?,?,0,?)"));
    // A move applies only if the memory is still exactly at its source.
    AETHER_ASSIGN_OR_RETURN(Stmt move,
                            db_->Prepare("UPDATE memories SET tier = ?, slot = ?, shard_id = ?, frame_offset = ?, "
                                         "frame_index = ? WHERE row_id = ? AND tier = ? AND slot IS ? AND "
                                         "shard_id IS ? AND frame_offset IS ? AND frame_index IS ?"));
    AETHER_ASSIGN_OR_RETURN(Stmt claim, db_->Prepare("DELETE FROM hot_free WHERE slot = ?"));
    AETHER_ASSIGN_OR_RETURN(Stmt unqueue, db_->Prepare("DELETE FROM restore_queue WHERE row_id = ?"));
    AETHER_ASSIGN_OR_RETURN(Stmt audit, db_->Prepare("INSERT INTO audit_log(ts_ms, kind, id, detail) "
                                                     "VALUES(?, ?, ?, ?)"));
    std::map<int64_t, uint64_t> cold;  // new records per target shard
    int64_t hot_end = 0;               // one past the highest slot written
    for (const MigrationItem& it : items) {
      if (it.tier == kTierHot) hot_end = std::max(hot_end, it.slot + 1);
      if (it.src.tier < 0) {
        if (it.replaces_row_id != 0) {
          // Only ever the memory of the same id: a replace never reaches another one.
          AETHER_ASSIGN_OR_RETURN(auto old, LocateRow(it.replaces_row_id));
          if (old && old->id != it.id)
            return Status::Corruption(fmt::format("migration {}: '{}' would replace row {}, which is '{}'", m.id, it.id,
                                                  it.replaces_row_id, old->id));
          if (old) AETHER_RETURN_IF_ERROR(ReleaseMemory(*old));
        }
        ins.Bind(1, it.row_id).Bind(2, it.id).Bind(3, it.tier);
        if (it.tier == kTierHot)
          ins.Bind(4, it.slot);
        else
          ins.Bind(5, it.shard_id).Bind(6, it.frame_offset).Bind(7, it.frame_index);
        ins.Bind(8, it.importance).Bind(9, m.created_ms).Bind(10, m.created_ms);
        if (it.payload) ins.Bind(11, *it.payload);
        AETHER_RETURN_IF_ERROR(ins.Run());
      } else {
        move.Bind(1, it.tier);
        if (it.tier == kTierHot)
          move.Bind(2, it.slot);
        else
          move.Bind(3, it.shard_id).Bind(4, it.frame_offset).Bind(5, it.frame_index);
        move.Bind(6, it.row_id).Bind(7, it.src.tier);
        if (it.src.tier == kTierHot)
          move.Bind(8, it.src.slot);
        else
          move.Bind(9, it.src.shard_id).Bind(10, it.src.frame_offset).Bind(11, it.src.frame_index);
        AETHER_RETURN_IF_ERROR(move.Run());
        if (db_->Changes() != 1)
          return Status::Corruption(
              fmt::format("migration {}: memory '{}' (row {}) is no longer at its source", m.id, it.id, it.row_id));
        AETHER_RETURN_IF_ERROR(ReleasePlace(it.src));
        audit.Bind(1, m.created_ms)
            .Bind(2, m.kind)
            .Bind(3, it.id)
            .Bind(4, fmt::format("{{\"from\":\"{}\",\"to\":\"{}\"}}", it.src.tier == kTierHot ? "hot" : "cold",
                                 it.tier == kTierHot ? "hot" : "cold"));
        AETHER_RETURN_IF_ERROR(audit.Run());
      }
      if (it.tier == kTierHot) {
        claim.Bind(1, it.slot);
        AETHER_RETURN_IF_ERROR(claim.Run());
        unqueue.Bind(1, it.row_id);
        AETHER_RETURN_IF_ERROR(unqueue.Run());
      } else {
        ++cold[it.shard_id];
      }
    }
    // hot.slots' committed length grows with the slots it now uses.
    AETHER_ASSIGN_OR_RETURN(uint64_t hot_slots, HotSlotsInUse());
    if (uint64_t(hot_end) > hot_slots)
      AETHER_RETURN_IF_ERROR(SetConfigValue(db_.get(), "hot_slots", std::to_string(hot_end)));
    // A target grows from exactly its committed length (invariant 2).
    AETHER_ASSIGN_OR_RETURN(
        Stmt grow, db_->Prepare("UPDATE shards SET file_bytes = ?, records = records + ?, "
                                "live = live + ?, raw_bytes = raw_bytes + ? WHERE shard_id = ? AND file_bytes = ?"));
    for (const ShardTarget& t : m.targets) {
      int64_t n = static_cast<int64_t>(cold[t.shard_id]);
      grow.Bind(1, static_cast<int64_t>(t.len_after))
          .Bind(2, n)
          .Bind(3, n)
          .Bind(4, n * int64_t(8 + 4ull * config_.dim))
          .Bind(5, t.shard_id)
          .Bind(6, static_cast<int64_t>(t.len_before));
      AETHER_RETURN_IF_ERROR(grow.Run());
      if (db_->Changes() != 1)
        return Status::Corruption(
            fmt::format("migration {}: shard {} is no longer {} bytes long", m.id, t.shard_id, t.len_before));
    }
    return Journal(db_.get()).SetState(m, MigrationState::kCommitted);
  });
}

// Before rolling a 'written' migration forward, proves that what it wrote is
// on disk intact and is exactly what its items say: every hot item's slot
// holds its row, every slot past the committed ones belongs to an item, and
// each target's appended bytes decode into frames whose records are exactly
// the items sent there (so the commit's record counts hold, and no record
// is left that no memory owns).
Status StoreImpl::VerifyWritten(const Migration& m, const std::vector<MigrationItem>& items) {
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  std::vector<float> vec(config_.dim);
  std::set<int64_t> hot_slots;
  std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> cold;  // shard, offset, index, row
  for (const MigrationItem& it : items) {
    if (it.tier != kTierHot) {
      cold.emplace(it.shard_id, it.frame_offset, it.frame_index, it.row_id);
      continue;
    }
    int64_t row_id = 0;
    AETHER_RETURN_IF_ERROR(hot->ReadSlot(static_cast<uint64_t>(it.slot), &row_id, vec.data()));
    if (row_id != it.row_id)
      return Status::Corruption(fmt::format("slot {} holds row {}, expected {}", it.slot, row_id, it.row_id));
    if (!hot_slots.insert(it.slot).second)
      return Status::Corruption(fmt::format("slot {} is the destination of two items", it.slot));
  }
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, CommittedHotSlots());
  AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
  for (uint64_t s = committed; s < slots; ++s)
    if (!hot_slots.count(int64_t(s))) return Status::Corruption(fmt::format("slot {} was written for no item", s));
  for (const ShardTarget& t : m.targets) {
    AETHER_ASSIGN_OR_RETURN(ShardInfo info, GetShard(t.shard_id));
    AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, /*writable=*/false));
    AETHER_RETURN_IF_ERROR(shard->ScanRange(t.len_before, t.len_after, [&](uint64_t off, const DecodedFrame& f) {
      for (uint32_t i = 0; i < f.count; ++i)
        if (cold.erase({t.shard_id, int64_t(off), int64_t(i), f.row_ids[i]}) != 1)
          return Status::Corruption(fmt::format("{}: record {} of the frame at {} (row {}) belongs to no item",
                                                info.path, i, off, f.row_ids[i]));
      return Status::Ok();
    }));
  }
  if (!cold.empty())
    return Status::Corruption(
        fmt::format("row {}: its record is not in the frames written", std::get<3>(*cold.begin())));
  return Status::Ok();
}

}  // namespace aether
