#include "search/row_scan.h"

#include "search/tiled_scan.h"

namespace aether {

Status ScanRows(const ScanContext& c, const float* x, const int64_t* row_ids, uint64_t n,
                const std::vector<uint32_t>& qs, const float* qp, std::vector<TopK>* tops, ScanScratch* sc) {
  auto offer = [&](uint32_t q, uint64_t i) {
    const Candidate cand{c.Exact(q, x + i * c.dim), row_ids[i]};
    if ((*tops)[q].Admits(cand)) (*tops)[q].Push(cand);
  };
  if (qs.size() >= ScanContext::kTile)
    return ScanTiled(
        c, x, n, c.dim, qs.data(), qs.size(), qp, *sc, c.k, [&](uint32_t q) { return (*tops)[q].Bound(); },
        [&](uint32_t q, uint64_t i) {
          offer(q, i);
          return Status::Ok();
        });
  for (uint32_t q : qs)
    for (uint64_t i = 0; i < n; ++i) offer(q, i);
  return Status::Ok();
}

}  // namespace aether
