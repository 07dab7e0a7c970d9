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

std::vector<float> Transpose(const float* c, uint32_t k, uint32_t dim) {
  std::vector<float> t(size_t(k) * dim);
  for (uint32_t i = 0; i < k; ++i)
    for (uint32_t j = 0; j < dim; ++j) t[size_t(j) * k + i] = c[size_t(i) * dim + j];
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

}  // namespace

void AssignNearest(const float* data, size_t n, uint32_t dim, const float* centroids, uint32_t k, int threads,
                   uint32_t* labels, float* distances) {
  std::vector<float> ct = Transpose(centroids, k, dim);
  std::vector<float> cnorm(k);
  for (uint32_t c = 0; c < k; ++c) cnorm[c] = Dot(centroids + size_t(c) * dim, centroids + size_t(c) * dim, dim);
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

KMeansResult TrainKMeans(const float* data, size_t n, uint32_t dim, const KMeansOptions& o) {
  KMeansResult r;
  const uint32_t k = std::max<uint32_t>(1, std::min<uint64_t>(o.k, n));
  std::mt19937_64 rng(o.seed);
  // Training sample: at most max_points_per_centroid * k points, chosen by a
  // seeded partial shuffle.
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  size_t m = std::min<size_t>(n, size_t(o.max_points_per_centroid) * k);
  for (size_t i = 0; i < m; ++i) std::swap(idx[i], idx[i + rng() % (n - i)]);
  std::vector<float> sample(m * dim);
  for (size_t i = 0; i < m; ++i) std::copy(data + idx[i] * dim, data + (idx[i] + 1) * dim, sample.begin() + i * dim);
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
  for (uint32_t c = 0; c < k; ++c) {
    t.norm2[c] = Dot(centroids + size_t(c) * dim, centroids + size_t(c) * dim, dim);
    t.norm[c] = Norm(centroids + size_t(c) * dim, dim);
  }
  return t;
}

const std::vector<float>& ProbeTable::Transposed() const {
  std::call_once(lazy->once, [&] { lazy->transposed = Transpose(rows, k, dim); });
  return lazy->transposed;
}

namespace {

// Batches of at most this many queries take their dot products from chunks
// of the centroids transposed on the fly.
constexpr size_t kFewQueries = 16;
// Centroids per chunk: a multiple of every kernel's column tile (8 for
// AVX2, 32 for AVX-512), so that chunk boundaries are tile boundaries and
// the last chunk's tail is the table's.
constexpr uint32_t kChunkCentroids = 256;

// dots[p * k + c] = queries[p] . centroid c, for m <= kMaxDotRows queries.
void ProbeDots(const ProbeTable& t, const float* queries, size_t m, bool few, std::vector<float>* chunk,
               std::vector<float>* chunk_dots, float* dots) {
  const uint32_t k = t.k, dim = t.dim;
  if (!few) {
    DotsTransposed(queries, m, dim, t.Transposed().data(), k, dots);
    return;
  }
  chunk->resize(size_t(kChunkCentroids) * dim);
  chunk_dots->resize(m * kChunkCentroids);
  for (uint32_t c0 = 0; c0 < k; c0 += kChunkCentroids) {
    const uint32_t n = std::min(kChunkCentroids, k - c0);
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < dim; ++j) (*chunk)[size_t(j) * n + i] = t.rows[size_t(c0 + i) * dim + j];
    DotsTransposed(queries, m, dim, chunk->data(), n, chunk_dots->data());
    for (size_t p = 0; p < m; ++p) std::copy_n(chunk_dots->data() + p * n, n, dots + p * k + c0);
  }
}

}  // namespace

std::vector<std::vector<uint32_t>> NearestCentroids(const ProbeTable& t, const float* queries, size_t nq,
                                                    uint32_t count, Metric metric, int threads) {
  constexpr size_t kRows = 8;
  const uint32_t k = t.k, dim = t.dim;
  count = std::min(count, k);
  std::vector<std::vector<uint32_t>> out(nq);
  const size_t blocks = (nq + kRows - 1) / kRows;
  const size_t workers = ThreadsFor(size_t(std::max(threads, 0)), (blocks + 3) / 4);
  const bool few = nq <= kFewQueries;
  Status done = ParallelFor(blocks, workers, [&](size_t b, size_t) {
    const size_t q0 = b * kRows, m = std::min(kRows, nq - q0);
    std::vector<float> dots(m * k), chunk, chunk_dots;
    std::vector<std::pair<float, uint32_t>> d(k);
    ProbeDots(t, queries + q0 * dim, m, few, &chunk, &chunk_dots, dots.data());
    for (size_t p = 0; p < m; ++p) {
      const float* dp = dots.data() + p * k;
      const float qn = Norm(queries + (q0 + p) * dim, dim);
      for (uint32_t c = 0; c < k; ++c) {
        float v;
        if (metric == Metric::kL2)
          v = t.norm2[c] - 2 * dp[c];
        else if (metric == Metric::kInnerProduct)
          v = -dp[c];
        else
          v = (t.norm[c] == 0 || qn == 0) ? 1.0f : 1.0f - dp[c] / (qn * t.norm[c]);
        d[c] = {v, c};
      }
      std::partial_sort(d.begin(), d.begin() + count, d.end());
      out[q0 + p].resize(count);
      for (uint32_t i = 0; i < count; ++i) out[q0 + p][i] = d[i].second;
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
