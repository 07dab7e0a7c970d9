#include "index/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>

#include "env/parallel.h"
#include "index/kmeans.h"
#include "vecmath/distance.h"
#include "vecmath/kernels.h"

namespace aether {
namespace {

constexpr size_t kBlock = 512;               // data rows transposed at a time
constexpr size_t kRows = simd::kMaxDotRows;  // queries per call of the dot kernel

// The exact k nearest of every query (qp: nq x dim) among the n rows the
// runs give, each query's own row (queries[q]) excluded: indices, nearest
// first, ties by index. Brute force in blocks (one transposed block against
// 8 queries at a time), each run's blocks split between the workers, their
// lists merged. Runs cut at multiples of kBlock rows give the floats of
// one run of all rows (the AVX2 kernel's last columns of a block round
// apart from the rest): the same result.
Result<std::vector<std::vector<uint32_t>>> NearestNeighbours(const VectorRuns& runs, size_t n, uint32_t dim,
                                                             Metric metric, const std::vector<size_t>& queries,
                                                             const std::vector<float>& qp, uint32_t k, int threads) {
  const size_t nq = queries.size();
  std::vector<float> qnorm(nq);
  for (size_t q = 0; q < nq; ++q) qnorm[q] = Norm(qp.data() + q * dim, dim);
  const size_t t = ThreadsFor(size_t(std::max(threads, 0)), (n + kBlock - 1) / kBlock);
  std::vector<std::vector<TopK>> tops(t);
  for (auto& per : tops) per.assign(nq, TopK(k));
  AETHER_RETURN_IF_ERROR(runs([&](size_t first, const float* data, size_t count) {
    const size_t blocks = (count + kBlock - 1) / kBlock;
    Status done = ParallelFor(blocks, ThreadsFor(t, blocks), [&](size_t b, size_t w) {
      const size_t begin = b * kBlock, rows = std::min(kBlock, count - begin);
      std::vector<float> xt(size_t(dim) * rows), xnorm2(rows), dots(kRows * rows);
      for (size_t i = 0; i < rows; ++i) {
        const float* v = data + (begin + i) * dim;
        for (uint32_t j = 0; j < dim; ++j) xt[size_t(j) * rows + i] = v[j];
        xnorm2[i] = Dot(v, v, dim);
      }
      for (size_t q0 = 0; q0 < nq; q0 += kRows) {
        const size_t m = std::min(kRows, nq - q0);
        DotsTransposed(qp.data() + q0 * dim, m, dim, xt.data(), uint32_t(rows), dots.data());
        for (size_t p = 0; p < m; ++p) {
          TopK& top = tops[w][q0 + p];
          const float* d = dots.data() + p * rows;
          for (size_t i = 0; i < rows; ++i) {
            float v;
            if (metric == Metric::kL2)
              v = xnorm2[i] - 2 * d[i];  // |q|^2 is the same for every row
            else if (metric == Metric::kInnerProduct)
              v = -d[i];
            else {
              const float denom = qnorm[q0 + p] * std::sqrt(xnorm2[i]);
              v = denom > 0 ? 1.0f - d[i] / denom : 1.0f;
            }
            const size_t row = first + begin + i;
            const Candidate c{v, int64_t(row)};
            if (row != queries[q0 + p] && top.Admits(c)) top.Push(c);
          }
        }
      }
      return Status::Ok();
    });
    (void)done;  // the work cannot fail
  }));
  std::vector<std::vector<uint32_t>> out(nq);
  for (size_t q = 0; q < nq; ++q) {
    TopK merged(k);
    for (auto& per : tops)
      for (const Candidate& c : per[q].Take())
        if (merged.Admits(c)) merged.Push(c);
    for (const Candidate& c : merged.Take()) out[q].push_back(uint32_t(c.row_id));
  }
  return out;
}

// The nprobe values the stored curve keeps.
std::vector<uint32_t> CurveGrid(uint32_t k_partitions, uint32_t chosen) {
  std::vector<uint32_t> grid;
  for (uint32_t np = 1; np <= k_partitions; np = std::max(np + 1, uint32_t(uint64_t(np) * 103 / 100)))
    grid.push_back(np);
  grid.push_back(k_partitions);
  grid.push_back(chosen);
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  return grid;
}

}  // namespace

Calibration Calibrate(const float* data, size_t n, uint32_t dim, Metric metric, const float* centroids,
                      uint32_t k_partitions, const uint32_t* labels, const CalibrationOptions& o) {
  const VectorRuns runs = [&](const std::function<void(size_t, const float*, size_t)>& fn) {
    fn(0, data, n);
    return Status::Ok();
  };
  const VectorGather gather = [&](const std::vector<size_t>& rows) -> Result<std::vector<float>> {
    std::vector<float> out(rows.size() * dim);
    for (size_t i = 0; i < rows.size(); ++i) std::copy_n(data + rows[i] * dim, dim, out.begin() + i * dim);
    return out;
  };
  Result<Calibration> cal = Calibrate(runs, gather, n, dim, metric, centroids, k_partitions, labels, o);
  return cal.ok() ? *cal : Calibration{};  // runs and gather over memory cannot fail
}

std::vector<size_t> CalibrationQueryRows(size_t n, uint32_t dim, const CalibrationOptions& o) {
  if (n < 2) return {};
  size_t nq = size_t(std::clamp(o.budget / (double(n) * dim), double(o.min_queries), double(o.max_queries)));
  nq = std::max<size_t>(1, std::min(nq, n));
  // The first nq steps of a Fisher-Yates shuffle of 0..n-1, with only the
  // positions it moved held (a map, not n rows: a rebuild asks for these
  // while it holds its list of every memory).
  std::unordered_map<size_t, size_t> moved;
  auto at = [&](size_t i) {
    auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  // Not the seed's own stream: that is the K-Means training sample's, and
  // the queries would be its first points.
  std::mt19937_64 rng(o.seed ^ 0x9E3779B97F4A7C15ull);
  std::vector<size_t> rows(nq);
  for (size_t i = 0; i < nq; ++i) {
    const size_t j = i + rng() % (n - i), here = at(i);
    rows[i] = at(j);  // the swap of positions i and j; i is not read again
    moved[j] = here;
  }
  return rows;
}

Result<Calibration> Calibrate(const VectorRuns& runs, const VectorGather& gather, size_t n, uint32_t dim, Metric metric,
                              const float* centroids, uint32_t k_partitions, const uint32_t* labels,
                              const CalibrationOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  Calibration cal;
  cal.target = o.target;
  cal.k = uint32_t(std::min<uint64_t>(o.k, n > 0 ? n - 1 : 0));
  if (n == 0 || k_partitions == 0) return cal;
  if (cal.k == 0) {  // one vector: any probe finds everything there is
    cal.nprobe = 1, cal.recall = 1, cal.curve = {{1, 1, 0}};
    if (k_partitions > 1) cal.curve.push_back({k_partitions, 1, 0});
    return cal;
  }
  const std::vector<size_t> rows = CalibrationQueryRows(n, dim, o);
  const size_t nq = rows.size();
  cal.queries = uint32_t(nq);
  cal.query_rows = rows;
  AETHER_ASSIGN_OR_RETURN(const std::vector<float> qp, gather(rows));
  AETHER_ASSIGN_OR_RETURN(const std::vector<std::vector<uint32_t>> truth,
                          NearestNeighbours(runs, n, dim, metric, rows, qp, cal.k, o.threads));

  // Each query's neighbours by the probe rank of their partition: a
  // neighbour counts from nprobe = rank + 1 on. Per nprobe, the sum and sum
  // of squares of the per-query recall, as differences at the ranks.
  std::vector<double> sum(k_partitions + 1, 0.0), sq(k_partitions + 1, 0.0);
  std::vector<std::vector<uint32_t>> ranks(nq);
  // The full probe orders a chunk of queries at a time (64 x K, not nq x K).
  const ProbeTable table = PrepareProbe(centroids, k_partitions, dim);
  constexpr size_t kChunk = 64;
  std::vector<uint32_t> rank_of(k_partitions);
  for (size_t q0 = 0; q0 < nq; q0 += kChunk) {
    const size_t m = std::min(kChunk, nq - q0);
    const std::vector<std::vector<uint32_t>> orders =
        NearestCentroids(table, qp.data() + q0 * dim, m, k_partitions, metric, o.threads);
    for (size_t q = 0; q < m; ++q) {
      for (uint32_t r = 0; r < k_partitions; ++r) rank_of[orders[q][r]] = r;
      for (uint32_t i : truth[q0 + q]) ranks[q0 + q].push_back(rank_of[labels[i]]);
      std::sort(ranks[q0 + q].begin(), ranks[q0 + q].end());
    }
  }
  const double kk = double(cal.k);
  for (size_t q = 0; q < nq; ++q)
    for (size_t j = 0; j < ranks[q].size(); ++j) {
      sum[ranks[q][j]] += 1 / kk;
      sq[ranks[q][j]] += (double(j + 1) * (j + 1) - double(j) * j) / (kk * kk);
    }
  std::vector<RecallPoint> full(k_partitions);
  double s = 0, s2 = 0;
  for (uint32_t np = 1; np <= k_partitions; ++np) {
    s += sum[np - 1], s2 += sq[np - 1];
    const double mean = s / double(nq);
    // The sample variance of the per-query recalls.
    const double var = nq > 1 ? std::max(0.0, s2 / double(nq) - mean * mean) * double(nq) / double(nq - 1) : 0.0;
    // Rounded as stored (EncodeCurve), so that the chosen nprobe is the one
    // NprobeFor finds in the stored curve.
    auto round6 = [](double v) { return std::round(v * 1e6) / 1e6; };
    full[np - 1] = {np, round6(std::min(1.0, mean)), round6(std::sqrt(var / double(nq)))};
  }
  cal.nprobe = NprobeFor(full, o.target);
  cal.recall = full[cal.nprobe - 1].recall;
  cal.std_error = full[cal.nprobe - 1].std_error;
  for (uint32_t np : CurveGrid(k_partitions, cal.nprobe)) cal.curve.push_back(full[np - 1]);
  cal.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return cal;
}

uint32_t NprobeFor(const std::vector<RecallPoint>& curve, double target) {
  for (const RecallPoint& p : curve)
    if (p.recall - p.std_error >= target) return p.nprobe;
  return curve.empty() ? 0 : curve.back().nprobe;
}

std::string EncodeCurve(const std::vector<RecallPoint>& curve) {
  std::string out;
  for (const RecallPoint& p : curve) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{},{:.6f},{:.6f}", p.nprobe, p.recall, p.std_error);
  }
  return out;
}

Result<std::vector<RecallPoint>> DecodeCurve(const std::string& text) {
  std::vector<RecallPoint> out;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    RecallPoint p;
    unsigned long np = 0;
    int used = 0;
    if (std::sscanf(item.c_str(), "%lu,%lf,%lf%n", &np, &p.recall, &p.std_error, &used) != 3 ||
        size_t(used) != item.size() || np == 0 || np > UINT32_MAX || !(p.recall >= 0 && p.recall <= 1) ||
        !(p.std_error >= 0 && p.std_error <= 1) || (!out.empty() && np <= out.back().nprobe))
      return Status::Corruption(fmt::format("bad recall curve point '{}'", item));
    p.nprobe = uint32_t(np);
    out.push_back(p);
  }
  // Exactly the stored form: one space between points, six decimals.
  if (EncodeCurve(out) != text) return Status::Corruption("recall curve not in its stored form");
  return out;
}

}  // namespace aether
