#include "vecmath/distance.h"

#include <algorithm>
#include <cmath>

#include "vecmath/kernels.h"

namespace aether {

float Dot(const float* a, const float* b, uint32_t dim) { return simd::Active().dot(a, b, dim); }

float L2Squared(const float* a, const float* b, uint32_t dim) { return simd::Active().l2_squared(a, b, dim); }

void DotsTransposed(const float* x, size_t nx, uint32_t dim, const float* xt, uint32_t n, float* out) {
  const simd::Kernels& k = simd::Active();
  for (size_t p = 0; p < nx; p += simd::kMaxDotRows) {
    const uint32_t rows = uint32_t(std::min<size_t>(simd::kMaxDotRows, nx - p));
    k.dots_transposed(x + p * dim, rows, dim, xt, n, out + p * n);
  }
}

PreparedQuery Prepare(const float* vector, uint32_t dim) {
  double n2 = 0;
  for (uint32_t i = 0; i < dim; ++i) n2 += double(vector[i]) * vector[i];
  return PreparedQuery{vector, Norm(vector, dim), std::sqrt(n2)};
}

float Distance(Metric metric, const PreparedQuery& q, const float* x, uint32_t dim) {
  const simd::Kernels& k = simd::Active();
  switch (metric) {
    case Metric::kL2:
      return float(std::sqrt(k.l2_squared_exact(q.vector, x, dim)));
    case Metric::kInnerProduct:
      return float(-k.dot_exact(q.vector, x, dim));
    case Metric::kCosine: {
      const double xn = std::sqrt(k.dot_exact(x, x, dim));
      if (xn == 0 || q.exact_norm == 0) return 1.0f;
      return float(1.0 - k.dot_exact(q.vector, x, dim) / (q.exact_norm * xn));
    }
  }
  return 0;
}

void TopK::Push(const Candidate& c) {
  if (!Admits(c)) return;
  if (heap_.empty()) heap_.reserve(std::min(k_ + 1, kReserve));
  heap_.push_back(c);
  std::push_heap(heap_.begin(), heap_.end());
  if (heap_.size() > k_) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
}

void TopK::Absorb(TopK* other) {
  if (heap_.empty() && other->k_ == k_) {
    heap_.swap(other->heap_);
    return;
  }
  for (const Candidate& c : other->heap_) Push(c);
  other->heap_.clear();
}

std::vector<Candidate> TopK::Take() {
  std::sort_heap(heap_.begin(), heap_.end());  // the pops, largest first, each to the end
  std::vector<Candidate> out;
  out.swap(heap_);
  return out;
}

}  // namespace aether
