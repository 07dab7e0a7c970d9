// The migration engine shared by ingest, descend and ascend
// (format-spec/journal.md):
//   Migrator::Run   intent txn -> write + sync -> written -> commit -> cleanup
//                   (three syncs: the intent, the data, the commit; the
//                   written mark and the row's removal ride on the next)
//   CommitMigration the commit transaction (also the replay's roll forward)
//   RollBackWrites  the replay's roll back: truncate targets to recorded lengths
//   VerifyWritten   the replay's check before rolling forward
#include <fmt/format.h>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "aether/metrics.h"
#include "env/fault_point.h"
#include "env/parallel.h"
#include "env/system_readings.h"
#include "meta/audit_log_table.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/migrator.h"

namespace aether {
namespace {

// The fault points a migration of each kind passes (env/fault_point.cc
// lists them all), each name spelled out so that grep finds it.
struct MigrationFaultPoints {
  const char *after_intent, *mid_write, *after_write, *after_sync, *after_written, *after_commit;
};
constexpr MigrationFaultPoints kIngestFaults{"ingest.after_intent", "ingest.mid_write",     "ingest.after_write",
                                             "ingest.after_sync",   "ingest.after_written", "ingest.after_commit"};
constexpr MigrationFaultPoints kDescendFaults{"descend.after_intent", "descend.mid_write",     "descend.after_write",
                                              "descend.after_sync",   "descend.after_written", "descend.after_commit"};
constexpr MigrationFaultPoints kAscendFaults{"ascend.after_intent", "ascend.mid_write",     "ascend.after_write",
                                             "ascend.after_sync",   "ascend.after_written", "ascend.after_commit"};
constexpr MigrationFaultPoints kCompactFaults{"compact.after_intent", "compact.mid_write",     "compact.after_write",
                                              "compact.after_sync",   "compact.after_written", "compact.after_commit"};
constexpr MigrationFaultPoints kUnstageFaults{"unstage.after_intent", "unstage.mid_write",     "unstage.after_write",
                                              "unstage.after_sync",   "unstage.after_written", "unstage.after_commit"};
constexpr MigrationFaultPoints kRewriteFaults{"rewrite.after_intent", "rewrite.mid_write",     "rewrite.after_write",
                                              "rewrite.after_sync",   "rewrite.after_written", "rewrite.after_commit"};
const MigrationFaultPoints& FaultPointsOf(const std::string& kind) {
  if (kind == "descend") return kDescendFaults;
  if (kind == "rewrite") return kRewriteFaults;
  if (kind == "unstage") return kUnstageFaults;
  if (kind == "ascend") return kAscendFaults;
  if (kind == "compact") return kCompactFaults;
  return kIngestFaults;
}

}  // namespace

Result<std::vector<int64_t>> Migrator::AllocateSlots(size_t n) {
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> slots, s_->tables_->hot_free.Lowest(n));
  // Past the committed length, not the file's: bytes past it are no one's
  // (a cut a crash left undone), while a gap below a new committed end
  // would be a slot neither live nor free.
  AETHER_ASSIGN_OR_RETURN(uint64_t end, s_->HotSlotsInUse());
  for (uint64_t s = end; slots.size() < n; ++s) slots.push_back(static_cast<int64_t>(s));
  return slots;
}

