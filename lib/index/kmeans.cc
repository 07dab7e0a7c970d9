#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <thread>

#include "env/parallel.h"
#include "vecmath/distance.h"
#include "vecmath/kernels.h"

namespace aether {
namespace {

// t (dim x k) = c (k x dim) transposed by the kernel (blocks of eight rows:
// strided single stores made this most of a one-shot query's centroid
// probe).
void TransposeInto(const float* c, uint32_t k, uint32_t dim, float* t) {
  simd::Active().transpose(c, k, dim, dim, t, k);
}

std::vector<float> Transpose(const float* c, uint32_t k, uint32_t dim) {
  std::vector<float> t(size_t(k) * dim);
  TransposeInto(c, k, dim, t.data());
  return t;
}

// fn(begin, end) over [0, n) in one contiguous range per thread (at least
// 256 points each), through the common ParallelFor.
template <typename Fn>
void ForRanges(size_t n, int threads, Fn&& fn) {
  const size_t t = ThreadsFor(size_t(std::max(threads, 0)), (n + 255) / 256);
  const size_t chunk = (n + t - 1) / t;
  Status done = ParallelFor(t, t, [&](size_t i, size_t) {
    fn(i * chunk, std::min(n, (i + 1) * chunk));
    return Status::Ok();
  });
  (void)done;  // fn cannot fail
}

// AssignNearest with the centroids already transposed (ct) and their
// squared norms (cnorm).
void AssignPrepared(const float* data, size_t n, uint32_t dim, const std::vector<float>& ct,
                    const std::vector<float>& cnorm, uint32_t k, int threads, uint32_t* labels, float* distances) {
  const auto argmin = simd::Active().argmin_l2;
  ForRanges(n, threads, [&](size_t begin, size_t end) {
    std::vector<float> dots(8 * size_t(k));
    for (size_t i = begin; i < end; i += 8) {
      size_t nx = std::min<size_t>(8, end - i);
      DotsTransposed(data + i * dim, nx, dim, ct.data(), k, dots.data());
      for (size_t p = 0; p < nx; ++p) {
        float best_d = 0;
        const uint32_t best = argmin(cnorm.data(), dots.data() + p * k, k, &best_d);
        labels[i + p] = best;
        if (distances) {
          const float* x = data + (i + p) * dim;
          distances[i + p] = std::max(0.0f, best_d + Dot(x, x, dim));
        }
      }
    }
  });
}

std::vector<float> SquaredNorms(const float* rows, uint32_t k, uint32_t dim) {
  std::vector<float> out(k);
  for (uint32_t c = 0; c < k; ++c) out[c] = Dot(rows + size_t(c) * dim, rows + size_t(c) * dim, dim);
  return out;
}

}  // namespace

void AssignNearest(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                   uint32_t* labels, float* distances) {
  AssignPrepared(data, n, dim, Transpose(centroids, k, dim), SquaredNorms(centroids, k, dim), k, threads, labels,
                 distances);
}

void AssignNearestDirections(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                             uint32_t* labels, size_t chunk_rows) {
  const std::vector<float> ct = Transpose(centroids, k, dim), cnorm = SquaredNorms(centroids, k, dim);
  chunk_rows = std::max<size_t>(1, std::min(chunk_rows, n));
  std::vector<float> chunk(chunk_rows * dim);
  for (size_t b = 0; b < n; b += chunk_rows) {
    const size_t rows = std::min(chunk_rows, n - b);
    std::copy(data + b * dim, data + (b + rows) * dim, chunk.begin());
    NormalizeRows(chunk.data(), rows, dim);
    AssignPrepared(chunk.data(), rows, dim, ct, cnorm, k, threads, labels + b, nullptr);
  }
}

void NormalizeRows(float* rows, size_t n, uint32_t dim) {
  for (size_t i = 0; i < n; ++i) {
    float* v = rows + i * dim;
    const float norm = Norm(v, dim);
    if (norm > 0)
      for (uint32_t j = 0; j < dim; ++j) v[j] /= norm;
  }
}

std::vector<size_t> SampleRows(size_t n, const KMeansOptions& o, std::mt19937_64* rng) {
  const uint32_t k = std::max<uint32_t>(1, std::min<uint64_t>(o.k, n));
  // At most max_points_per_centroid * k points, chosen by a seeded partial
  // shuffle.
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  const size_t m = std::min<size_t>(n, size_t(o.max_points_per_centroid) * k);
  for (size_t i = 0; i < m; ++i) std::swap(idx[i], idx[i + (*rng)() % (n - i)]);
  idx.resize(m);
  idx.shrink_to_fit();
  return idx;
}

KMeansResult TrainKMeans(const float* data, size_t n, uint32_t dim, const KMeansOptions& o) {
  std::mt19937_64 rng(o.seed);
  const std::vector<size_t> rows = SampleRows(n, o, &rng);
  std::vector<float> sample(rows.size() * dim);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(data + rows[i] * dim, data + (rows[i] + 1) * dim, sample.begin() + i * dim);
  return TrainOnSample(std::move(sample), rows.size(), dim, o, &rng);
}

KMeansResult TrainOnSample(std::vector<float> sample, size_t m, uint32_t dim, const KMeansOptions& o,
                           std::mt19937_64* rng_in) {
  std::mt19937_64& rng = *rng_in;
  KMeansResult r;
  // SampleRows takes at least k points of n >= k; of fewer, all of them.
  const uint32_t k = std::max<uint32_t>(1, std::min<uint64_t>(o.k, m));
  if (o.directions) NormalizeRows(sample.data(), m, dim);
  r.sample_size = m;

  // Initialization: k-means++ when it is affordable (it avoids the bad local
  // minima of a random start), else k distinct sample points (the sample is
  // already shuffled), as FAISS does at scale.
  constexpr double kPlusPlusBudget = 2e9;  // multiply-adds
  if (double(k) * double(m) * dim <= kPlusPlusBudget) {
    r.centroids.assign(sample.begin(), sample.begin() + dim);
    std::vector<double> d2(m, std::numeric_limits<double>::infinity());
    for (uint32_t c = 1; c < k; ++c) {
      const float* last = r.centroids.data() + size_t(c - 1) * dim;
      double total = 0;
      for (size_t i = 0; i < m; ++i) {
        d2[i] = std::min<double>(d2[i], L2Squared(sample.data() + i * dim, last, dim));
        total += d2[i];
      }
      size_t pick = rng() % m;
      if (total > 0) {
        double target = std::uniform_real_distribution<double>(0, total)(rng);
        for (pick = 0; pick + 1 < m && (target -= d2[pick]) > 0; ++pick) {
        }
      }
      r.centroids.insert(r.centroids.end(), sample.begin() + pick * dim, sample.begin() + (pick + 1) * dim);
    }
  } else {
    r.centroids.assign(sample.begin(), sample.begin() + size_t(k) * dim);
  }
  std::vector<uint32_t> labels(m);
  std::vector<float> dist(m);
  std::vector<double> sums(size_t(k) * dim);
  std::vector<size_t> counts(k);
  for (uint32_t it = 0; it < std::max<uint32_t>(1, o.iterations); ++it) {
    AssignNearest(sample.data(), m, dim, r.centroids.data(), k, o.threads, labels.data(), dist.data());
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < m; ++i) {
      ++counts[labels[i]];
      double* s = sums.data() + size_t(labels[i]) * dim;
      for (uint32_t j = 0; j < dim; ++j) s[j] += sample[i * dim + j];
    }
    for (uint32_t c = 0; c < k; ++c)
      if (counts[c] > 0)
        for (uint32_t j = 0; j < dim; ++j)
          r.centroids[size_t(c) * dim + j] = float(sums[size_t(c) * dim + j] / counts[c]);
    // Empty clusters: split the largest cluster in two (as FAISS does).
    for (uint32_t c = 0; c < k; ++c) {
      if (counts[c] > 0) continue;
      uint32_t big = uint32_t(std::max_element(counts.begin(), counts.end()) - counts.begin());
      for (uint32_t j = 0; j < dim; ++j) {
        float v = r.centroids[size_t(big) * dim + j];
        float eps = (j % 2 ? 1 : -1) * 1.0f / 1024;
        r.centroids[size_t(c) * dim + j] = v * (1 + eps) + eps * 1e-3f;
        r.centroids[size_t(big) * dim + j] = v * (1 - eps) - eps * 1e-3f;
      }
      counts[c] = counts[big] / 2;
      counts[big] -= counts[c];
    }
  }
  AssignNearest(sample.data(), m, dim, r.centroids.data(), k, o.threads, labels.data(), dist.data());
  r.objective = std::accumulate(dist.begin(), dist.end(), 0.0);
  return r;
}

