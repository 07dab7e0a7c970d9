// The two scan paths for hot blocks and cold frames alike.
//
// ScanOne, for a few queries, one at a time: n vectors x (rows `stride`
// floats apart) against query q, in float32 kernels (L2: one call for the
// block); a row passes when its float distance, less its worst-case
// rounding error (relative, and absolute for subnormal terms), is within
// bound(q); visit(q, i) then computes the exact distance and offers it.
//
// ScanTiled, the batch path: n vectors
// x (rows `stride` floats apart) against the queries qs (their vectors packed
// row-major in qp). The block is transposed once, then the dot products of
// kTile queries at a time are taken against it (the block stays in cache for
// the whole batch). The distance derived from a dot product is a lower bound
// after subtracting its worst-case rounding error, compared with bound(q) in
// the metric's own monotone form (squared for L2): first a branch-free
// (vectorized) pass for the bounds, then the exact distance d of each row
// that passes, offered as offer(q, i, d) (rows sc.checked marks 2, no
// one's, are skipped: the caller sizes sc.checked to n first); when more
// than 2 x `first` rows pass at first (a query's top `first` not yet
// full), the `first` with the smallest bounds are visited before the
// others. The exact distances are computed up to simd::kMaxExactRows rows
// at a time (one kernel call keeps their sums in flight together), each
// group chosen by the bound as it stood before the group: a row that a
// tighter bound would have skipped is offered too, and the top-k list's
// exact comparison turns it away like any row past its k-th (the exact
// distances decide, never the order of the offers).
#pragma once

#include <algorithm>
#include <cmath>

#include "search/scan_context.h"