Status Migrator::BuildFrames(std::vector<MigrationItem>* items, const std::vector<size_t>& which,
                             const std::vector<const float*>& vectors, const ShardInfo& shard, Migration* m,
                             PendingWrites* w) {
  if (which.empty()) return Status::Ok();
  const uint32_t dim = s_->config_.dim;
  // Each tier's items in frames of its own codec: the cold ones first, then
  // the warm ones, each group in the order given.
  std::vector<size_t> order;
  for (Tier tier : {Tier::kCold, Tier::kWarm})
    for (size_t i : which)
      if ((*items)[i].dst.tier == tier) order.push_back(i);
  if (order.size() != which.size())
    return Status::Internal(fmt::format("{}: an item for a shard has no shard tier", m->kind));
  struct Span {
    size_t begin, end;
    Tier tier;
  };
  std::vector<Span> spans;  // one frame each
  for (size_t b = 0; b < order.size();) {
    const Tier tier = (*items)[order[b]].dst.tier;
    size_t e = b;
    while (e < order.size() && e - b < kMaxFrameRecords && (*items)[order[e]].dst.tier == tier) ++e;
    spans.push_back({b, e, tier});
    b = e;
  }
  // The frames are encoded on every core (each its own records), then laid
  // end to end: a record's place is its frame's offset.
  std::vector<std::string> encoded(spans.size());
  AETHER_RETURN_IF_ERROR(ParallelFor(spans.size(), ThreadsFor(0, spans.size()), [&](size_t f, size_t) -> Status {
    const Span& sp = spans[f];
    const uint32_t count = static_cast<uint32_t>(sp.end - sp.begin);
    std::vector<int64_t> ids(count);
    std::vector<float> vecs(size_t(count) * dim);
    for (uint32_t j = 0; j < count; ++j) {
      const size_t i = order[sp.begin + j];
      ids[j] = (*items)[i].row_id;
      std::copy(vectors[i], vectors[i] + dim, vecs.begin() + size_t(j) * dim);
    }
    AETHER_ASSIGN_OR_RETURN(encoded[f], EncodeFrame(ids.data(), vecs.data(), count, dim, s_->FrameCodecOf(sp.tier)));
    return Status::Ok();
  }));
  std::vector<std::string>& frames = w->frames[shard.shard_id];
  uint64_t offset = shard.file_bytes;
  for (size_t f = 0; f < spans.size(); ++f) {
    for (size_t j = spans[f].begin; j < spans[f].end; ++j)
      (*items)[order[j]].dst =
          Place::Shard(spans[f].tier, shard.shard_id, static_cast<int64_t>(offset), int64_t(j - spans[f].begin));
    offset += encoded[f].size();
    frames.push_back(std::move(encoded[f]));
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

Status Migrator::Run(Migration* m, const std::vector<MigrationItem>& items, const PendingWrites& w,
                     const std::function<Status()>& also_in_intent) {
  if (!lock_->writer()) return Status::Internal(m->kind + " on a store opened read-only");
  Journal journal(s_->db_.get());
  const MigrationFaultPoints& fault = FaultPointsOf(m->kind);
  m->created_ms = m->created_ms ? m->created_ms : s_->env_->NowMs();
  m->trace_id = s_->trace_id_;
  // 1. intent
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&]() -> Status {
    if (also_in_intent) AETHER_RETURN_IF_ERROR(also_in_intent());
    // A store older than format 4 keeps a row per item: an older aether
    // must be able to replay what this one leaves (format-spec/README.md).
    return journal.Insert(m, items,
                          s_->format_version_ >= 4 ? Journal::ItemLayout::kBlocks : Journal::ItemLayout::kRows);
  }));
  AETHER_FAULT_POINT(fault.after_intent);

  // 2. write and sync. A failure is final for this migration: never retry a
  // sync; the replay below (or the next open) rolls the intent back.
  auto write = [&]() -> Status {
    if (s_->rehearsal_)  // no data: the metadata is the rehearsal
      return InUnsyncedTransaction(s_->db_.get(), [&] { return journal.SetState(*m, MigrationState::kWritten); });
    std::unique_ptr<SlotFile> hot;
    if (!w.slots.empty()) {
      AETHER_ASSIGN_OR_RETURN(hot, s_->OpenHot(/*writable=*/true));
      AETHER_RETURN_IF_ERROR(hot->WriteSlots(w.slots));
    }
    AETHER_FAULT_POINT(fault.mid_write);
    // The shards in groups of at most 256 (fewer under a tight descriptor
    // limit), each group written, synced and closed before the next: a
    // descend into a store of thousands of partitions would otherwise hold
    // a descriptor for each, past the usual limit of 1,024 (EMFILE). The
    // last group's writes are the fault point's "written, not synced".
    const size_t kMaxOpenShards = FilesOpenAtOnce(256);
    std::string created_in;  // a directory that gained a file
    const size_t n = m->targets.size();
    for (size_t g = 0; g == 0 || g < n; g += kMaxOpenShards) {
      std::vector<std::unique_ptr<ShardFile>> shards;
      for (size_t i = g; i < std::min(n, g + kMaxOpenShards); ++i) {
        const ShardTarget& t = m->targets[i];
        std::unique_ptr<ShardFile> shard;
        if (m->kind == "rewrite") {  // a new file no committed state names
          AETHER_ASSIGN_OR_RETURN(RewriteTarget rt, RewriteTargetOf(*m, items));
          const std::string path = s_->Path(rt.path);
          AETHER_RETURN_IF_ERROR(ShardFile::Create(s_->env_, path, s_->config_.dim, uint32_t(rt.generation),
                                                   rt.partition, /*sync=*/false, OpenMode::kCreateNew));
          AETHER_ASSIGN_OR_RETURN(shard, ShardFile::Open(s_->env_, path, s_->config_.dim, /*writable=*/true));
          created_in = layout::GenerationDir(rt.generation);
        } else {
          AETHER_ASSIGN_OR_RETURN(ShardInfo info, s_->tables_->shards.Get(t.shard_id));
          AETHER_ASSIGN_OR_RETURN(shard, s_->OpenShard(info, /*writable=*/true));
        }
        uint64_t at = t.len_before;
        for (const std::string& f : w.frames.at(t.shard_id)) {
          AETHER_RETURN_IF_ERROR(shard->WriteAt(at, f));
          at += f.size();
        }
        shards.push_back(std::move(shard));
      }
      if (g + kMaxOpenShards >= n) AETHER_FAULT_POINT(fault.after_write);
      AETHER_RETURN_IF_ERROR(SyncAll(shards));
    }
    if (!created_in.empty()) AETHER_RETURN_IF_ERROR(s_->env_->SyncDir(s_->Path(created_in)));
    if (hot) AETHER_RETURN_IF_ERROR(hot->Sync());
    AETHER_FAULT_POINT(fault.after_sync);
    // Not synced: lost to a power cut, the row is an intent again and is
    // rolled back; the commit's sync makes it durable with the commit.
    return InUnsyncedTransaction(s_->db_.get(), [&] { return journal.SetState(*m, MigrationState::kWritten); });
  };
  if (Status s = write(); !s.ok()) {
    CountOutcome(*m, "failed");
    if (!s_->rehearsal_) (void)Replay();  // best effort; the next open retries
    return s;
  }
  AETHER_FAULT_POINT(fault.after_written);

  // 3. commit, 4. cleanup
  if (Status s = CommitMigration(*m, items); !s.ok()) {
    CountOutcome(*m, "failed");
    if (!s_->rehearsal_) (void)Replay();  // rolls forward, or back if it can never commit
    return s;
  }
  CountOutcome(*m, "committed");
  AETHER_FAULT_POINT(fault.after_commit);
  AETHER_RETURN_IF_ERROR(CutHotFile());
  if (m->kind == "rewrite") AETHER_RETURN_IF_ERROR(RetireRewritten(*m, items));
  return RemoveCommitted(*m);
}