ProbeTable PrepareProbe(const float* centroids, uint32_t k, uint32_t dim) {
  ProbeTable t;
  t.dim = dim;
  t.k = k;
  t.rows = centroids;
  t.norm2.resize(k);
  t.norm.resize(k);
  t.exact_norm2.resize(k);
  for (uint32_t c = 0; c < k; ++c) {
    t.norm2[c] = Dot(centroids + size_t(c) * dim, centroids + size_t(c) * dim, dim);
    t.norm[c] = Norm(centroids + size_t(c) * dim, dim);
    t.exact_norm2[c] = simd::Active().dot_exact(centroids + size_t(c) * dim, centroids + size_t(c) * dim, dim);
  }
  return t;
}

namespace {

// The probe's codes (NearestCentroids): a vector's components as integers
// of one scale, the largest magnitude coded as `limit`; its unit (what a
// code of 1 stands for) returned. A zero vector, or one with a component
// not finite, codes as all zeros with unit 0.
float CodeRow(const float* x, uint32_t dim, int limit, int8_t* codes) {
  float most = 0;
  bool finite = true;
  for (uint32_t j = 0; j < dim; ++j) {
    const float a = std::fabs(x[j]);
    finite &= a <= std::numeric_limits<float>::max();  // false for infinity and NaN
    most = a > most ? a : most;
  }
  if (!finite || most == 0) {
    std::fill(codes, codes + dim, int8_t(0));
    return 0;
  }
  // |v| <= limit (but for the product's rounding), rounded half away from
  // zero without a branch: never past limit.
  const float scale = float(limit) / most;
  for (uint32_t j = 0; j < dim; ++j) {
    const float v = x[j] * scale;
    codes[j] = int8_t(int(v + std::copysign(0.5f, v)));
  }
  return most / float(limit);
}

// Query codes are kept within +-kQueryLimit and stored offset by kQueryZero
// (the kernel multiplies unsigned query bytes by signed codes): a column's
// sum then exceeds the true one by kQueryZero times the sum of its codes.
constexpr int kQueryLimit = 63;
constexpr int kQueryZero = 64;
static_assert(kQueryZero + kQueryLimit <= simd::kMaxQueryCode && kQueryZero - kQueryLimit >= 0);

// Codes n centroids (rows, n x dim) into columns [c0, c0 + n) of `codes`.
void CodeColumns(const float* rows, uint32_t n, uint32_t dim, uint32_t c0, ProbeTable::Codes* codes) {
  constexpr uint32_t g = simd::kCodeGroup;
  std::vector<int8_t> row(codes->dim4, 0);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t c = c0 + i;
    codes->unit[c] = CodeRow(rows + size_t(i) * dim, dim, simd::kMaxColumnCode, row.data());
    int32_t sum = 0;
    for (uint32_t j = 0; j < codes->dim4; ++j) {
      codes->packed[(size_t(j / g) * codes->n + c) * g + j % g] = row[j];
      sum += row[j];
    }
    codes->offset[c] = kQueryZero * sum;
  }
}

