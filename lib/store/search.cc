// Search: plans the scan (which shards, for which queries), answers the
// scan engine's liveness questions from the metadata DB, and turns the
// engine's row ids into hits (ids, tiers, payloads, explanations). The scan
// itself is lib/search/scan_engine.h. One read transaction for the whole
// search: one snapshot for every lookup, one lock round trip.
//
// The files may hold records that are not live (freed slots, garbage frames),
// so a candidate is checked against the metadata DB only when it would enter
// a query's top k (or, from a quantized frame, when it is re-ranked): a
// handful of point lookups per query, never a full scan; a large batch reads
// the hot tier's live slots at once instead.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "policy/eviction.h"
#include "search/scan_engine.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// Caches "is this row live at exactly this place?" answers for one search.
class LiveChecker {
 public:
  explicit LiveChecker(MemoriesTable* memories) : memories_(memories) {}

  Result<bool> IsLiveAt(int64_t row_id, const Place& place) {
    AETHER_ASSIGN_OR_RETURN(const MemoryRef* m, Lookup(row_id));
    return m != nullptr && m->place == place;
  }

  Result<const MemoryRef*> Lookup(int64_t row_id) {
    auto it = cache_.find(row_id);
    if (it != cache_.end()) return it->second ? &*it->second : nullptr;
    AETHER_ASSIGN_OR_RETURN(std::optional<MemoryRef> m, memories_->FindRow(row_id));
    auto& entry = cache_[row_id];
    entry = std::move(m);
    return entry ? &*entry : nullptr;
  }

 private:
  MemoriesTable* memories_;
  std::unordered_map<int64_t, std::optional<MemoryRef>> cache_;
};

// The store's answers to the engine's questions, for one search; one SQLite
// connection, so the lookups are serialized.
class StoreLiveness : public Liveness {
 public:
  explicit StoreLiveness(StoreContext* store) : store_(store), checker_(&store->tables_->memories) {}

  // A large batch checks hot liveness against the whole hot tier read at
  // once (one index scan, no lock in the workers).
  Status LoadHotTier(uint64_t slots) {
    hot_live_.assign(slots, 0);
    AETHER_ASSIGN_OR_RETURN(auto live, store_->tables_->memories.HotSlots());
    for (const auto& [slot, row_id] : live)
      if (slot >= 0 && uint64_t(slot) < slots) hot_live_[size_t(slot)] = row_id;
    return Status::Ok();
  }
  Result<bool> HotLive(uint64_t slot, int64_t row_id) override {
    if (!hot_live_.empty()) return slot < hot_live_.size() && hot_live_[slot] == row_id;
    std::lock_guard<std::mutex> l(mu_);
    return checker_.IsLiveAt(row_id, Place::Hot(int64_t(slot)));
  }
  Result<bool> FreeSlot(uint64_t slot) override {
    std::lock_guard<std::mutex> l(mu_);
    return store_->IsFreeSlot(slot);
  }
  Result<bool> ColdLive(int64_t row_id, const Place& place) override {
    std::lock_guard<std::mutex> l(mu_);
    return checker_.IsLiveAt(row_id, place);
  }
  Result<const MemoryRef*> Lookup(int64_t row_id) { return checker_.Lookup(row_id); }

 private:
  StoreContext* store_;
  std::mutex mu_;
  LiveChecker checker_;
  std::vector<int64_t> hot_live_;  // slot -> the row id live there (0: none); empty: ask per row
};

}  // namespace

Result<std::vector<std::vector<SearchHit>>> StoreImpl::Search(const std::vector<std::vector<float>>& queries,
                                                              const SearchOptions& options) {
  for (const auto& q : queries)
    if (q.size() != config_.dim)
      return Status::InvalidArgument(fmt::format("query has {} values, store dimension is {}", q.size(), config_.dim));
  Result<RankedHits> ranked = Status::Internal("search did not run");
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    ranked = SearchInSnapshot(queries, options);
    return ranked.status();
  }));
  AETHER_RETURN_IF_ERROR(ranked.status());
  if (options.record_access) AETHER_RETURN_IF_ERROR(RecordAccess(*ranked).WithContext(kRecordingAccessContext));
  std::vector<std::vector<SearchHit>> out(ranked->size());
  for (size_t q = 0; q < out.size(); ++q)
    for (RankedHit& r : (*ranked)[q]) out[q].push_back(std::move(r.hit));
  return out;
}

