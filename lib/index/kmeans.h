// K-Means for the cold index (README "rebuild-index and index tuning", format-spec/index_generation.md): sampled
// initialization, Lloyd iterations on a sample of at most max_points_per_centroid points per centroid, then assignment
// of every vector. Empty clusters are re-seeded by splitting the largest one, so K > distinct points and identical
// vectors are handled without division by zero.
//
// Deterministic for a given seed and thread count. Thread-safe (no shared
// state); uses `threads` worker threads internally.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aether/options.h"

namespace aether {

struct KMeansOptions {
  uint32_t k = 1;
  uint32_t iterations = 20;
  uint32_t max_points_per_centroid = 256;
  uint64_t seed = 1;
  int threads = 0;  // 0: one per core (ThreadsFor)
};

struct KMeansResult {
  std::vector<float> centroids;  // k * dim
  double objective = 0;          // sum of squared distances on the training sample
  size_t sample_size = 0;
};

KMeansResult TrainKMeans(const float* data, size_t n, uint32_t dim, const KMeansOptions& options);

// For each of the n vectors, the index of its nearest centroid (squared L2),
// and optionally that squared distance.
void AssignNearest(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                   uint32_t* labels, float* distances = nullptr);

// The `count` nearest centroids of one query under the store's metric
// (squared L2, negative dot, or 1 - cosine), nearest first.
std::vector<uint32_t> NearestCentroids(const float* query, uint32_t dim, const float* centroids, uint32_t k,
                                       uint32_t count, Metric metric);

}  // namespace aether
