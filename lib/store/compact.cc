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
//         does), and if the share is still past it and an index exists, the
//         cold tier is rewritten without its garbage keeping the centroids
//         (a rebuild: its own journaled migration; searches continue while
//         it builds). A store without an index keeps its staging garbage
//         until rebuild-index.
#include <fmt/format.h>

#include <algorithm>

#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Status StoreImpl::CompactHot(const PolicyParams& p, bool dry_run, MaintainReport* rep) {
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
  if (dry_run) {
    rep->hot_slots_moved = high.size();
    return Status::Ok();
  }
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
      AETHER_RETURN_IF_ERROR(ReadHotVector(hot.get(), m, v));
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

Status StoreImpl::CompactCold(const PolicyParams& p, bool dry_run, MaintainReport* rep) {
  if (p.cold_garbage_max >= 1) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  uint64_t records = 0, dead = 0, dead_alone = 0, alone = 0;
  for (const ShardInfo& sh : shards) {
    records += sh.records;
    dead += sh.records - sh.live;
    if (sh.live == 0 && sh.records > 0) dead_alone += sh.records, ++alone;
  }
  auto over = [&](uint64_t d, uint64_t r) { return r > 0 && double(d) > p.cold_garbage_max * double(r); };
  if (!over(dead, records)) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(int64_t generation, tables_->config.IndexGeneration());
  const bool rewrite = generation > 0 && over(dead - dead_alone, records - dead_alone);
  if (dry_run) {
    rep->shards_emptied = alone;
    rep->garbage_dropped = rewrite ? dead : dead_alone;
    if (!rewrite) return Status::Ok();
    AETHER_ASSIGN_OR_RETURN(rep->cold_rewritten, tables_->memories.Count(Tier::kCold));
    return Status::Ok();
  }
  AETHER_RETURN_IF_ERROR(EmptyGarbageOnlyShards(&rep->shards_emptied, &rep->garbage_dropped));
  if (!rewrite) return Status::Ok();
  RebuildOptions ro;
  ro.keep_centroids = true;
  AETHER_ASSIGN_OR_RETURN(RebuildReport rb, RebuildIndex(ro));
  rep->cold_rewritten = rb.cold_memories;
  rep->garbage_dropped += rb.garbage_dropped;
  return Status::Ok();
}

}  // namespace aether
