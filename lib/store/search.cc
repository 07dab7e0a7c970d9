// Search: plans the scan (which shards, for which queries), answers the
// scan engine's liveness questions from the metadata DB, and turns the
// engine's row ids into hits (ids, tiers, payloads, explanations). The scan
// itself is lib/search/scan_engine.h. One read transaction for the whole
// search: one snapshot for every lookup, one lock round trip.
//
// The files may hold records that are not live (freed slots, garbage
// records), and liveness costs what the garbage costs, not the data: the
// free slots are read once (a committed slot not free is live), a shard
// whose counts say it holds no garbage is scanned with no question asked,
// and only a record of a shard with garbage is looked up, when it would
// enter a query's top k (or, from a quantized frame, be re-ranked). The
// hits' ids are read in one walk of the memories table in row order.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "aether/jsonl.h"
#include "env/parallel.h"
#include "index/calibration.h"
#include "meta/schema.h"
#include "policy/eviction.h"
#include "policy/params.h"
#include "search/scan_engine.h"
#include "store/access_log.h"
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
    return m != nullptr && m->place.SameRecord(place);
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

// The store's answers to the engine's questions, for one search, from
// structures sized by the garbage, not by the data: the hot tier's free
// slots and which shards hold garbage are read once; a row of a shard that
// holds garbage is looked up (one SQLite connection, so serialized, and
// cached) only when it would enter a top k.
class StoreLiveness : public Liveness {
 public:
  explicit StoreLiveness(StoreContext* store) : store_(store), checker_(&store->tables_->memories) {}

  // Hot slots [0, end) are committed: each is live unless free.
  Status LoadHotTier(uint64_t end) {
    free_.assign(end, 0);
    AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> free_slots, store_->tables_->hot_free.All());
    for (int64_t slot : free_slots)
      if (slot >= 0 && uint64_t(slot) < end) free_[size_t(slot)] = 1;
    return Status::Ok();
  }
  // Shards whose every record is live (records == live): no question asked.
  void SetClean(std::unordered_set<int64_t> shards) { clean_ = std::move(shards); }
  // A filtered search: a record is live and wanted when the selection, read
  // in this snapshot, places its row exactly there; nothing else is asked.
  void SetSelection(const Selection* selection) { selection_ = selection; }

  Result<bool> HotLive(uint64_t slot, int64_t row_id) override {
    if (selection_) return selection_->HoldsAt(row_id, Place::Hot(int64_t(slot)));
    return slot < free_.size() && !free_[slot];
  }
  Result<bool> FreeSlot(uint64_t slot) override { return slot >= free_.size() || free_[slot]; }
  Result<bool> ColdLive(int64_t row_id, const Place& place) override {
    if (selection_) return selection_->HoldsAt(row_id, place);
    if (clean_.count(place.shard_id)) return true;
    std::lock_guard<std::mutex> l(mu_);
    return checker_.IsLiveAt(row_id, place);
  }
  bool MayMatch(int64_t row_id) const override { return !selection_ || selection_->Find(row_id) != nullptr; }

 private:
  StoreContext* store_;
  std::mutex mu_;
  LiveChecker checker_;
  std::vector<char> free_;             // per committed hot slot: 1 when free
  std::unordered_set<int64_t> clean_;  // shard ids
  const Selection* selection_ = nullptr;
};

// A hit by the row it found: query q's rank-th.
struct HitAt {
  int64_t row_id;
  uint32_t q, rank;
};

