// The ingest migration: new memories written hot up to the hot capacity, the
// rest appended to the staging shard, following the journal protocol
// (format-spec/journal.md):
//   1. intent   journal row + items committed (row ids reserved)
//   2. write    slots and frames written and synced; row -> written
//   3. commit   one transaction makes the memories visible; row -> committed
//   4. cleanup  row deleted
#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "cold/frame.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

constexpr uint32_t kMaxFrameRecords = 1024;

struct Planned {
  const Record* record;
  int64_t replaces_row_id = 0;
  bool replaces_hot = false;
};

}  // namespace

Result<bool> StoreImpl::Contains(const std::string& id) {
  AETHER_ASSIGN_OR_RETURN(auto loc, Locate(id));
  return loc.has_value();
}

Result<IngestBatchResult> StoreImpl::IngestBatch(const std::vector<Record>& batch,
                                                 DuplicatePolicy policy) {
  if (access_ != AccessMode::kWrite) return Status::Internal("ingest on a store opened read-only");
  IngestBatchResult result;

  // Resolve duplicates against the store and within the batch.
  std::vector<Planned> plan;
  std::unordered_map<std::string, size_t> in_batch;
  for (const Record& r : batch) {
    if (r.vector.size() != config_.dim)
      return Status::InvalidArgument(fmt::format("record '{}' has dimension {}, store has {}", r.id,
                                                 r.vector.size(), config_.dim));
    if (auto it = in_batch.find(r.id); it != in_batch.end()) {
      if (policy == DuplicatePolicy::kError)
        return Status::BadInput("duplicate id '" + r.id + "' within the input");
      if (policy == DuplicatePolicy::kSkip) {
        ++result.skipped;
      } else {
        plan[it->second].record = &r;
        ++result.replaced;
      }
      continue;
    }
    AETHER_ASSIGN_OR_RETURN(auto existing, Locate(r.id));
    Planned p{&r};
    if (existing) {
      if (policy == DuplicatePolicy::kError)
        return Status::BadInput("duplicate id '" + r.id + "': already in the store");
      if (policy == DuplicatePolicy::kSkip) {
        ++result.skipped;
        continue;
      }
      p.replaces_row_id = existing->row_id;
      p.replaces_hot = existing->tier == kTierHot;
      ++result.replaced;
    }
    in_batch[r.id] = plan.size();
    plan.push_back(p);
  }
  if (plan.empty()) return result;

  // Placement: hot up to the capacity (counting slots this batch frees), the rest cold.
  AETHER_ASSIGN_OR_RETURN(int64_t hot_count,
                          db_->QueryInt("SELECT COUNT(*) FROM memories WHERE tier = 0"));
  int64_t freed = std::count_if(plan.begin(), plan.end(), [](const Planned& p) { return p.replaces_hot; });
  int64_t after_release = hot_count - freed;
  uint64_t room = config_.hot_capacity > uint64_t(after_release) ? config_.hot_capacity - after_release : 0;
  size_t n_hot = std::min<size_t>(room, plan.size());

  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/true));
  AETHER_ASSIGN_OR_RETURN(uint64_t slot_count, hot->SlotCount());
  std::vector<int64_t> slots;
  {
    AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT slot FROM hot_free ORDER BY slot LIMIT ?"));
    st.Bind(1, static_cast<int64_t>(n_hot));
    for (;;) {
      AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      slots.push_back(st.Int(0));
    }
    for (uint64_t s = slot_count; slots.size() < n_hot; ++s) slots.push_back(static_cast<int64_t>(s));
  }

  AETHER_ASSIGN_OR_RETURN(std::string next_text, GetConfigValue(db_.get(), "next_row_id"));
  int64_t next_row_id = std::stoll(next_text);
  AETHER_ASSIGN_OR_RETURN(ShardInfo staging, GetShard(layout::kStagingShardId));

  Migration m;
  m.kind = "ingest";
  m.created_ms = env_->NowMs();
  m.hot_slots_before = slot_count;
  std::vector<MigrationItem> items(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    MigrationItem& it = items[i];
    const Record& r = *plan[i].record;
    it.row_id = next_row_id + static_cast<int64_t>(i);
    it.id = r.id;
    it.importance = r.importance;
    if (!r.payload_json.empty()) it.payload = r.payload_json;
    it.replaces_row_id = plan[i].replaces_row_id;
    if (i < n_hot) {
      it.tier = kTierHot;
      it.slot = slots[i];
    } else {
      it.tier = kTierCold;
    }
  }

  // Encode the cold frames first so the intent records their exact offsets.
  std::vector<std::string> frames;
  uint64_t offset = staging.file_bytes;
  for (size_t begin = n_hot; begin < plan.size(); begin += kMaxFrameRecords) {
    size_t end = std::min(plan.size(), begin + kMaxFrameRecords);
    uint32_t count = static_cast<uint32_t>(end - begin);
    std::vector<int64_t> ids(count);
    std::vector<float> vecs(size_t(count) * config_.dim);
    for (uint32_t j = 0; j < count; ++j) {
      ids[j] = items[begin + j].row_id;
      std::copy(plan[begin + j].record->vector.begin(), plan[begin + j].record->vector.end(),
                vecs.begin() + size_t(j) * config_.dim);
      items[begin + j].shard_id = staging.shard_id;
      items[begin + j].frame_offset = static_cast<int64_t>(offset);
      items[begin + j].frame_index = j;
    }
    AETHER_ASSIGN_OR_RETURN(std::string frame, EncodeFrame(ids.data(), vecs.data(), count, config_.dim));
    offset += frame.size();
    frames.push_back(std::move(frame));
  }
  if (!frames.empty()) {
    m.shard_id = staging.shard_id;
    m.shard_len_before = staging.file_bytes;
    m.shard_len_after = offset;
  }

  // 1. intent
  Journal journal(db_.get());
  int64_t mid = 0;
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(SetConfigValue(db_.get(), "next_row_id",
                                          std::to_string(next_row_id + int64_t(plan.size()))));
    AETHER_ASSIGN_OR_RETURN(mid, journal.Insert(m, items));
    return Status::Ok();
  }));
  m.id = mid;
  AETHER_FAULT_POINT("ingest.after_intent");

  // 2. write and sync; a failure here is final for this batch, and the
  // intent row lets the replay below (or the next open) undo it.
  auto write = [&]() -> Status {
    for (size_t i = 0; i < n_hot; ++i)
      AETHER_RETURN_IF_ERROR(hot->WriteSlot(static_cast<uint64_t>(items[i].slot), items[i].row_id,
                                            plan[i].record->vector.data()));
    AETHER_FAULT_POINT("ingest.mid_write");
    std::unique_ptr<ShardFile> shard;
    if (!frames.empty()) {
      AETHER_ASSIGN_OR_RETURN(shard, OpenShard(staging, /*writable=*/true));
      uint64_t at = staging.file_bytes;
      for (const std::string& f : frames) {
        AETHER_RETURN_IF_ERROR(shard->WriteAt(at, f));
        at += f.size();
      }
    }
    AETHER_FAULT_POINT("ingest.after_write");
    if (shard) AETHER_RETURN_IF_ERROR(shard->Sync());
    if (n_hot > 0) AETHER_RETURN_IF_ERROR(hot->Sync());
    AETHER_FAULT_POINT("ingest.after_sync");
    return InTransaction(db_.get(), [&] { return journal.SetState(mid, MigrationState::kWritten); });
  };
  Status written = write();
  if (!written.ok()) {
    Status undo = ReplayJournal();  // best effort: rolls the intent back
    (void)undo;
    return written;
  }
  AETHER_FAULT_POINT("ingest.after_written");

  // 3. commit, 4. cleanup
  AETHER_RETURN_IF_ERROR(CommitIngest(m, items));
  AETHER_FAULT_POINT("ingest.after_commit");
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return journal.Remove(mid); }));
  result.hot = n_hot;
  result.cold = plan.size() - n_hot;
  return result;
}

