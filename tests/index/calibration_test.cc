#include "index/calibration.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <set>

using namespace aether;

namespace {

// Small-integer vectors around integer centres: every float dot product and
// squared distance of them is exact, so an order computed in float (the
// calibration's) and in double (the reference's) can only differ on a true
// tie, which both break by index.
std::vector<float> IntegerBlobs(size_t n, uint32_t dim, uint32_t blobs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> centres(size_t(blobs) * dim), x(n * dim);
  for (float& v : centres) v = float(int(rng() % 33) - 16);
  for (size_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < dim; ++j) x[i * dim + j] = centres[(i % blobs) * dim + j] + float(int(rng() % 9) - 4);
  return x;
}

double RefDistance(Metric m, const float* a, const float* b, uint32_t dim) {
  double dot = 0, aa = 0, bb = 0, l2 = 0;
  for (uint32_t j = 0; j < dim; ++j) {
    dot += double(a[j]) * b[j], aa += double(a[j]) * a[j], bb += double(b[j]) * b[j];
    l2 += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  }
  if (m == Metric::kL2) return l2;
  if (m == Metric::kInnerProduct) return -dot;
  return aa > 0 && bb > 0 ? 1 - dot / std::sqrt(aa * bb) : 1;
}

// Indices of [0, n) nearest first by dist(i), ties by index.
template <typename Dist>
std::vector<uint32_t> Order(size_t n, Dist&& dist) {
  std::vector<std::pair<double, uint32_t>> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = {dist(i), uint32_t(i)};
  std::sort(d.begin(), d.end());
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = d[i].second;
  return out;
}

}  // namespace

TEST_CASE("the recall curve equals IVF searches run by brute force, at every nprobe, for every metric") {
  const uint32_t dim = 12, kp = 37;
  const size_t n = 2400;
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const std::string name = MetricName(metric);
    CAPTURE(name);
    std::vector<float> x = IntegerBlobs(n, dim, 30, 3);
    // Centroids: kp of the points (integers too); each point's partition is
    // a seeded random one, since the calibration must take labels as given
    // (a rewritten or kept-centroid index need not be a Voronoi partition).
    std::vector<float> centroids(x.begin(), x.begin() + size_t(kp) * dim);
    for (float& v : centroids) v += 0.5f;  // no centroid equals a point
    std::mt19937_64 rng(9);
    std::vector<uint32_t> labels(n);
    for (size_t i = 0; i < n; ++i)
      labels[i] = rng() % 4
                      ? Order(kp,
                              [&](size_t c) {
                                return RefDistance(Metric::kL2, x.data() + i * dim, centroids.data() + c * dim, dim);
                              })[0]
                      : uint32_t(rng() % kp);
    CalibrationOptions o;
    o.target = 0.9;
    o.min_queries = o.max_queries = 70;
    o.threads = 2;
    Calibration cal = Calibrate(x.data(), n, dim, metric, centroids.data(), kp, labels.data(), o);
    REQUIRE(cal.queries == 70);
    REQUIRE(cal.query_rows.size() == 70);
    CHECK(std::set<size_t>(cal.query_rows.begin(), cal.query_rows.end()).size() == 70);

    // The reference: for every nprobe, the k nearest among the probed
    // partitions' points (the query's own row held out) against the k
    // nearest among all.
    std::vector<std::vector<double>> recall(kp + 1, std::vector<double>(70));
    for (size_t qi = 0; qi < 70; ++qi) {
      const size_t r = cal.query_rows[qi];
      const float* q = x.data() + r * dim;
      std::vector<uint32_t> by_dist =
          Order(n, [&](size_t i) { return RefDistance(metric, q, x.data() + i * dim, dim); });
      by_dist.erase(std::find(by_dist.begin(), by_dist.end(), uint32_t(r)));
      std::set<uint32_t> truth(by_dist.begin(), by_dist.begin() + 10);
      std::vector<uint32_t> probe =
          Order(kp, [&](size_t c) { return RefDistance(metric, q, centroids.data() + c * dim, dim); });
      for (uint32_t np = 1; np <= kp; ++np) {
        std::set<uint32_t> probed(probe.begin(), probe.begin() + np);
        size_t found = 0, hits = 0;
        for (uint32_t i : by_dist) {
          if (!probed.count(labels[i])) continue;
          hits += truth.count(i);
          if (++found == 10) break;
        }
        recall[np][qi] = double(hits) / 10;
      }
    }
    std::vector<RecallPoint> ref(kp);
    for (uint32_t np = 1; np <= kp; ++np) {
      double mean = std::accumulate(recall[np].begin(), recall[np].end(), 0.0) / 70, var = 0;
      for (double v : recall[np]) var += (v - mean) * (v - mean);
      ref[np - 1] = {np, mean, std::sqrt(var / 69 / 70)};  // the sample variance
    }
    CHECK(ref.back().recall == 1.0);
    // The stored curve: every nprobe up to 67 (here all of them), then steps of at most 3%, K.
    REQUIRE(cal.curve.size() == kp);  // K = 37: every nprobe (all below 67)
    for (const RecallPoint& p : cal.curve) {
      CAPTURE(p.nprobe);
      CHECK(std::fabs(p.recall - ref[p.nprobe - 1].recall) <= 1e-6);
      CHECK(std::fabs(p.std_error - ref[p.nprobe - 1].std_error) <= 1e-6);
    }
    // The chosen nprobe: the reference's smallest with recall - stderr >= 0.9.
    uint32_t want = 0;
    for (const RecallPoint& p : ref)
      if (!want && p.recall - p.std_error >= 0.9 - 1e-9) want = p.nprobe;
    CHECK(cal.nprobe == want);
    CHECK(cal.nprobe > 1);
    CHECK(cal.nprobe < kp);
    CHECK(std::fabs(cal.recall - ref[want - 1].recall) <= 1e-6);
  }
}

