#include "search/distance.h"
#include "search/multiversion.h"

#include <algorithm>
#include <cmath>

namespace aether {

// Eight independent accumulators so the compiler can keep them in one
// vector register without reassociating a single sum.
AETHER_MULTIVERSION
float Dot(const float* a, const float* b, uint32_t dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < dim; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

AETHER_MULTIVERSION
float L2Squared(const float* a, const float* b, uint32_t dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int j = 0; j < 8; ++j) {
      float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  float s = 0;
  for (; i < dim; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
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
