// pin and unpin (README "pin, unpin"): the memories no policy moves out of
// the hot tier. The mark is memories.pinned (format-spec/metadata_db.md);
// HotByScore, the maintenance sample and descend's selections skip it.
#include <fmt/format.h>

#include <functional>
#include <set>

#include "env/fault_point.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// Each id once, looked up: fn(id, row) for the stored ones, the others
// reported not found.
Status ForEachNamed(MemoriesTable& memories, const std::vector<std::string>& ids, PinReport* report,
                    const std::function<Status(const std::string&, const MemoryRow&)>& fn) {
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) continue;
    AETHER_ASSIGN_OR_RETURN(auto row, memories.Get(id));
    if (!row)
      report->not_found.push_back(id);
    else
      AETHER_RETURN_IF_ERROR(fn(id, *row));
  }
  return Status::Ok();
}

}  // namespace

Result<PinReport> StoreImpl::Pin(const std::vector<std::string>& ids, bool dry_run) {
  if (!lock_->writer()) return Status::Internal("pin on a store opened read-only");
  PinReport report;
  std::vector<int64_t> rows;
  std::vector<std::string> cold;
  std::set<int64_t> keep;  // the hot ones: no eviction for the cold ones takes them
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    return ForEachNamed(tables_->memories, ids, &report, [&](const std::string& id, const MemoryRow& row) {
      const bool hot = row.ref.place.hot();
      if (row.stats.pinned && hot) {
        report.already.push_back(id);
        return Status::Ok();
      }
      // A pinned memory found cold (an older aether moved it) is pinned
      // again: it ascends.
      if (!hot) cold.push_back(id);
      if (hot) keep.insert(row.ref.row_id);
      if (!row.stats.pinned) rows.push_back(row.ref.row_id);
      report.changed.push_back(id);
      return Status::Ok();
    });
  }));
  // At most the hot capacity pinned: every pinned memory must fit.
  AETHER_ASSIGN_OR_RETURN(uint64_t pinned, tables_->memories.CountPinned());
  const uint64_t total = pinned + rows.size();
  if (total > HotCapacity())
    return Status::FailedPrecondition(
        fmt::format("pinning {} more memories would pin {}, more than the hot capacity {}; raise it (aether config "
                    "STORE set {} N) or unpin some (aether unpin)",
                    rows.size(), total, HotCapacity(), HotCapacityKey()));
  if (!cold.empty()) {
    MoveOptions up;
    up.ids = cold;
    up.evict = true;
    up.dry_run = dry_run;
    AETHER_ASSIGN_OR_RETURN(report.ascended, Ascend(up, keep));
  }
  if (dry_run || report.changed.empty()) return report;
  // Killed here: the memories are hot and not yet pinned; pin again marks them.
  AETHER_FAULT_POINT("pin.before_mark");
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    for (size_t i = 0; i < rows.size(); ++i) {
      AETHER_ASSIGN_OR_RETURN(bool changed, tables_->memories.SetPinned(rows[i], true));
      if (!changed) return Status::Internal("pin: a memory changed under the write lock");
    }
    for (const std::string& id : report.changed) AETHER_RETURN_IF_ERROR(Audit("pin", id, "{}"));
    return Status::Ok();
  }));
  return report;
}

Result<PinReport> StoreImpl::Unpin(const std::vector<std::string>& ids, bool dry_run) {
  if (!lock_->writer()) return Status::Internal("unpin on a store opened read-only");
  PinReport report;
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    return ForEachNamed(tables_->memories, ids, &report, [&](const std::string& id, const MemoryRow& row) -> Status {
      if (!row.stats.pinned) {
        report.already.push_back(id);
        return Status::Ok();
      }
      report.changed.push_back(id);
      if (dry_run) return Status::Ok();
      AETHER_ASSIGN_OR_RETURN(bool changed, tables_->memories.SetPinned(row.ref.row_id, false));
      if (!changed) return Status::Internal("unpin: a memory changed under the write lock");
      return Audit("unpin", id, "{}");
    });
  }));
  return report;
}

}  // namespace aether
