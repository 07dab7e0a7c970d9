// The eviction score (README "Memory dynamics"): low scores leave the hot tier first.
//
//   score = alpha * recency + beta * ln(1 + freq) + gamma * importance - delta * cold_cost
//   recency = -(hours since last access)
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>

namespace aether {

struct EvictionWeights {
  double alpha = 1.0;  // per hour since last access
  double beta = 1.0;   // per ln(1 + access count)
  double gamma = 1.0;  // per unit of importance
  double delta = 0.0;  // per unit of cold cost
};

struct AccessStats {
  int64_t last_access_ms = 0;
  uint64_t access_count = 0;
  double importance = 0;
  double cold_cost = 1.0;  // cost of serving the memory from cold (uniform in v1)
  bool pinned = false;     // aether pin: no policy moves it out of the hot tier
};

double EvictionScore(const EvictionWeights& w, const AccessStats& s, int64_t now_ms);

// Restore-queue backoff: the delay before attempt `attempts` + 1, doubling
// from base_ms and capped at max_ms.
int64_t BackoffDelayMs(int64_t base_ms, int64_t max_ms, int attempts);

}  // namespace aether
