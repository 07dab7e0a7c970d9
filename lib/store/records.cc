// Get and delete by external id.
#include <fmt/format.h>

#include <algorithm>

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
    if (!TierFromCode(row->tier_code, &tier)) return UnknownTierCorruption(id, row->ref.row_id, row->tier_code);
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

namespace {

// Whether a listed memory passes the options' bounds.
bool Selected(const ListOptions& o, const MemoryRecord& r) {
  if (o.tier && r.tier != *o.tier) return false;
  if (o.min_importance && !(r.importance >= *o.min_importance)) return false;
  if (o.max_importance && !(r.importance <= *o.max_importance)) return false;
  if (o.created_since_ms && r.created_ms < *o.created_since_ms) return false;
  if (o.created_until_ms && r.created_ms > *o.created_until_ms) return false;
  if (o.accessed_since_ms && r.last_access_ms < *o.accessed_since_ms) return false;
  if (o.accessed_until_ms && r.last_access_ms > *o.accessed_until_ms) return false;
  return true;
}

// The listing order: the chosen key (descending if asked), then the id.
bool ListedBefore(const ListOptions& o, const MemoryRecord& a, const MemoryRecord& b) {
  auto by = [&](auto x, auto y) {
    if (x != y) return o.descending ? y < x : x < y;
    return a.id < b.id;
  };
  switch (o.order) {
    case ListOptions::Order::kCreated:
      return by(a.created_ms, b.created_ms);
    case ListOptions::Order::kLastAccess:
      return by(a.last_access_ms, b.last_access_ms);
    case ListOptions::Order::kImportance:
      return by(a.importance, b.importance);
    case ListOptions::Order::kAccessCount:
      return by(a.access_count, b.access_count);
    case ListOptions::Order::kId:
      break;
  }
  return o.descending ? b.id < a.id : a.id < b.id;
}

}  // namespace

Status StoreImpl::List(const ListOptions& o, const std::function<Status(const MemoryRecord&)>& fn) {
  const bool stream = o.order == ListOptions::Order::kId;  // the table's own order
  auto before = [&](const MemoryRecord& a, const MemoryRecord& b) { return ListedBefore(o, a, b); };
  std::vector<MemoryRecord> held;
  uint64_t emitted = 0;
  const auto* pending = PendingOnce();  // one view of the access log for the whole listing
  AETHER_RETURN_IF_ERROR(
      tables_->memories.ForEachById(stream && o.descending, o.with_payload, [&](const Stmt& st) -> Result<bool> {
        MemoryRecord rec;
        const int64_t row_id = st.Int(0);
        rec.id = st.Text(1);
        if (!TierFromCode(st.Int(2), &rec.tier)) return UnknownTierCorruption(rec.id, row_id, st.Int(2));
        rec.importance = st.Double(3);
        rec.created_ms = st.Int(4);
        rec.last_access_ms = st.Int(5);
        rec.access_count = uint64_t(st.Int(6));
        AddPendingFrom(pending, row_id, &rec.access_count, &rec.last_access_ms);
        if (!Selected(o, rec)) return true;
        if (!st.IsNull(7)) rec.payload_json = st.Text(7);
        if (!rec.payload_json.empty() && !ValidPayload(rec.payload_json)) return PayloadCorruption(rec.id, row_id);
        if (stream) {
          AETHER_RETURN_IF_ERROR(fn(rec));
          return o.limit == 0 || ++emitted < o.limit;
        }
        held.push_back(std::move(rec));
        if (o.limit && held.size() > 1024 && held.size() - 1024 >= o.limit && held.size() - o.limit >= o.limit) {
          // Keep the best `limit`, amortized: held has grown past 2 x limit
          // (and 1024); written so that no limit overflows.
          std::nth_element(held.begin(), held.begin() + o.limit, held.end(), before);
          held.resize(o.limit);
        }
        return true;
      }));
  if (stream) return Status::Ok();
  std::sort(held.begin(), held.end(), before);
  if (o.limit && held.size() > o.limit) held.resize(o.limit);
  for (const MemoryRecord& rec : held) AETHER_RETURN_IF_ERROR(fn(rec));
  return Status::Ok();
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