namespace aether {

// From a float dot product and the squared norms: a lower bound on the
// inner product's (-dot) or cosine's (1 - cos) distance, the value less its
// worst-case rounding error (relative, c.rounding; absolute for terms in
// float's subnormal range, c.underflow).
inline float DotLowerBound(const ScanContext& c, Metric metric, float dot, float qn2, float qn, float xn2) {
  if (metric == Metric::kInnerProduct) return -dot - c.rounding * (qn2 + xn2) - c.underflow;
  // A product of norms, not the root of a product of squares: that
  // overflows float32 for vectors within the accepted range.
  const float denom = qn * std::sqrt(xn2);
  // A zero norm gives NaN or inf here; 0 then lets the exact path decide.
  const float v = 1.0f - (dot + c.rounding * (qn2 + xn2) + c.underflow) / denom;
  return denom > 0 ? v : 0.0f;
}

template <typename Bound, typename Visit>
Status ScanOne(const ScanContext& c, const float* x, uint64_t n, uint64_t stride, uint32_t q, ScanScratch& sc,
               Bound&& bound, Visit&& visit) {
  const uint32_t dim = c.dim;
  const float* qv = c.prepared[q].vector;
  if (c.metric == Metric::kL2) {
    sc.dist.resize(n);
    c.kernels.l2_squared_many(qv, x, n, stride, dim, sc.dist.data());
    // The squared bound, widened by the rounding of both sides.
    const float widen = 1.0f + 2 * c.rounding;
    auto limit_of = [&](float b) { return b * b * widen + c.underflow; };
    float limit = limit_of(bound(q));
    for (uint64_t i = 0; i < n; ++i) {
      if (sc.dist[i] > limit) continue;
      AETHER_RETURN_IF_ERROR(visit(q, i));
      limit = limit_of(bound(q));
    }
    return Status::Ok();
  }
  // Inner product and cosine: one dot product (and the row's squared norm)
  // per row.
  const float qn2 = c.qnorm2[q], qn = c.prepared[q].norm;
  float limit = bound(q);
  for (uint64_t i = 0; i < n; ++i) {
    const float* v = x + i * stride;
    const float lower = DotLowerBound(c, c.metric, c.kernels.dot(qv, v, dim), qn2, qn, c.kernels.dot(v, v, dim));
    if (lower > limit) continue;
    AETHER_RETURN_IF_ERROR(visit(q, i));
    limit = bound(q);
  }
  return Status::Ok();
}

// The value of rank `first` (1-based) among lower[rows[0, n)], first < n:
// by insertion into a short sorted list for a usual first (k, or k times
// the re-rank factor), else by nth_element on a copy in *scratch. Up to
// simd::kMaxShortRank, ScanTiled takes it from the kernels' smallest_at
// instead (a short list in registers, no branch per row; the scan of a
// 10,000-query batch took 0.87x the time).
inline float SmallestAt(const float* lower, const uint32_t* rows, size_t n, uint32_t first,
                        std::vector<float>* scratch) {
  constexpr uint32_t kShort = 64;
  if (first > kShort) {
    scratch->resize(n);
    for (size_t j = 0; j < n; ++j) (*scratch)[j] = lower[rows[j]];
    std::nth_element(scratch->begin(), scratch->begin() + (first - 1), scratch->end());
    return (*scratch)[first - 1];
  }
  float best[kShort];
  uint32_t held = 0;
  for (size_t j = 0; j < n; ++j) {
    const float v = lower[rows[j]];
    if (held == first && !(v < best[held - 1])) continue;
    uint32_t at = held < first ? held++ : held - 1;
    for (; at > 0 && best[at - 1] > v; --at) best[at] = best[at - 1];
    best[at] = v;
  }
  return best[first - 1];
}

template <typename Bound, typename Offer>
Status ScanTiled(const ScanContext& c, const float* x, uint64_t n, uint64_t stride, const uint32_t* qs, size_t nqs,
                 const float* qp, ScanScratch& sc, uint32_t first, Bound&& bound, Offer&& offer) {
  const uint32_t dim = c.dim;
  sc.xt.resize(size_t(dim) * n);
  sc.dist.resize(n);
  sc.xnorm2.resize(n);
  sc.dots.resize(ScanContext::kTile * n);
  c.kernels.transpose(x, n, stride, dim, sc.xt.data(), n);
  for (uint64_t i = 0; i < n; ++i) sc.xnorm2[i] = c.kernels.dot(x + i * stride, x + i * stride, dim);
  const float keep = 1.0f - 2 * c.rounding;
  for (size_t q0 = 0; q0 < nqs; q0 += ScanContext::kTile) {
    const size_t nq = std::min(ScanContext::kTile, nqs - q0);
    DotsTransposed(qp + q0 * dim, nq, dim, sc.xt.data(), uint32_t(n), sc.dots.data());
    for (size_t p = 0; p < nq; ++p) {
      const uint32_t q = qs[q0 + p];
      const float* dots = sc.dots.data() + p * n;
      const float qn2 = c.qnorm2[q], qn = c.prepared[q].norm;
      float* lower = sc.dist.data();
      if (c.metric == Metric::kL2) {
        for (uint64_t i = 0; i < n; ++i) lower[i] = keep * (qn2 + sc.xnorm2[i]) - 2 * dots[i] - c.underflow;
      } else if (c.metric == Metric::kInnerProduct) {
        for (uint64_t i = 0; i < n; ++i)
          lower[i] = DotLowerBound(c, Metric::kInnerProduct, dots[i], qn2, qn, sc.xnorm2[i]);
      } else {
        for (uint64_t i = 0; i < n; ++i) lower[i] = DotLowerBound(c, Metric::kCosine, dots[i], qn2, qn, sc.xnorm2[i]);
      }
      auto as_filter = [&](float d) { return c.metric == Metric::kL2 ? d * d : d; };
      float limit = as_filter(bound(q));
      // The rows that pass the bound now. When many do (the query's first
      // block, its top k not yet full), those with the `first` smallest
      // lower bounds (and any tied with the last of them) go first: they
      // hold the block's nearest, so the bound tightens at once and few of
      // the rest still pass it. The order changes which rows are visited,
      // never the result where ties are broken by row id (exact distances);
      // a quantized frame's candidates that tie exactly at the re-rank cut
      // are ranked by their place tags, which follow the order of visits
      // (and the worker, as before).
      // (A NaN lower bound, from damaged data, is visited, as it always was.)
      sc.rows_passing.resize(n + simd::kSelectSlack);
      uint32_t* pass = sc.rows_passing.data();
      const size_t passed = c.kernels.rows_not_above(lower, n, limit, pass);
      // Split: the rows at or below `early` in round 0, the rest in round 1.
      const bool split = first > 0 && passed > 2 * size_t(first);
      const float early = !split                         ? 0.0f
                          : first <= simd::kMaxShortRank ? c.kernels.smallest_at(lower, pass, passed, first)
                                                         : SmallestAt(lower, pass, passed, first, &sc.dist_passing);
      // Round 0's rows moved to the front of `pass` in their order, round
      // 1's behind them in theirs (no branch per row: about half go each
      // way, a branch would guess wrong as often).
      size_t in_first = 0;
      if (split) {
        sc.rows_later.resize(passed);
        uint32_t* later = sc.rows_later.data();
        size_t in_later = 0;
        for (size_t j = 0; j < passed; ++j) {
          const uint32_t i = pass[j];
          const bool now = lower[i] <= early;
          pass[in_first] = i;
          later[in_later] = i;
          in_first += now;
          in_later += !now;
        }
        std::copy_n(later, in_later, pass + in_first);
      }
      for (size_t j = 0; j < passed;) {
        uint32_t rows[simd::kMaxExactRows];
        const float* xs[simd::kMaxExactRows];
        uint32_t m = 0;
        for (; j < passed && m < simd::kMaxExactRows; ++j) {
          const uint32_t i = pass[j];
          if (lower[i] > limit || sc.checked[i] == 2) continue;
          rows[m] = i;
          xs[m++] = x + i * stride;
        }
        if (m == 0) break;  // the rest did not pass
        float d[simd::kMaxExactRows];
        c.ExactMany(q, xs, m, d);
        for (uint32_t r = 0; r < m; ++r) AETHER_RETURN_IF_ERROR(offer(q, rows[r], d[r]));
        limit = as_filter(bound(q));
      }
    }
  }
  return Status::Ok();
}

}  // namespace aether