ProbeTable::Codes EmptyCodes(uint32_t k, uint32_t dim) {
  ProbeTable::Codes codes;
  codes.dim4 = (dim + simd::kCodeGroup - 1) / simd::kCodeGroup * simd::kCodeGroup;
  codes.n = (k + simd::kCodeColumns - 1) / simd::kCodeColumns * simd::kCodeColumns;
  codes.packed.assign(size_t(codes.dim4) * codes.n, 0);
  codes.unit.assign(codes.n, 0.0f);
  codes.offset.assign(codes.n, 0);
  return codes;
}

}  // namespace

const ProbeTable::Codes& ProbeTable::CodesOf() const {
  std::call_once(lazy->once, [&] {
    lazy->codes = EmptyCodes(k, dim);
    CodeColumns(rows, k, dim, 0, &lazy->codes);
  });
  return lazy->codes;
}

namespace {

// A query's distance to a centroid in the probe's first pass, from an
// approximate dot product: squared L2 as |c|^2 - 2 q.c, negative dot, or
// 1 - cosine (1 for a zero vector).
inline float ApproxValue(Metric metric, float norm2, float norm, float dot, float qn) {
  if (metric == Metric::kL2) return norm2 - 2 * dot;
  if (metric == Metric::kInnerProduct) return -dot;
  return (norm == 0 || qn == 0) ? 1.0f : 1.0f - dot / (qn * norm);
}

// The same in double precision from exact sums (dot_exact): the second
// pass's order. The same double in every kernel variant.
inline double ExactValue(Metric metric, double dot, double cc, double qq) {
  if (metric == Metric::kL2) return cc - 2 * dot;
  if (metric == Metric::kInnerProduct) return -dot;
  return (cc == 0 || qq == 0) ? 1.0 : 1.0 - dot / std::sqrt(qq * cc);
}

// A query prepared for both passes: its codes (dim4 bytes, offset by
// kQueryZero), their unit, its norm, and its exact squared norm (cosine).
struct CodedQuery {
  float unit = 0, norm = 0;
  double exact_norm2 = 0;
};
CodedQuery CodeQuery(const float* q, uint32_t dim, uint32_t dim4, Metric metric, uint8_t* xq) {
  CodedQuery c;
  int8_t* codes = reinterpret_cast<int8_t*>(xq);  // coded in place, then offset
  c.unit = CodeRow(q, dim, kQueryLimit, codes);
  for (uint32_t j = 0; j < dim4; ++j) xq[j] = uint8_t(kQueryZero + (j < dim ? codes[j] : 0));
  if (metric == Metric::kCosine) {
    c.norm = Norm(q, dim);
    c.exact_norm2 = simd::Active().dot_exact(q, q, dim);
  }
  return c;
}

// Column c's approximate dot product with the query whose codes gave `sum`.
inline float ApproxDot(const ProbeTable::Codes& codes, uint32_t c, int32_t sum, float query_unit) {
  return float(sum - codes.offset[c]) * codes.unit[c] * query_unit;
}

// The `count` first of (value, centroid) pairs ordered so (NaN as
// +infinity), their centroids.
std::vector<uint32_t> BestExact(std::vector<std::pair<double, uint32_t>>* pairs, uint32_t count) {
  for (auto& p : *pairs)
    if (std::isnan(p.first)) p.first = INFINITY;
  count = uint32_t(std::min<size_t>(count, pairs->size()));
  std::partial_sort(pairs->begin(), pairs->begin() + count, pairs->end());
  std::vector<uint32_t> out(count);
  for (uint32_t i = 0; i < count; ++i) out[i] = (*pairs)[i].second;
  return out;
}

}  // namespace

