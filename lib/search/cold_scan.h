// Scanning one cold shard, frame by frame, for the queries that probe it
// (part of the scan engine, scan_engine.h). A lossless frame's rows are
// offered with their exact distances, each checked for liveness once. A
// quantized frame's (float16, sq8) go with approximate distances to each
// query's candidates for the re-rank (rerank.h), unchecked: a candidate is
// named by its place (PlaceTable), and only places that survive to the
// re-rank are checked, far fewer lookups than checking every admission.
#pragma once

#include <vector>

#include "search/scan_context.h"

namespace aether {

struct ColdScanState {        // one worker's
  std::vector<TopK>* exact;   // per query
  std::vector<TopK>* approx;  // per query: candidates from quantized frames (row_id = place tag)
  PlaceTable* places;
  size_t worker;
  ScanScratch* scratch;
};

Status ScanColdShard(const ScanContext& c, const ShardScan& shard, Liveness* live, const ColdScanState& st);

}  // namespace aether
