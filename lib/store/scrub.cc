// Scrub: make every deleted byte leave the store's files now (README
// "Deleting for good"). Shape:
//   1. prune the audit log past history_retention_days;
//   2. overwrite every free hot slot with a blank one (row id 0, zeros):
//      free slots are nobody's, so this needs no journal (invariant 2);
//   3. shards with records but no live one: one transaction records a
//      committed "scrub" journal row and sets them empty, then the files are
//      cut to their headers (TruncateToCommitted; a crash leaves the row,
//      whose replay does the same cut);
//   4. if garbage remains beside live records, rewrite the cold tier
//      without it: a rebuild keeping the current centroids (its own
//      journaled migration);
//   5. rewrite meta.db with secure_delete on (VACUUM), then truncate the WAL,
//      so no freed page or old page image keeps a deleted row.
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<uint64_t> StoreImpl::PruneHistory(const PolicyParams& p) {
  if (p.history_retention_days <= 0) return uint64_t(0);
  const int64_t cutoff = env_->NowMs() - int64_t(p.history_retention_days * 86400000.0);
  return tables_->audit_log.PruneBefore(cutoff);
}

Result<RebuildOptions> StoreImpl::RewriteOptions() {
  RebuildOptions ro;
  AETHER_ASSIGN_OR_RETURN(int64_t gen, tables_->config.IndexGeneration());
  ro.keep_centroids = gen > 0;  // with no index yet, one is trained as usual
  Result<std::optional<CalibrationRow>> cal = tables_->calibration.Get(gen);
  if (!cal.ok() && cal.status().code() != Code::kCorruption) return cal.status();
  ro.target_recall = !cal.ok() ? RebuildOptions{}.target_recall : *cal ? (*cal)->target : 0;
  return ro;
}

Result<ScrubReport> StoreImpl::Scrub() {
  if (!lock_->writer()) return Status::Internal("scrub on a store opened read-only");
  ScrubReport r;
  AETHER_ASSIGN_OR_RETURN(r.db_bytes_before, env_->FileSize(Path(layout::kDbFile)));
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  AETHER_RETURN_IF_ERROR(db_->Exec("PRAGMA secure_delete = ON"));
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(r.history_pruned, PruneHistory(p));
    return Status::Ok();
  }));

  // 2. free hot slots
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> free_slots, tables_->hot_free.All());
  if (!free_slots.empty()) {
    AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/true));
    AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
    const std::vector<float> zeros(config_.dim, 0.0f);
    for (int64_t s : free_slots) {
      if (s < 0 || uint64_t(s) >= slots) continue;
      AETHER_RETURN_IF_ERROR(hot->WriteSlot(uint64_t(s), 0, zeros.data()));
      ++r.hot_slots_blanked;
    }
    AETHER_RETURN_IF_ERROR(hot->Sync());
  }
  AETHER_FAULT_POINT("scrub.after_hot");

  // 3. shards that hold only garbage
  AETHER_RETURN_IF_ERROR(EmptyGarbageOnlyShards(&r.shards_emptied, &r.garbage_dropped));

  // 4. garbage beside live records: rewrite the cold tier
  AETHER_ASSIGN_OR_RETURN(uint64_t mixed, tables_->shards.CountWithGarbage());
  if (mixed > 0) {
    AETHER_ASSIGN_OR_RETURN(RebuildOptions ro, RewriteOptions());
    AETHER_ASSIGN_OR_RETURN(RebuildReport rb, RebuildIndex(ro));
    r.cold_rewritten = rb.cold_memories;
    r.garbage_dropped += rb.garbage_dropped;
  }

  // 5. meta.db: secure_delete is on, so VACUUM's rewrite keeps no freed
  // content; TRUNCATE leaves no old page image in the WAL.
  AETHER_RETURN_IF_ERROR(db_->Exec("VACUUM"));
  AETHER_RETURN_IF_ERROR(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  AETHER_ASSIGN_OR_RETURN(r.db_bytes_after, env_->FileSize(Path(layout::kDbFile)));
  return r;
}

}  // namespace aether
