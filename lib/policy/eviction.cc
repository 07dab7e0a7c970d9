#include "policy/eviction.h"

#include <algorithm>
#include <cmath>

namespace aether {

double EvictionScore(const EvictionWeights& w, const AccessStats& s, int64_t now_ms) {
  double hours = std::max<int64_t>(0, now_ms - s.last_access_ms) / 3.6e6;
  return w.alpha * -hours + w.beta * std::log1p(double(s.access_count)) + w.gamma * s.importance -
         w.delta * s.cold_cost;
}

int64_t BackoffDelayMs(int64_t base_ms, int64_t max_ms, int attempts) {
  int shift = std::clamp(attempts - 1, 0, 40);
  double d = double(base_ms) * std::ldexp(1.0, shift);
  return d >= double(max_ms) ? max_ms : static_cast<int64_t>(d);
}

}  // namespace aether
