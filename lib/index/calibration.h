// Recall calibration of an IVF index (README "rebuild-index and index
// tuning", format-spec/metadata_db.md "index_calibration"): which nprobe a
// search needs for a target recall@k on this store's own data.
//
// A seeded sample of the stored vectors serves as queries, each held out of
// its own ground truth (its exact k nearest among the other vectors, by
// brute force). An exact scan of the probed partitions finds a true
// neighbour exactly when its partition is among the probed ones, so recall
// at every nprobe follows from the rank of each neighbour's partition in the
// query's probe order: the whole curve, nprobe 1..K, from one brute-force
// pass and one probe ordering per query, without running a search.
//
// Deterministic for a given seed (ties broken by index). Thread-safe (no
// shared state); uses `threads` worker threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

struct CalibrationOptions {
  double target = 0.95;  // recall@k to reach, in (0, 1]
  uint32_t k = 10;
  // Queries: as many as budget multiply-adds of brute force allow, within
  // [min_queries, max_queries] (and at most the vectors there are).
  uint32_t min_queries = 200, max_queries = 1000;
  double budget = 1.5e11;
  uint64_t seed = 1;
  int threads = 0;  // 0: one per core
};

struct RecallPoint {
  uint32_t nprobe = 0;
  double recall = 0;     // mean recall@k over the queries
  double std_error = 0;  // its standard error
};

struct Calibration {
  double target = 0;
  uint32_t k = 10;
  uint32_t queries = 0;
  uint32_t nprobe = 0;               // the smallest with recall - std_error >= target
  double recall = 0, std_error = 0;  // at that nprobe
  // Points of the curve: from 1, each next max(n + 1, floor(1.03 n)) (every
  // nprobe up to 67, then steps of at most 3%),
  // the chosen nprobe and K. Ascending by nprobe.
  std::vector<RecallPoint> curve;
  std::vector<size_t> query_rows;  // the rows that served as queries
  double seconds = 0;              // what the measurement took
};

// Calibrates the index given by `centroids` (k_partitions x dim) and the
// partition of every vector (labels[i] for data row i, n x dim), under the
// search's metric and probe order (NearestCentroids).
Calibration Calibrate(const float* data, size_t n, uint32_t dim, Metric metric, const float* centroids,
                      uint32_t k_partitions, const uint32_t* labels, const CalibrationOptions& options);

// The rows Calibrate takes as its queries among n vectors of `dim` (none
// when n < 2: no vector has a neighbour): a seeded partial shuffle, so a
// caller reading the vectors from disk can gather them ahead, on a read it
// makes anyway.
std::vector<size_t> CalibrationQueryRows(size_t n, uint32_t dim, const CalibrationOptions& options);

// The vectors a run at a time, for data not held in memory together:
// fn(first, rows, count) for runs of consecutive rows covering [0, n) in
// order, each but the last a multiple of 512 rows; an error of reading
// them is returned.
using VectorRuns = std::function<Status(const std::function<void(size_t first, const float* rows, size_t count)>&)>;
// The vectors of the given rows, dim each, in the order given.
using VectorGather = std::function<Result<std::vector<float>>(const std::vector<size_t>& rows)>;

// Calibrate over vectors read through `runs` (once) and `gather` (once, for
// the queries): the same calibration as over the vectors in memory.
Result<Calibration> Calibrate(const VectorRuns& runs, const VectorGather& gather, size_t n, uint32_t dim, Metric metric,
                              const float* centroids, uint32_t k_partitions, const uint32_t* labels,
                              const CalibrationOptions& options);

// The smallest nprobe of the curve whose recall - std_error reaches `target`;
// the last point's when none does (0 for an empty curve).
uint32_t NprobeFor(const std::vector<RecallPoint>& curve, double target);

// The curve as stored: "nprobe,recall,std_error" triples separated by single
// spaces, recall and std_error with 6 decimals; and back (kCorruption on text
// that is not such a list, ascending by nprobe).
std::string EncodeCurve(const std::vector<RecallPoint>& curve);
Result<std::vector<RecallPoint>> DecodeCurve(const std::string& text);

}  // namespace aether
