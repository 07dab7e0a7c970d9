#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
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
  t.exact_norm2.resize(k);
  for (uint32_t c = 0; c < k; ++c)
    t.exact_norm2[c] = simd::Active().dot_exact(centroids + size_t(c) * dim, centroids + size_t(c) * dim, dim);
  return t;
}

namespace {

// The probe's codes (NearestCentroids): a vector's components as integers
// of one scale, the largest magnitude coded as `limit`; its unit (what a
// code of 1 stands for) returned. A zero vector, or one with a component
// not finite, codes as all zeros with unit 0. Each |v| <= limit (but for
// the product's rounding) is rounded to the nearest integer, ties to even,
// by adding and taking away 1.5 * 2^23 (no branch, no call: loops the
// compiler vectorizes); a scale a float cannot hold (the largest magnitude
// below about 4e-37) is a double's.
float CodeRow(const float* x, uint32_t dim, int limit, int8_t* codes) {
  // |x| by its bits: for floats not NaN their order is the integers' order,
  // and infinity and NaN are at least 0x7F800000.
  uint32_t most_bits = 0;
  for (uint32_t j = 0; j < dim; ++j) {
    uint32_t b;
    std::memcpy(&b, x + j, 4);
    b &= 0x7FFFFFFFu;
    most_bits = b > most_bits ? b : most_bits;
  }
  float most;
  std::memcpy(&most, &most_bits, 4);
  if (most_bits >= 0x7F800000u || most_bits == 0) {
    std::fill(codes, codes + dim, int8_t(0));
    return 0;
  }
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  const float scale = float(limit) / most;
  if (std::isfinite(scale)) {
    for (uint32_t j = 0; j < dim; ++j) codes[j] = int8_t(int((x[j] * scale + kRound) - kRound));
  } else {
    const double wide = double(limit) / double(most);
    for (uint32_t j = 0; j < dim; ++j) codes[j] = int8_t(int(std::nearbyint(double(x[j]) * wide)));
  }
  return most / float(limit);
}

// Query codes are kept within +-kQueryLimit and stored offset by kQueryZero
// (the kernel multiplies unsigned query bytes by signed codes): a column's
// sum then exceeds the true one by kQueryZero times the sum of its codes.
constexpr int kQueryLimit = 63;
constexpr int kQueryZero = 64;
static_assert(kQueryZero + kQueryLimit <= simd::kMaxQueryCode && kQueryZero - kQueryLimit >= 0);

// The point every vector is coded around: the mean of the first n =
// min(k, kProbeChunk) centroids (the first chunk NearestCentroidsChunked
// reads), summed in double in their order. Coded around the origin, data
// far from it (a shared offset) would leave the differences between
// centroids below the codes' resolution.
std::vector<float> CenterOf(const float* rows, uint32_t n, uint32_t dim) {
  std::vector<double> sum(dim, 0.0);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < dim; ++j) sum[j] += rows[size_t(i) * dim + j];
  std::vector<float> center(dim, 0.0f);
  if (n > 0)
    for (uint32_t j = 0; j < dim; ++j) center[j] = float(sum[j] / n);
  return center;
}

ProbeTable::Codes EmptyCodes(uint32_t k, uint32_t dim) {
  ProbeTable::Codes codes;
  codes.dim4 = (dim + simd::kCodeGroup - 1) / simd::kCodeGroup * simd::kCodeGroup;
  codes.n = (k + simd::kCodeColumns - 1) / simd::kCodeColumns * simd::kCodeColumns;
  codes.packed.assign(size_t(codes.dim4) * codes.n, 0);
  codes.unit.assign(codes.n, 0.0f);
  codes.offset.assign(codes.n, 0);
  codes.norm2.assign(codes.n, 0.0f);
  codes.center_dot.assign(codes.n, 0.0f);
  codes.norm.assign(codes.n, 0.0f);
  return codes;
}

// Codes n centroids (rows, n x dim) into columns [0, n) of `codes`, around
// codes->center, with the first pass's terms the metric needs
// (every one for nullopt: a table serves any metric), each from an exact
// sum, so the same float on every CPU.
void CodeColumns(const float* rows, uint32_t n, uint32_t dim, std::optional<Metric> metric, ProbeTable::Codes* codes) {
  constexpr uint32_t g = simd::kCodeGroup;
  const auto& kern = simd::Active();
  const float* center = codes->center.data();
  std::vector<float> d(dim);
  std::vector<int8_t> row(codes->dim4, 0);
  for (uint32_t c = 0; c < n; ++c) {
    const float* x = rows + size_t(c) * dim;
    for (uint32_t j = 0; j < dim; ++j) d[j] = x[j] - center[j];
    codes->unit[c] = CodeRow(d.data(), dim, simd::kMaxColumnCode, row.data());
    int32_t sum = 0;
    for (uint32_t j = 0; j < codes->dim4; ++j) sum += row[j];
    for (uint32_t j = 0; j < codes->dim4; j += g)  // a word of g codes to each group's column
      std::memcpy(&codes->packed[(size_t(j / g) * codes->n + c) * g], &row[j], g);
    codes->offset[c] = kQueryZero * sum;
    if (!metric || *metric == Metric::kL2) codes->norm2[c] = float(kern.dot_exact(d.data(), d.data(), dim));
    if (!metric || *metric != Metric::kL2) codes->center_dot[c] = float(kern.dot_exact(center, x, dim));
    if (!metric || *metric == Metric::kCosine) codes->norm[c] = float(std::sqrt(kern.dot_exact(x, x, dim)));
  }
}

}  // namespace

