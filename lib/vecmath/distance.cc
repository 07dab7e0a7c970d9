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

namespace {

// Four independent double accumulators: the compiler vectorizes them.
double DotD(const float* a, const float* b, uint32_t dim) {
  double s[4] = {0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += double(a[i + j]) * b[i + j];
  for (; i < dim; ++i) s[0] += double(a[i]) * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

double L2SquaredD(const float* a, const float* b, uint32_t dim) {
  double s[4] = {0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4)
    for (int j = 0; j < 4; ++j) {
      const double d = double(a[i + j]) - b[i + j];
      s[j] += d * d;
    }
  for (; i < dim; ++i) {
    const double d = double(a[i]) - b[i];
    s[0] += d * d;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

float Distance(Metric metric, const PreparedQuery& q, const float* x, uint32_t dim) {
  switch (metric) {
    case Metric::kL2:
      return float(std::sqrt(L2SquaredD(q.vector, x, dim)));
    case Metric::kInnerProduct:
      return float(-DotD(q.vector, x, dim));
    case Metric::kCosine: {
      const double xn = std::sqrt(DotD(x, x, dim));
      if (xn == 0 || q.exact_norm == 0) return 1.0f;
      return float(1.0 - DotD(q.vector, x, dim) / (q.exact_norm * xn));
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
