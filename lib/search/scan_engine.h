// The scan engine: one pass over the data for a whole batch of queries.
//
// Shape (RunScan): the work is the hot tier in blocks sized to stay in cache
// while every query passes over them, then each probed cold shard; workers
// take items in turn (ParallelFor), each keeping its own top k per query
// (hot_scan.h, cold_scan.h); their lists are merged; quantized candidates
// are re-ranked with their full-precision rows (rerank.h); the result is
// each query's exact top k as (distance, row id), ascending.
//
// The engine reads files and ranks; it asks the store (Liveness) whether a
// record it scanned is live, and leaves planning (which shards, for which
// queries) and what a hit means (ids, payloads) to the store
// (store/search.cc). Thread-safe to run concurrently with other readers.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "hot/slot_file.h"
#include "search/scan_context.h"

namespace aether {

struct ScanRequest {
  const ScanContext* context = nullptr;
  SlotFile* hot = nullptr;  // nullptr: the hot tier is not scanned
  uint64_t hot_slots = 0;   // slots of `hot` to scan
  std::vector<ShardScan> shards;
  Liveness* live = nullptr;
  size_t threads = 0;  // 0: one per core
  // Past it, no further part (hot block, shard) is started; the queries of
  // each part left out get (*partial)[q] = 1 (SearchOptions::timeout_ms).
  // partial must then be set and hold one entry per query.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::vector<uint8_t>* partial = nullptr;
};

// The hot tier's blocks: [first, end) slot ranges of about 256 KiB.
std::vector<std::pair<uint64_t, uint64_t>> HotBlocks(uint64_t slots, uint32_t dim);

Result<std::vector<std::vector<Candidate>>> RunScan(const ScanRequest& request);

}  // namespace aether