TEST_CASE("calibration over vectors read in runs equals it over the vectors in memory, for runs of 512 rows or more") {
  // Gaussian vectors (float rounding everywhere), every metric, runs cut at
  // multiples of 512 rows (VectorRuns), down to one row past them; a failing
  // read and a failing gather are returned. Run under each kernel
  // (AETHER_SIMD=scalar, avx2) as well.
  const uint32_t dim = 9, kp = 23;
  const size_t n = 1700;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(n * dim);
  for (float& v : x) v = g(rng);
  std::vector<float> centroids(x.begin() + 100 * dim, x.begin() + (100 + kp) * dim);
  std::vector<uint32_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = uint32_t(rng() % kp);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const std::string name = MetricName(metric);
    CAPTURE(name);
    CalibrationOptions o;
    o.min_queries = o.max_queries = 150;
    const Calibration want = Calibrate(x.data(), n, dim, metric, centroids.data(), kp, labels.data(), o);
    REQUIRE(want.queries == 150);
    for (size_t run : {size_t(512), size_t(1024), size_t(1536), n}) {
      CAPTURE(run);
      size_t gathered = 0;
      const VectorRuns runs = [&](const std::function<void(size_t, const float*, size_t)>& fn) {
        for (size_t first = 0; first < n; first += run) {
          std::vector<float> copy(x.begin() + first * dim, x.begin() + std::min(n, first + run) * dim);
          fn(first, copy.data(), copy.size() / dim);
        }
        return Status::Ok();
      };
      const VectorGather gather = [&](const std::vector<size_t>& rows) -> Result<std::vector<float>> {
        ++gathered;
        std::vector<float> out;
        for (size_t r : rows) out.insert(out.end(), x.begin() + r * dim, x.begin() + (r + 1) * dim);
        return out;
      };
      auto got = Calibrate(runs, gather, n, dim, metric, centroids.data(), kp, labels.data(), o);
      REQUIRE(got.ok());
      CHECK(gathered == 1);
      CHECK(got->query_rows == want.query_rows);
      CHECK(got->nprobe == want.nprobe);
      CHECK(got->recall == want.recall);
      CHECK(EncodeCurve(got->curve) == EncodeCurve(want.curve));
    }
    const VectorRuns broken = [&](const std::function<void(size_t, const float*, size_t)>& fn) {
      fn(0, x.data(), 10);
      return Status::IOError("read failed");
    };
    const VectorGather gather = [&](const std::vector<size_t>& rows) -> Result<std::vector<float>> {
      return std::vector<float>(rows.size() * dim);
    };
    auto failed = Calibrate(broken, gather, n, dim, metric, centroids.data(), kp, labels.data(), o);
    REQUIRE(!failed.ok());
    CHECK(failed.status().message().find("read failed") != std::string::npos);
    const VectorRuns whole = [&](const std::function<void(size_t, const float*, size_t)>& fn) {
      fn(0, x.data(), n);
      return Status::Ok();
    };
    const VectorGather no_gather = [&](const std::vector<size_t>&) -> Result<std::vector<float>> {
      return Status::IOError("gather failed");
    };
    failed = Calibrate(whole, no_gather, n, dim, metric, centroids.data(), kp, labels.data(), o);
    REQUIRE(!failed.ok());
    CHECK(failed.status().message().find("gather failed") != std::string::npos);
  }
}