// Orders hits by row: counted into place when the rows are dense (a large
// batch's hits cover much of a range of rows), else compared.
void SortByRow(std::vector<HitAt>* hits) {
  std::vector<HitAt>& by_row = *hits;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const HitAt& h : by_row) lo = std::min(lo, h.row_id), hi = std::max(hi, h.row_id);
  if (by_row.size() >= 4096 && uint64_t(hi) - uint64_t(lo) < 4 * uint64_t(by_row.size())) {
    std::vector<uint32_t> at(size_t(hi - lo) + 2, 0);
    for (const HitAt& h : by_row) ++at[size_t(h.row_id - lo) + 1];
    for (size_t i = 1; i < at.size(); ++i) at[i] += at[i - 1];
    std::vector<HitAt> sorted(by_row.size());
    for (const HitAt& h : by_row) sorted[at[size_t(h.row_id - lo)]++] = h;
    by_row.swap(sorted);
  } else {
    std::sort(by_row.begin(), by_row.end(), [](const HitAt& a, const HitAt& b) { return a.row_id < b.row_id; });
  }
}

// A store read from a bucket brings the shards a scan will open in first,
// as many at once as the scan has workers and at least kPrefetchAtOnce,
// rather than each as a worker comes to it (not under a deadline, which
// the scan checks between shards).
Status PrefetchShards(Env* env, const ScanRequest& request) {
  constexpr size_t kPrefetchAtOnce = 4;
  if (request.deadline || request.shards.empty()) return Status::Ok();
  std::vector<std::string> paths;
  for (const ShardScan& s : request.shards) paths.push_back(s.path);
  return env->Prefetch(paths, std::max(kPrefetchAtOnce, ThreadsFor(request.threads, paths.size())));
}

// Each hit's id and tier: from the selection, or read in one walk of the
// table in row order, once per row however many queries found it, into one
// buffer (sequential writes); then the hits are filled query by query on
// every worker, each from its row's entry there (no search per hit, no
// write of a hit out of order).
Status PlaceHits(const std::vector<std::vector<Candidate>>& ranked, const Selection* selection, MemoriesTable* memories,
                 size_t threads, RankedHits* results) {
  // A hit was taken as live from the free slots or its shard's counts; the
  // metadata must agree (verify names the damage).
  auto unknown = [](int64_t row_id) {
    return Status::Corruption(fmt::format(
        "row {} was found in a place the metadata counts as live, but no memory has it (run aether verify)", row_id));
  };
  std::vector<size_t> first_of(ranked.size() + 1, 0);  // query q's hits are [first_of[q], first_of[q + 1])
  for (size_t q = 0; q < ranked.size(); ++q) first_of[q + 1] = first_of[q] + ranked[q].size();
  // Per distinct row: its id's [begin, end) in `text` and its tier; per
  // hit (in query, rank order): its row's index among them.
  std::string text;
  std::vector<std::pair<size_t, size_t>> row_span;
  std::vector<Tier> row_tier;
  std::vector<uint32_t> unique_of(first_of.back());
  auto add_row = [&](std::string_view id, Tier tier) {
    row_span.emplace_back(text.size(), text.size() + id.size());
    text.append(id.data(), id.size());
    row_tier.push_back(tier);
  };
  if (selection) {
    for (size_t q = 0; q < ranked.size(); ++q)
      for (size_t r = 0; r < ranked[q].size(); ++r) {
        const MemoryRef* loc = selection->Find(ranked[q][r].row_id);
        if (!loc) return unknown(ranked[q][r].row_id);
        unique_of[first_of[q] + r] = uint32_t(row_span.size());
        add_row(loc->id, loc->place.tier);
      }
  } else {
    std::vector<HitAt> by_row;
    by_row.reserve(first_of.back());
    for (size_t q = 0; q < ranked.size(); ++q)
      for (size_t r = 0; r < ranked[q].size(); ++r)
        by_row.push_back(HitAt{ranked[q][r].row_id, uint32_t(q), uint32_t(r)});
    SortByRow(&by_row);
    std::vector<int64_t> rows;
    rows.reserve(by_row.size());
    for (const HitAt& h : by_row) {
      if (rows.empty() || rows.back() != h.row_id) rows.push_back(h.row_id);
      unique_of[first_of[h.q] + h.rank] = uint32_t(rows.size() - 1);
    }
    row_span.reserve(rows.size());
    row_tier.reserve(rows.size());
    AETHER_RETURN_IF_ERROR(memories->FindIds(rows, [&](size_t i, std::string_view id, Tier tier) -> Status {
      if (i != row_span.size()) return unknown(rows[row_span.size()]);
      add_row(id, tier);
      return Status::Ok();
    }));
    if (row_span.size() != rows.size()) return unknown(rows[row_span.size()]);
  }
  constexpr size_t kBlock = 512;  // queries
  const size_t blocks = (ranked.size() + kBlock - 1) / kBlock;
  return ParallelFor(blocks, ThreadsFor(threads, blocks), [&](size_t b, size_t) -> Status {
    for (size_t q = b * kBlock; q < std::min(ranked.size(), (b + 1) * kBlock); ++q) {
      std::vector<SearchHit>& hits = results->hits[q];
      hits.resize(ranked[q].size());
      results->rows[q].resize(ranked[q].size());
      for (size_t r = 0; r < ranked[q].size(); ++r) {
        const uint32_t row = unique_of[first_of[q] + r];
        hits[r].id.assign(text, row_span[row].first, row_span[row].second - row_span[row].first);
        hits[r].distance = ranked[q][r].distance;
        hits[r].tier = row_tier[row];
        results->rows[q][r] = ranked[q][r].row_id;
      }
    }
    return Status::Ok();
  });
}

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
  return std::move(ranked->hits);
}

