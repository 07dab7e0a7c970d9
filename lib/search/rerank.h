// The re-rank of quantized candidates (part of the scan engine,
// scan_engine.h): each query's best `candidates` approximations from float16
// and sq8 frames. Their places are gathered once for the whole batch,
// checked for liveness (a dead copy is dropped: deleted, replaced or moved
// since), read frame by frame with one read per run of nearby rows (the
// frames shared between the threads), and their exact distances go into
// each query's top k beside the exact results.
#pragma once

#include <vector>

#include "search/scan_context.h"

namespace aether {

// approx[q]: query q's candidates (row_id = a tag of `places`), best first;
// shards: where each candidate's shard file is. Adds the live ones, with
// exact distances, to tops[q].
Status Rerank(const ScanContext& c, const std::vector<std::vector<Candidate>>& approx, const PlaceTable& places,
              const std::vector<ShardScan>& shards, Liveness* live, size_t threads, std::vector<TopK>* tops);

}  // namespace aether
