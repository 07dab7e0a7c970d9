// The scan engine's shared vocabulary (lib/search/, README "Library: start
// here"): the query batch every part scans for, what it asks the store about
// liveness, and where a quantized candidate lives. The engine scans files and
// keeps top-k lists; the store decides what is live and what a hit means.
//
// A ScanContext is read-only once built and shared by the workers; Liveness
// implementations must be thread-safe; everything else is per worker.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "aether/env.h"
#include "aether/options.h"
#include "aether/status.h"
#include "meta/place.h"
#include "vecmath/distance.h"
#include "vecmath/kernels.h"

namespace aether {

// The queries of one search, prepared once for every part of the scan.
struct ScanContext {
  ScanContext(Metric metric, uint32_t dim, const std::vector<std::vector<float>>& queries, uint32_t k,
              uint32_t candidates);
  Metric metric;
  uint32_t dim;
  uint32_t k;           // results per query
  uint32_t candidates;  // approximate candidates per query kept for the re-rank
  std::vector<PreparedQuery> prepared;
  std::vector<float> packed;  // the queries row-major (tiled scans, the probe)
  std::vector<float> qnorm2;  // squared float norms
  std::vector<uint32_t> all;  // 0 .. queries - 1
  float rounding;             // relative worst case of a float dot product of dim terms
  float underflow;            // absolute worst case of one, from terms in float's subnormal range
  const simd::Kernels& kernels;
  Env* env = nullptr;  // opens the shard files
  // Bytes a shard's scan reads at once (ShardFile::Scan's read_ahead): for
  // frames a search reads whole (a lossless cold codec), not for quantized
  // frames, of which it reads only the scan section.
  uint64_t read_ahead = 0;
  size_t queries() const { return prepared.size(); }
  // Batches of at least this many queries are scanned in tiles.
  static constexpr size_t kTile = 8;
  bool tiled() const { return queries() >= kTile; }
  float Exact(uint32_t q, const float* x) const { return Distance(metric, prepared[q], x, dim); }
  // Exact(q, xs[r]) into out[r] for r in [0, m), m <= simd::kMaxExactRows.
  void ExactMany(uint32_t q, const float* const* xs, uint32_t m, float* out) const {
    if (metric != Metric::kL2) {
      for (uint32_t r = 0; r < m; ++r) out[r] = Exact(q, xs[r]);
      return;
    }
    double l2[simd::kMaxExactRows];
    kernels.l2_squared_exact_many(prepared[q].vector, xs, m, dim, l2);
    for (uint32_t r = 0; r < m; ++r) out[r] = float(std::sqrt(l2[r]));
  }
};

// What the engine asks the store: is a record it scanned a live memory at
// exactly that place? Thread-safe.
class Liveness {
 public:
  virtual ~Liveness() = default;
  // True when `row_id` is the memory live in hot slot `slot`.
  virtual Result<bool> HotLive(uint64_t slot, int64_t row_id) = 0;
  // True when hot slot `slot` is free (so damage there harms no one).
  virtual Result<bool> FreeSlot(uint64_t slot) = 0;
  // True when `row_id` is the memory live at cold place `place`.
  virtual Result<bool> ColdLive(int64_t row_id, const Place& place) = 0;
  // False when `row_id` cannot be a result wherever it is (a filtered
  // search's unselected rows), asked before a quantized record becomes a
  // re-rank candidate. Cheap, lock-free.
  virtual bool MayMatch(int64_t /*row_id*/) const { return true; }
};

// A record of a quantized frame, kept as a re-rank candidate.
struct FramePlace {
  int64_t row_id;
  Place place;  // cold
};

// Every worker's candidate places, addressed by a tag: the worker in the
// high 16 bits, its place's index below (so workers add without locking,
// and a tag orders like the TopK's tie-break wants a number).
class PlaceTable {
 public:
  explicit PlaceTable(size_t workers) : places_(workers) {}
  int64_t Add(size_t worker, const FramePlace& p) {
    places_[worker].push_back(p);
    return int64_t(worker) << kShift | int64_t(places_[worker].size() - 1);
  }
  const FramePlace& At(int64_t tag) const {
    return places_[size_t(tag >> kShift)][size_t(tag & ((int64_t(1) << kShift) - 1))];
  }
  // True when no quantized frame offered a candidate (nothing to re-rank).
  bool empty() const {
    for (const auto& w : places_)
      if (!w.empty()) return false;
    return true;
  }

 private:
  static constexpr int kShift = 48;
  std::vector<std::vector<FramePlace>> places_;
};

// A worker's reused buffers.
struct ScanScratch {
  std::vector<float> dist, xt, xnorm2, dots, qpacked;
  std::vector<int64_t> rows;
  std::vector<uint32_t> rows_passing;  // a tiled scan's rows within a query's bound
  std::vector<uint32_t> rows_later;    // those of them visited in its second round
  std::vector<float> dist_passing;     // their lower bounds, to select from
  std::vector<char> checked;           // per row: 0 unknown, 1 live, 2 not live
  std::vector<uint8_t> crc_ok;
  std::vector<int64_t> placed;  // per quantized row: its place tag, or -1
  std::vector<uint8_t> block;
};

// A shard to scan: where it is, how long its committed part is, and which
// queries probe it.
struct ShardScan {
  int64_t shard_id = 0;
  std::string path;  // absolute
  uint64_t file_bytes = 0;
  uint64_t records = 0;  // in its committed frames (the plan's cost estimate)
  std::vector<uint32_t> queries;
};

}  // namespace aether
