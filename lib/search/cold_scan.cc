#include "search/cold_scan.h"

#include <cstdint>

#include "cold/shard_file.h"
#include "search/tiled_scan.h"

namespace aether {
namespace {

// One decoded frame against the shard's queries.
class FrameScan {
 public:
  FrameScan(const ScanContext& c, const ShardScan& shard, Liveness* live, const ColdScanState& st, uint64_t offset,
            const DecodedFrame& f)
      : c_(c), shard_(shard), live_(live), st_(st), sc_(*st.scratch), offset_(offset), f_(f) {
    sc_.checked.assign(f.count, 0);
    sc_.placed.assign(f.count, -1);
  }

  Status Run() {
    auto bound = [&](uint32_t q) { return f_.approximate ? (*st_.approx)[q].Bound() : (*st_.exact)[q].Bound(); };
    auto visit = [&](uint32_t q, uint64_t i) -> Status {
      if (sc_.checked[i] == 2) return Status::Ok();
      return Offer(q, uint32_t(i), c_.Exact(q, f_.vector(uint32_t(i))));
    };
    if (shard_.queries.size() >= ScanContext::kTile)
      return ScanTiled(c_, f_.data(), f_.count, c_.dim, shard_.queries.data(), shard_.queries.size(),
                       sc_.qpacked.data(), sc_, f_.approximate ? c_.candidates : c_.k, bound,
                       [&](uint32_t q, uint32_t i, float d) { return Offer(q, i, d); });
    for (uint32_t q : shard_.queries)
      AETHER_RETURN_IF_ERROR(ScanOne(c_, f_.data(), f_.count, c_.dim, q, sc_, bound, visit));
    return Status::Ok();
  }

 private:
  // Offers row i at distance d to query q.
  Status Offer(uint32_t q, uint32_t i, float d) {
    if (f_.approximate) {
      TopK& top = (*st_.approx)[q];
      if (!top.Admits(Candidate{d, sc_.placed[i] >= 0 ? sc_.placed[i] : INT64_MAX})) return Status::Ok();
      if (sc_.placed[i] < 0) {
        if (!live_->MayMatch(f_.row_ids[i])) {
          sc_.checked[i] = 2;  // no query wants it
          return Status::Ok();
        }
        sc_.placed[i] =
            st_.places->Add(st_.worker, FramePlace{f_.row_ids[i], Place::Cold(shard_.shard_id, int64_t(offset_), i)});
      }
      top.Push(Candidate{d, sc_.placed[i]});
      return Status::Ok();
    }
    TopK& top = (*st_.exact)[q];
    const Candidate cand{d, f_.row_ids[i]};
    if (!top.Admits(cand)) return Status::Ok();
    if (sc_.checked[i] == 0) {
      AETHER_ASSIGN_OR_RETURN(bool ok,
                              live_->ColdLive(f_.row_ids[i], Place::Cold(shard_.shard_id, int64_t(offset_), i)));
      sc_.checked[i] = ok ? 1 : 2;
    }
    if (sc_.checked[i] == 1) top.Push(cand);
    return Status::Ok();
  }

  const ScanContext& c_;
  const ShardScan& shard_;
  Liveness* live_;
  const ColdScanState& st_;
  ScanScratch& sc_;
  uint64_t offset_;
  const DecodedFrame& f_;
};

}  // namespace

Status ScanColdShard(const ScanContext& c, const ShardScan& shard, Liveness* live, const ColdScanState& st) {
  // The queries' lists are wanted after the shard is read and decoded:
  // their entries now, the heaps they point to once those have arrived.
  // (The exact lists: a quantized shard's frames use the approximate ones.)
  std::vector<TopK>& tops = *st.exact;
  for (uint32_t q : shard.queries) __builtin_prefetch(&tops[q]);
  AETHER_ASSIGN_OR_RETURN(auto file, ShardFile::OpenNamed(c.env, shard.path, c.dim));
  for (uint32_t q : shard.queries) tops[q].PrefetchBound();
  ScanScratch& sc = *st.scratch;
  if (shard.queries.size() >= ScanContext::kTile) {
    sc.qpacked.clear();
    for (uint32_t q : shard.queries)
      sc.qpacked.insert(sc.qpacked.end(), c.prepared[q].vector, c.prepared[q].vector + c.dim);
  }
  return file->Scan(
      shard.file_bytes,
      [&](uint64_t offset, const DecodedFrame& f) { return FrameScan(c, shard, live, st, offset, f).Run(); },
      ShardFile::ScanMode::kSearch, c.read_ahead);
}

}  // namespace aether
