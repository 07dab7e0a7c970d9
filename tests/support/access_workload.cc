#include "support/access_workload.h"

#include <algorithm>
#include <cmath>

namespace aether::test {
namespace {

constexpr double kSecond = 1e3, kHour = 3600e3, kDay = 24 * kHour;
constexpr int64_t kNow = 1'800'000'000'000;  // ms; any fixed time

// splitmix64: the same numbers on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  double LogUniform(double lo, double hi) { return std::exp(Uniform(std::log(lo), std::log(hi))); }
  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }
  double Normal() { return std::sqrt(-2 * std::log1p(-Uniform())) * std::cos(2 * M_PI * Uniform()); }
  int Int(int lo, int hi) { return lo + int(Next() % uint64_t(hi - lo + 1)); }

 private:
  uint64_t s_;
};

// The times at or before `end`, pushed in order as a store records them.
AccessHistory Keep(std::vector<double> times, int64_t end) {
  AccessHistory out;
  std::sort(times.begin(), times.end());
  for (double t : times)
    if (t <= double(end)) PushAccess(&out, int64_t(std::llround(t)));
  return out;
}

// Backwards from `end`: visits every period, as the header says.
std::vector<double> Periodic(Rng& rng, double period, double end, double start) {
  std::vector<double> t;
  for (double v = end - rng.Uniform(0, period); v > start; v -= period) {
    if (rng.Uniform() < 0.1) continue;  // missed
    const double at = v + 0.03 * period * rng.Normal();
    t.push_back(at);
    if (rng.Uniform() < 0.1) t.push_back(at + rng.Uniform(1, 60) * kSecond);
  }
  return t;
}

std::vector<double> Bursty(Rng& rng, double quiet, double end, double start, double* mean_size) {
  std::vector<double> t;
  size_t bursts = 0;
  for (double b = end - rng.Exponential(quiet) + rng.Uniform(0, 120) * kSecond; b > start;
       b -= rng.Exponential(quiet)) {
    const int size = rng.Int(3, 10);
    double at = b;
    for (int i = 0; i < size; ++i, at += rng.Exponential(30 * kSecond)) t.push_back(at);
    ++bursts;
  }
  *mean_size = bursts ? double(t.size()) / double(bursts) : 0;
  return t;
}

std::vector<double> Steady(Rng& rng, double rate_per_ms, double end, double start) {
  std::vector<double> t;
  for (double at = end - rng.Exponential(1 / rate_per_ms); at > start; at -= rng.Exponential(1 / rate_per_ms))
    t.push_back(at);
  return t;
}

// An inhomogeneous Poisson process by thinning: rate r0 * 2^(-(t - c) / h).
std::vector<double> Decaying(Rng& rng, double r0, double h, double c, double end) {
  std::vector<double> t;
  for (double at = c + rng.Exponential(1 / r0); at <= end; at += rng.Exponential(1 / r0))
    if (rng.Uniform() < std::exp2(-(at - c) / h)) t.push_back(at);
  return t;
}

LabelledHistory One(Rng& rng, AccessPattern label) {
  LabelledHistory h{label, {}, kNow, kNow - int64_t(120 * kDay), 0};
  const double now = double(kNow), far = now - 120 * kDay;
  switch (label) {
    case AccessPattern::kPeriodic: {
      h.param = rng.LogUniform(kHour, 7 * kDay);
      h.history = Keep(Periodic(rng, h.param, now, far), kNow);
      break;
    }
    case AccessPattern::kBursty: {
      const double quiet = rng.LogUniform(6 * kHour, 5 * kDay);
      h.history = Keep(Bursty(rng, quiet, now, far, &h.param), kNow);
      break;
    }
    case AccessPattern::kDecaying: {
      const double half = rng.LogUniform(2 * kHour, 3 * kDay), created = now - rng.Uniform(2, 6) * half;
      const double total = rng.Uniform(15, 50);
      h.param = half;
      h.created_ms = int64_t(created);
      do h.history = Keep(Decaying(rng, total * std::log(2.0) / half, half, created, now), kNow);
      while (h.history.times.size() < 5);
      break;
    }
    case AccessPattern::kSteady: {
      h.param = rng.LogUniform(1 / 24.0, 6.0);
      h.history = Keep(Steady(rng, h.param / kHour, now, far), kNow);
      break;
    }
    case AccessPattern::kCold: {
      const int kind = rng.Int(0, 3);
      if (kind == 3) {  // a few accesses long ago
        const double last = now - rng.Uniform(7, 60) * kDay;
        std::vector<double> t{last};
        for (int i = rng.Int(0, 2); i > 0; --i) t.push_back(last - rng.Uniform(0, 30) * kDay);
        h.history = Keep(t, kNow);
        h.created_ms = h.history.times.front() - int64_t(rng.Uniform(0, 10) * kDay);
        break;
      }
      // A history that stopped: drawn up to `stop`, which is at least 8 of
      // its mean gaps and 7 days before now.
      std::vector<double> t;
      double mean_gap = 0, size = 0;
      if (kind == 0) {
        const double rate = rng.LogUniform(1 / 24.0, 6.0) / kHour;
        mean_gap = 1 / rate;
        t = Steady(rng, rate, now, far);
      } else if (kind == 1) {
        const double quiet = rng.LogUniform(6 * kHour, 2 * kDay);
        t = Bursty(rng, quiet, now, far, &size);
        mean_gap = quiet;
      } else {
        mean_gap = rng.LogUniform(kHour, 2 * kDay);
        t = Periodic(rng, mean_gap, now, far);
      }
      const double stop = now - std::max(7 * kDay, 8 * mean_gap) - rng.Uniform(0, 14) * kDay;
      h.history = Keep(t, int64_t(stop));
      if (h.history.times.empty()) h.history.times = {int64_t(stop)};
      break;
    }
  }
  return h;
}

}  // namespace

std::vector<LabelledHistory> AccessWorkload(uint64_t seed, size_t per_class) {
  Rng rng(seed);
  std::vector<LabelledHistory> out;
  for (size_t i = 0; i < per_class; ++i)
    for (AccessPattern p : {AccessPattern::kCold, AccessPattern::kSteady, AccessPattern::kPeriodic,
                            AccessPattern::kBursty, AccessPattern::kDecaying})
      out.push_back(One(rng, p));
  return out;
}

}  // namespace aether::test