TEST_CASE("the stored curve keeps every nprobe to 32, then steps of at most 3%, K and the chosen one") {
  const uint32_t dim = 4, kp = 900;
  const size_t n = 2000;
  std::vector<float> x = IntegerBlobs(n, dim, 200, 5);
  std::vector<float> centroids(size_t(kp) * dim);
  std::mt19937_64 rng(2);
  for (float& v : centroids) v = float(int(rng() % 33) - 16) + 0.25f;
  std::vector<uint32_t> labels(n);
  for (uint32_t& l : labels) l = uint32_t(rng() % kp);
  CalibrationOptions o;
  o.min_queries = o.max_queries = 50;
  Calibration cal = Calibrate(x.data(), n, dim, Metric::kL2, centroids.data(), kp, labels.data(), o);
  REQUIRE(!cal.curve.empty());
  for (uint32_t np = 1; np <= 32; ++np) CHECK(cal.curve[np - 1].nprobe == np);
  CHECK(cal.curve.back().nprobe == kp);
  CHECK(cal.curve.back().recall == 1.0);
  bool has_chosen = false;
  for (size_t i = 1; i < cal.curve.size(); ++i) {
    CHECK(cal.curve[i].nprobe > cal.curve[i - 1].nprobe);
    CHECK(cal.curve[i].recall >= cal.curve[i - 1].recall);  // more partitions never find fewer
    if (cal.curve[i].nprobe > 32 && cal.curve[i].nprobe != cal.nprobe && cal.curve[i - 1].nprobe != cal.nprobe)
      CHECK(cal.curve[i].nprobe <= std::max(cal.curve[i - 1].nprobe + 1, cal.curve[i - 1].nprobe * 103 / 100));
    has_chosen |= cal.curve[i].nprobe == cal.nprobe;
  }
  CHECK((has_chosen || cal.curve[0].nprobe == cal.nprobe));
  CHECK(cal.curve.size() < 200);
  // NprobeFor on the stored curve finds the chosen nprobe again.
  CHECK(NprobeFor(cal.curve, cal.target) == cal.nprobe);
}