const ProbeTable::Codes& ProbeTable::CodesOf() const {
  std::call_once(lazy->once, [&] {
    lazy->codes = EmptyCodes(k, dim);
    lazy->codes.center = CenterOf(rows, std::min(k, kProbeChunk), dim);
    CodeColumns(rows, k, dim, std::nullopt, &lazy->codes);
  });
  return lazy->codes;
}

namespace {

// A query prepared for both passes: its codes around the center (dim4
// bytes, offset by kQueryZero) and their unit; (q - center).center (ip,
// cosine); its norm and exact squared norm (cosine).
struct CodedQuery {
  float unit = 0, center_dot = 0, norm = 0;
  double exact_norm2 = 0;
};
CodedQuery CodeQuery(const float* q, uint32_t dim, const std::vector<float>& center, uint32_t dim4, Metric metric,
                     std::vector<float>* d, uint8_t* xq) {
  const auto& kern = simd::Active();
  CodedQuery c;
  d->resize(dim);
  for (uint32_t j = 0; j < dim; ++j) (*d)[j] = q[j] - center[j];
  int8_t* codes = reinterpret_cast<int8_t*>(xq);  // coded in place, then offset
  c.unit = CodeRow(d->data(), dim, kQueryLimit, codes);
  for (uint32_t j = 0; j < dim4; ++j) xq[j] = uint8_t(kQueryZero + (j < dim ? codes[j] : 0));
  if (metric != Metric::kL2) c.center_dot = float(kern.dot_exact(d->data(), center.data(), dim));
  if (metric == Metric::kCosine) {
    c.exact_norm2 = kern.dot_exact(q, q, dim);
    c.norm = float(std::sqrt(c.exact_norm2));
  }
  return c;
}

// A query's distance to centroid c in the first pass, from the sum of
// their codes: with (q - m).(c - m) ~ the codes' dot product, squared L2
// as |c - m|^2 - 2 (q - m).(c - m) (|q - c|^2 less |q - m|^2, the same for
// every centroid); q.c = (q - m).(c - m) + m.c + (q - m).m for negative
// dot and 1 - cosine (1 for a zero vector). One expression for both
// paths, so the same float.
inline float ApproxValue(Metric metric, const ProbeTable::Codes& codes, uint32_t c, int32_t sum, const CodedQuery& q) {
  const float dot = float(sum - codes.offset[c]) * codes.unit[c] * q.unit;
  if (metric == Metric::kL2) return codes.norm2[c] - 2 * dot;
  const float qc = dot + codes.center_dot[c] + q.center_dot;
  if (metric == Metric::kInnerProduct) return -qc;
  return (codes.norm[c] == 0 || q.norm == 0) ? 1.0f : 1.0f - qc / (q.norm * codes.norm[c]);
}

// The same in double precision from exact sums (dot_exact): the second
// pass's order. The same double in every kernel variant.
inline double ExactValue(Metric metric, double dot, double cc, double qq) {
  if (metric == Metric::kL2) return cc - 2 * dot;
  if (metric == Metric::kInnerProduct) return -dot;
  return (cc == 0 || qq == 0) ? 1.0 : 1.0 - dot / std::sqrt(qq * cc);
}

// SmallestInOrder(values, k, keep), a NaN as +infinity, with fewer steps
// of its list: the keep-th smallest of the minima of 16 strided lanes (the
// lane_minima kernel, which also turns each NaN into +infinity) bounds the
// keep-th smallest of all (keep distinct values are at most it), so only
// the values at most that bound (usually few more than keep) are ranked,
// picked out by the rows_not_above kernel.
std::vector<uint32_t> SmallestFew(float* values, uint32_t k, uint32_t keep, std::vector<uint32_t>* rows,
                                  std::vector<float>* gathered, std::vector<std::pair<float, uint32_t>>* scratch) {
  constexpr uint32_t kLanes = simd::kLanes;
  if (keep == 0 || keep > kLanes || k < 4 * kLanes) return SmallestInOrder(values, k, keep, scratch);
  const auto& kern = simd::Active();
  float lane[kLanes];
  kern.lane_minima(values, k, lane);
  std::nth_element(lane, lane + (keep - 1), lane + kLanes);
  rows->resize(k + simd::kSelectSlack);
  // rows_not_above would turn a NaN into -infinity in place: lane_minima left none.
  const size_t n = kern.rows_not_above(values, k, lane[keep - 1], rows->data());
  gathered->resize(n);
  for (size_t i = 0; i < n; ++i) (*gathered)[i] = values[(*rows)[i]];
  std::vector<uint32_t> at = SmallestInOrder(gathered->data(), uint32_t(n), keep, scratch);
  for (uint32_t& a : at) a = (*rows)[a];
  return at;
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
  std::vector<float> d;
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
    if (c0 == 0) {  // the first chunk sets the center (CenterOf), then the queries are coded
      chunk.center = CenterOf(x, n, dim);
      for (size_t q = 0; q < nq; ++q)
        cq[q] = CodeQuery(queries + q * dim, dim, chunk.center, chunk.dim4, metric, &d, &xq[q * chunk.dim4]);
    }
    CodeColumns(x, n, dim, metric, &chunk);
    for (size_t q0 = 0; q0 < nq; q0 += simd::kMaxDotRows) {
      const size_t m = std::min<size_t>(simd::kMaxDotRows, nq - q0);
      kern.dots_codes(&xq[q0 * chunk.dim4], uint32_t(m), chunk.dim4, chunk.packed.data(), chunk.n, sums.data());
      for (uint32_t i = 0; i < n; ++i) {
        const float* c = x + size_t(i) * dim;
        double cc = -1;  // c.c, once a query keeps this centroid
        for (size_t p = 0; p < m; ++p) {
          const size_t q = q0 + p;
          float v = ApproxValue(metric, chunk, i, sums[p * chunk.n + i], cq[q]);
          if (std::isnan(v)) v = INFINITY;
          Seen s{v, c0 + i, 0};
          if (full[q] && !(s < bound[q])) continue;
          if (cc < 0) cc = kern.dot_exact(c, c, dim);
          s.exact = ExactValue(metric, kern.dot_exact(queries + q * dim, c, dim), cc, cq[q].exact_norm2);
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
  const auto& kern = simd::Active();
  std::vector<std::vector<uint32_t>> out(nq);
  const size_t blocks = (nq + kRows - 1) / kRows;
  const size_t workers = ThreadsFor(size_t(std::max(threads, 0)), (blocks + 3) / 4);
  // Each worker's buffers, sized once (a block's own were most of the
  // probe's page faults and memset).
  struct Scratch {
    std::vector<std::pair<double, uint32_t>> pairs;
    std::vector<std::pair<float, uint32_t>> scratch;
    std::vector<uint32_t> picked, rows;
    std::vector<CodedQuery> cq;
    std::vector<int32_t> sums;
    std::vector<uint8_t> xq;
    std::vector<float> values, gathered, d;
  };
  std::vector<Scratch> scratches(std::max<size_t>(workers, 1));
  Status done = ParallelFor(blocks, workers, [&](size_t b, size_t w) {
    const size_t q0 = b * kRows, m = std::min(kRows, nq - q0);
    Scratch& sc = scratches[w];
    auto& [pairs, scratch, picked, rows, cq, sums, xq, values, gathered, d] = sc;
    if (!first_pass && picked.size() != k) {
      picked.resize(k);
      std::iota(picked.begin(), picked.end(), 0u);
    }
    cq.assign(m, CodedQuery());
    if (first_pass) {
      xq.resize(m * codes->dim4);
      for (size_t p = 0; p < m; ++p)
        cq[p] = CodeQuery(queries + (q0 + p) * dim, dim, codes->center, codes->dim4, metric, &d, &xq[p * codes->dim4]);
      sums.resize(m * codes->n);
      kern.dots_codes(xq.data(), uint32_t(m), codes->dim4, codes->packed.data(), codes->n, sums.data());
      values.resize(k);
    } else if (metric == Metric::kCosine) {
      for (size_t p = 0; p < m; ++p)
        cq[p].exact_norm2 = kern.dot_exact(queries + (q0 + p) * dim, queries + (q0 + p) * dim, dim);
    }
    for (size_t p = 0; p < m; ++p) {
      const float* q = queries + (q0 + p) * dim;
      if (first_pass) {
        const int32_t* s = sums.data() + p * codes->n;
        if (metric == Metric::kL2) {  // ApproxValue's first case, as a loop the compiler vectorizes
          const float u = cq[p].unit;
          for (uint32_t c = 0; c < k; ++c)
            values[c] = codes->norm2[c] - 2 * (float(s[c] - codes->offset[c]) * codes->unit[c] * u);
        } else {
          for (uint32_t c = 0; c < k; ++c) values[c] = ApproxValue(metric, *codes, c, s[c], cq[p]);
        }
        picked = SmallestFew(values.data(), k, keep, &rows, &gathered, &scratch);
      }
      pairs.clear();
      for (uint32_t c : picked)
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
