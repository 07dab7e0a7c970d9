// Scanning gathered rows (part of the scan engine, scan_engine.h): the
// vectors of a filtered search's selected memories, read from wherever they
// live, for some queries of a batch. Exact, and every row given counts as
// live: the caller read each one from its place in the snapshot.
#pragma once

#include <vector>

#include "search/scan_context.h"

namespace aether {

// Offers rows x[0, n) (dim floats each, row ids `row_ids`) to the top k of
// each query in qs (tops is indexed by query). qp: the vectors of qs packed
// row-major, read only when qs holds a tile's worth (ScanContext::tiled).
Status ScanRows(const ScanContext& c, const float* x, const int64_t* row_ids, uint64_t n,
                const std::vector<uint32_t>& qs, const float* qp, std::vector<TopK>* tops, ScanScratch* sc);

}  // namespace aether
