// Compaction: what maintain does so that the files follow the live data
// (README "Memory dynamics", Compaction). Shape:
//   hot   past hot_compact_slack free slots, the live slots at or past the
//         live count move into the free slots below it: "compact"
//         migrations (the six steps every move takes, journal.md), whose
//         commit drops the free run that then ends the file and whose
//         cleanup cuts it (CutHotFile). Afterwards hot.slots holds exactly
//         the live slots.
//   cold  past cold_garbage_max dead records (of all cold records): shards
//         of only garbage are emptied (EmptyGarbageOnlyShards, as scrub
//         does), and each partition past cold_garbage_max on its own is
//         rewritten into a new shard file, one "rewrite" migration per
//         partition (RewritePartitions; searches get in between two). If
//         the staging shard's garbage would keep the share past it, the
//         cold tier is instead rebuilt without its garbage keeping the
//         centroids (a rebuild: its own journaled migration; searches
//         continue while it builds). A store without an index keeps its
//         staging garbage until rebuild-index.
#include <fmt/format.h>

#include <algorithm>
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
  Journal journal(db_.get());
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(journal.Insert(&m, {}));
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

// Each shard in `partitions` (of the current generation, with live records)
// rewritten without its garbage: one "rewrite" migration per partition
// (journal.md), its live records read, re-framed into a new shard file, the
// old file removed. Readers get LOCK between two partitions.
Status StoreImpl::RewritePartitions(const std::vector<ShardInfo>& partitions, MaintainReport* rep) {
  std::set<int64_t> ids;
  for (const ShardInfo& sh : partitions) ids.insert(sh.shard_id);
  AETHER_ASSIGN_OR_RETURN(auto live, tables_->memories.ColdIn(ids));
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> all, tables_->shards.All());
  // Past every registered shard and every journal target (a rewrite whose
  // row is still in the journal names its new shard there only).
  AETHER_ASSIGN_OR_RETURN(int64_t targeted, Journal(db_.get()).MaxTargetShard());
  int64_t next_id = std::max(all.empty() ? 1 : all.back().shard_id + 1, targeted + 1);
  for (size_t i = 0; i < partitions.size(); ++i) {
    const ShardInfo& sh = partitions[i];
    if (i > 0 && !rehearsal_) {  // searches waiting for LOCK go first
      AETHER_RETURN_IF_ERROR(lock_->SetMode(LockMode::kShared));
      AETHER_RETURN_IF_ERROR(lock_->SetMode(LockMode::kExclusive, std::max(lock_->wait_seconds(), 600.0)));
    }
    const std::vector<MemoryRef>& rows = live[sh.shard_id];
    if (rows.size() != sh.live)
      return Status::Corruption(fmt::format(
          "{}: counted {} live records, but {} memories are in it (run aether verify)", sh.path, sh.live, rows.size()));
    std::unique_ptr<ShardFile> file;
    if (!rehearsal_) {
      AETHER_ASSIGN_OR_RETURN(file, OpenShard(sh, /*writable=*/false));
    }
    std::vector<MigrationItem> items(rows.size());
    std::vector<const float*> vectors(rows.size());
    std::vector<float> data(rows.size() * config_.dim);
    std::vector<size_t> which(rows.size());
    DecodedFrame frame;
    int64_t frame_at = -1;
    for (size_t k = 0; k < rows.size(); ++k) {
      const MemoryRef& r = rows[k];
      vectors[k] = data.data() + k * config_.dim;
      which[k] = k;
      items[k].row_id = r.row_id;
      items[k].id = r.id;
      items[k].src = r.place;
      if (rehearsal_) continue;  // no data written, and the record may be one it appended
      if (r.place.frame_offset != frame_at) {
        AETHER_RETURN_IF_ERROR(file->ReadFrame(uint64_t(r.place.frame_offset), &frame));
        frame_at = r.place.frame_offset;
      }
      if (r.place.frame_index < 0 || uint64_t(r.place.frame_index) >= frame.count ||
          frame.row_ids[size_t(r.place.frame_index)] != r.row_id)
        return Status::Corruption(fmt::format("{}: the frame at offset {} does not hold '{}' (row {})", sh.path,
                                              r.place.frame_offset, r.id, r.row_id));
      const float* v = frame.vector(uint32_t(r.place.frame_index));
      std::copy(v, v + config_.dim, data.begin() + long(k * config_.dim));
    }
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

// Past cold_garbage_max dead records (of all cold records): shards of only
// garbage are emptied, and each partition past cold_garbage_max on its own
// is rewritten; that leaves the tier under it, unless the staging shard
// holds the garbage: then the whole tier is rebuilt keeping the centroids
// (a store without an index keeps its staging garbage until rebuild-index).
Status StoreImpl::CompactCold(const PolicyParams& p, MaintainReport* rep) {
  if (p.cold_garbage_max >= 1) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  auto over = [&](uint64_t d, uint64_t r) { return r > 0 && double(d) > p.cold_garbage_max * double(r); };
  uint64_t records = 0, dead = 0;
  for (const ShardInfo& sh : shards) records += sh.records, dead += sh.records - sh.live;
  if (!over(dead, records)) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(int64_t generation, tables_->config.IndexGeneration());
  // What each step leaves: all-garbage shards emptied, partitions past the
  // threshold rewritten.
  uint64_t alone = 0, dead_alone = 0, left_records = records, left_dead = dead;
  std::vector<ShardInfo> rewrite;
  for (const ShardInfo& sh : shards) {
    const uint64_t d = sh.records - sh.live;
    if (sh.live == 0 && sh.records > 0) {
      ++alone, dead_alone += d;
    } else if (!sh.staging() && sh.generation == generation && over(d, sh.records)) {
      rewrite.push_back(sh);
    } else {
      continue;
    }
    left_records -= d, left_dead -= d;
  }
  std::stable_sort(rewrite.begin(), rewrite.end(), [](const ShardInfo& a, const ShardInfo& b) {
    return a.records - a.live > b.records - b.live;  // most garbage first
  });
  // Staging garbage keeps the tier over: a rebuild rewrites every partition anyway.
  const bool rebuild = generation > 0 && over(left_dead, left_records);
  AETHER_RETURN_IF_ERROR(EmptyGarbageOnlyShards(&rep->shards_emptied, &rep->garbage_dropped));
  if (!rebuild) return RewritePartitions(rewrite, rep);
  rep->cold_rebuilds = 1;
  if (rehearsal_) {  // what the rebuild would drop and rewrite, without building it
    AETHER_ASSIGN_OR_RETURN(shards, tables_->shards.All());
    for (const ShardInfo& sh : shards) rep->garbage_dropped += sh.records - sh.live;
    AETHER_ASSIGN_OR_RETURN(rep->cold_rewritten, tables_->memories.Count(Tier::kCold));
    return Status::Ok();
  }
  RebuildOptions ro;
  ro.keep_centroids = true;
  AETHER_ASSIGN_OR_RETURN(RebuildReport rb, RebuildIndex(ro));
  rep->cold_rewritten = rb.cold_memories;
  rep->garbage_dropped += rb.garbage_dropped;
  return Status::Ok();
}

}  // namespace aether
