// Search: an exact scan of the hot slot file (through a read-only map) and a
// scan of the cold shards, one pass over the data for the whole query batch.
//
// The files may hold records that are not live (freed slots, garbage frames),
// so a candidate is checked against the metadata DB only when it would enter
// a query's top k: a handful of point lookups per query, never a full scan.
#include <unordered_map>

#include <fmt/format.h>

#include "meta/schema.h"
#include "search/distance.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// Caches "is this row live at exactly this place?" answers for one search.
class LiveChecker {
 public:
  explicit LiveChecker(Db* db) : db_(db) {}

  Result<bool> IsLiveAt(int64_t row_id, int64_t tier, int64_t slot, int64_t shard_id,
                        int64_t frame_offset, int64_t frame_index) {
    AETHER_ASSIGN_OR_RETURN(const MemoryLocation* loc, Lookup(row_id));
    if (loc == nullptr || loc->tier != tier) return false;
    if (tier == kTierHot) return loc->slot == slot;
    return loc->shard_id == shard_id && loc->frame_offset == frame_offset &&
           loc->frame_index == frame_index;
  }

  Result<const MemoryLocation*> Lookup(int64_t row_id) {
    auto it = cache_.find(row_id);
    if (it != cache_.end()) return it->second ? &*it->second : nullptr;
    if (!stmt_.has_value()) {
      AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT id, tier, slot, shard_id, frame_offset, "
                                                    "frame_index FROM memories WHERE row_id = ?"));
      stmt_.emplace(std::move(st));
    }
    stmt_->Bind(1, row_id);
    AETHER_ASSIGN_OR_RETURN(bool row, stmt_->Step());
    std::optional<MemoryLocation> loc;
    if (row)
      loc = MemoryLocation{row_id, stmt_->Text(0), stmt_->Int(1), stmt_->IsNull(2) ? -1 : stmt_->Int(2),
                           stmt_->IsNull(3) ? 0 : stmt_->Int(3), stmt_->Int(4), stmt_->Int(5)};
    stmt_->Reset();
    auto& slot = cache_[row_id];
    slot = std::move(loc);
    return slot ? &*slot : nullptr;
  }

 private:
  Db* db_;
  std::optional<Stmt> stmt_;
  std::unordered_map<int64_t, std::optional<MemoryLocation>> cache_;
};

struct ScanState {
  Metric metric;
  uint32_t dim;
  std::vector<PreparedQuery> queries;
  std::vector<TopK> tops;
};

}  // namespace

Result<std::vector<std::vector<SearchHit>>> StoreImpl::Search(
    const std::vector<std::vector<float>>& queries, const SearchOptions& options) {
  const uint32_t dim = config_.dim;
  ScanState st{config_.metric, dim, {}, {}};
  for (const auto& q : queries) {
    if (q.size() != dim)
      return Status::InvalidArgument(fmt::format("query has {} values, store dimension is {}", q.size(), dim));
    st.queries.push_back(PreparedQuery{q.data(), Norm(q.data(), dim)});
    st.tops.emplace_back(options.k);
  }
  LiveChecker live(db_.get());

  // Offers row `row_id` with vector x to every query; `check` proves liveness.
  auto offer = [&](int64_t row_id, const float* x, auto&& check) -> Status {
    for (size_t q = 0; q < st.queries.size(); ++q) {
      Candidate c{Distance(st.metric, st.queries[q], x, dim), row_id};
      if (!st.tops[q].Admits(c)) continue;
      AETHER_ASSIGN_OR_RETURN(bool ok, check());
      if (!ok) return Status::Ok();  // not live: no query may use it
      st.tops[q].Push(c);
    }
    return Status::Ok();
  };

  if (options.tiers != TierFilter::kCold) {
    AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(false));
    AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
    AETHER_ASSIGN_OR_RETURN(auto map, env_->MapReadOnly(hot->path(), SlotFile::SlotOffset(dim, slots)));
    for (uint64_t s = 0; s < slots; ++s) {
      const uint8_t* p = map->data() + SlotFile::SlotOffset(dim, s);
      int64_t row_id = SlotFile::SlotRowId(p);
      if (row_id <= 0) continue;
      auto check = [&]() -> Result<bool> {
        AETHER_ASSIGN_OR_RETURN(bool ok, live.IsLiveAt(row_id, kTierHot, int64_t(s), 0, 0, 0));
        if (ok && !SlotFile::CheckSlot(p, dim))
          return Status::Corruption(fmt::format("{}: slot {} at offset {}: checksum mismatch",
                                                hot->path(), s, SlotFile::SlotOffset(dim, s)));
        return ok;
      };
      AETHER_RETURN_IF_ERROR(offer(row_id, SlotFile::SlotVector(p), check));
    }
  }

  if (options.tiers != TierFilter::kHot) {
    AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, AllShards());
    for (const ShardInfo& info : shards) {
      if (info.live == 0) continue;
      AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, false));
      AETHER_RETURN_IF_ERROR(shard->Scan(info.file_bytes, [&](uint64_t offset, const DecodedFrame& f) -> Status {
        for (uint32_t i = 0; i < f.count; ++i) {
          auto check = [&]() {
            return live.IsLiveAt(f.row_ids[i], kTierCold, -1, info.shard_id, int64_t(offset), i);
          };
          AETHER_RETURN_IF_ERROR(offer(f.row_ids[i], f.vector(i), check));
        }
        return Status::Ok();
      }));
    }
  }

  std::vector<std::vector<SearchHit>> results(queries.size());
  std::optional<Stmt> payload_stmt;
  if (options.with_payload) {
    AETHER_ASSIGN_OR_RETURN(Stmt p, db_->Prepare("SELECT payload FROM memories WHERE row_id = ?"));
    payload_stmt.emplace(std::move(p));
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    for (const Candidate& c : st.tops[q].Take()) {
      AETHER_ASSIGN_OR_RETURN(const MemoryLocation* loc, live.Lookup(c.row_id));
      Tier tier = loc && loc->tier == kTierCold ? Tier::kCold : Tier::kHot;
      SearchHit hit{c.row_id, loc ? loc->id : "", c.distance, tier, ""};
      if (payload_stmt) {
        payload_stmt->Bind(1, c.row_id);
        AETHER_ASSIGN_OR_RETURN(bool row, payload_stmt->Step());
        if (row && !payload_stmt->IsNull(0)) hit.payload_json = payload_stmt->Text(0);
        payload_stmt->Reset();
      }
      results[q].push_back(std::move(hit));
    }
  }
  return results;
}

Status StoreImpl::Touch(const std::vector<int64_t>& row_ids) {
  if (row_ids.empty()) return Status::Ok();
  AETHER_RETURN_IF_ERROR(EnsureExclusive());
  int64_t now = env_->NowMs();
  return InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE memories SET last_access_ms = ?, "
                                                  "access_count = access_count + 1 WHERE row_id = ?"));
    for (int64_t r : row_ids) {
      st.Bind(1, now).Bind(2, r);
      AETHER_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  });
}

}  // namespace aether
