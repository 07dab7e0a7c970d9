// Filtered search (search --where, README "Filtered search"): the selection
// (selection.h), read from the metadata in one pass, and the exact scan of
// the selected memories alone. search.cc chooses between that scan and the
// unfiltered one that skips every record the selection does not hold.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "env/parallel.h"
#include "filter/filter.h"
#include "search/row_scan.h"
#include "store/selection.h"
#include "store/store_impl.h"

namespace aether {
namespace {

bool SameFrame(const Place& x, const Place& y) {
  return x.in_shard() && y.in_shard() && x.shard_id == y.shard_id && x.frame_offset == y.frame_offset;
}

}  // namespace

void Selection::Seal() {
  std::sort(rows_.begin(), rows_.end(), [](const MemoryRef& a, const MemoryRef& b) {
    const Place &x = a.place, &y = b.place;
    if (x.hot() != y.hot()) return x.hot();
    if (x.hot()) return x.slot < y.slot;
    return std::tie(x.shard_id, x.frame_offset, x.frame_index) < std::tie(y.shard_id, y.frame_offset, y.frame_index);
  });
  hot_ = size_t(std::find_if(rows_.begin(), rows_.end(), [](const MemoryRef& m) { return !m.place.hot(); }) -
                rows_.begin());
  shards_.clear();
  for (size_t i = hot_; i < rows_.size(); ++i) {
    if (shards_.empty() || shards_.back().first != rows_[i].place.shard_id)
      shards_.emplace_back(rows_[i].place.shard_id, 0);
    ++shards_.back().second;
  }
  dense_.clear();
  sparse_.clear();
  if (rows_.empty()) return;
  int64_t lo = rows_[0].row_id, hi = lo;
  for (const MemoryRef& m : rows_) {
    lo = std::min(lo, m.row_id);
    hi = std::max(hi, m.row_id);
  }
  // hi - lo, computed unsigned: any two int64 row ids (a damaged meta.db
  // may hold the extremes) without overflow.
  const uint64_t last = uint64_t(hi) - uint64_t(lo);
  if (last < 4 * uint64_t(rows_.size()) + (1u << 16)) {
    base_ = lo;
    dense_.assign(last + 1, 0);
    for (size_t i = 0; i < rows_.size(); ++i) dense_[uint64_t(rows_[i].row_id) - uint64_t(lo)] = uint32_t(i + 1);
  } else {
    for (size_t i = 0; i < rows_.size(); ++i) sparse_[rows_[i].row_id] = i;
  }
}

Result<Selection> StoreImpl::Select(const std::string& where_text, TierFilter tiers) {
  std::optional<Filter> where;  // none: every memory of `tiers`
  if (!where_text.empty()) {
    AETHER_ASSIGN_OR_RETURN(where, Filter::Parse(where_text));
  }
  const auto* pending = PendingOnce();  // one view of the access log, as list has
  Selection sel;
  // Live records per cold frame, for the read cost of the frames the
  // selection touches.
  struct FrameKey {
    int64_t shard_id, offset;
    bool operator==(const FrameKey& o) const { return shard_id == o.shard_id && offset == o.offset; }
  };
  struct FrameHash {
    size_t operator()(const FrameKey& k) const { return std::hash<int64_t>()(k.shard_id * 1000003 ^ k.offset); }
  };
  std::unordered_map<FrameKey, uint64_t, FrameHash> frame_records;
  Status bad;
  AETHER_RETURN_IF_ERROR(tables_->memories.ForEach(
      where && where->uses_payload(), [&](const MemoryRef& ref, const MemoryStats& stats, std::string&& payload) {
        if (!ref.place.hot() && !ref.place.in_shard()) {
          bad = UnknownTierCorruption(ref.id, ref.row_id, int64_t(ref.place.tier));
          return false;
        }
        if ((tiers == TierFilter::kHot && !ref.place.hot()) || (tiers == TierFilter::kCold && !ref.place.cold()) ||
            (tiers == TierFilter::kWarm && !ref.place.warm()) || (tiers == TierFilter::kShards && ref.place.hot()))
          return true;
        if (ref.place.in_shard()) ++frame_records[FrameKey{ref.place.shard_id, ref.place.frame_offset}];
        MemoryRecord rec;
        rec.id = ref.id;
        rec.tier = ref.place.tier;
        rec.importance = stats.importance;
        rec.created_ms = stats.created_ms;
        rec.last_access_ms = stats.last_access_ms;
        rec.access_count = stats.access_count;
        rec.pinned = stats.pinned;
        AddPendingFrom(pending, ref.row_id, &rec.access_count, &rec.last_access_ms);
        rec.payload_json = std::move(payload);
        const std::optional<bool> match = where ? where->MatchesValid(rec) : std::optional<bool>(true);
        if (!match) {
          bad = PayloadCorruption(ref.id, ref.row_id);
          return false;
        }
        if (*match) sel.Add(ref);
        return true;
      }));
  AETHER_RETURN_IF_ERROR(bad);
  sel.Seal();
  const bool lossless = !Quantized(config_.codec);
  const auto& rows = sel.rows();
  sel.read_cost = sel.hot();
  for (size_t i = sel.hot(); i < rows.size(); ++i)
    if (!lossless || rows[i].place.warm())  // one exact row read
      ++sel.read_cost;
    else if (i == sel.hot() || !SameFrame(rows[i - 1].place, rows[i].place))
      sel.read_cost += frame_records[FrameKey{rows[i].place.shard_id, rows[i].place.frame_offset}];
  return sel;
}

Result<std::vector<std::vector<Candidate>>> StoreImpl::ScanSelected(const Selection& sel, const ScanContext& c,
                                                                    const std::vector<uint32_t>& qs, uint32_t threads) {
  std::map<int64_t, std::string> paths;
  {
    AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
    for (const ShardInfo& info : shards) paths[info.shard_id] = Path(info.path);
  }
  const std::vector<MemoryRef>& rows = sel.rows();
  // Chunks of about kChunk rows, cut between frames only: each frame is
  // read once.
  constexpr size_t kChunk = 2048;
  std::vector<std::pair<size_t, size_t>> chunks;
  for (size_t b = 0; b < rows.size();) {
    size_t e = std::min(rows.size(), b + kChunk);
    while (e < rows.size() && SameFrame(rows[e - 1].place, rows[e].place)) ++e;
    chunks.emplace_back(b, e);
    b = e;
  }
  std::vector<float> qp;
  if (qs.size() >= ScanContext::kTile)
    for (uint32_t q : qs) qp.insert(qp.end(), c.prepared[q].vector, c.prepared[q].vector + c.dim);
  struct Worker {
    std::vector<TopK> tops;
    ScanScratch scratch;
    std::unique_ptr<SlotFile> hot;
    // The one shard file open: rows come in shard order, so each is opened
    // about once per chunk and never more than one per worker at a time.
    int64_t shard_id = -1;
    std::unique_ptr<ShardFile> shard;
    std::vector<float> x;
    std::vector<int64_t> ids, slots;
    std::vector<uint32_t> indexes;
  };
  const size_t workers = ThreadsFor(threads, chunks.size());
  std::vector<Worker> ws(workers);
  for (Worker& w : ws) {
    w.tops.assign(c.queries(), TopK(c.k));
    if (sel.hot()) {
      AETHER_ASSIGN_OR_RETURN(w.hot, OpenHot(/*writable=*/false));
    }
  }
  AETHER_RETURN_IF_ERROR(ParallelFor(chunks.size(), workers, [&](size_t chunk, size_t wi) -> Status {
    Worker& w = ws[wi];
    const auto [b, e] = chunks[chunk];
    w.x.resize((e - b) * c.dim);
    w.ids.resize(e - b);
    for (size_t r = b; r < e;) {
      const MemoryRef& first = rows[r];
      size_t s = r + 1;
      for (size_t i = r;
           i < e && (i == r || (first.place.hot() ? rows[i].place.hot() : SameFrame(first.place, rows[i].place))); ++i)
        s = i + 1;
      for (size_t i = r; i < s; ++i) w.ids[i - b] = rows[i].row_id;
      float* out = w.x.data() + (r - b) * c.dim;
      if (first.place.hot()) {
        w.slots.clear();
        for (size_t i = r; i < s; ++i) w.slots.push_back(rows[i].place.slot);
        AETHER_RETURN_IF_ERROR(w.hot->ReadRows(s - r, w.slots.data(), w.ids.data() + (r - b), out));
      } else {
        std::unique_ptr<ShardFile>& file = w.shard;
        if (!file || w.shard_id != first.place.shard_id) {
          file.reset();
          w.shard_id = first.place.shard_id;
          auto path = paths.find(first.place.shard_id);
          if (path == paths.end())
            return Status::Corruption(
                fmt::format("memory '{}' (row {}) is in shard {}, which no shard row names "
                            "(run aether verify)",
                            first.id, first.row_id, first.place.shard_id));
          AETHER_ASSIGN_OR_RETURN(file, ShardFile::OpenNamed(c.env, path->second, c.dim));
        }
        w.indexes.clear();
        for (size_t i = r; i < s; ++i) w.indexes.push_back(uint32_t(rows[i].place.frame_index));
        AETHER_RETURN_IF_ERROR(
            file->ReadRows(uint64_t(first.place.frame_offset), s - r, w.indexes.data(), w.ids.data() + (r - b), out));
      }
      r = s;
    }
    return ScanRows(c, w.x.data(), w.ids.data(), e - b, qs, qp.data(), &w.tops, &w.scratch);
  }));
  std::vector<std::vector<Candidate>> out(c.queries());
  for (uint32_t q : qs) {
    TopK merged(c.k);
    for (Worker& w : ws)
      for (const Candidate& cand : w.tops[q].Take()) merged.Push(cand);
    out[q] = merged.Take();
  }
  return out;
}

}  // namespace aether