Result<RankedHits> StoreImpl::SearchInSnapshot(const std::vector<std::vector<float>>& queries,
                                               const SearchOptions& options) {
  const uint32_t candidates = uint32_t(std::min<uint64_t>(
      uint64_t(options.k) * (options.rerank ? options.rerank : SearchOptions::kDefaultRerank), UINT32_MAX));
  ScanContext context(config_.metric, config_.dim, queries, options.k, candidates);
  context.env = env_;
  StoreLiveness live(this);
  ScanRequest request;
  request.context = &context;
  request.live = &live;
  request.threads = options.threads;
  std::unique_ptr<SlotFile> hot;
  if (options.tiers != TierFilter::kCold) {
    AETHER_ASSIGN_OR_RETURN(hot, OpenHot(false));
    AETHER_ASSIGN_OR_RETURN(request.hot_slots, hot->SlotCount());
    // Slots the committed state uses must all be there: a search that
    // cannot read a live memory fails rather than answers without it.
    AETHER_ASSIGN_OR_RETURN(uint64_t committed, HotSlotsInUse());
    if (request.hot_slots < committed)
      return Status::Corruption(fmt::format("{}: holds {} slots, but committed memories use {} (truncated?)",
                                            hot->path(), request.hot_slots, committed));
    constexpr size_t kBatchLiveness = 32;
    if (queries.size() >= kBatchLiveness) AETHER_RETURN_IF_ERROR(live.LoadHotTier(request.hot_slots));
    request.hot = hot.get();
  }
  if (options.tiers != TierFilter::kHot) {
    AETHER_ASSIGN_OR_RETURN(request.shards, PlanShards(queries, options.nprobe));
  }
  AETHER_ASSIGN_OR_RETURN(auto ranked, RunScan(request));
  RankedHits results(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    for (const Candidate& c : ranked[q]) {
      AETHER_ASSIGN_OR_RETURN(const MemoryRef* loc, live.Lookup(c.row_id));
      Tier tier = loc && loc->place.cold() ? Tier::kCold : Tier::kHot;
      results[q].push_back(RankedHit{c.row_id, SearchHit{loc ? loc->id : "", c.distance, tier, "", {}}});
    }
  }
  AETHER_RETURN_IF_ERROR(Decorate(options, &results));
  return results;
}

// Which shards a search reads and for which queries: the staging shard for
// all of them, and each query's nprobe nearest partitions. Each shard is
// read once; shards without a live record not at all.
Result<std::vector<ShardScan>> StoreImpl::PlanShards(const std::vector<std::vector<float>>& queries, uint32_t nprobe) {
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  AETHER_ASSIGN_OR_RETURN(const IndexView* index, index_->Current());
  std::map<int64_t, std::vector<uint32_t>> plan;
  std::vector<uint32_t> all(queries.size());
  for (uint32_t q = 0; q < all.size(); ++q) all[q] = q;
  for (const ShardInfo& info : shards)
    if (info.staging() || !index) plan[info.shard_id] = all;
  if (index) {
    const uint32_t n = nprobe ? std::min(nprobe, index->k) : DefaultNprobe(index->k);
    for (uint32_t q = 0; q < queries.size(); ++q)
      for (uint32_t p : index_->Probe(*index, queries[q].data(), n)) plan[index->shard_of_partition[p]].push_back(q);
  }
  std::vector<ShardScan> out;
  for (const ShardInfo& info : shards) {
    auto it = plan.find(info.shard_id);
    if (it != plan.end() && info.live > 0)
      out.push_back(ShardScan{info.shard_id, Path(info.path), info.file_bytes, std::move(it->second)});
  }
  return out;
}

// Payloads (--with-payload) and score parts (--explain) of the hits.
Status StoreImpl::Decorate(const SearchOptions& options, RankedHits* results) {
  if (!options.with_payload && !options.explain) return Status::Ok();
  EvictionWeights weights;
  const int64_t now = env_->NowMs();
  if (options.explain) {
    AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
    weights = EvictionWeights{p.alpha, p.beta, p.gamma, p.delta};
  }
  for (auto& hits : *results) {
    for (auto& [row_id, hit] : hits) {
      if (options.with_payload) {
        AETHER_ASSIGN_OR_RETURN(auto payload, tables_->memories.Payload(row_id));
        if (payload) hit.payload_json = std::move(*payload);
        if (!hit.payload_json.empty() && !ValidPayload(hit.payload_json)) return PayloadCorruption(hit.id, row_id);
      }
      if (options.explain) {
        AETHER_ASSIGN_OR_RETURN(auto a, AccessStatsOf(row_id));
        if (a)
          hit.explain = {std::max<int64_t>(0, now - a->last_access_ms) / 3.6e6, a->access_count, a->importance,
                         EvictionScore(weights, *a, now)};
      }
    }
  }
  return Status::Ok();
}

Status StoreImpl::RecordAccess(const RankedHits& results) {
  std::vector<int64_t> row_ids;
  std::vector<std::pair<int64_t, double>> restore;
  for (const auto& hits : results)
    for (const RankedHit& r : hits) row_ids.push_back(r.row_id);
  if (row_ids.empty()) return Status::Ok();
  if (!writable_)
    return Status::PermissionDenied(dir_ + ": this user may not write this store (search with record_access off)");
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  const size_t top_n = size_t(p.restore_top_n);
  for (const auto& hits : results)
    for (size_t i = 0; i < hits.size() && i < top_n; ++i)
      if (hits[i].hit.tier == Tier::kCold) restore.emplace_back(hits[i].row_id, 1.0 / double(1 + i));
  // A store opened for reading is a writer for this one transaction only.
  const bool reader = !lock_->writer();
  AETHER_RETURN_IF_ERROR(EnsureExclusive());
  const int64_t now = env_->NowMs();
  Status recorded = InTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(model_->QueueRestores(restore));
    return tables_->memories.Touch(row_ids, now);
  });
  if (!reader) return recorded;
  Status back = BackToReader();
  return recorded.ok() ? back : recorded;
}

}  // namespace aether
