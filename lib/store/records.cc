// Get and delete by external id.
#include <fmt/format.h>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<std::vector<std::optional<MemoryRecord>>> StoreImpl::Get(const std::vector<std::string>& ids) {
  AETHER_ASSIGN_OR_RETURN(Stmt st,
                          db_->Prepare("SELECT row_id, tier, slot, shard_id, frame_offset, frame_index, importance, "
                                       "created_ms, last_access_ms, access_count, payload FROM memories WHERE id = ?"));
  std::vector<std::optional<MemoryRecord>> out;
  for (const std::string& id : ids) {
    st.Bind(1, id);
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      st.Reset();
      out.emplace_back();
      continue;
    }
    MemoryLocation loc{st.Int(0), id,       st.Int(1), st.IsNull(2) ? -1 : st.Int(2), st.IsNull(3) ? 0 : st.Int(3),
                       st.Int(4), st.Int(5)};
    if (loc.tier != kTierHot && loc.tier != kTierCold) {
      st.Reset();
      return Status::Corruption(fmt::format("{}: memory '{}' (row {}) has unknown tier {} (run aether verify)",
                                            layout::kDbFile, id, loc.row_id, loc.tier));
    }
    MemoryRecord rec;
    rec.row_id = loc.row_id;
    rec.id = id;
    rec.tier = loc.tier == kTierHot ? Tier::kHot : Tier::kCold;
    rec.importance = st.Double(6);
    rec.created_ms = st.Int(7);
    rec.last_access_ms = st.Int(8);
    rec.access_count = static_cast<uint64_t>(st.Int(9));
    if (!st.IsNull(10)) rec.payload_json = st.Text(10);
    st.Reset();
    if (!rec.payload_json.empty() && !ValidPayload(rec.payload_json)) return PayloadCorruption(id, loc.row_id);
    AETHER_RETURN_IF_ERROR(ReadVector(loc, &rec.vector));
    out.emplace_back(std::move(rec));
  }
  return out;
}

Result<std::vector<std::string>> StoreImpl::Delete(const std::vector<std::string>& ids, bool purge) {
  if (access_ != AccessMode::kWrite) return Status::Internal("delete on a store opened read-only");
  std::vector<std::string> missing;
  int64_t now = env_->NowMs();
  // With purge, SQLite zeroes what it frees (the row, its payload, its
  // history) instead of leaving it in free pages.
  if (purge) AETHER_RETURN_IF_ERROR(db_->Exec("PRAGMA secure_delete = ON"));
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    missing.clear();
    AETHER_ASSIGN_OR_RETURN(Stmt audit, db_->Prepare("INSERT INTO audit_log(ts_ms, kind, id, detail) "
                                                     "VALUES(?, 'delete', ?, ?)"));
    AETHER_ASSIGN_OR_RETURN(Stmt forget, db_->Prepare("DELETE FROM audit_log WHERE id = ?"));
    for (const std::string& id : ids) {
      AETHER_ASSIGN_OR_RETURN(auto loc, Locate(id));
      if (!loc) {
        missing.push_back(id);
        continue;
      }
      AETHER_RETURN_IF_ERROR(ReleaseMemory(*loc));
      const std::string tier = loc->tier == kTierHot ? "hot" : "cold";
      if (purge) {  // the tombstone says that something was purged, not what
        forget.Bind(1, id);
        AETHER_RETURN_IF_ERROR(forget.Run());
        audit.Bind(1, now).Bind(3, "{\"tier\":\"" + tier + "\",\"purged\":true}");
      } else {
        audit.Bind(1, now).Bind(2, id).Bind(3, "{\"tier\":\"" + tier + "\"}");
      }
      AETHER_RETURN_IF_ERROR(audit.Run());
    }
    return Status::Ok();
  }));
  return missing;
}

}  // namespace aether
