// Compaction: what maintain does so that the files follow the live data
// (README "Memory dynamics", Compaction). Shape:
//   hot   past hot_compact_slack free slots, the live slots at or past the
//         live count move into the free slots below it: "compact"
//         migrations (the six steps every move takes, journal.md), whose
//         commit drops the free run that then ends the file and whose
//         cleanup cuts it (CutHotFile). Afterwards hot.slots holds exactly
//         the live slots.
//   cold  past cold_garbage_max dead records (of all cold records): a
//         staging shard past it on its own has its live records moved to
//         their nearest partitions ("unstage" migrations, when an index
//         exists), shards of only garbage are emptied (EmptyGarbageOnlyShards,
//         as scrub does), and each partition past cold_garbage_max on its own
//         is rewritten into a new shard file, one "rewrite" migration per
//         partition (RewritePartitions). Searches get LOCK between two
//         migrations. A store without an index keeps its staging garbage
//         until rebuild-index.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Status StoreImpl::CompactHot(const PolicyParams& p, MaintainReport* rep) {
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> free_slots, tables_->hot_free.All());
  if (double(free_slots.size()) <= p.hot_compact_slack) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(uint64_t end, HotSlotsInUse());
  const uint64_t live = end - std::min<uint64_t>(end, free_slots.size());
  // Live memories at or past `live`, highest first, into the lowest holes.
  std::vector<MemoryRef> high;
  AETHER_RETURN_IF_ERROR(tables_->memories.ForEachHot([&](const MemoryRef& m, const MemoryStats&) {
    if (uint64_t(m.place.slot) >= live) high.push_back(m);
  }));
  std::sort(high.begin(), high.end(),
            [](const MemoryRef& a, const MemoryRef& b) { return a.place.slot > b.place.slot; });
  std::vector<int64_t> holes;
  for (int64_t s : free_slots)
    if (uint64_t(s) < live) holes.push_back(s);
  if (holes.size() != high.size())
    return Status::Corruption(fmt::format("{}: {} slots in use past {}, but {} free below it (run aether verify)",
                                          layout::kHotFile, high.size(), live, holes.size()));
  rep->hot_slots_cut = end - live;
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  constexpr size_t kBatch = 10000;
  for (size_t begin = 0; begin < high.size(); begin += kBatch) {
    const size_t n = std::min(high.size() - begin, kBatch);
    std::vector<MigrationItem> items(n);
    std::vector<float> data(n * config_.dim);
    PendingWrites w;
    for (size_t i = 0; i < n; ++i) {
      const MemoryRef& m = high[begin + i];
      MigrationItem& it = items[i];
      it.row_id = m.row_id;
      it.id = m.id;
      it.src = m.place;
      it.dst = Place::Hot(holes[begin + i]);
      float* v = data.data() + i * config_.dim;
      // A rehearsal writes no slot (and the slot may be one it filled).
      if (!rehearsal_) AETHER_RETURN_IF_ERROR(ReadHotVector(hot.get(), m, v));
      w.slots.push_back({uint64_t(it.dst.slot), it.row_id, v});
    }
    Migration m;
    m.kind = "compact";
    AETHER_ASSIGN_OR_RETURN(m.hot_slots_before, hot->SlotCount());
    AETHER_RETURN_IF_ERROR(migrator_->Run(&m, items, w));
    rep->hot_slots_moved += n;
  }
  // With nothing to move (only free slots at the end, as a delete leaves
  // them), one empty commit drops them.
  if (high.empty()) AETHER_RETURN_IF_ERROR(migrator_->TrimHot());
  return Status::Ok();
}

Status StoreImpl::EmptyGarbageOnlyShards(uint64_t* shards, uint64_t* records) {
  AETHER_ASSIGN_OR_RETURN(*shards, tables_->shards.CountGarbageOnly(ShardFile::kHeaderSize));
  *records = 0;
  if (*shards == 0) return Status::Ok();
  Migration m;
  m.kind = "scrub";
  m.created_ms = env_->NowMs();
  m.trace_id = trace_id_;
  Journal journal(db_.get());
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(journal.Insert(&m, {}, Journal::ItemLayout::kRows));
    AETHER_RETURN_IF_ERROR(journal.SetState(m, MigrationState::kCommitted));
    AETHER_ASSIGN_OR_RETURN(*records, tables_->shards.EmptyGarbageOnly(ShardFile::kHeaderSize));
    return Status::Ok();
  }));
  AETHER_FAULT_POINT("scrub.after_commit");
  AETHER_RETURN_IF_ERROR(migrator_->TruncateToCommitted());
  return InTransaction(db_.get(), [&] { return journal.Remove(m.id); });
}