TEST_CASE("calibration edge cases: one vector, two vectors, every vector in one partition") {
  std::vector<float> one = {1, 2};
  std::vector<uint32_t> l1 = {0};
  Calibration a = Calibrate(one.data(), 1, 2, Metric::kL2, one.data(), 1, l1.data(), {});
  CHECK(a.nprobe == 1);
  CHECK(a.recall == 1.0);
  CHECK(a.queries == 0);
  std::vector<float> two = {0, 0, 1, 1}, c2 = {0, 0, 1, 1};
  std::vector<uint32_t> l2 = {0, 1};
  Calibration b = Calibrate(two.data(), 2, 2, Metric::kL2, c2.data(), 2, l2.data(), {});
  CHECK(b.k == 1);
  CHECK(b.queries == 2);
  CHECK(b.nprobe == 2);  // each one's only neighbour is in the other partition
  CHECK(b.curve.size() == 2);
  CHECK(b.curve[0].recall == 0.0);
  std::vector<float> x = IntegerBlobs(300, 3, 5, 1), c1(3, 0.5f);
  std::vector<uint32_t> zeros(300, 0);
  Calibration c = Calibrate(x.data(), 300, 3, Metric::kCosine, c1.data(), 1, zeros.data(), {});
  CHECK(c.nprobe == 1);
  CHECK(c.recall == 1.0);
  CHECK(c.queries == 300);
}

// The queries are the first steps of a seeded Fisher-Yates shuffle of the
// rows (a rebuild gathers them ahead, so they are a function of n, dim and
// the options alone): as a shuffle of all n rows gives them, for every
// count the budget and bounds allow, none for fewer than two rows.
TEST_CASE("calibration's query rows: a seeded partial shuffle, as over every row") {
  for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(199), size_t(1000), size_t(5000)}) {
    for (uint64_t seed : {uint64_t(1), uint64_t(77)}) {
      CAPTURE(n);
      CAPTURE(seed);
      CalibrationOptions o;
      o.seed = seed;
      const std::vector<size_t> got = CalibrationQueryRows(n, 16, o);
      if (n < 2) {
        CHECK(got.empty());
        continue;
      }
      size_t nq = size_t(std::clamp(o.budget / (double(n) * 16), double(o.min_queries), double(o.max_queries)));
      nq = std::max<size_t>(1, std::min(nq, n));
      std::vector<size_t> all(n);
      std::iota(all.begin(), all.end(), size_t(0));
      std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ull);
      for (size_t i = 0; i < nq; ++i) std::swap(all[i], all[i + rng() % (n - i)]);
      all.resize(nq);
      CHECK(got == all);
    }
  }
  // The calibration runs on exactly those.
  std::vector<float> x = IntegerBlobs(300, 3, 5, 1), c1(3, 0.5f);
  std::vector<uint32_t> zeros(300, 0);
  CalibrationOptions o;
  o.min_queries = o.max_queries = 40;
  CHECK(Calibrate(x.data(), 300, 3, Metric::kL2, c1.data(), 1, zeros.data(), o).query_rows ==
        CalibrationQueryRows(300, 3, o));
}

TEST_CASE("a recall curve round-trips through its text, and damaged text is corruption") {
  std::vector<RecallPoint> curve = {{1, 0.5, 0.01}, {2, 0.75, 0.012345}, {40, 1, 0}};
  auto back = DecodeCurve(EncodeCurve(curve));
  REQUIRE(back.ok());
  REQUIRE(back->size() == 3);
  CHECK((*back)[1].nprobe == 2);
  CHECK((*back)[1].recall == 0.75);
  CHECK((*back)[1].std_error == 0.012345);
  CHECK(EncodeCurve(curve) == "1,0.500000,0.010000 2,0.750000,0.012345 40,1.000000,0.000000");
  CHECK(NprobeFor(*back, 0.7) == 2);
  CHECK(NprobeFor(*back, 0.74) == 40);  // 0.75 - 0.012345 falls short
  CHECK(NprobeFor(*back, 1.0) == 40);
  CHECK(NprobeFor({}, 0.5) == 0);
  for (const char* bad : {"1,0.5", "x,0.5,0.1", "0,0.5,0.1", "1,1.5,0.1", "1,0.5,-1", "2,0.5,0.1 1,0.6,0.1",
                          "1,0.5,0.1 1,0.6,0.1", "1,0.5,0.1junk", "1,nan,0.1"}) {
    CAPTURE(bad);
    auto r = DecodeCurve(bad);
    CHECK(r.status().code() == Code::kCorruption);
  }
  auto empty = DecodeCurve("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}
