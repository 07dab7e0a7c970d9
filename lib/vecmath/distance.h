// Distance kernels and the top-k accumulator shared by the hot and cold scans.
//
// Distances are "smaller is closer" for every metric (format-spec/README.md):
//   l2      Euclidean distance  sqrt(sum (q-x)^2)
//   cosine  1 - cos(q, x)
//   ip      -dot(q, x)
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "aether/options.h"

namespace aether {

float Dot(const float* a, const float* b, uint32_t dim);
float L2Squared(const float* a, const float* b, uint32_t dim);
inline float Norm(const float* a, uint32_t dim);

// Dot products of nx row vectors x (nx x dim, row-major) with n vectors given
// transposed, xt (dim x n): out[p * n + c] = dot(x_p, column c). The batch
// form of Dot, for many queries against a block of vectors (the hot scan) or
// many points against the centroids (K-Means). Runs the register-blocked
// kernel (search/kernels.h) on 8 rows at a time.
void DotsTransposed(const float* x, size_t nx, uint32_t dim, const float* xt, uint32_t n, float* out);

// A query prepared for one metric (its norm precomputed for cosine).
struct PreparedQuery {
  const float* vector = nullptr;
  float norm = 0;         // float32, for the scans' bounds
  double exact_norm = 0;  // double, for Distance
};
PreparedQuery Prepare(const float* vector, uint32_t dim);

// The exact distance of x from q: accumulated in double precision and
// rounded once to float, so that it is as exact as a float can be at every
// magnitude the input range allows (kMaxComponent), tiny ones included
// (1 - cos of nearly parallel vectors, L2 of nearly equal ones). The scans
// filter with float32 kernels and bounds that allow for their rounding, and
// report this value for what they admit.
float Distance(Metric metric, const PreparedQuery& q, const float* x, uint32_t dim);

struct Candidate {
  float distance;
  int64_t row_id;
  bool operator<(const Candidate& o) const {
    return distance < o.distance || (distance == o.distance && row_id < o.row_id);
  }
};

// Keeps the k smallest candidates seen (ties broken by row id): a max-heap
// (std::push_heap / pop_heap) that takes room for up to kReserve at its
// first push instead of growing by doubling from one (a batch holds one per
// query and worker; a larger k, which may never fill, grows from there).
class TopK {
 public:
  explicit TopK(uint32_t k) : k_(k) {}
  // True when c would enter the current top k.
  bool Admits(const Candidate& c) const { return k_ > 0 && (heap_.size() < k_ || c < heap_.front()); }
  // The distance a candidate must not exceed to have a chance (ties are
  // broken by row id): the current k-th when full, else +infinity.
  float Bound() const {
    return k_ > 0 && heap_.size() >= k_ ? heap_.front().distance : std::numeric_limits<float>::infinity();
  }
  // Asks for the cache line Bound() and Admits() read first (a batch scan
  // comes to each query's list in no order that the cache would follow).
  void PrefetchBound() const { __builtin_prefetch(heap_.data()); }
  void Push(const Candidate& c);
  // Pushes every candidate of `other` (a list of the same k: its heap is
  // taken whole while this one is empty) and empties it: the top k of both.
  void Absorb(TopK* other);
  // Ascending by distance; empties the accumulator.
  std::vector<Candidate> Take();

 private:
  static constexpr uint32_t kReserve = 64;
  uint32_t k_;
  std::vector<Candidate> heap_;
};

inline float Norm(const float* a, uint32_t dim) {
  float s = Dot(a, a, dim);
  return s > 0 ? __builtin_sqrtf(s) : 0.0f;
}

}  // namespace aether