// The new shard of a partition rewrite: an id past every registered one
// whose file name is free (a name aether did not make is never reused).
Result<int64_t> StoreImpl::NewShardId(const ShardInfo& partition, int64_t at_least) {
  int64_t id = at_least;
  while (env_->TypeOf(Path(layout::RewrittenPartitionPath(partition.generation, uint32_t(partition.partition), id))) !=
         FileType::kMissing)
    ++id;
  return id;
}

namespace {

// Readers waiting for LOCK go first: between two migrations of a long
// compaction, the writer shares LOCK and takes it back (as a rebuild does
// after its build phase, it may wait long).
Status LetReadersIn(StoreLock* lock) {
  AETHER_RETURN_IF_ERROR(lock->SetMode(LockMode::kShared));
  return lock->SetMode(LockMode::kExclusive, std::max(lock->wait_seconds(), 600.0));
}

}  // namespace

// rows[begin, end) of `shard` (its live records, in file order) as the
// items of a move out of it, each to a place of its own tier, with their
// vectors in `data` (each frame read once). A record a rehearsal appended
// is in no file: its vector stays zero (a rehearsal writes no data).
Status StoreImpl::LoadColdRecords(ShardFile* file, const ShardInfo& shard, const std::vector<MemoryRef>& rows,
                                  size_t begin, size_t end, std::vector<MigrationItem>* items,
                                  std::vector<float>* data) {
  items->assign(end - begin, MigrationItem{});
  data->assign((end - begin) * config_.dim, 0.0f);
  DecodedFrame frame;
  int64_t frame_at = -1;
  for (size_t k = begin; k < end; ++k) {
    const MemoryRef& r = rows[k];
    MigrationItem& it = (*items)[k - begin];
    it.row_id = r.row_id;
    it.id = r.id;
    it.src = r.place;
    it.dst.tier = r.place.tier;
    if (!ColdRecordOnDisk(r.place)) continue;
    if (r.place.frame_offset != frame_at) {
      AETHER_RETURN_IF_ERROR(file->ReadFrame(uint64_t(r.place.frame_offset), &frame));
      frame_at = r.place.frame_offset;
    }
    if (r.place.frame_index < 0 || uint64_t(r.place.frame_index) >= frame.count ||
        frame.row_ids[size_t(r.place.frame_index)] != r.row_id)
      return Status::Corruption(fmt::format("{}: the frame at offset {} does not hold '{}' (row {})", shard.path,
                                            r.place.frame_offset, r.id, r.row_id));
    const float* v = frame.vector(uint32_t(r.place.frame_index));
    std::copy(v, v + config_.dim, data->begin() + long((k - begin) * config_.dim));
  }
  return Status::Ok();
}

// The live memories of `shard`, in file order, checked against its count.
Result<std::vector<MemoryRef>> StoreImpl::LiveIn(const ShardInfo& shard,
                                                 std::map<int64_t, std::vector<MemoryRef>>* live) {
  std::vector<MemoryRef>& rows = (*live)[shard.shard_id];
  if (rows.size() != shard.live)
    return Status::Corruption(fmt::format("{}: counted {} live records, but {} memories are in it (run aether verify)",
                                          shard.path, shard.live, rows.size()));
  return std::move(rows);
}

// The staging shard's live records moved to their nearest partitions in
// batches ("unstage" migrations: moves like descend's, from a cold record),
// so that it holds only garbage and is emptied. The vectors are read even
// in a rehearsal: they choose the partitions (and the staging records all
// predate the tick: with an index, nothing in a tick appends to staging;
// were one not to, its vector would be zero and its partition a guess).
Status StoreImpl::Unstage(const ShardInfo& staging, MaintainReport* rep) {
  AETHER_ASSIGN_OR_RETURN(auto live, tables_->memories.InShards({staging.shard_id}));
  AETHER_ASSIGN_OR_RETURN(std::vector<MemoryRef> rows, LiveIn(staging, &live));
  AETHER_ASSIGN_OR_RETURN(auto file, OpenShard(staging, /*writable=*/false));
  constexpr size_t kBatch = 10000;
  for (size_t begin = 0; begin < rows.size(); begin += kBatch) {
    if (begin > 0 && !rehearsal_) AETHER_RETURN_IF_ERROR(LetReadersIn(lock_.get()));
    const size_t end = std::min(rows.size(), begin + kBatch);
    std::vector<MigrationItem> items;
    std::vector<float> data;
    AETHER_RETURN_IF_ERROR(LoadColdRecords(file.get(), staging, rows, begin, end, &items, &data));
    std::vector<const float*> vectors(items.size());
    for (size_t k = 0; k < items.size(); ++k) vectors[k] = data.data() + k * config_.dim;
    Migration m;
    m.kind = "unstage";
    AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
    AETHER_ASSIGN_OR_RETURN(m.hot_slots_before, hot->SlotCount());
    AETHER_RETURN_IF_ERROR(RunToPartitions(&m, &items, vectors));
    rep->unstaged += items.size();
  }
  return Status::Ok();
}

