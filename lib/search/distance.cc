#include "search/distance.h"
#include "search/kernels.h"
#include "search/multiversion.h"

#include <algorithm>
#include <cmath>

namespace aether {

float Dot(const float* a, const float* b, uint32_t dim) { return simd::Active().dot(a, b, dim); }

float L2Squared(const float* a, const float* b, uint32_t dim) { return simd::Active().l2_squared(a, b, dim); }

// The inner loop runs over the columns with no reduction, so it vectorizes
// cleanly in every target_clones variant.
AETHER_MULTIVERSION
void DotsTransposed(const float* __restrict x, size_t nx, uint32_t dim, const float* __restrict xt, uint32_t n,
                    float* __restrict out) {
  for (size_t p = 0; p < nx; ++p) std::fill(out + p * n, out + (p + 1) * n, 0.0f);
  for (uint32_t j = 0; j < dim; ++j) {
    const float* __restrict row = xt + size_t(j) * n;
    for (size_t p = 0; p < nx; ++p) {
      const float xv = x[p * dim + j];
      float* __restrict o = out + p * n;
#if !defined(__clang__)
#pragma GCC ivdep
#endif
      for (uint32_t c = 0; c < n; ++c) o[c] += xv * row[c];
    }
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
