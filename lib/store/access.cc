// The accesses searches record (format-spec/access_log.md): applied at once
// by a writer, folded from the access log by the next writer otherwise.
//
// FoldAccessLog, under the exclusive lock (no search appends meanwhile):
//   1. the log's epoch is the one meta.db names: read its records from the
//      folded offset (torn or damaged ones skipped, with a notice);
//   2. one transaction applies them (access counts, last access, restore
//      queue) and names a new epoch, folded offset = the header's end;
//   3. the file is reset to a header of the new epoch (not synced).
// A crash before 2 folds everything again next time; after 2, the file's
// epoch is no longer meta.db's, so its records are never applied twice.
#include <fmt/format.h>

#include "env/fault_point.h"
#include "meta/schema.h"
#include "policy/access_pattern.h"
#include "policy/placement.h"
#include "store/access_log.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

// In the caller's transaction.
Status StoreImpl::ApplyAccesses(const std::vector<AccessRecord>& records) {
  for (const AccessRecord& r : records) {
    AETHER_RETURN_IF_ERROR(model_->QueueRestores(r.restores));
    AETHER_RETURN_IF_ERROR(tables_->memories.Touch(r.hits, r.ts_ms));
  }
  return Status::Ok();
}

Status StoreImpl::FoldAccessLog() {
  if (!lock_->exclusive()) return Status::Internal("fold of the access log without the exclusive lock");
  const std::string path = Path(layout::kAccessLog);
  AETHER_ASSIGN_OR_RETURN(int64_t stored, tables_->config.Integer("access_log_epoch", 0));
  AETHER_ASSIGN_OR_RETURN(int64_t folded, tables_->config.Integer("access_log_folded", 0));
  AETHER_ASSIGN_OR_RETURN(uint64_t epoch, AccessLog::Epoch(env_, path));
  const bool current = epoch != 0 && epoch == uint64_t(stored);
  if (current) {
    AETHER_ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(path));
    if (size <= uint64_t(folded)) return Status::Ok();  // nothing recorded since
  }
  std::vector<AccessRecord> records;
  uint64_t skipped = 0;
  if (current) AETHER_RETURN_IF_ERROR(AccessLog::Read(env_, path, uint64_t(folded), &records, &skipped).status());
  uint64_t next = ((env_->RandomSeed() << 32 ^ env_->RandomSeed()) & 0x7fffffffffffffffull) | 1;
  if (next == epoch) next ^= 2;
  // Unsynced, like the log itself: a power cut before the next synced
  // commit loses these accesses (the new epoch goes with them, so the
  // records are never applied twice).
  Db::Bookkeeping bookkeeping(db_.get());
  AETHER_RETURN_IF_ERROR(InUnsyncedTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(ApplyAccesses(records));
    AETHER_RETURN_IF_ERROR(tables_->config.Set("access_log_epoch", std::to_string(next)));
    return tables_->config.Set("access_log_folded", std::to_string(AccessLog::kHeaderSize));
  }));
  AETHER_FAULT_POINT("fold.after_commit");
  if (skipped > 0)
    Notice(fmt::format("{}: {} bytes of torn or damaged records skipped ({} records folded)", layout::kAccessLog,
                       skipped, records.size()));
  return AccessLog::Reset(env_, path, next);
}

Result<const std::unordered_map<int64_t, StoreImpl::PendingAccess>*> StoreImpl::PendingAccesses() {
  const std::string path = Path(layout::kAccessLog);
  if (lock_->exclusive()) {  // a writer folded at open and applies its own accesses at once
    pending_.clear();
    pending_epoch_ = 0;
    return &pending_;
  }
  // No fold can happen while this reader shares the store, so the epoch is
  // read once; later calls only read what was appended since.
  if (pending_epoch_ == 0) {
    AETHER_ASSIGN_OR_RETURN(int64_t stored, tables_->config.Integer("access_log_epoch", 0));
    AETHER_ASSIGN_OR_RETURN(uint64_t epoch, AccessLog::Epoch(env_, path));
    if (epoch == 0 || epoch != uint64_t(stored)) return &pending_;  // nothing to apply
    AETHER_ASSIGN_OR_RETURN(int64_t folded, tables_->config.Integer("access_log_folded", 0));
    pending_.clear();
    pending_epoch_ = epoch;
    pending_end_ = uint64_t(folded);
  }
  AETHER_ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(path));
  if (size <= pending_end_) return &pending_;
  AETHER_ASSIGN_OR_RETURN(auto lock, env_->Lock(path, LockMode::kShared, lock_->wait_seconds()));
  std::vector<AccessRecord> records;
  uint64_t skipped = 0;
  AETHER_ASSIGN_OR_RETURN(pending_end_, AccessLog::Read(env_, path, pending_end_, &records, &skipped));
  for (const AccessRecord& r : records)
    for (int64_t row : r.hits) {
      PendingAccess& p = pending_[row];
      ++p.count;
      p.last_ms = std::max(p.last_ms, r.ts_ms);
      PushAccess(&p.history, r.ts_ms);
    }
  return &pending_;
}

void StoreImpl::AddPending(int64_t row_id, uint64_t* count, int64_t* last_ms) {
  AddPendingFrom(PendingOnce(), row_id, count, last_ms);
}

void StoreImpl::AddPendingFrom(const std::unordered_map<int64_t, PendingAccess>* pending, int64_t row_id,
                               uint64_t* count, int64_t* last_ms) {
  if (!pending) return;
  auto it = pending->find(row_id);
  if (it == pending->end()) return;
  *count += it->second.count;
  *last_ms = std::max(*last_ms, it->second.last_ms);
}

AccessHistory StoreImpl::HistoryWithPending(const std::unordered_map<int64_t, PendingAccess>* pending, int64_t row_id,
                                            const std::string& stored) {
  AccessHistory h = DecodeHistory(stored).value_or(AccessHistory());
  if (!pending) return h;
  auto it = pending->find(row_id);
  if (it != pending->end()) {  // as the fold will apply them
    for (int64_t t : it->second.history.times) PushAccess(&h, t);
    h.older = uint32_t(std::min<uint64_t>(UINT32_MAX, uint64_t(h.older) + it->second.history.older));
  }
  return h;
}

AccessPatternInfo StoreImpl::PatternOf(int64_t row_id, const std::string& stored, int64_t created_ms, bool hot,
                                       bool pinned, const PolicyParams& p) {
  const AccessHistory h = HistoryWithPending(PendingOnce(), row_id, stored);
  const int64_t now = env_->NowMs();
  const PatternReading r = ClassifyAccesses(h, now, created_ms);
  AccessPatternInfo info;
  info.pattern = AccessPatternName(r.pattern);
  info.confidence = r.confidence;
  info.period_s = r.period_ms / 1e3;
  info.burst_size = r.burst_size;
  info.half_life_s = r.half_life_ms / 1e3;
  info.rate_per_hour = r.rate_per_hour;
  info.next_expected_ms = r.next_expected_ms;
  info.accesses = uint32_t(h.times.size());
  if (pinned) {
    info.placement = "none";
    info.placement_reason = "pinned";
  } else if (!h.times.empty()) {  // maintain reads no memory without a history
    const PlacementDecision d = DecidePlacement(r, p, now, hot, h.times.back());
    info.placement = PlacementActionName(d.action);
    info.placement_reason = d.reason;
  }
  return info;
}

}  // namespace aether
