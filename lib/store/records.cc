// Get and delete by external id.
#include <fmt/format.h>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<std::vector<std::optional<MemoryRecord>>> StoreImpl::Get(const std::vector<std::string>& ids) {
  std::vector<std::optional<MemoryRecord>> out;
  for (const std::string& id : ids) {
    AETHER_ASSIGN_OR_RETURN(auto row, tables_->memories.Get(id));
    if (!row) {
      out.emplace_back();
      continue;
    }
    Tier tier;
    if (!TierFromCode(row->tier_code, &tier))
      return Status::Corruption(fmt::format("{}: memory '{}' (row {}) has unknown tier {} (run aether verify)",
                                            layout::kDbFile, id, row->ref.row_id, row->tier_code));
    MemoryRecord rec;
    rec.id = id;
    rec.tier = tier;
    rec.importance = row->stats.importance;
    rec.created_ms = row->stats.created_ms;
    rec.last_access_ms = row->stats.last_access_ms;
    rec.access_count = row->stats.access_count;
    AddPending(row->ref.row_id, &rec.access_count, &rec.last_access_ms);
    if (row->payload) rec.payload_json = *row->payload;
    if (!rec.payload_json.empty() && !ValidPayload(rec.payload_json)) return PayloadCorruption(id, row->ref.row_id);
    AETHER_RETURN_IF_ERROR(ReadVector(row->ref, &rec.vector));
    out.emplace_back(std::move(rec));
  }
  return out;
}

Result<std::vector<std::string>> StoreImpl::Delete(const std::vector<std::string>& ids, bool purge) {
  if (!lock_->writer()) return Status::Internal("delete on a store opened read-only");
  std::vector<std::string> missing;
  const int64_t now = env_->NowMs();
  // With purge, SQLite zeroes what it frees (the row, its payload, its
  // history) instead of leaving it in free pages.
  if (purge) AETHER_RETURN_IF_ERROR(db_->Exec("PRAGMA secure_delete = ON"));
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    missing.clear();
    for (const std::string& id : ids) {
      AETHER_ASSIGN_OR_RETURN(auto m, tables_->memories.Find(id));
      if (!m) {
        missing.push_back(id);
        continue;
      }
      AETHER_RETURN_IF_ERROR(ReleaseMemory(*m));
      const std::string tier = TierName(m->place.tier);
      if (purge) {  // the tombstone says that something was purged, not what
        AETHER_RETURN_IF_ERROR(tables_->audit_log.Forget(id));
        AETHER_RETURN_IF_ERROR(
            tables_->audit_log.Append(now, "delete", std::nullopt, "{\"tier\":\"" + tier + "\",\"purged\":true}"));
      } else {
        AETHER_RETURN_IF_ERROR(tables_->audit_log.Append(now, "delete", id, "{\"tier\":\"" + tier + "\"}"));
      }
    }
    return Status::Ok();
  }));
  return missing;
}

}  // namespace aether