std::vector<uint32_t> SmallestInOrder(const float* values, uint32_t n, uint32_t count,
                                      std::vector<std::pair<float, uint32_t>>* scratch) {
  count = std::min(count, n);
  std::vector<uint32_t> out;
  if (count == 0) return out;
  if (count <= kInsertionSelect) {
    // The best so far, sorted by (value, index): a later index never
    // precedes an equal value, so it enters only below a strictly greater
    // one, and once `count` are held, only below the last.
    float best[kInsertionSelect];
    uint32_t at[kInsertionSelect];
    uint32_t held = 0;
    const auto first_below = simd::Active().first_below;
    for (uint32_t i = 0; i < n; ++i) {
      // Once the list is full, most values are not below its last: the
      // kernel skips them (a NaN, as +infinity, never is).
      if (held == count && (i = uint32_t(first_below(values, n, i, best[held - 1]))) == n) break;
      const float v = std::isnan(values[i]) ? INFINITY : values[i];
      uint32_t j = held < count ? held++ : held - 1;
      for (; j > 0 && best[j - 1] > v; --j) best[j] = best[j - 1], at[j] = at[j - 1];
      best[j] = v;
      at[j] = i;
    }
    out.assign(at, at + held);
    return out;
  }
  std::vector<std::pair<float, uint32_t>>& d = *scratch;
  d.resize(n);
  for (uint32_t i = 0; i < n; ++i) d[i] = {std::isnan(values[i]) ? INFINITY : values[i], i};
  std::partial_sort(d.begin(), d.begin() + count, d.end());
  out.resize(count);
  for (uint32_t i = 0; i < count; ++i) out[i] = d[i].second;
  return out;
}

