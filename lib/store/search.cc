// Search: an exact scan of the hot slot file (read block by block) and a
// scan of the cold shards, one pass over the data for the whole query batch;
// quantized cold frames (float16, sq8) are scanned approximately and their
// best candidates re-ranked with their full-precision rows.
//
// The files may hold records that are not live (freed slots, garbage frames),
// so a candidate is checked against the metadata DB only when it would enter
// a query's top k (or, from a quantized frame, when it is re-ranked): a
// handful of point lookups per query, never a full scan.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "policy/eviction.h"
#include "search/distance.h"
#include "search/kernels.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// Caches "is this row live at exactly this place?" answers for one search.
class LiveChecker {
 public:
  explicit LiveChecker(Db* db) : db_(db) {}

  Result<bool> IsLiveAt(int64_t row_id, int64_t tier, int64_t slot, int64_t shard_id, int64_t frame_offset,
                        int64_t frame_index) {
    AETHER_ASSIGN_OR_RETURN(const MemoryLocation* loc, Lookup(row_id));
    if (loc == nullptr || loc->tier != tier) return false;
    if (tier == kTierHot) return loc->slot == slot;
    return loc->shard_id == shard_id && loc->frame_offset == frame_offset && loc->frame_index == frame_index;
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
      loc = MemoryLocation{row_id,
                           stmt_->Text(0),
                           stmt_->Int(1),
                           stmt_->IsNull(2) ? -1 : stmt_->Int(2),
                           stmt_->IsNull(3) ? 0 : stmt_->Int(3),
                           stmt_->Int(4),
                           stmt_->Int(5)};
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

}  // namespace

Result<std::vector<std::vector<SearchHit>>> StoreImpl::Search(const std::vector<std::vector<float>>& queries,
                                                              const SearchOptions& options) {
  Result<std::vector<std::vector<SearchHit>>> out = Status::Internal("search did not run");
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    out = SearchSnapshot(queries, options);
    return out.status();
  }));
  return out;
}

