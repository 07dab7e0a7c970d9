#include "search/row_scan.h"

#include "search/tiled_scan.h"

namespace aether {

Status ScanRows(const ScanContext& c, const float* x, const int64_t* row_ids, uint64_t n,
                const std::vector<uint32_t>& qs, const float* qp, std::vector<TopK>* tops, ScanScratch* sc) {
  auto offer = [&](uint32_t q, float d, uint64_t i) {
    const Candidate cand{d, row_ids[i]};
    if ((*tops)[q].Admits(cand)) (*tops)[q].Push(cand);
  };
  if (qs.size() >= ScanContext::kTile) {
    sc->checked.assign(n, 0);  // every row a candidate
    return ScanTiled(
        c, x, n, c.dim, qs.data(), qs.size(), qp, *sc, c.k, [&](uint32_t q) { return (*tops)[q].Bound(); },
        [&](uint32_t q, uint32_t i, float d) {
          offer(q, d, i);
          return Status::Ok();
        });
  }
  for (uint32_t q : qs)
    for (uint64_t i = 0; i < n; ++i) offer(q, c.Exact(q, x + i * c.dim), i);
  return Status::Ok();
}

}  // namespace aether