Result<std::vector<std::vector<uint32_t>>> NearestCentroidsChunked(uint32_t k, uint32_t dim, const CentroidChunks& rows,
                                                                   const float* queries, size_t nq, uint32_t count,
                                                                   Metric metric) {
  count = std::min(count, k);
  const uint32_t keep = ProbeCandidates(count, k);
  const auto& kern = simd::Active();
  ProbeTable::Codes chunk = EmptyCodes(kProbeChunk, dim);
  std::vector<uint8_t> xq(nq * chunk.dim4);
  std::vector<CodedQuery> cq(nq);
  for (size_t q = 0; q < nq; ++q) cq[q] = CodeQuery(queries + q * dim, dim, chunk.dim4, metric, &xq[q * chunk.dim4]);
  // Per query, the first pass's best so far as (approximate value with NaN
  // as +infinity, centroid) with each one's exact value: every centroid the
  // batch path keeps enters here (it ranks before the keep-th of those
  // seen before it), and pruning to the keep best after each chunk leaves
  // exactly the batch path's candidates.
  struct Seen {
    float approx;
    uint32_t c;
    double exact;
    bool operator<(const Seen& o) const { return approx < o.approx || (approx == o.approx && c < o.c); }
  };
  std::vector<std::vector<Seen>> seen(nq);
  std::vector<Seen> bound(nq);
  std::vector<char> full(nq, 0);
  std::vector<int32_t> sums(simd::kMaxDotRows * size_t(chunk.n));
  for (uint32_t c0 = 0; c0 < k; c0 += kProbeChunk) {
    const uint32_t n = std::min(kProbeChunk, k - c0);
    AETHER_ASSIGN_OR_RETURN(const float* x, rows(c0, n));
    CodeColumns(x, n, dim, 0, &chunk);
    for (size_t q0 = 0; q0 < nq; q0 += simd::kMaxDotRows) {
      const size_t m = std::min<size_t>(simd::kMaxDotRows, nq - q0);
      kern.dots_codes(&xq[q0 * chunk.dim4], uint32_t(m), chunk.dim4, chunk.packed.data(), chunk.n, sums.data());
      for (uint32_t i = 0; i < n; ++i) {
        const float* c = x + size_t(i) * dim;
        const float norm2 = Dot(c, c, dim), norm = metric == Metric::kCosine ? Norm(c, dim) : 0.0f;
        for (size_t p = 0; p < m; ++p) {
          const size_t q = q0 + p;
          float v =
              ApproxValue(metric, norm2, norm, ApproxDot(chunk, i, sums[p * chunk.n + i], cq[q].unit), cq[q].norm);
          if (std::isnan(v)) v = INFINITY;
          Seen s{v, c0 + i, 0};
          if (full[q] && !(s < bound[q])) continue;
          s.exact = ExactValue(metric, kern.dot_exact(queries + q * dim, c, dim), kern.dot_exact(c, c, dim),
                               cq[q].exact_norm2);
          seen[q].push_back(s);
        }
      }
    }
    for (size_t q = 0; q < nq; ++q)  // the keep best so far, and the last of them
      if (seen[q].size() >= keep) {
        std::nth_element(seen[q].begin(), seen[q].begin() + (keep - 1), seen[q].end());
        seen[q].resize(keep);
        bound[q] = *std::max_element(seen[q].begin(), seen[q].end());
        full[q] = true;
      }
  }
  std::vector<std::vector<uint32_t>> out(nq);
  std::vector<std::pair<double, uint32_t>> pairs;
  for (size_t q = 0; q < nq; ++q) {
    pairs.clear();
    for (const Seen& s : seen[q]) pairs.emplace_back(s.exact, s.c);
    out[q] = BestExact(&pairs, count);
  }
  return out;
}

