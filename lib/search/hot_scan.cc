// A hot block is read into a reused buffer (not mapped: a one-shot process
// would pay a page fault per page of a map, and the buffer stays in cache),
// its checksums checked, then scanned one of two ways, both exact:
//  - few queries: one at a time, float distances for the whole block, each
//    row within the bound offered (ScanOne, tiled_scan.h);
//  - a batch (>= kTile queries): in tiles (tiled_scan.h).
#include "search/hot_scan.h"

#include <fmt/format.h>

#include <cmath>

#include "search/tiled_scan.h"

namespace aether {
namespace {

// Marks each damaged slot not live, or fails if it is not free.
Status CheckBlock(const ScanContext& c, SlotFile* hot, uint64_t first, uint64_t n, Liveness* live, ScanScratch* sc) {
  SlotFile::CheckSlots(sc->block.data(), n, c.dim, &sc->crc_ok);
  for (uint64_t i = 0; i < n; ++i) {
    if (sc->crc_ok[i]) continue;
    const uint64_t s = first + i;
    AETHER_ASSIGN_OR_RETURN(bool is_free, live->FreeSlot(s));
    if (!is_free)
      return Status::Corruption(
          fmt::format("{}: slot {} at offset {}: checksum mismatch", hot->path(), s, SlotFile::SlotOffset(c.dim, s)));
    sc->checked[i] = 2;
  }
  return Status::Ok();
}

}  // namespace

Status ScanHotBlock(const ScanContext& c, SlotFile* hot, uint64_t first, uint64_t end, Liveness* live,
                    std::vector<TopK>* tops, ScanScratch* sc) {
  const uint64_t n = end - first;
  const uint64_t slot_size = SlotFile::SlotSize(c.dim);
  sc->block.resize(n * slot_size);
  AETHER_RETURN_IF_ERROR(hot->ReadSlots(first, n, sc->block.data()));
  const uint8_t* base = sc->block.data();
  sc->checked.assign(n, 0);
  AETHER_RETURN_IF_ERROR(CheckBlock(c, hot, first, n, live, sc));
  auto vector = [&](uint64_t i) { return SlotFile::SlotVector(base + i * slot_size); };
  // Offers row i (exact distance d) to query q, checking liveness once.
  auto offer = [&](uint32_t q, uint64_t i, float d) -> Status {
    const int64_t row_id = SlotFile::SlotRowId(base + i * slot_size);
    const Candidate cand{d, row_id};
    if (!(*tops)[q].Admits(cand)) return Status::Ok();
    if (sc->checked[i] == 0) {
      AETHER_ASSIGN_OR_RETURN(bool ok, live->HotLive(first + i, row_id));
      sc->checked[i] = ok ? 1 : 2;
    }
    if (sc->checked[i] == 1) (*tops)[q].Push(cand);
    return Status::Ok();
  };
  auto bound = [&](uint32_t q) { return (*tops)[q].Bound(); };
  auto visit = [&](uint32_t q, uint64_t i) -> Status {
    if (sc->checked[i] == 2) return Status::Ok();
    return offer(q, i, c.Exact(q, vector(i)));
  };
  const uint64_t stride = slot_size / sizeof(float);
  if (c.tiled())
    return ScanTiled(c, vector(0), n, stride, c.all.data(), c.all.size(), c.packed.data(), *sc, c.k, bound, offer);
  for (uint32_t q = 0; q < c.queries(); ++q)
    AETHER_RETURN_IF_ERROR(ScanOne(c, vector(0), n, stride, q, *sc, bound, visit));
  return Status::Ok();
}

}  // namespace aether