Result<RankedHits> StoreImpl::SearchInSnapshot(const std::vector<std::vector<float>>& queries,
                                               const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();  // SearchOptions::timeout_ms counts from here
  std::vector<uint8_t> unreported(queries.size(), 0);   // partial, when the caller does not ask
  if (options.partial) options.partial->assign(queries.size(), 0);
  uint32_t timeout_ms = 0;
  if (options.timeout_ms) {
    timeout_ms = *options.timeout_ms;
  } else {
    AETHER_ASSIGN_OR_RETURN(timeout_ms, SearchTimeoutMs());
  }
  const uint32_t candidates = uint32_t(std::min<uint64_t>(
      uint64_t(options.k) * (options.rerank ? options.rerank : SearchOptions::kDefaultRerank), UINT32_MAX));
  ScanContext context(config_.metric, config_.dim, queries, options.k, candidates);
  context.env = env_;
  // A partition of a lossless store in one read (most are smaller), a
  // staging shard in reads of this size.
  constexpr uint64_t kReadAhead = 256u << 10;
  if (!Quantized(config_.codec)) context.read_ahead = kReadAhead;
  StoreLiveness live(this);
  std::optional<Selection> selection;
  // One of the two tiers that share the shards needs a selection, unless
  // the other has no memory.
  bool one_shard_tier = false;
  if (options.tiers == TierFilter::kCold || options.tiers == TierFilter::kWarm) {
    AETHER_ASSIGN_OR_RETURN(uint64_t other,
                            tables_->memories.Count(options.tiers == TierFilter::kCold ? Tier::kWarm : Tier::kCold));
    one_shard_tier = other > 0;
  }
  if (!options.where.empty() || one_shard_tier) {
    AETHER_ASSIGN_OR_RETURN(selection, Select(options.where, options.tiers));
    if (selection->empty()) return RankedHits(queries.size());
    live.SetSelection(&*selection);
  }
  ScanRequest request;
  request.context = &context;
  request.live = &live;
  request.threads = options.threads;
  if (timeout_ms) {
    request.deadline = start + std::chrono::milliseconds(timeout_ms);
    request.partial = options.partial ? options.partial : &unreported;
  }
  std::unique_ptr<SlotFile> hot;
  const bool hot_tier = options.tiers == TierFilter::kAll || options.tiers == TierFilter::kHot;
  if (hot_tier && (!selection || selection->hot() > 0)) {
    AETHER_ASSIGN_OR_RETURN(hot, OpenHot(false));
    AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
    // Slots the committed state uses must all be there: a search that
    // cannot read a live memory fails rather than answers without it. Slots
    // past them (a dead writer's, not yet cut) are no one's.
    AETHER_ASSIGN_OR_RETURN(uint64_t committed, HotSlotsInUse());
    if (slots < committed)
      return Status::Corruption(
          fmt::format("{}: holds {} slots, but committed memories use {} (truncated?)", hot->path(), slots, committed));
    AETHER_RETURN_IF_ERROR(live.LoadHotTier(committed));
    request.hot_slots = committed;
    request.hot = hot.get();
  }
  if (options.tiers != TierFilter::kHot && (!selection || selection->size() > selection->hot())) {
    std::unordered_set<int64_t> clean;
    AETHER_ASSIGN_OR_RETURN(
        request.shards, PlanShards(queries, context.packed.data(), options, selection ? &*selection : nullptr, &clean));
    live.SetClean(std::move(clean));
    if (selection)  // shards without a selected memory hold no result
      request.shards.erase(std::remove_if(request.shards.begin(), request.shards.end(),
                                          [&](const ShardScan& s) { return selection->InShard(s.shard_id) == 0; }),
                           request.shards.end());
  }
  std::vector<std::vector<Candidate>> ranked;
  if (selection) {
    AETHER_ASSIGN_OR_RETURN(ranked, FilteredScan(*selection, request, options));
  } else {
    AETHER_RETURN_IF_ERROR(PrefetchShards(env_, request));
    AETHER_ASSIGN_OR_RETURN(ranked, RunScan(request));
  }
  RankedHits results(queries.size());
  AETHER_RETURN_IF_ERROR(
      PlaceHits(ranked, selection ? &*selection : nullptr, &tables_->memories, options.threads, &results));
  AETHER_RETURN_IF_ERROR(Decorate(options, &results));
  return results;
}

