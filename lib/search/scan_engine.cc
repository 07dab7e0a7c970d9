#include "search/scan_engine.h"

#include <algorithm>
#include <limits>
#include <thread>

#include "env/env_vars.h"
#include "env/parallel.h"
#include "search/cold_scan.h"
#include "search/hot_scan.h"
#include "search/rerank.h"

namespace aether {

ScanContext::ScanContext(Metric m, uint32_t d, const std::vector<std::vector<float>>& queries, uint32_t top_k,
                         uint32_t n_candidates)
    : metric(m),
      dim(d),
      k(top_k),
      candidates(n_candidates),
      rounding(float(d) * 2.4e-7f),
      underflow(4.0f * float(d) * std::numeric_limits<float>::denorm_min()),
      kernels(simd::Active()) {
  prepared.reserve(queries.size());
  qnorm2.reserve(queries.size());
  all.reserve(queries.size());
  packed.reserve(queries.size() * dim);
  for (uint32_t q = 0; q < queries.size(); ++q) {
    prepared.push_back(Prepare(queries[q].data(), dim));
    qnorm2.push_back(prepared.back().norm * prepared.back().norm);
    all.push_back(q);
    packed.insert(packed.end(), queries[q].begin(), queries[q].end());
  }
}

std::vector<std::pair<uint64_t, uint64_t>> HotBlocks(uint64_t slots, uint32_t dim) {
  const uint64_t block = std::max<uint64_t>(64, (256u << 10) / SlotFile::SlotSize(dim));
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t b = 0; b < slots; b += block) out.emplace_back(b, std::min(slots, b + block));
  return out;
}

namespace {

// Every worker's lists for query q, merged into one of size k.
std::vector<Candidate> Merge(std::vector<std::vector<TopK>>& lists, size_t q, uint32_t k) {
  TopK merged(k);
  for (auto& worker : lists)
    for (const Candidate& c : worker[q].Take()) merged.Push(c);
  return merged.Take();
}

}  // namespace

Result<std::vector<std::vector<Candidate>>> RunScan(const ScanRequest& r) {
  const ScanContext& c = *r.context;
  const auto blocks = r.hot ? HotBlocks(r.hot_slots, c.dim) : std::vector<std::pair<uint64_t, uint64_t>>();
  const size_t items = blocks.size() + r.shards.size();
  const size_t workers = ThreadsFor(r.threads, items);
  std::vector<std::vector<TopK>> exact(workers, std::vector<TopK>(c.queries(), TopK(c.k)));
  std::vector<std::vector<TopK>> approx(workers, std::vector<TopK>(c.queries(), TopK(c.candidates)));
  std::vector<ScanScratch> scratch(workers);
  PlaceTable places(workers);
  std::vector<uint8_t> skipped(items, 0);  // per part: 1 when the deadline left it out
  const long delay_ms = env_vars::ScanDelayMs();
  AETHER_RETURN_IF_ERROR(ParallelFor(items, workers, [&](size_t i, size_t w) -> Status {
    if (r.deadline && std::chrono::steady_clock::now() >= *r.deadline) {
      skipped[i] = 1;
      return Status::Ok();
    }
    if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));  // a slow read, injected (tests)
    if (i < blocks.size())
      return ScanHotBlock(c, r.hot, blocks[i].first, blocks[i].second, r.live, &exact[w], &scratch[w]);
    return ScanColdShard(c, r.shards[i - blocks.size()], r.live,
                         ColdScanState{&exact[w], &approx[w], &places, w, &scratch[w]});
  }));
  if (r.partial)
    for (size_t i = 0; i < items; ++i) {
      if (!skipped[i]) continue;
      const std::vector<uint32_t>& of = i < blocks.size() ? c.all : r.shards[i - blocks.size()].queries;
      for (uint32_t q : of) (*r.partial)[q] = 1;
    }
  // Each query's lists merged, blocks of queries on every worker; without a
  // quantized frame's candidate (no place was taken) there is nothing to
  // re-rank, and each query's list is taken in order there too.
  const bool rerank = !places.empty();
  std::vector<TopK> tops(c.queries(), TopK(c.k));
  std::vector<std::vector<Candidate>> candidates(c.queries());
  std::vector<std::vector<Candidate>> out(c.queries());
  constexpr size_t kMergeBlock = 512;
  AETHER_RETURN_IF_ERROR(
      ParallelFor((c.queries() + kMergeBlock - 1) / kMergeBlock, workers, [&](size_t b, size_t) -> Status {
        for (size_t q = b * kMergeBlock; q < std::min(c.queries(), (b + 1) * kMergeBlock); ++q) {
          for (auto& worker : exact) tops[q].Absorb(&worker[q]);
          if (rerank)
            candidates[q] = Merge(approx, q, c.candidates);
          else
            out[q] = tops[q].Take();
        }
        return Status::Ok();
      }));
  if (!rerank) return out;
  AETHER_RETURN_IF_ERROR(Rerank(c, candidates, places, r.shards, r.live, workers, &tops));
  for (size_t q = 0; q < c.queries(); ++q) out[q] = tops[q].Take();
  return out;
}

}  // namespace aether
