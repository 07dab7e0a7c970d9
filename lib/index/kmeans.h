// K-Means for the cold index (README "rebuild-index and index tuning", format-spec/index_generation.md): sampled
// initialization, Lloyd iterations on a sample of at most max_points_per_centroid points per centroid, then assignment
// of every vector. Empty clusters are re-seeded by splitting the largest one, so K > distinct points and identical
// vectors are handled without division by zero.
//
// Deterministic for a given seed and thread count. Thread-safe (no shared
// state); uses `threads` worker threads internally.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

struct KMeansOptions {
  uint32_t k = 1;
  uint32_t iterations = 20;
  uint32_t max_points_per_centroid = 256;
  uint64_t seed = 1;
  int threads = 0;  // 0: one per core (ThreadsFor)
  // Cluster the points' directions (cosine): each sampled point divided by
  // its norm (a zero point as it is), as if the whole set had been
  // normalized first, without that copy of it.
  bool directions = false;
};

struct KMeansResult {
  std::vector<float> centroids;  // k * dim
  double objective = 0;          // sum of squared distances on the training sample
  size_t sample_size = 0;
};

KMeansResult TrainKMeans(const float* data, size_t n, uint32_t dim, const KMeansOptions& options);

// TrainKMeans in two steps, for points not held in memory together: the
// rows of the n points its sample takes, in the sample's order (rng seeded
// with options.seed, left as the training goes on from it); then the
// training on those points (m x dim, their vectors in that order).
// TrainKMeans(data, n) is TrainOnSample(those rows of data, SampleRows(n)).
std::vector<size_t> SampleRows(size_t n, const KMeansOptions& options, std::mt19937_64* rng);
KMeansResult TrainOnSample(std::vector<float> sample, size_t m, uint32_t dim, const KMeansOptions& options,
                           std::mt19937_64* rng);

// For each of the n vectors, the index of its nearest centroid (squared L2),
// and optionally that squared distance.
void AssignNearest(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                   uint32_t* labels, float* distances = nullptr);

// AssignNearest of the vectors' directions: the labels AssignNearest gives a
// normalized copy of all n (NormalizeRows), from normalized copies of
// `chunk_rows` at a time (a rebuild's cold set is most of its memory).
void AssignNearestDirections(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                             uint32_t* labels, size_t chunk_rows = 65536);

// Each of the n rows divided by its norm in place; a zero row stays as it is.
void NormalizeRows(float* rows, size_t n, uint32_t dim);

// Centroids prepared for probing: their exact squared norms, and (built on
// the first batch that needs it, once, thread-safe) their 8-bit codes for
// the probe's first pass. The table points at the caller's centroids, which
// must outlive it (moving their std::vector keeps them in place).
struct ProbeTable {
  uint32_t dim = 0, k = 0;
  const float* rows = nullptr;      // k x dim, the caller's
  std::vector<double> exact_norm2;  // the second pass's (dot_exact)
  // Each centroid coded around `center` at a scale of its own, and the
  // first pass's terms (NearestCentroids), each the float of an exact sum.
  struct Codes {
    uint32_t dim4 = 0, n = 0;       // dim and k rounded up to the kernel's multiples
    std::vector<float> center;      // the mean of the first min(k, kProbeChunk) centroids
    std::vector<int8_t> packed;     // the dots_codes kernel's layout
    std::vector<float> unit;        // per centroid: what a code of 1 stands for
    std::vector<int32_t> offset;    // per centroid: its codes' sum times the query codes' zero
    std::vector<float> norm2;       // |c - center|^2 (l2)
    std::vector<float> center_dot;  // center.c (ip, cosine)
    std::vector<float> norm;        // |c| (cosine)
  };
  struct Lazy {
    std::once_flag once;
    Codes codes;
  };
  std::shared_ptr<Lazy> lazy = std::make_shared<Lazy>();
  const Codes& CodesOf() const;
};
ProbeTable PrepareProbe(const float* centroids, uint32_t k, uint32_t dim);

// For each of nq queries (packed, nq x dim) the `count` nearest centroids
// under the store's metric, nearest first, ties by index. In two passes:
// the first ranks every centroid by an approximation from 8-bit codes (each
// vector less the table's center, scaled by its largest component; a dot
// product of codes exact in integers: the dots_codes kernel, VNNI where the
// CPU has it; the other terms floats of exact sums) and keeps the
// ProbeCandidates(count) best; the second ranks those by their distances in
// double precision (dot_exact: squared L2 as |c|^2 - 2 q.c, negative dot, or
// 1 - cosine, 1 for a zero vector). Every step is exact or the same code in
// every kernel variant, so the same query gets the same centroids on every
// CPU, alone or in any batch, and from NearestCentroidsChunked; a centroid
// the first pass misranks by more than the margin is the only difference
// from an exact ranking (and a count of k, calibration's, ranks every
// centroid exactly). Blocks of 8 queries run on `threads` workers (0: one
// per core).
std::vector<std::vector<uint32_t>> NearestCentroids(const ProbeTable& table, const float* queries, size_t nq,
                                                    uint32_t count, Metric metric, int threads = 0);
// How many centroids the first pass keeps for `count`: a margin of 4 and
// half as many again (all, once that is k).
inline uint32_t ProbeCandidates(uint32_t count, uint32_t k) {
  return uint32_t(std::min<uint64_t>(k, uint64_t(count) + count / 2 + 4));
}

// The path for a few queries when the centroids are not loaded (a one-shot
// search's, ColdIndex::ProbeFew), which are not worth loading every
// centroid for: the centroids come kProbeChunk at a time (rows(c0, n):
// centroids [c0, c0 + n), row-major, valid until the next call; from memory
// or read from the centroids file as they go), each chunk coded and
// compared as the whole table is, so every value is the one the batch path
// computes. A failure of rows() is returned.
constexpr size_t kFewProbeQueries = 16;
constexpr uint32_t kProbeChunk = 256;
using CentroidChunks = std::function<Result<const float*>(uint32_t c0, uint32_t n)>;
Result<std::vector<std::vector<uint32_t>>> NearestCentroidsChunked(uint32_t k, uint32_t dim, const CentroidChunks& rows,
                                                                   const float* queries, size_t nq, uint32_t count,
                                                                   Metric metric);
// The indices of the `count` smallest of values[0, n), ordered by (value,
// index) as std::partial_sort orders (value, index) pairs: by insertion into
// a short sorted list for a count up to kInsertionSelect (a probe's usual
// few; once it is full, the kernels' first_below skips the values not
// below its last, almost all of them, 16 at a time), else by
// partial_sort on pairs in *scratch. A NaN ranks as +infinity would (after
// every number; among infinities, by index).
constexpr uint32_t kInsertionSelect = 64;
std::vector<uint32_t> SmallestInOrder(const float* values, uint32_t n, uint32_t count,
                                      std::vector<std::pair<float, uint32_t>>* scratch);
// One query (prepares a table on every call: for tests and one-offs).
std::vector<uint32_t> NearestCentroids(const float* query, uint32_t dim, const float* centroids, uint32_t k,
                                       uint32_t count, Metric metric);

}  // namespace aether