// The store's config search_timeout_ms (0 when absent), rounded up to a
// whole ms (config set takes any number in range); outside the parameter's
// range (a damaged meta.db), kCorruption.
Result<uint32_t> StoreImpl::SearchTimeoutMs() {
  const ParamSpec* spec = FindParam("search_timeout_ms");
  AETHER_ASSIGN_OR_RETURN(double ms, tables_->config.Number(spec->key, spec->default_value));
  if (!(ms >= spec->min && ms <= spec->max))
    return Status::Corruption(
        fmt::format("{}: config search_timeout_ms = {} is outside [{}, {}] "
                    "(aether config STORE set search_timeout_ms MS)",
                    db_->path(), ms, spec->min, spec->max));
  return uint32_t(std::ceil(ms));
}

// A filtered search's two plans (SearchOptions::FilterPlan), costed in
// vectors read plus vectors compared with a query: the scan reads the hot
// slots and the planned shards' records and compares each with every query
// probing it; the exact plan reads the selected vectors (and the whole of
// each lossless frame holding one) and compares each with every query.
Result<std::vector<std::vector<Candidate>>> StoreImpl::FilteredScan(const Selection& selection,
                                                                    const ScanRequest& request,
                                                                    const SearchOptions& options) {
  const ScanContext& c = *request.context;
  SearchOptions::FilterPlan plan = options.filter_plan;
  if (plan == SearchOptions::FilterPlan::kAuto) {
    uint64_t scan_cost = request.hot_slots * (1 + c.queries());
    for (const ShardScan& s : request.shards) scan_cost += s.records * (1 + s.queries.size());
    const uint64_t exact_cost = selection.read_cost + selection.size() * c.queries();
    plan = exact_cost <= scan_cost ? SearchOptions::FilterPlan::kExact : SearchOptions::FilterPlan::kScan;
  }
  if (plan == SearchOptions::FilterPlan::kExact) return ScanSelected(selection, c, c.all, options.threads);
  AETHER_RETURN_IF_ERROR(PrefetchShards(env_, request));
  AETHER_ASSIGN_OR_RETURN(auto ranked, RunScan(request));
  // A query whose probed partitions held fewer than k selected memories
  // (while the store holds more) gets the exact top k of the selection.
  std::vector<uint32_t> short_of_k;
  for (uint32_t q = 0; q < ranked.size(); ++q)
    if (ranked[q].size() < std::min<uint64_t>(c.k, selection.size())) short_of_k.push_back(q);
  if (!short_of_k.empty()) {
    AETHER_ASSIGN_OR_RETURN(auto exact, ScanSelected(selection, c, short_of_k, options.threads));
    for (uint32_t q : short_of_k) {
      ranked[q] = std::move(exact[q]);
      if (request.partial) (*request.partial)[q] = 0;  // exact: whatever the scan left out
    }
  }
  return ranked;
}