// The commit transaction, shared by the live path and the replay's roll
// forward: releases replaced memories, inserts the new ones, claims their
// hot slots, grows the shard's committed length, and marks the row committed.
Status StoreImpl::CommitIngest(const Migration& m, const std::vector<MigrationItem>& items) {
  return InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(
        Stmt ins, db_->Prepare("INSERT INTO memories(row_id, id, tier, slot, shard_id, frame_offset, "
                               "frame_index, importance, created_ms, last_access_ms, access_count, "
                               "payload) VALUES(?,?,?,?,?,?,?,?,?,?,0,?)"));
    AETHER_ASSIGN_OR_RETURN(Stmt claim, db_->Prepare("DELETE FROM hot_free WHERE slot = ?"));
    AETHER_ASSIGN_OR_RETURN(Stmt by_row, db_->Prepare("SELECT id, tier, slot, shard_id FROM memories WHERE row_id = ?"));
    uint64_t cold = 0;
    for (const MigrationItem& it : items) {
      if (it.replaces_row_id != 0) {
        by_row.Bind(1, it.replaces_row_id);
        AETHER_ASSIGN_OR_RETURN(bool found, by_row.Step());
        if (found) {
          MemoryLocation old{it.replaces_row_id, by_row.Text(0), by_row.Int(1),
                             by_row.IsNull(2) ? -1 : by_row.Int(2), by_row.IsNull(3) ? 0 : by_row.Int(3)};
          by_row.Reset();
          AETHER_RETURN_IF_ERROR(ReleaseMemory(old));
        } else {
          by_row.Reset();
        }
      }
      ins.Bind(1, it.row_id).Bind(2, it.id).Bind(3, it.tier);
      if (it.tier == kTierHot) {
        ins.Bind(4, it.slot);
        claim.Bind(1, it.slot);
        AETHER_RETURN_IF_ERROR(claim.Run());
      } else {
        ins.Bind(5, it.shard_id).Bind(6, it.frame_offset).Bind(7, it.frame_index);
        ++cold;
      }
      ins.Bind(8, it.importance).Bind(9, m.created_ms).Bind(10, m.created_ms);
      if (it.payload) ins.Bind(11, *it.payload);
      AETHER_RETURN_IF_ERROR(ins.Run());
    }
    if (m.shard_id != 0) {
      AETHER_ASSIGN_OR_RETURN(
          Stmt grow, db_->Prepare("UPDATE shards SET file_bytes = ?, records = records + ?, "
                                  "live = live + ?, raw_bytes = raw_bytes + ? WHERE shard_id = ?"));
      grow.Bind(1, static_cast<int64_t>(m.shard_len_after))
          .Bind(2, static_cast<int64_t>(cold))
          .Bind(3, static_cast<int64_t>(cold))
          .Bind(4, static_cast<int64_t>(cold * (8 + 4ull * config_.dim)))
          .Bind(5, m.shard_id);
      AETHER_RETURN_IF_ERROR(grow.Run());
    }
    return Journal(db_.get()).SetState(m.id, MigrationState::kCommitted);
  });
}

