// The access-times history's encoding and its classification
// (policy/access_pattern.h). The classifier scores each shape from the
// gaps between accesses, the best one wins, and a silence past what that
// shape expects makes the memory cold:
//   bursty    the sorted gaps split into short ones (within bursts, at
//             least 40 %) and long ones (between bursts); the score grows
//             from 0 at a ratio of 4 between them to 1 at 25 (0.5, the
//             least that wins, at 10);
//   periodic  the gaps between visits (accesses less than a tenth of the
//             median gap apart are one visit) are whole multiples of one
//             period (missed visits) within a small residual;
//   decaying  a Poisson rate a·e^(-βt) from the creation fits the
//             accesses better than a constant one (the likelihood ratio:
//             0.5 at 3, 1 at 5; β fitted by a search over log β); half-life
//             ln 2 / β;
//   steady    what is left: one minus the best other score, discounted
//             below 9 accesses;
// and cold, past a silence (see ClassifyAccesses) or when a rate that
// stopped at the last access explains the silence better.
#include "policy/access_pattern.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "format/coding.h"

namespace aether {
namespace {

constexpr double kHour = 3600e3, kDay = 24 * kHour;

double Clamp01(double x) { return std::clamp(x, 0.0, 1.0); }

double Median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

struct Bursts {
  double score = 0, size = 0, quiet_gap = 0;  // quiet_gap: the mean gap between bursts
  double quiet_limit = 0;                     // a silence longer than this is below 1 % likely (below)
  double split = 0;                           // gaps at most this are within a burst
};

Bursts ScoreBursty(const std::vector<double>& gaps, size_t n) {
  Bursts b;
  std::vector<double> sorted = gaps;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size();
  double best = 0;
  size_t at = 0;
  for (size_t k = 0; k + 1 < m; ++k) {  // lower group: sorted[0..k]
    const double lower = double(k + 1) / double(m);
    if (lower < 0.4 || lower > 0.95) continue;
    const double ratio = sorted[k + 1] / sorted[k];
    if (ratio > best) best = ratio, at = k;
  }
  if (best <= 1) return b;
  const size_t quiet = m - at - 1;
  b.size = double(n) / double(quiet + 1);
  if (b.size < 2) return b;
  b.split = sorted[at];
  const double quiet_sum = std::accumulate(sorted.begin() + long(at + 1), sorted.end(), 0.0);
  b.quiet_gap = quiet_sum / double(quiet);
  // Exponential gaps between bursts of a rate known only from `quiet` of
  // them: the chance the next exceeds x is (1 + x / sum)^-quiet (a Gamma
  // prior's predictive); 1 % at x below. Few gaps: a longer silence.
  b.quiet_limit = quiet_sum * (std::pow(0.01, -1.0 / double(quiet)) - 1);
  b.score = Clamp01((std::log10(best) - 0.6) / 0.8);
  return b;
}

struct Period {
  double score = 0, period = 0;
};

Period ScorePeriodic(const std::vector<double>& gaps) {
  Period p;
  const double median = Median(gaps);
  std::vector<double> visits;  // gaps between visits
  double carry = 0;
  for (double g : gaps) {
    if (g < 0.1 * median) {
      carry += g;
      continue;
    }
    visits.push_back(g + carry);
    carry = 0;
  }
  if (visits.size() < 4) return p;
  const double p0 = Median(visits);
  double whole = 0, total = 0;
  for (double g : visits) {  // a gap under half the median is off the beat: no evidence of the period
    if (g < 0.5 * p0) continue;
    whole += std::round(g / p0);
    total += g;
  }
  p.period = total / whole;
  // The residuals, the worst fifth left out: an access off the beat (an
  // extra one splits a gap in two) does not undo a period.
  std::vector<double> residuals;
  size_t single = 0;
  for (double g : visits) {
    const double x = g / p.period, m = std::max(1.0, std::round(x));
    residuals.push_back(std::abs(x - m) / m);
    single += m == 1;
  }
  std::sort(residuals.begin(), residuals.end());
  residuals.resize(residuals.size() - residuals.size() / 5);
  const double residual = std::accumulate(residuals.begin(), residuals.end(), 0.0) / double(residuals.size());
  if (double(single) < 0.5 * double(visits.size())) return p;
  p.score = Clamp01(1 - residual / 0.12);
  return p;
}

struct Decay {
  double score = 0, beta = 0;
  double rate_now = 0;  // the fitted rate at now (per ms)
  // How much better "a constant rate that stopped at the last access"
  // explains the accesses and the silence since than a decay or a constant
  // rate up to now (log-likelihood, one parameter's penalty taken).
  double stop = 0;
};

// The accesses at x_i = t_i - c from the origin c (the memory's creation,
// or its first kept access when that is all there is), with `before`
// accesses somewhere in (0, x_0) that the history no longer holds,
// observed over (0, T], T = now - c: the profile log-likelihood of a rate
// a·e^(-βx) against a constant one, and of a constant rate that stopped at
// the last access.
Decay ScoreDecaying(const std::vector<int64_t>& t, int64_t now, int64_t created_ms, uint32_t older) {
  Decay d;
  const bool anchored = created_ms > 0 && created_ms < t.front();
  const int64_t c = anchored ? created_ms : t.front();
  const double n = double(t.size() - (anchored ? 0 : 1)), m = anchored ? double(older) : 0, N = n + m;
  const double T = double(std::max(now, t.back()) - c), inner = double(t.back() - c), x0 = double(t.front() - c);
  if (n < 3 || inner <= 0) return d;
  double S = 0;
  for (int64_t ti : t) S += double(ti - c);
  // m log of the expected count before x_0 (its constant parts cancel between the models).
  auto before = [&](double a_over_beta, double beta) {
    return m > 0 ? m * std::log(a_over_beta * -std::expm1(-beta * x0)) : 0.0;
  };
  auto profile = [&](double beta) {  // less the constant N
    const double a = N * beta / -std::expm1(-beta * T);
    return n * std::log(a) - beta * S + before(a / beta, beta);
  };
  const double flat = n * std::log(N / T) + (m > 0 ? m * std::log(N / T * x0) : 0.0);
  const double stopped = n * std::log(N / inner) + (m > 0 ? m * std::log(N / inner * x0) : 0.0);
  // β between 1/(100 T) and 100/T, on a log scale: a coarse pass, then a refinement.
  double lo = std::log(0.01 / T), hi = std::log(100 / T), best = lo, best_l = -INFINITY;
  for (int pass = 0; pass < 2; ++pass) {
    const double step = (hi - lo) / 24;
    for (int i = 0; i <= 24; ++i) {
      const double x = lo + step * i, l = profile(std::exp(x));
      if (l > best_l) best_l = l, best = x;
    }
    lo = best - step, hi = best + step;
  }
  // The stop and the decay each fit one parameter more than the flat rate:
  // each pays 1 against it (Akaike's penalty).
  d.stop = stopped - 1 - std::max(best_l - 1, flat);
  if (S + m * x0 / 2 >= N * T / 2) return d;  // accesses lean late: no decay
  d.beta = std::exp(best);
  const double a = N * d.beta / -std::expm1(-d.beta * T);
  d.rate_now = a * std::exp(-d.beta * T);
  d.score = Clamp01((2 * (best_l - flat) - 1) / 4);
  return d;
}

}  // namespace

namespace {

void PutLeb128(std::string* out, uint64_t v) {
  do {
    const uint8_t byte = uint8_t(v & 0x7f);
    v >>= 7;
    out->push_back(char(v ? byte | 0x80 : byte));
  } while (v);
}

// The shortest form only (no trailing zero groups); at most 63 bits.
bool GetLeb128(std::string_view in, size_t* at, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 63; shift += 7) {
    if (*at >= in.size()) return false;
    const uint8_t byte = uint8_t(in[(*at)++]);
    if (shift == 56 && byte > 0x7f) return false;  // past 63 bits
    *v |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return shift == 0 || byte != 0;
  }
  return false;
}

}  // namespace