// Which shards a search reads and for which queries: the staging shard for
// all of them, and each query's nprobe nearest partitions. Each shard is
// read once; shards without a live record not at all.
Result<uint32_t> StoreImpl::NprobeOf(int64_t generation, uint32_t k, const SearchOptions& options) {
  if (options.nprobe) return std::min(options.nprobe, k);
  AETHER_ASSIGN_OR_RETURN(std::optional<CalibrationRow> cal, tables_->calibration.Get(generation));
  if (options.recall > 0) {
    if (!cal)
      return Status::FailedPrecondition(
          fmt::format("--recall: index generation {} has no recall calibration (run aether rebuild-index; "
                      "--keep-centroids keeps the partitions)",
                      generation));
    AETHER_ASSIGN_OR_RETURN(auto curve, CurveOf(*cal));
    return std::min(NprobeFor(curve, options.recall), k);
  }
  return cal ? std::min(cal->nprobe, k) : DefaultNprobe(k);
}

Result<std::vector<RecallPoint>> StoreImpl::CurveOf(const CalibrationRow& row) {
  auto curve = DecodeCurve(row.curve);
  if (curve.ok() && curve->empty()) curve = Status::Corruption("empty recall curve");
  if (!curve.ok())
    return Status::Corruption(fmt::format("index_calibration of generation {}: {} (run aether rebuild-index)",
                                          row.generation, curve.status().message()));
  return curve;
}

std::string StoreImpl::StagingRowProblem(const std::vector<ShardInfo>& shards) {
  if (std::any_of(shards.begin(), shards.end(), [](const ShardInfo& s) { return s.staging(); })) return "";
  return fmt::format("the shards table has no row for the staging shard ({})", layout::kStagingShard);
}

namespace {

// Without the staging shard's row, the memories staged there would be
// silently missing from every search's results.
Status RequireStagingRow(const std::vector<ShardInfo>& shards, const std::string& db_path) {
  const std::string bad = StoreImpl::StagingRowProblem(shards);
  if (bad.empty()) return Status::Ok();
  return Status::Corruption(fmt::format(
      "{}: {}: the memories staged there would be missing from the results (run aether verify)", db_path, bad));
}

}  // namespace