// aether_migrations_total (aether/metrics.h); a rehearsal (--dry-run)
// counts nothing.
void Migrator::CountOutcome(const Migration& m, const char* outcome) {
  if (s_->rehearsal_) return;
  CountMetric("aether_migrations_total", MetricLabels({{"kind", m.kind}, {"outcome", outcome}}));
}

Result<RewriteTarget> Migrator::RewriteTargetOf(const Migration& m, const std::vector<MigrationItem>& items) {
  if (m.targets.size() != 1 || items.empty() || !items[0].src || !items[0].src->in_shard())
    return Status::Corruption(Describe(m) + ": a rewrite moves records of one shard into one new shard");
  RewriteTarget rt;
  rt.shard_id = m.targets[0].shard_id;
  rt.old_shard_id = items[0].src->shard_id;
  auto from = [&](const ShardInfo& info, int64_t id) -> Result<RewriteTarget> {
    if (info.generation <= 0 || info.partition < 0 || info.partition > int64_t(UINT32_MAX))
      return Status::Corruption(
          fmt::format("{}: shard {} ({}) is not an index partition", Describe(m), info.shard_id, info.path));
    rt.generation = info.generation;
    rt.partition = uint32_t(info.partition);
    rt.path = layout::RewrittenPartitionPath(rt.generation, rt.partition, id);
    return rt;
  };
  if (auto target = s_->tables_->shards.Get(rt.shard_id); target.ok()) return from(*target, rt.shard_id);
  AETHER_ASSIGN_OR_RETURN(ShardInfo old, s_->tables_->shards.Get(rt.old_shard_id));
  return from(old, rt.shard_id);
}