// Each shard in `partitions` (of the current generation, with live records)
// rewritten without its garbage: one "rewrite" migration per partition
// (journal.md), its live records read, re-framed into a new shard file, the
// old file removed. Readers get LOCK between two partitions.
Status StoreImpl::RewritePartitions(const std::vector<ShardInfo>& partitions, MaintainReport* rep) {
  std::set<int64_t> ids;
  for (const ShardInfo& sh : partitions) ids.insert(sh.shard_id);
  AETHER_ASSIGN_OR_RETURN(auto live, tables_->memories.InShards(ids));
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> all, tables_->shards.All());
  // Past every registered shard and every journal target (a rewrite whose
  // row is still in the journal names its new shard there only).
  AETHER_ASSIGN_OR_RETURN(int64_t targeted, Journal(db_.get()).MaxTargetShard());
  int64_t next_id = std::max(all.empty() ? 1 : all.back().shard_id + 1, targeted + 1);
  for (size_t i = 0; i < partitions.size(); ++i) {
    const ShardInfo& sh = partitions[i];
    if (i > 0 && !rehearsal_) AETHER_RETURN_IF_ERROR(LetReadersIn(lock_.get()));
    AETHER_ASSIGN_OR_RETURN(std::vector<MemoryRef> rows, LiveIn(sh, &live));
    AETHER_ASSIGN_OR_RETURN(auto file, OpenShard(sh, /*writable=*/false));
    std::vector<MigrationItem> items;
    std::vector<float> data;
    AETHER_RETURN_IF_ERROR(LoadColdRecords(file.get(), sh, rows, 0, rows.size(), &items, &data));
    std::vector<const float*> vectors(items.size());
    std::vector<size_t> which(items.size());
    for (size_t k = 0; k < items.size(); ++k) vectors[k] = data.data() + k * config_.dim, which[k] = k;
    AETHER_ASSIGN_OR_RETURN(int64_t id, NewShardId(sh, next_id));
    next_id = id + 1;
    ShardInfo target;
    target.shard_id = id;
    target.file_bytes = ShardFile::kHeaderSize;
    Migration m;
    m.kind = "rewrite";
    PendingWrites w;
    AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
    AETHER_ASSIGN_OR_RETURN(m.hot_slots_before, hot->SlotCount());
    AETHER_RETURN_IF_ERROR(migrator_->BuildFrames(&items, which, vectors, target, &m, &w));
    AETHER_RETURN_IF_ERROR(migrator_->Run(&m, items, w));
    ++rep->partitions_rewritten;
    rep->cold_rewritten += rows.size();
    rep->garbage_dropped += sh.records - sh.live;
  }
  return Status::Ok();
}

// Past cold_garbage_max dead records (of all cold records), three steps
// that leave the tier under it: the staging shard's live records, when it
// is past cold_garbage_max itself and an index exists, move to their
// nearest partitions (Unstage); shards of only garbage are emptied; each
// partition past cold_garbage_max on its own is rewritten
// (RewritePartitions). A store without an index keeps its staging garbage
// until rebuild-index.
Status StoreImpl::CompactCold(const PolicyParams& p, MaintainReport* rep) {
  if (p.cold_garbage_max >= 1) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  auto over = [&](const ShardInfo& sh) {
    return sh.records > 0 && double(sh.records - sh.live) > p.cold_garbage_max * double(sh.records);
  };
  ShardInfo total;
  for (const ShardInfo& sh : shards) total.records += sh.records, total.live += sh.live;
  if (!over(total)) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(int64_t generation, tables_->config.IndexGeneration());
  for (const ShardInfo& sh : shards)
    if (sh.staging() && generation > 0 && sh.live > 0 && over(sh)) AETHER_RETURN_IF_ERROR(Unstage(sh, rep));
  uint64_t emptied_records = 0;
  AETHER_RETURN_IF_ERROR(EmptyGarbageOnlyShards(&rep->shards_emptied, &emptied_records));
  // Dead records: the staging copies of the records just moved were live.
  rep->garbage_dropped += emptied_records - std::min(emptied_records, rep->unstaged);
  AETHER_ASSIGN_OR_RETURN(shards, tables_->shards.All());
  std::vector<ShardInfo> rewrite;
  for (const ShardInfo& sh : shards)
    if (!sh.staging() && sh.generation == generation && sh.live > 0 && over(sh)) rewrite.push_back(sh);
  std::stable_sort(rewrite.begin(), rewrite.end(), [](const ShardInfo& a, const ShardInfo& b) {
    return a.records - a.live > b.records - b.live;  // most garbage first
  });
  return RewritePartitions(rewrite, rep);
}

}  // namespace aether