std::string EncodeHistory(const AccessHistory& h) {
  std::string out;
  if (h.times.empty()) return out;
  out.push_back(char(1));
  out.push_back(char(h.times.size()));
  PutLeb128(&out, h.older);
  PutFixed64(&out, uint64_t(h.times[0]));
  for (size_t i = 1; i < h.times.size(); ++i) PutLeb128(&out, uint64_t(h.times[i] - h.times[i - 1]));
  return out;
}

std::optional<AccessHistory> DecodeHistory(std::string_view blob) {
  if (blob.size() < 2 || uint8_t(blob[0]) != 1) return std::nullopt;
  const size_t n = uint8_t(blob[1]);
  if (n < 1 || n > kHistoryMax) return std::nullopt;
  size_t at = 2;
  uint64_t older = 0;
  if (!GetLeb128(blob, &at, &older) || older > UINT32_MAX || blob.size() < at + 8) return std::nullopt;
  AccessHistory h;
  h.older = uint32_t(older);
  const int64_t first = int64_t(DecodeFixed64(reinterpret_cast<const uint8_t*>(blob.data()) + at));
  if (first < 0) return std::nullopt;
  at += 8;
  h.times.push_back(first);
  while (h.times.size() < n) {
    uint64_t d = 0;
    if (!GetLeb128(blob, &at, &d) || d == 0 || d > uint64_t(INT64_MAX - h.times.back())) return std::nullopt;
    h.times.push_back(h.times.back() + int64_t(d));
  }
  if (at != blob.size()) return std::nullopt;
  return h;
}

