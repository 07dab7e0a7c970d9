// Get, update and delete by external id; list.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "aether/jsonl.h"
#include "env/fault_point.h"
#include "filter/filter.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<std::vector<std::optional<MemoryRecord>>> StoreImpl::Get(const std::vector<std::string>& ids) {
  std::vector<std::optional<MemoryRecord>> out;
  AETHER_ASSIGN_OR_RETURN(const PolicyParams p, model_->Params());
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
    rec.pinned = row->stats.pinned;
    AddPending(row->ref.row_id, &rec.access_count, &rec.last_access_ms);
    rec.pattern = PatternOf(row->ref.row_id, row->access_times, rec.created_ms, tier == Tier::kHot, rec.pinned, p);
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
  std::optional<Filter> where;
  if (!o.where.empty()) {
    AETHER_ASSIGN_OR_RETURN(where, Filter::Parse(o.where));
  }
  const bool read_payload = o.with_payload || (where && where->uses_payload());
  const auto* pending = PendingOnce();  // one view of the access log for the whole listing
  AETHER_RETURN_IF_ERROR(
      tables_->memories.ForEachById(stream && o.descending, read_payload, [&](const Stmt& st) -> Result<bool> {
        MemoryRecord rec;
        const int64_t row_id = st.Int(0);
        rec.id = st.Text(1);
        if (!TierFromCode(st.Int(2), &rec.tier)) return UnknownTierCorruption(rec.id, row_id, st.Int(2));
        rec.importance = st.Double(3);
        rec.created_ms = st.Int(4);
        rec.last_access_ms = st.Int(5);
        rec.access_count = uint64_t(st.Int(6));
        rec.pinned = st.Int(8) != 0;
        AddPendingFrom(pending, row_id, &rec.access_count, &rec.last_access_ms);
        if (!Selected(o, rec)) return true;
        if (!st.IsNull(7)) rec.payload_json = st.Text(7);
        if (!rec.payload_json.empty() && !ValidPayload(rec.payload_json)) return PayloadCorruption(rec.id, row_id);
        if (where && !where->Matches(rec)) return true;
        if (!o.with_payload) rec.payload_json.clear();
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

namespace {

// Parses an item's payload or patch (CheckUpdateItem has checked it) or a
// stored payload (as ValidPayload judges one); nullopt when it does not parse.
std::optional<nlohmann::json> ParseUpdateJson(const std::string& text) {
  if (!CheckJsonDepth(text).ok()) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

Status CheckUpdateItem(const UpdateItem& u) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(fmt::format("update of '{}': {}", u.id, why));
  };
  if (u.payload_json && u.merge_patch_json) return bad("give a payload or a merge patch, not both");
  if (!u.payload_json && !u.merge_patch_json && !u.importance) return bad("nothing to change");
  if (u.importance && !(*u.importance >= 0 && *u.importance <= 1))
    return bad(fmt::format("importance {} is outside [0, 1]", *u.importance));
  for (const auto* text : {&u.payload_json, &u.merge_patch_json})
    if (*text)
      if (Status s = CheckJsonValue(**text, kMaxJsonDepth - 1); !s.ok())
        return bad(fmt::format("the {}: {}", text == &u.payload_json ? "payload" : "merge patch", s.message()));
  return Status::Ok();
}

}  // namespace

Result<UpdateReport> StoreImpl::Update(const std::vector<UpdateItem>& items, bool dry_run, const ProgressFn& progress) {
  if (!dry_run && !lock_->writer()) return Status::Internal("update on a store opened read-only");
  for (const UpdateItem& u : items) AETHER_RETURN_IF_ERROR(CheckUpdateItem(u));
  UpdateReport rep;
  const int64_t now = env_->NowMs();
  // A memory's payload and importance; a dry run keeps what its earlier
  // items made of each memory here, as it writes nothing.
  struct State {
    std::optional<std::string> payload;
    double importance = 0;
  };
  std::map<int64_t, State> dry;
  // A dry run's transaction only reads: it neither takes nor waits for
  // SQLite's write lock.
  auto apply = [&]() -> Status {
    rep = UpdateReport();
    dry.clear();
    uint64_t done = 0;
    for (const UpdateItem& u : items) {
      if (progress && (++done % 1024 == 0 || done == items.size())) progress(done, items.size());
      AETHER_ASSIGN_OR_RETURN(auto m, tables_->memories.Find(u.id));
      if (!m) {
        rep.not_found.push_back(u.id);
        continue;
      }
      State before;
      if (auto it = dry.find(m->row_id); it != dry.end()) {
        before = it->second;
      } else {
        AETHER_ASSIGN_OR_RETURN(before.payload, tables_->memories.Payload(m->row_id));
        AETHER_ASSIGN_OR_RETURN(auto stats, tables_->memories.Stats(m->row_id));
        if (!stats) return Status::Internal("memory vanished during update");
        before.importance = stats->importance;
      }
      State after = before;
      nlohmann::json detail = nlohmann::json::object();
      if (u.payload_json || u.merge_patch_json) {
        nlohmann::json value;  // the new payload; null: none
        if (u.payload_json) {
          value = *ParseUpdateJson(*u.payload_json);
        } else {
          if (before.payload) {
            auto target = ParseUpdateJson(*before.payload);
            if (!target) return PayloadCorruption(u.id, m->row_id);
            value = std::move(*target);
          }
          value.merge_patch(*ParseUpdateJson(*u.merge_patch_json));
        }
        after.payload.reset();
        if (!value.is_null()) after.payload = value.dump();
        // A merge cannot nest deeper than its target or its patch; checked
        // regardless, as every stored payload must pass.
        if (after.payload && !ValidPayload(*after.payload))
          return Status::InvalidArgument(fmt::format("update of '{}': the payload would nest too deep", u.id));
        auto bytes = [](const std::optional<std::string>& p) { return p ? nlohmann::json(p->size()) : nullptr; };
        detail["payload"] = {{"op", u.payload_json ? "replace" : "merge"},
                             {"from_bytes", bytes(before.payload)},
                             {"to_bytes", bytes(after.payload)}};
      } else if (dry_run && before.payload && !ValidPayload(*before.payload)) {
        return PayloadCorruption(u.id, m->row_id);  // it is shown
      }
      if (u.importance) {
        after.importance = *u.importance + 0.0;  // -0.0 is stored (and logged) as 0
        detail["importance"] = {{"from", before.importance}, {"to", after.importance}};
      }
      ++rep.updated;
      if (dry_run) {
        MemoryRecord shown;
        shown.id = u.id;
        shown.importance = after.importance;
        if (after.payload) shown.payload_json = *after.payload;
        rep.after.push_back(std::move(shown));
        dry[m->row_id] = std::move(after);
        continue;
      }
      if (detail.contains("payload")) AETHER_RETURN_IF_ERROR(tables_->memories.SetPayload(m->row_id, after.payload));
      if (u.importance) AETHER_RETURN_IF_ERROR(tables_->memories.SetImportance(m->row_id, after.importance));
      AETHER_RETURN_IF_ERROR(tables_->audit_log.Append(now, "update", u.id, detail.dump(), trace_id_));
    }
    if (!dry_run) AETHER_FAULT_POINT("update.before_commit");
    return Status::Ok();
  };
  AETHER_RETURN_IF_ERROR(dry_run ? InReadTransaction(db_.get(), apply) : InTransaction(db_.get(), apply));
  if (!dry_run) AETHER_FAULT_POINT("update.after_commit");
  return rep;
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
        AETHER_RETURN_IF_ERROR(tables_->audit_log.Append(now, "delete", std::nullopt,
                                                         "{\"tier\":\"" + tier + "\",\"purged\":true}", trace_id_));
      } else {
        AETHER_RETURN_IF_ERROR(tables_->audit_log.Append(now, "delete", id, "{\"tier\":\"" + tier + "\"}", trace_id_));
      }
    }
    // A purged memory's entries may have been the last to name a trace id.
    if (purge && missing.size() < ids.size()) AETHER_RETURN_IF_ERROR(tables_->audit_log.DropUnnamedTraces());
    AETHER_FAULT_POINT("delete.before_commit");
    return Status::Ok();
  }));
  AETHER_FAULT_POINT("delete.after_commit");
  return missing;
}

}  // namespace aether