Result<std::vector<std::vector<SearchHit>>> StoreImpl::SearchSnapshot(const std::vector<std::vector<float>>& queries,
                                                                      const SearchOptions& options) {
  const uint32_t dim = config_.dim;
  const Metric metric = config_.metric;
  std::vector<PreparedQuery> prepared;
  for (const auto& q : queries) {
    if (q.size() != dim)
      return Status::InvalidArgument(fmt::format("query has {} values, store dimension is {}", q.size(), dim));
    prepared.push_back(Prepare(q.data(), dim));
  }
  std::vector<TopK> tops(queries.size(), TopK(options.k));
  LiveChecker live(db_.get());
  std::mutex live_mu;  // one SQLite connection: liveness checks are serialized

  std::vector<uint32_t> all_queries(queries.size());
  for (uint32_t q = 0; q < all_queries.size(); ++q) all_queries[q] = q;

  // The work: blocks of hot slots (sized to stay in L2 while every query of
  // the batch passes over them) and whole cold shards. Workers take items in
  // turn, each keeps its own top-k per query; they are merged at the end.
  struct Work {
    uint64_t first_slot = 0, end_slot = 0;  // hot block
    const ShardInfo* shard = nullptr;       // or a cold shard
    std::vector<uint32_t> queries;          // cold: the queries that probe it
  };
  std::vector<Work> work;

  std::unique_ptr<SlotFile> hot;
  constexpr size_t kBatchLiveness = 32;
  std::vector<int64_t> hot_live;  // slot -> the row id live there (0: none)
  if (options.tiers != TierFilter::kCold) {
    AETHER_ASSIGN_OR_RETURN(hot, OpenHot(false));
    AETHER_ASSIGN_OR_RETURN(uint64_t slots, hot->SlotCount());
    // Slots the committed state uses must all be there: a search that
    // cannot read a live memory fails rather than answers without it.
    AETHER_ASSIGN_OR_RETURN(uint64_t committed, HotSlotsInUse());
    if (slots < committed)
      return Status::Corruption(
          fmt::format("{}: holds {} slots, but committed memories use {} (truncated?)", hot->path(), slots, committed));
    // A large batch checks liveness against the whole hot tier read at once
    // (one index scan, no lock in the workers); a small one looks up only
    // the rows that would enter a top k.
    if (queries.size() >= kBatchLiveness) {
      hot_live.assign(slots, 0);
      AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT slot, row_id FROM memories WHERE tier = 0"));
      while (true) {
        AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        const int64_t slot = st.Int(0);
        if (slot >= 0 && uint64_t(slot) < slots) hot_live[size_t(slot)] = st.Int(1);
      }
    }
    const uint64_t block = std::max<uint64_t>(64, (256u << 10) / SlotFile::SlotSize(dim));  // ~256 KiB
    for (uint64_t b = 0; b < slots; b += block) work.push_back(Work{b, std::min(slots, b + block), nullptr, {}});
  }

  std::vector<ShardInfo> shards;
  if (options.tiers != TierFilter::kHot) {
    // Which queries scan which shard: the staging shard for all of them, and
    // each query's nprobe nearest partitions. Each shard is read once.
    AETHER_ASSIGN_OR_RETURN(shards, AllShards());
    AETHER_ASSIGN_OR_RETURN(const IndexView* index, CurrentIndex());
    std::map<int64_t, std::vector<uint32_t>> plan;
    for (const ShardInfo& info : shards)
      if (info.generation == 0 || !index) plan[info.shard_id] = all_queries;
    if (index) {
      uint32_t nprobe = options.nprobe ? std::min(options.nprobe, index->k) : DefaultNprobe(index->k);
      for (uint32_t q = 0; q < queries.size(); ++q)
        for (uint32_t p : Probe(*index, queries[q].data(), nprobe)) plan[index->shard_of_partition[p]].push_back(q);
    }
    for (const ShardInfo& info : shards) {
      auto it = plan.find(info.shard_id);
      if (it != plan.end() && info.live > 0) work.push_back(Work{0, 0, &info, std::move(it->second)});
    }
  }

  // A hot block or a cold frame is scanned one of two ways, both exact:
  //  - few queries: per query, one kernel call for the whole block (hot,
  //    L2) or a distance per row;
  //  - a batch (>= kTile queries): in tiles (scan_tiled).
  constexpr size_t kTile = 8;
  const simd::Kernels& kernels = simd::Active();
  const uint64_t slot_size = SlotFile::SlotSize(dim);
  const uint64_t slot_floats = slot_size / sizeof(float);
  const bool tiled = queries.size() >= kTile;
  std::vector<float> packed;  // the queries, row-major, for tiled hot blocks
  std::vector<float> qnorm2(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) qnorm2[q] = prepared[q].norm * prepared[q].norm;
  if (tiled)
    for (const auto& q : queries) packed.insert(packed.end(), q.begin(), q.end());
  const float rounding = float(dim) * 2.4e-7f;  // relative worst case of a float dot product

  struct Scratch {  // one per thread, reused from block to block
    std::vector<float> dist, xt, xnorm2, dots, qpacked;
    std::vector<int64_t> rows;
    std::vector<char> checked;
    std::vector<uint8_t> crc_ok;
    std::vector<int64_t> placed;
    std::vector<uint8_t> block;
  };
  // The batch path, for hot blocks and cold frames alike: n vectors x (rows
  // `stride` floats apart) against the queries qs (their vectors packed
  // row-major in qp). The block is transposed once, then the dot products of
  // kTile queries at a time are taken against it (the block stays in cache
  // for the whole batch). The distance derived from a dot product is a
  // lower bound after subtracting its worst-case rounding error, compared
  // with bound(q) in the metric's own monotone form (squared for L2): first
  // a branch-free (vectorized) pass for the bounds, then visit(q, i) for
  // each row that passes, which computes the exact distance and offers it.
  auto scan_tiled = [&](const float* x, uint64_t n, uint64_t stride, const uint32_t* qs, size_t nqs, const float* qp,
                        Scratch& sc, auto&& bound, auto&& visit) -> Status {
    sc.xt.resize(size_t(dim) * n);
    sc.dist.resize(n);
    sc.xnorm2.resize(n);
    sc.dots.resize(kTile * n);
    for (uint64_t i = 0; i < n; ++i) {
      const float* v = x + i * stride;
      for (uint32_t j = 0; j < dim; ++j) sc.xt[size_t(j) * n + i] = v[j];
      sc.xnorm2[i] = kernels.dot(v, v, dim);
    }
    for (size_t q0 = 0; q0 < nqs; q0 += kTile) {
      const size_t nq = std::min(kTile, nqs - q0);
      DotsTransposed(qp + q0 * dim, nq, dim, sc.xt.data(), uint32_t(n), sc.dots.data());
      for (size_t p = 0; p < nq; ++p) {
        const uint32_t q = qs[q0 + p];
        const float* dots = sc.dots.data() + p * n;
        const float qn2 = qnorm2[q], qn = prepared[q].norm;
        float* lower = sc.dist.data();
        const float keep = 1.0f - 2 * rounding;
        if (metric == Metric::kL2) {
          for (uint64_t i = 0; i < n; ++i) lower[i] = keep * (qn2 + sc.xnorm2[i]) - 2 * dots[i];
        } else if (metric == Metric::kInnerProduct) {
          for (uint64_t i = 0; i < n; ++i) lower[i] = -dots[i] - rounding * (qn2 + sc.xnorm2[i]);
        } else {
          for (uint64_t i = 0; i < n; ++i) {
            // A product of norms, not the root of a product of squares: that
            // overflows float32 for vectors within the accepted range.
            const float denom = qn * std::sqrt(sc.xnorm2[i]);
            // A zero norm gives NaN or inf here; 0 then lets the exact path decide.
            const float v = 1.0f - (dots[i] + rounding * (qn2 + sc.xnorm2[i])) / denom;
            lower[i] = denom > 0 ? v : 0.0f;
          }
        }
        auto as_filter = [&](float d) { return metric == Metric::kL2 ? d * d : d; };
        float limit = as_filter(bound(q));
        for (uint64_t i = 0; i < n; ++i) {
          if (lower[i] > limit) continue;
          AETHER_RETURN_IF_ERROR(visit(q, i));
          limit = as_filter(bound(q));
        }
      }
    }
    return Status::Ok();
  };
  auto scan_hot = [&](std::vector<TopK>& into, const Work& w, Scratch& sc) -> Status {
    const uint64_t n = w.end_slot - w.first_slot;
    // Read, not mapped: a one-shot process would pay a page fault per page
    // of a map, and a block read into a reused buffer stays in cache.
    sc.block.resize(n * slot_size);
    AETHER_RETURN_IF_ERROR(hot->ReadSlots(w.first_slot, n, sc.block.data()));
    const uint8_t* first = sc.block.data();
    sc.checked.assign(n, 0);  // 0 unknown, 1 live, 2 not live
    // Every slot's checksum, whatever its row id says (the row id is what a
    // flipped bit would hide): a damaged slot is fine only if it is free.
    SlotFile::CheckSlots(first, n, dim, &sc.crc_ok);
    for (uint64_t i = 0; i < n; ++i) {
      if (sc.crc_ok[i]) continue;
      const uint64_t s = w.first_slot + i;
      bool is_free = false;
      {
        std::lock_guard<std::mutex> l(live_mu);
        AETHER_ASSIGN_OR_RETURN(is_free, IsFreeSlot(s));
      }
      if (!is_free)
        return Status::Corruption(
            fmt::format("{}: slot {} at offset {}: checksum mismatch", hot->path(), s, SlotFile::SlotOffset(dim, s)));
      sc.checked[i] = 2;
    }
    // Offers row i (exact distance d) to query q, checking liveness once.
    auto offer_row = [&](uint32_t q, uint64_t i, float d) -> Status {
      const uint8_t* p = first + i * slot_size;
      const int64_t row_id = SlotFile::SlotRowId(p);
      Candidate c{d, row_id};
      if (!into[q].Admits(c)) return Status::Ok();
      if (sc.checked[i] == 0) {
        const uint64_t s = w.first_slot + i;
        bool ok;
        if (!hot_live.empty()) {
          ok = hot_live[s] == row_id;
        } else {
          std::lock_guard<std::mutex> l(live_mu);
          AETHER_ASSIGN_OR_RETURN(ok, live.IsLiveAt(row_id, kTierHot, int64_t(s), 0, 0, 0));
        }
        sc.checked[i] = ok ? 1 : 2;
      }
      if (sc.checked[i] == 1) into[q].Push(c);
      return Status::Ok();
    };
    auto exact = [&](uint32_t q, uint64_t i) {
      return Distance(metric, prepared[q], SlotFile::SlotVector(first + i * slot_size), dim);
    };
    if (!tiled) {
      sc.dist.resize(n);
      for (uint32_t q = 0; q < queries.size(); ++q) {
        if (metric == Metric::kL2) {
          // Squared distances for the block in one call; only rows within the
          // query's current bound are looked at further.
          kernels.l2_squared_many(prepared[q].vector, SlotFile::SlotVector(first), n, slot_floats, dim, sc.dist.data());
          // The kernel's squared distances are within their rounding of the
          // exact ones: widen the bound by that much, then offer each row
          // that passes with its exact distance.
          const float widen = 1.0f + 2 * rounding;
          float bound = into[q].Bound();
          float limit = bound * bound * widen;
          for (uint64_t i = 0; i < n; ++i) {
            if (sc.dist[i] > limit || sc.checked[i] == 2) continue;
            AETHER_RETURN_IF_ERROR(offer_row(q, i, exact(q, i)));
            bound = into[q].Bound();
            limit = bound * bound * widen;
          }
          continue;
        }
        for (uint64_t i = 0; i < n; ++i) {
          if (SlotFile::SlotRowId(first + i * slot_size) <= 0 || sc.checked[i] == 2) continue;
          AETHER_RETURN_IF_ERROR(offer_row(q, i, exact(q, i)));
        }
      }
      return Status::Ok();
    }
    sc.rows.resize(n);
    for (uint64_t i = 0; i < n; ++i) sc.rows[i] = SlotFile::SlotRowId(first + i * slot_size);
    return scan_tiled(
        SlotFile::SlotVector(first), n, slot_floats, all_queries.data(), all_queries.size(), packed.data(), sc,
        [&](uint32_t q) { return into[q].Bound(); },
        [&](uint32_t q, uint64_t i) -> Status {
          if (sc.rows[i] <= 0 || sc.checked[i] == 2) return Status::Ok();
          return offer_row(q, i, exact(q, i));
        });
  };
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t n_threads = std::min<size_t>(options.threads ? options.threads : cores, work.size());
  std::vector<std::vector<TopK>> local(n_threads, std::vector<TopK>(queries.size(), TopK(options.k)));
  const uint32_t candidates = uint32_t(std::min<uint64_t>(
      uint64_t(options.k) * (options.rerank ? options.rerank : SearchOptions::kDefaultRerank), UINT32_MAX));
  std::vector<std::vector<TopK>> local_approx(n_threads, std::vector<TopK>(queries.size(), TopK(candidates)));
  struct FramePlace {  // a record in a quantized frame
    int64_t row_id, shard_id, frame_offset;
    uint32_t index;
  };
  std::vector<std::vector<FramePlace>> places(n_threads);

  // A cold shard, frame by frame, for the queries that probe it (in tiles
  // when there are kTile or more). A lossless frame's rows are offered with
  // their exact distances, each checked for liveness once. A quantized
  // frame's (float16, sq8) go with approximate ones to each query's
  // candidates for the re-rank below, unchecked: a candidate there is named
  // by its place (an index into the thread's `places`, tagged with the
  // thread), and only the places that survive to the re-rank are checked
  // for liveness, far fewer lookups than checking every admission.
  auto scan_cold = [&](size_t t, const Work& w, Scratch& sc) -> Status {
    const ShardInfo& info = *w.shard;
    AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, false));
    const bool tile = w.queries.size() >= kTile;
    if (tile) {
      sc.qpacked.clear();
      for (uint32_t q : w.queries) sc.qpacked.insert(sc.qpacked.end(), queries[q].begin(), queries[q].end());
    }
    std::vector<TopK>& exact_tops = local[t];
    std::vector<TopK>& approx_tops = local_approx[t];
    return shard->Scan(
        info.file_bytes,
        [&](uint64_t offset, const DecodedFrame& f) -> Status {
          sc.checked.assign(f.count, 0);  // lossless: 0 unknown, 1 live, 2 not live
          sc.placed.assign(f.count, -1);  // quantized: the row's place tag, once it has one
          // Offers row i at distance d to query q.
          auto offer_row = [&](uint32_t q, uint32_t i, float d) -> Status {
            if (f.approximate) {
              if (!approx_tops[q].Admits(Candidate{d, sc.placed[i] >= 0 ? sc.placed[i] : INT64_MAX}))
                return Status::Ok();
              if (sc.placed[i] < 0) {
                sc.placed[i] = int64_t(t) << 48 | int64_t(places[t].size());
                places[t].push_back(FramePlace{f.row_ids[i], info.shard_id, int64_t(offset), i});
              }
              approx_tops[q].Push(Candidate{d, sc.placed[i]});
              return Status::Ok();
            }
            Candidate c{d, f.row_ids[i]};
            if (!exact_tops[q].Admits(c)) return Status::Ok();
            if (sc.checked[i] == 0) {
              std::lock_guard<std::mutex> l(live_mu);
              AETHER_ASSIGN_OR_RETURN(bool ok,
                                      live.IsLiveAt(f.row_ids[i], kTierCold, -1, info.shard_id, int64_t(offset), i));
              sc.checked[i] = ok ? 1 : 2;
            }
            if (sc.checked[i] == 1) exact_tops[q].Push(c);
            return Status::Ok();
          };
          auto distance = [&](uint32_t q, uint32_t i) { return Distance(metric, prepared[q], f.vector(i), dim); };
          if (tile) {
            return scan_tiled(
                f.vectors.data(), f.count, dim, w.queries.data(), w.queries.size(), sc.qpacked.data(), sc,
                [&](uint32_t q) { return f.approximate ? approx_tops[q].Bound() : exact_tops[q].Bound(); },
                [&](uint32_t q, uint64_t i) -> Status {
                  if (sc.checked[i] == 2) return Status::Ok();
                  return offer_row(q, uint32_t(i), distance(q, uint32_t(i)));
                });
          }
          for (uint32_t i = 0; i < f.count; ++i)
            for (uint32_t q : w.queries) {
              if (sc.checked[i] == 2) break;
              AETHER_RETURN_IF_ERROR(offer_row(q, i, distance(q, i)));
            }
          return Status::Ok();
        },
        ShardFile::ScanMode::kSearch);
  };

  std::vector<Status> errors(n_threads);
  std::atomic<size_t> next{0};
  auto worker = [&](size_t t) {
    Scratch scratch;
    for (size_t i = next++; i < work.size(); i = next++) {
      Status s = work[i].shard ? scan_cold(t, work[i], scratch) : scan_hot(local[t], work[i], scratch);
      if (!s.ok()) {
        errors[t] = s;
        next = work.size();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(worker, t);
  if (n_threads > 0) worker(0);
  for (auto& th : pool) th.join();
  for (const Status& e : errors) AETHER_RETURN_IF_ERROR(e);
  for (auto& tl : local)
    for (size_t q = 0; q < queries.size(); ++q)
      for (const Candidate& c : tl[q].Take()) tops[q].Push(c);

  // The re-rank: each query's best `candidates` approximations from
  // quantized frames. Their places are gathered once for the whole batch,
  // checked for liveness (a dead copy is dropped: deleted, replaced or moved
  // since), read frame by frame with one read per run of nearby rows (the
  // frames shared between the threads), and their exact distances compete
  // with the exact results.
  std::vector<TopK> approx(queries.size(), TopK(candidates));
  for (auto& tl : local_approx)
    for (size_t q = 0; q < queries.size(); ++q)
      for (const Candidate& c : tl[q].Take()) approx[q].Push(c);
  std::vector<std::vector<int64_t>> cand(queries.size());  // per query: place tags
  std::vector<int64_t> uniq;
  for (size_t q = 0; q < queries.size(); ++q)
    for (const Candidate& c : approx[q].Take()) {
      cand[q].push_back(c.row_id);
      uniq.push_back(c.row_id);
    }
  if (!uniq.empty()) {
    auto place = [&](int64_t tag) -> const FramePlace& {
      return places[size_t(tag >> 48)][size_t(tag & ((int64_t(1) << 48) - 1))];
    };
    std::sort(uniq.begin(), uniq.end());
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    std::sort(uniq.begin(), uniq.end(), [&](int64_t a, int64_t b) {
      const FramePlace &x = place(a), &y = place(b);
      return std::tie(x.shard_id, x.frame_offset, x.index) < std::tie(y.shard_id, y.frame_offset, y.index);
    });
    std::unordered_map<int64_t, size_t> pos;  // tag -> index in uniq
    std::vector<char> alive(uniq.size());
    for (size_t i = 0; i < uniq.size(); ++i) {
      pos[uniq[i]] = i;
      const FramePlace& p = place(uniq[i]);
      AETHER_ASSIGN_OR_RETURN(bool ok, live.IsLiveAt(p.row_id, kTierCold, -1, p.shard_id, p.frame_offset, p.index));
      alive[i] = ok;
    }
    // Frames: [begin, end) ranges of uniq with one (shard, frame offset).
    std::vector<std::pair<size_t, size_t>> frames;
    for (size_t i = 0; i < uniq.size();) {
      size_t j = i + 1;
      while (j < uniq.size() && place(uniq[j]).shard_id == place(uniq[i]).shard_id &&
             place(uniq[j]).frame_offset == place(uniq[i]).frame_offset)
        ++j;
      frames.emplace_back(i, j);
      i = j;
    }
    std::vector<float> exact(uniq.size() * dim);
    std::atomic<size_t> next_frame{0};
    auto read_rows = [&](size_t t) {
      std::map<int64_t, std::unique_ptr<ShardFile>> files;
      std::vector<uint32_t> indexes;
      std::vector<int64_t> row_ids;
      std::vector<float> rows;
      auto read_frame = [&](size_t begin, size_t end) -> Status {
        indexes.clear();
        row_ids.clear();
        for (size_t i = begin; i < end; ++i)
          if (alive[i]) {
            indexes.push_back(place(uniq[i]).index);
            row_ids.push_back(place(uniq[i]).row_id);
          }
        if (indexes.empty()) return Status::Ok();
        const FramePlace& p = place(uniq[begin]);
        std::unique_ptr<ShardFile>& file = files[p.shard_id];
        if (!file) {
          auto info =
              std::find_if(shards.begin(), shards.end(), [&](const ShardInfo& s) { return s.shard_id == p.shard_id; });
          if (info == shards.end()) return Status::Internal("re-rank candidate in an unknown shard");
          AETHER_ASSIGN_OR_RETURN(file, OpenShard(*info, false));
        }
        rows.resize(indexes.size() * dim);
        AETHER_RETURN_IF_ERROR(
            file->ReadFullRows(uint64_t(p.frame_offset), indexes.size(), indexes.data(), row_ids.data(), rows.data()));
        for (size_t i = begin, k = 0; i < end; ++i)
          if (alive[i]) std::copy_n(rows.data() + dim * k++, dim, exact.data() + i * dim);
        return Status::Ok();
      };
      for (size_t f = next_frame++; f < frames.size(); f = next_frame++) {
        Status st = read_frame(frames[f].first, frames[f].second);
        if (!st.ok()) {
          errors[t] = st;
          next_frame = frames.size();
          return;
        }
      }
    };
    errors.assign(n_threads, Status::Ok());
    pool.clear();
    for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(read_rows, t);
    read_rows(0);
    for (auto& th : pool) th.join();
    for (const Status& e : errors) AETHER_RETURN_IF_ERROR(e);
    for (size_t q = 0; q < queries.size(); ++q)
      for (int64_t tag : cand[q]) {
        const size_t i = pos[tag];
        if (alive[i])
          tops[q].Push(Candidate{Distance(metric, prepared[q], exact.data() + i * dim, dim), place(tag).row_id});
      }
  }

  std::vector<std::vector<SearchHit>> results(queries.size());
  std::optional<Stmt> payload_stmt;
  if (options.with_payload) {
    AETHER_ASSIGN_OR_RETURN(Stmt p, db_->Prepare("SELECT payload FROM memories WHERE row_id = ?"));
    payload_stmt.emplace(std::move(p));
  }
  // --explain: the score parts of each hit, with the parameters read once.
  EvictionWeights weights;
  const int64_t now = env_->NowMs();
  if (options.explain) {
    AETHER_ASSIGN_OR_RETURN(PolicyParams p, Params());
    weights = EvictionWeights{p.alpha, p.beta, p.gamma, p.delta};
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    for (const Candidate& c : tops[q].Take()) {
      AETHER_ASSIGN_OR_RETURN(const MemoryLocation* loc, live.Lookup(c.row_id));
      Tier tier = loc && loc->tier == kTierCold ? Tier::kCold : Tier::kHot;
      SearchHit hit{c.row_id, loc ? loc->id : "", c.distance, tier, "", {}};
      if (payload_stmt) {
        payload_stmt->Bind(1, c.row_id);
        AETHER_ASSIGN_OR_RETURN(bool row, payload_stmt->Step());
        if (row && !payload_stmt->IsNull(0)) hit.payload_json = payload_stmt->Text(0);
        payload_stmt->Reset();
        if (!hit.payload_json.empty() && !ValidPayload(hit.payload_json)) return PayloadCorruption(hit.id, c.row_id);
      }
      if (options.explain) {
        AETHER_ASSIGN_OR_RETURN(auto a, AccessStatsOf(c.row_id));
        if (a)
          hit.explain = {std::max<int64_t>(0, now - a->last_access_ms) / 3.6e6, a->access_count, a->importance,
                         EvictionScore(weights, *a, now)};
      }
      results[q].push_back(std::move(hit));
    }
  }
  return results;
}

Status StoreImpl::Touch(const std::vector<int64_t>& row_ids, const std::vector<std::pair<int64_t, double>>& restore) {
  if (row_ids.empty() && restore.empty()) return Status::Ok();
  AETHER_RETURN_IF_ERROR(EnsureExclusive());
  AETHER_RETURN_IF_ERROR(QueueRestores(restore));
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