// After the commit every record of the old shard is garbage: its file goes,
// then its row (a crash between them leaves the row of a missing file with
// no live record, which no search opens; the replay finishes the job).
Status Migrator::RetireRewritten(const Migration& m, const std::vector<MigrationItem>& items) {
  if (items.empty() || !items[0].src) return Status::Corruption(Describe(m) + ": a rewrite without items");
  const int64_t old_id = items[0].src->shard_id;
  index_->Invalidate();  // the partition's shard changed
  auto old = s_->tables_->shards.Get(old_id);
  if (!old.ok()) return Status::Ok();  // retired already
  if (old->live != 0)
    return Status::Corruption(fmt::format("{}: shard {} still holds {} live records", Describe(m), old_id, old->live));
  // (The commit moved every item out of it and found its count 0; memories
  // are not counted again here: a scan of the cold tier per partition.)
  if (!layout::IsPartitionPathOf(old->path, old->generation, old->partition))
    return Status::Corruption(fmt::format("{}: shard {} is {}, not partition {} of generation {}", Describe(m), old_id,
                                          old->path, old->partition, old->generation));
  if (!s_->rehearsal_) {
    AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(old->path));
    AETHER_RETURN_IF_ERROR(s_->env_->SyncDir(s_->Path(layout::GenerationDir(old->generation))));
  }
  AETHER_FAULT_POINT("rewrite.mid_cleanup");
  return InUnsyncedTransaction(s_->db_.get(), [&] { return s_->tables_->shards.Delete(old_id); });
}

// A committed migration's row goes once its cleanup is done, unsynced: a
// power cut that loses the removal leaves the committed row, whose replay
// repeats the (idempotent) cleanup. One sync fewer per migration.
Status Migrator::RemoveCommitted(const Migration& m) {
  return InUnsyncedTransaction(s_->db_.get(), [&] { return Journal(s_->db_.get()).Remove(m.id); });
}

// In the commit transaction: hot.slots' committed length follows the slots
// in use. It grows with the slots written (up to written_end), and loses
// the free slots at its end (the cleanup cuts the file).
Status Migrator::DropFreeTail(uint64_t written_end) {
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_slots, s_->HotSlotsInUse());
  AETHER_ASSIGN_OR_RETURN(uint64_t end, s_->tables_->hot_free.DropTail(std::max(hot_slots, written_end)));
  // Compared with the recorded value, not HotSlotsInUse: the slots this
  // commit filled are in the metadata already, and a stale record would
  // cost every later writer a repair at open (RecordHotSlots).
  AETHER_ASSIGN_OR_RETURN(int64_t recorded, s_->tables_->config.Integer("hot_slots", -1));
  if (recorded >= 0 && uint64_t(recorded) == end) return Status::Ok();
  return s_->tables_->config.Set("hot_slots", std::to_string(end));
}

Status Migrator::TrimHot() {
  if (!lock_->writer()) return Status::Internal("compact on a store opened read-only");
  Migration m;
  m.kind = "compact";
  m.created_ms = s_->env_->NowMs();
  m.trace_id = s_->trace_id_;
  AETHER_ASSIGN_OR_RETURN(auto hot, s_->OpenHot(/*writable=*/false));
  AETHER_ASSIGN_OR_RETURN(m.hot_slots_before, hot->SlotCount());
  Journal journal(s_->db_.get());
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(journal.Insert(&m, {}, Journal::ItemLayout::kRows));
    AETHER_RETURN_IF_ERROR(DropFreeTail(0));
    return journal.SetState(m, MigrationState::kCommitted);
  }));
  AETHER_FAULT_POINT(kCompactFaults.after_commit);
  AETHER_RETURN_IF_ERROR(CutHotFile());
  return RemoveCommitted(m);
}

// A cleanup step: the commit dropped the free slots at the end of hot.slots,
// so the file is cut to its committed length (a crash before the cut leaves
// the committed row, whose replay cuts it: TruncateToCommitted).
Status Migrator::CutHotFile() {
  if (s_->rehearsal_) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, s_->HotSlotsInUse());
  AETHER_ASSIGN_OR_RETURN(auto hot, s_->OpenHot(/*writable=*/true));
  AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
  if (slots <= committed) return Status::Ok();
  AETHER_RETURN_IF_ERROR(hot->TruncateToSlots(committed));
  return hot->Sync();
}

namespace {

// A new memory's row: created now (the migration's time) unless the item
// keeps its state.
MemoriesTable::NewRow NewRowOf(const Migration& m, const MigrationItem& it) {
  MemoriesTable::NewRow r;
  r.row_id = it.row_id;
  r.id = &it.id;
  r.place = it.dst;
  r.importance = it.importance;
  r.created_ms = it.kept ? it.kept->created_ms : m.created_ms;
  if (it.kept) {
    r.last_access_ms = it.kept->last_access_ms;
    r.access_count = it.kept->access_count;
    r.pinned = it.kept->pinned;
    r.access_times = &it.kept->access_times;
  }
  r.payload = &it.payload;
  return r;
}

}  // namespace