std::vector<std::vector<uint32_t>> NearestCentroids(const ProbeTable& t, const float* queries, size_t nq,
                                                    uint32_t count, Metric metric, int threads) {
  constexpr size_t kRows = simd::kMaxDotRows;
  const uint32_t k = t.k, dim = t.dim;
  count = std::min(count, k);
  const uint32_t keep = ProbeCandidates(count, k);
  const bool first_pass = keep < k;  // else every centroid is a candidate
  const ProbeTable::Codes* codes = first_pass ? &t.CodesOf() : nullptr;
  const uint32_t dim4 = codes ? codes->dim4 : dim;
  const auto& kern = simd::Active();
  std::vector<std::vector<uint32_t>> out(nq);
  const size_t blocks = (nq + kRows - 1) / kRows;
  const size_t workers = ThreadsFor(size_t(std::max(threads, 0)), (blocks + 3) / 4);
  Status done = ParallelFor(blocks, workers, [&](size_t b, size_t) {
    const size_t q0 = b * kRows, m = std::min(kRows, nq - q0);
    std::vector<uint8_t> xq(m * dim4);
    std::vector<CodedQuery> cq(m);
    for (size_t p = 0; p < m; ++p) cq[p] = CodeQuery(queries + (q0 + p) * dim, dim, dim4, metric, &xq[p * dim4]);
    std::vector<int32_t> sums;
    if (first_pass) {
      sums.resize(m * codes->n);
      kern.dots_codes(xq.data(), uint32_t(m), dim4, codes->packed.data(), codes->n, sums.data());
    }
    std::vector<float> values(k);
    std::vector<uint32_t> all;
    if (!first_pass) {
      all.resize(k);
      std::iota(all.begin(), all.end(), 0u);
    }
    std::vector<std::pair<float, uint32_t>> scratch;
    std::vector<std::pair<double, uint32_t>> pairs;
    std::vector<uint32_t> picked;
    for (size_t p = 0; p < m; ++p) {
      const float* q = queries + (q0 + p) * dim;
      if (first_pass) {
        const int32_t* s = sums.data() + p * codes->n;
        if (metric == Metric::kL2) {  // ApproxValue's first case, a loop the compiler vectorizes
          const float u = cq[p].unit;
          for (uint32_t c = 0; c < k; ++c)
            values[c] = t.norm2[c] - 2 * (float(s[c] - codes->offset[c]) * codes->unit[c] * u);
        } else {
          for (uint32_t c = 0; c < k; ++c)
            values[c] = ApproxValue(metric, t.norm2[c], t.norm[c], ApproxDot(*codes, c, s[c], cq[p].unit), cq[p].norm);
        }
        picked = SmallestInOrder(values.data(), k, keep, &scratch);
      }
      pairs.clear();
      for (uint32_t c : first_pass ? picked : all)
        pairs.emplace_back(
            ExactValue(metric, kern.dot_exact(q, t.rows + size_t(c) * dim, dim), t.exact_norm2[c], cq[p].exact_norm2),
            c);
      out[q0 + p] = BestExact(&pairs, count);
    }
    return Status::Ok();
  });
  (void)done;  // the work cannot fail
  return out;
}

std::vector<uint32_t> NearestCentroids(const float* query, uint32_t dim, const float* centroids, uint32_t k,
                                       uint32_t count, Metric metric) {
  return NearestCentroids(PrepareProbe(centroids, k, dim), query, 1, count, metric, 1)[0];
}

}  // namespace aether