Result<std::vector<ShardScan>> StoreImpl::PlanShards(const std::vector<std::vector<float>>& queries,
                                                     const float* packed, const SearchOptions& options,
                                                     const Selection* selection, std::unordered_set<int64_t>* clean) {
  if (!selection && queries.size() <= kFewProbeQueries) {
    AETHER_ASSIGN_OR_RETURN(std::optional<IndexHead> head, index_->Head());
    if (head) return PlanFew(queries, *head, options, clean);
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  AETHER_RETURN_IF_ERROR(RequireStagingRow(shards, db_->path()));
  AETHER_ASSIGN_OR_RETURN(const IndexView* index, index_->Current());
  std::map<int64_t, std::vector<uint32_t>> plan;
  std::vector<uint32_t> all(queries.size());
  for (uint32_t q = 0; q < all.size(); ++q) all[q] = q;
  for (const ShardInfo& info : shards)
    if (info.staging() || !index) plan[info.shard_id] = all;
  if (index) {
    // Each partition's shard from this snapshot's rows, not the loaded
    // generation's (a rewrite gives a partition a new shard, and a process
    // that loaded the generation before it would miss the partition).
    std::vector<std::pair<int64_t, int64_t>> partitions;
    for (const ShardInfo& info : shards)
      if (info.generation == index->generation) partitions.emplace_back(info.shard_id, info.partition);
    AETHER_ASSIGN_OR_RETURN(const std::vector<int64_t> shard_of,
                            index_->ShardOfPartition(index->generation, index->k, partitions));
    AETHER_ASSIGN_OR_RETURN(const uint32_t n, NprobeOf(index->generation, index->k, options));
    if (!selection) {
      const std::vector<std::vector<uint32_t>> probes =
          index_->ProbeAll(*index, packed, queries.size(), n, options.threads);
      // Bucketed by partition first: one insertion into the plan per
      // partition, not a search of it per probe (30,000 probes of 1,265
      // partitions in a batch took 2 ms).
      std::vector<std::vector<uint32_t>> by_partition(index->k);
      for (uint32_t q = 0; q < queries.size(); ++q)
        for (uint32_t p : probes[q]) by_partition[p].push_back(q);
      for (uint32_t p = 0; p < index->k; ++p) {
        if (by_partition[p].empty()) continue;
        std::vector<uint32_t>& to = plan[shard_of[p]];
        const size_t before = to.size();  // another partition's in that shard: queries in order, as one list
        to.insert(to.end(), by_partition[p].begin(), by_partition[p].end());
        if (before > 0) std::inplace_merge(to.begin(), to.begin() + ptrdiff_t(before), to.end());
      }
    } else {
      // A filtered search's nearest selected memories lie further out than
      // its nearest memories: each query probes partitions nearest first,
      // skipping those without a selected memory, until the ones probed
      // hold n / s times as many selected memories as a partition holds
      // memories, s the fraction selected, and number at least n (with a
      // selected memory): n / s^2 partitions for a filter
      // that ignores where memories are (the nearest selected memories of a
      // query are about its 1 / s times as many nearest memories, further
      // out, and the partitions holding them grow faster than their number;
      // README "Filtered search").
      std::vector<uint64_t> selected(index->k);
      uint64_t total = 0, indexed = 0;
      for (uint32_t p = 0; p < index->k; ++p) total += selected[p] = selection->InShard(shard_of[p]);
      for (const ShardInfo& info : shards)
        if (info.generation == index->generation && !info.staging()) indexed += info.live;
      if (total > 0) {
        const double s = std::min(1.0, double(total) / double(std::max(indexed, total)));
        const double target = double(n) * double(total) / index->k / (s * s);
        const uint32_t reach = uint32_t(std::min<double>(index->k, std::ceil(4 * n / (s * s))));
        const std::vector<std::vector<uint32_t>> probes =
            index_->ProbeAll(*index, packed, queries.size(), reach, options.threads);
        for (uint32_t q = 0; q < queries.size(); ++q) {
          uint64_t seen = 0, probed = 0;
          for (uint32_t p : probes[q]) {
            if (double(seen) >= target && probed >= n) break;
            if (selected[p] == 0) continue;
            plan[shard_of[p]].push_back(q);
            seen += selected[p];
            ++probed;
          }
        }
      }
    }
  }
  return ScansOf(shards, plan, clean);
}

Result<std::vector<ShardScan>> StoreImpl::PlanFew(const std::vector<std::vector<float>>& queries, const IndexHead& head,
                                                  const SearchOptions& options, std::unordered_set<int64_t>* clean) {
  std::vector<uint32_t> all(queries.size());
  for (uint32_t q = 0; q < all.size(); ++q) all[q] = q;
  std::map<int64_t, std::vector<uint32_t>> plan;
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.InGeneration(0));  // staging
  AETHER_RETURN_IF_ERROR(RequireStagingRow(shards, db_->path()));
  for (const ShardInfo& info : shards) plan[info.shard_id] = all;
  AETHER_ASSIGN_OR_RETURN(const uint32_t n, NprobeOf(head.generation, head.k, options));
  AETHER_ASSIGN_OR_RETURN(auto probes, index_->ProbeFew(head, queries, n));
  // Each probed partition's shard, as PlanShards finds it (from this
  // snapshot, the higher shard id of two): looked up alone through the
  // shards_by_generation index, not every shard row; in a store no writer
  // of this version has opened yet (no index: a lookup would read every
  // row), from one read of every row, checked as the batch path checks it.
  AETHER_ASSIGN_OR_RETURN(const int64_t indexed, db_->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                                               "'index' AND name = 'shards_by_generation'"));
  std::vector<int64_t> shard_of;                    // without the index: every partition's
  std::unordered_map<uint32_t, int64_t> looked_up;  // with it: the probed partitions'
  if (!indexed) {
    AETHER_ASSIGN_OR_RETURN(auto partitions, tables_->shards.Partitions(head.generation));
    AETHER_ASSIGN_OR_RETURN(shard_of, index_->ShardOfPartition(head.generation, head.k, partitions));
  }
  for (uint32_t q = 0; q < queries.size(); ++q)
    for (uint32_t p : probes[q]) {
      int64_t shard_id;
      if (!indexed) {
        shard_id = shard_of[p];
        if (!plan.count(shard_id)) {
          AETHER_ASSIGN_OR_RETURN(ShardInfo info, tables_->shards.Get(shard_id));
          shards.push_back(std::move(info));
        }
      } else if (auto it = looked_up.find(p); it != looked_up.end()) {
        shard_id = it->second;
      } else {
        AETHER_ASSIGN_OR_RETURN(std::optional<ShardInfo> info, tables_->shards.OfPartition(head.generation, p));
        if (!info)
          return Status::Corruption(fmt::format("{}: partition {} of generation {} has no shard (run aether verify)",
                                                db_->path(), p, head.generation));
        shard_id = looked_up[p] = info->shard_id;
        shards.push_back(std::move(*info));
      }
      plan[shard_id].push_back(q);
    }
  std::sort(shards.begin(), shards.end(),
            [](const ShardInfo& a, const ShardInfo& b) { return a.shard_id < b.shard_id; });
  return ScansOf(shards, plan, clean);
}