// Undoes an uncommitted migration's writes: the files go back to their
// recorded lengths. Slots it overwrote were free and stay free.
Status StoreImpl::RollBackWrites(const Migration& m) {
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/true));
  AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_bytes, env_->FileSize(hot->path()));
  if (slots > m.hot_slots_before || hot_bytes > SlotFile::SlotOffset(config_.dim, m.hot_slots_before)) {
    AETHER_RETURN_IF_ERROR(hot->TruncateToSlots(m.hot_slots_before));
    AETHER_RETURN_IF_ERROR(hot->Sync());
  }
  if (m.shard_id == 0) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(ShardInfo info, GetShard(m.shard_id));
  AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, /*writable=*/true));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, shard->Size());
  if (size > m.shard_len_before) {
    AETHER_RETURN_IF_ERROR(shard->Truncate(m.shard_len_before));
    AETHER_RETURN_IF_ERROR(shard->Sync());
  }
  return Status::Ok();
}

// Before rolling a 'written' migration forward, proves its data is on disk
// intact: every slot and frame it wrote decodes, with the right row ids.
Status StoreImpl::VerifyWritten(const Migration& m, const std::vector<MigrationItem>& items) {
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  std::vector<float> vec(config_.dim);
  std::unique_ptr<ShardFile> shard;
  if (m.shard_id != 0) {
    AETHER_ASSIGN_OR_RETURN(ShardInfo info, GetShard(m.shard_id));
    AETHER_ASSIGN_OR_RETURN(shard, OpenShard(info, /*writable=*/false));
  }
  int64_t frame_at = -1;
  DecodedFrame frame;
  for (const MigrationItem& it : items) {
    if (it.tier == kTierHot) {
      int64_t row_id = 0;
      AETHER_RETURN_IF_ERROR(hot->ReadSlot(static_cast<uint64_t>(it.slot), &row_id, vec.data()));
      if (row_id != it.row_id)
        return Status::Corruption(fmt::format("slot {} holds row {}, expected {}", it.slot, row_id, it.row_id));
      continue;
    }
    if (!shard) return Status::Corruption("cold item without a target shard");
    if (it.frame_offset != frame_at) {
      AETHER_RETURN_IF_ERROR(shard->ReadFrame(static_cast<uint64_t>(it.frame_offset), &frame));
      frame_at = it.frame_offset;
    }
    if (it.frame_index >= frame.count || frame.row_ids[it.frame_index] != it.row_id)
      return Status::Corruption(fmt::format("frame at {} does not hold row {}", it.frame_offset, it.row_id));
  }
  return Status::Ok();
}

}  // namespace aether