void PushAccess(AccessHistory* h, int64_t t) {
  if (t < 0) return;
  std::vector<int64_t>& times = h->times;
  auto at = std::lower_bound(times.begin(), times.end(), t);
  if (at != times.end() && *at == t) return;
  if (times.size() >= kHistoryMax) {
    if (h->older < UINT32_MAX) ++h->older;
    if (at == times.begin()) return;  // older than all of a full history
    times.erase(times.begin());
    at = std::lower_bound(times.begin(), times.end(), t);
  }
  times.insert(at, t);
}

const char* AccessPatternName(AccessPattern p) {
  switch (p) {
    case AccessPattern::kCold:
      return "cold";
    case AccessPattern::kSteady:
      return "steady";
    case AccessPattern::kPeriodic:
      return "periodic";
    case AccessPattern::kBursty:
      return "bursty";
    case AccessPattern::kDecaying:
      return "decaying";
  }
  return "unknown";
}

PatternReading ClassifyAccesses(const AccessHistory& h, int64_t now_ms, int64_t created_ms) {
  PatternReading r;
  const std::vector<int64_t>& times = h.times;
  const size_t n = times.size();
  if (n == 0) {  // never accessed: cold, the surer the older the memory (a week: sure)
    r.confidence = created_ms > 0 ? Clamp01((double(now_ms) - double(created_ms)) / (7 * kDay)) : 0.5;
    return r;
  }
  const double open = std::max(0.0, double(now_ms) - double(times.back()));
  if (n < 4) {  // too few to see a shape: recent is steady, a day old is cold
    if (open > kDay) {
      r.confidence = Clamp01(0.5 + 0.5 * open / (7 * kDay));
      return r;
    }
    r.pattern = AccessPattern::kSteady;
    r.confidence = 0.25;
    r.rate_per_hour = double(n) / std::max(kHour, double(now_ms) - double(times.front())) * kHour;
    return r;
  }
  std::vector<double> gaps(n - 1);
  for (size_t i = 1; i < n; ++i) gaps[i - 1] = double(times[i] - times[i - 1]);
  const Bursts b = ScoreBursty(gaps, n);
  const Period p = ScorePeriodic(gaps);
  const Decay d = ScoreDecaying(times, now_ms, created_ms, h.older);
  const double span = double(times.back() - times.front()), mean_gap = span / double(n - 1);
  const double best = std::max({b.score, p.score, d.score});
  // How long a silence the pattern makes unlikely (a few of its own gaps),
  // and whether a stop explains it better (steady, decaying).
  double quiet_limit = 5 * mean_gap;
  bool stopped = false;
  const double now = double(now_ms), last = double(times.back());
  auto at = [](double ms) { return int64_t(std::min(ms, 9e18)); };
  if (best == b.score && b.score >= 0.5) {
    r.pattern = AccessPattern::kBursty, r.confidence = b.score, r.burst_size = b.size;
    quiet_limit = b.quiet_limit;
    r.next_expected_ms = at(open <= b.split ? last + b.split : std::max(last + b.quiet_gap, now));
  } else if (best == p.score && p.score >= 0.5) {
    r.pattern = AccessPattern::kPeriodic, r.confidence = p.score, r.period_ms = p.period;
    quiet_limit = 3.5 * p.period;
    r.next_expected_ms = at(last + p.period * std::max(1.0, std::ceil(open / p.period)));
  } else if (best == d.score && d.score >= 0.5) {
    r.pattern = AccessPattern::kDecaying, r.confidence = d.score, r.half_life_ms = std::log(2.0) / d.beta;
    r.decay_origin_ms = created_ms > 0 && created_ms < times.front() ? created_ms : times.front();  // ScoreDecaying's
    quiet_limit = INFINITY;  // a decay expects its silences
    stopped = d.stop > 4;
    if (d.rate_now > 0) r.next_expected_ms = at(now + std::min(1e15, 1 / d.rate_now));
  } else {
    // Steady is what is left: as sure as the others are unsure, and as the
    // accesses are many (eight gaps or more: no discount).
    r.pattern = AccessPattern::kSteady, r.confidence = Clamp01(1 - best) * std::min(1.0, double(n - 1) / 8);
    r.rate_per_hour = kHour / mean_gap;
    r.next_expected_ms = at(std::max(last + mean_gap, now));
    stopped = d.stop > 4;
  }
  if (open > kHour && (stopped || open > quiet_limit)) {
    const double sure = stopped ? 0.5 + d.stop / 16 : 0.5 + 0.25 * open / quiet_limit;
    r = PatternReading();
    r.confidence = Clamp01(sure);
  }
  return r;
}

}  // namespace aether