// The planned shards that hold a live record, in shard id order, with the
// queries that probe each; `clean` gets those whose every record is live.
std::vector<ShardScan> StoreImpl::ScansOf(const std::vector<ShardInfo>& shards,
                                          std::map<int64_t, std::vector<uint32_t>>& plan,
                                          std::unordered_set<int64_t>* clean) {
  std::vector<ShardScan> out;
  for (const ShardInfo& info : shards) {
    auto it = plan.find(info.shard_id);
    if (it == plan.end() || info.live == 0) continue;
    out.push_back(ShardScan{info.shard_id, Path(info.path), info.file_bytes, info.records, std::move(it->second)});
    if (info.records == info.live) clean->insert(info.shard_id);
  }
  return out;
}

// Payloads (--with-payload) and score parts (--explain) of the hits.
Status StoreImpl::Decorate(const SearchOptions& options, RankedHits* results) {
  if (!options.with_payload && !options.explain) return Status::Ok();
  EvictionWeights weights;
  PolicyParams p{};
  const int64_t now = env_->NowMs();
  if (options.explain) {
    AETHER_ASSIGN_OR_RETURN(p, model_->Params());
    weights = EvictionWeights{p.alpha, p.beta, p.gamma, p.delta};
  }
  for (size_t q = 0; q < results->hits.size(); ++q) {
    for (size_t r = 0; r < results->hits[q].size(); ++r) {
      SearchHit& hit = results->hits[q][r];
      const int64_t row_id = results->rows[q][r];
      if (options.with_payload) {
        AETHER_ASSIGN_OR_RETURN(auto payload, tables_->memories.Payload(row_id));
        if (payload) hit.payload_json = std::move(*payload);
        if (!hit.payload_json.empty() && !ValidPayload(hit.payload_json)) return PayloadCorruption(hit.id, row_id);
      }
      if (options.explain) {
        AETHER_ASSIGN_OR_RETURN(auto stats, tables_->memories.Stats(row_id));
        if (stats) {
          AccessStats a = ToAccessStats(*stats);
          AddPending(row_id, &a.access_count, &a.last_access_ms);
          AETHER_ASSIGN_OR_RETURN(std::string times, tables_->memories.AccessTimes(row_id));
          hit.explain = std::make_shared<const SearchHit::Explain>(SearchHit::Explain{
              std::max<int64_t>(0, now - a.last_access_ms) / 3.6e6, a.access_count, a.importance,
              EvictionScore(weights, a, now),
              PatternOf(row_id, times, stats->created_ms, hit.tier == Tier::kHot, stats->pinned, p)});
        }
      }
    }
  }
  return Status::Ok();
}