// A new memory (ingest), in the commit transaction: a same-id memory it
// replaces is released first (only ever that one: invariant 11).
Status Migrator::CommitNew(const Migration& m, const MigrationItem& it) {
  if (it.replaces_row_id != 0) {
    AETHER_ASSIGN_OR_RETURN(auto old, s_->tables_->memories.FindRow(it.replaces_row_id));
    if (old && old->id != it.id)
      return Status::Corruption(fmt::format("migration {}: '{}' would replace row {}, which is '{}'", m.id, it.id,
                                            it.replaces_row_id, old->id));
    if (old) AETHER_RETURN_IF_ERROR(s_->ReleaseMemory(*old));
  }
  return s_->tables_->memories.InsertMany({NewRowOf(m, it)});
}

// The commit transaction, shared by the live path and the replay's roll
// forward. New memories (ingest) are inserted, replacing same-id ones; moved
// memories get their new place and their source is released (slot to
// hot_free, cold record to garbage). Marks the row committed.
Status Migrator::CommitMigration(const Migration& m, const std::vector<MigrationItem>& items) {
  const bool rewrite = m.kind == "rewrite";
  RewriteTarget rt;
  if (rewrite) {
    AETHER_ASSIGN_OR_RETURN(rt, RewriteTargetOf(m, items));
    index_->Invalidate();  // the partition's shard changes
  }
  return InTransaction(s_->db_.get(), [&]() -> Status {
    // A rewrite's new shard is registered here, empty; it grows below.
    if (rewrite)
      AETHER_RETURN_IF_ERROR(s_->tables_->shards.InsertRewritten(rt.shard_id, rt.path, rt.generation, rt.partition,
                                                                 ShardFile::kHeaderSize));
    std::map<int64_t, uint64_t> cold;  // new records per target shard
    int64_t hot_end = 0;               // one past the highest slot written
    // Slots at or past the end of hot_free have no row to claim: one query
    // spares a statement per new slot (an ingest's, mostly). Once this
    // commit has freed a place (a move's source, a replaced memory), every
    // slot is claimed as before.
    AETHER_ASSIGN_OR_RETURN(const uint64_t free_end, s_->tables_->hot_free.End());
    bool freed = false;
    std::optional<TraceRef> trace;  // the entries' trace id (AuditLogTable::Trace)
    // New memories that replace none are inserted in groups (a bulk load's
    // rows), each group before any other change to the memories table.
    std::vector<MemoriesTable::NewRow> fresh;
    auto insert_fresh = [&]() -> Status {
      Status s = s_->tables_->memories.InsertMany(fresh);
      fresh.clear();
      return s;
    };
    for (const MigrationItem& it : items) {
      freed = freed || it.src || it.replaces_row_id != 0;
      if (it.dst.hot()) hot_end = std::max(hot_end, it.dst.slot + 1);
      if (!it.src && it.replaces_row_id == 0) {
        fresh.push_back(NewRowOf(m, it));
        if (fresh.size() == 4096) AETHER_RETURN_IF_ERROR(insert_fresh());
      } else if (!it.src) {
        AETHER_RETURN_IF_ERROR(insert_fresh());
        AETHER_RETURN_IF_ERROR(CommitNew(m, it));
      } else {
        AETHER_RETURN_IF_ERROR(insert_fresh());
        // A move applies only if the memory is still exactly at its source.
        AETHER_ASSIGN_OR_RETURN(bool moved, s_->tables_->memories.Move(it.row_id, *it.src, it.dst));
        if (!moved)
          return Status::Corruption(
              fmt::format("migration {}: memory '{}' (row {}) is no longer at its source", m.id, it.id, it.row_id));
        AETHER_RETURN_IF_ERROR(s_->ReleasePlace(*it.src));
        // A new place in the same tier is no event in a memory's history.
        // A descend or an ascend says its direction by its kind: its entry
        // has no detail (AuditLogTable::Since restores it).
        if (m.kind != "compact" && m.kind != "unstage" && !rewrite) {
          std::optional<std::string> detail = MoveDetail(it.src->tier, it.dst.tier);
          if (*detail == ImpliedMoveDetail(m.kind)) detail.reset();
          if (!trace) {  // looked up once per commit
            AETHER_ASSIGN_OR_RETURN(trace, s_->tables_->audit_log.Trace(m.trace_id));
          }
          AETHER_RETURN_IF_ERROR(s_->tables_->audit_log.Append(m.created_ms, m.kind, it.id, detail, *trace));
        }
      }
      if (it.dst.hot()) {
        if (freed || it.dst.slot < 0 || uint64_t(it.dst.slot) < free_end)
          AETHER_RETURN_IF_ERROR(s_->tables_->hot_free.Claim(it.dst.slot));
        // A new memory's row id was reserved by this migration's intent: no
        // queue entry names it.
        if (it.src) AETHER_RETURN_IF_ERROR(s_->tables_->restore_queue.Remove(it.row_id));
      } else {
        ++cold[it.dst.shard_id];
      }
    }
    AETHER_RETURN_IF_ERROR(insert_fresh());
    AETHER_RETURN_IF_ERROR(DropFreeTail(uint64_t(hot_end)));
    // A target grows from exactly its committed length (invariant 2).
    for (const ShardTarget& t : m.targets) {
      const uint64_t n = cold[t.shard_id];
      AETHER_ASSIGN_OR_RETURN(bool grown, s_->tables_->shards.Grow(t.shard_id, t.len_before, t.len_after, n,
                                                                   n * (8 + 4ull * s_->config_.dim)));
      if (!grown)
        return Status::Corruption(
            fmt::format("migration {}: shard {} is no longer {} bytes long", m.id, t.shard_id, t.len_before));
    }
    if (rewrite) {  // every live record of the old shard moved, so its file can go
      AETHER_ASSIGN_OR_RETURN(ShardInfo old, s_->tables_->shards.Get(rt.old_shard_id));
      if (old.live != 0)
        return Status::Corruption(
            fmt::format("migration {}: shard {} would keep {} live records", m.id, rt.old_shard_id, old.live));
    }
    return Journal(s_->db_.get()).SetState(m, MigrationState::kCommitted);
  });
}

