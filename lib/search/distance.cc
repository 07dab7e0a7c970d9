#include "search/distance.h"
#include "search/kernels.h"

#include <algorithm>
#include <cmath>

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

float Distance(Metric metric, const PreparedQuery& q, const float* x, uint32_t dim) {
  switch (metric) {
    case Metric::kL2:
      return std::sqrt(L2Squared(q.vector, x, dim));
    case Metric::kInnerProduct:
      return -Dot(q.vector, x, dim);
    case Metric::kCosine: {
      float xn = Norm(x, dim);
      if (xn == 0 || q.norm == 0) return 1.0f;
      return 1.0f - Dot(q.vector, x, dim) / (q.norm * xn);
    }
  }
  return 0;
}

void TopK::Push(const Candidate& c) {
  if (!Admits(c)) return;
  heap_.push(c);
  if (heap_.size() > k_) heap_.pop();
}

std::vector<Candidate> TopK::Take() {
  std::vector<Candidate> out;
  out.reserve(heap_.size());
  while (!heap_.empty()) {
    out.push_back(heap_.top());
    heap_.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace aether