// A writer applies the accesses at once; any other search appends them to
// the access log (access_log.h), which the next writer folds in: a search
// never takes or waits for the write lock. Appending can only fail on the
// file (a full disk, an I/O error): the accesses are dropped with a notice,
// as a crash would drop them, and the search keeps its results.
Status StoreImpl::RecordAccess(const RankedHits& results) {
  AccessRecord rec;
  rec.ts_ms = env_->NowMs();
  for (const auto& rows : results.rows) rec.hits.insert(rec.hits.end(), rows.begin(), rows.end());
  if (rec.hits.empty()) return Status::Ok();
  if (!writable_) return Status::PermissionDenied(dir_ + ": " + why_not_writable_ + " (search with record_access off)");
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  const size_t top_n = size_t(p.restore_top_n);
  for (size_t q = 0; q < results.hits.size(); ++q)
    for (size_t i = 0; i < results.hits[q].size() && i < top_n; ++i)
      if (results.hits[q][i].tier != Tier::kHot) rec.restores.emplace_back(results.rows[q][i], 1.0 / double(1 + i));
  if (!rec.restores.empty()) CountMetric("aether_restores_total", "outcome=\"queued\"", int64_t(rec.restores.size()));
  if (lock_->exclusive()) return InTransaction(db_.get(), [&] { return ApplyAccesses({rec}); });
  AETHER_ASSIGN_OR_RETURN(int64_t epoch, tables_->config.Integer("access_log_epoch", 0));
  // One record, or a few for a huge batch (a record holds at most 64 MiB).
  std::string bytes;
  constexpr size_t kHitsPerRecord = 1 << 20;
  for (size_t at = 0; at < rec.hits.size(); at += kHitsPerRecord) {
    AccessRecord part;
    part.ts_ms = rec.ts_ms;
    part.hits.assign(rec.hits.begin() + long(at),
                     rec.hits.begin() + long(std::min(rec.hits.size(), at + kHitsPerRecord)));
    if (at == 0) part.restores = rec.restores;
    bytes += AccessLog::Encode(part);
  }
  Result<bool> appended = AccessLog::Append(env_, Path(layout::kAccessLog), uint64_t(epoch), bytes);
  if (!appended.ok())
    Notice("accesses not recorded: " + appended.status().message());
  else if (!*appended)
    Notice(std::string(layout::kAccessLog) +

           " waits for a writer to reset it (missing, not a regular file, or a fold was cut short): accesses not "
           "recorded");
  return Status::Ok();
}

}  // namespace aether
