// Scanning a block of hot slots for every query of a batch (part of the scan
// engine, scan_engine.h). Exact: each row that could enter a query's top k
// gets its exact distance, and its liveness is asked once.
#pragma once

#include <vector>

#include "hot/slot_file.h"
#include "search/scan_context.h"

namespace aether {

// Scans slots [first, end) of `hot` into tops (one per query). Every slot's
// checksum is checked whatever its row id says: a damaged slot is
// Corruption unless it is free. Safe to run on several blocks at once (with
// one scratch per thread).
Status ScanHotBlock(const ScanContext& c, SlotFile* hot, uint64_t first, uint64_t end, Liveness* live,
                    std::vector<TopK>* tops, ScanScratch* sc);

}  // namespace aether