// Before rolling a 'written' migration forward, proves that what it wrote is
// on disk intact and is exactly what its items say: every hot item's slot
// holds its row, every slot past the committed ones belongs to an item, and
// each target's appended bytes decode into frames whose records are exactly
// the items sent there (so the commit's record counts hold, and no record
// is left that no memory owns).
Status Migrator::VerifyWritten(const Migration& m, const std::vector<MigrationItem>& items) {
  AETHER_ASSIGN_OR_RETURN(auto hot, s_->OpenHot(/*writable=*/false));
  std::vector<float> vec(s_->config_.dim);
  std::set<int64_t> hot_slots;
  std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> cold;  // shard, offset, index, row
  for (const MigrationItem& it : items) {
    if (!it.dst.hot()) {
      cold.emplace(it.dst.shard_id, it.dst.frame_offset, it.dst.frame_index, it.row_id);
      continue;
    }
    int64_t row_id = 0;
    AETHER_RETURN_IF_ERROR(hot->ReadSlot(static_cast<uint64_t>(it.dst.slot), &row_id, vec.data()));
    if (row_id != it.row_id)
      return Status::Corruption(fmt::format("slot {} holds row {}, expected {}", it.dst.slot, row_id, it.row_id));
    if (!hot_slots.insert(it.dst.slot).second)
      return Status::Corruption(fmt::format("slot {} is the destination of two items", it.dst.slot));
  }
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, s_->CommittedHotSlots());
  AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
  for (uint64_t s = committed; s < slots; ++s)
    if (!hot_slots.count(int64_t(s))) return Status::Corruption(fmt::format("slot {} was written for no item", s));
  for (const ShardTarget& t : m.targets) {
    ShardInfo info;
    std::unique_ptr<ShardFile> shard;
    if (m.kind == "rewrite") {  // not registered before its commit
      AETHER_ASSIGN_OR_RETURN(RewriteTarget rt, RewriteTargetOf(m, items));
      info.path = rt.path;
      AETHER_ASSIGN_OR_RETURN(shard, ShardFile::Open(s_->env_, s_->Path(rt.path), s_->config_.dim, false));
    } else {
      AETHER_ASSIGN_OR_RETURN(info, s_->tables_->shards.Get(t.shard_id));
      AETHER_ASSIGN_OR_RETURN(shard, s_->OpenShard(info, /*writable=*/false));
    }
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
