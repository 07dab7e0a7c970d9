#include "index/kmeans.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "index/centroids_file.h"
#include "test_util.h"
#include "vecmath/distance.h"

using namespace aether;

namespace {

// n points around `c` well-separated centres in dim dimensions.
std::vector<float> Blobs(size_t n, uint32_t dim, uint32_t c, uint64_t seed, std::vector<uint32_t>* truth) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(size_t(c) * dim);
  for (uint32_t i = 0; i < c; ++i) centres[size_t(i) * dim + (i % dim)] = 20.0f * float(1 + i / dim);
  std::vector<float> x(n * dim);
  truth->resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t b = uint32_t(i % c);
    (*truth)[i] = b;
    for (uint32_t j = 0; j < dim; ++j) x[i * dim + j] = centres[size_t(b) * dim + j] + 0.5f * g(rng);
  }
  return x;
}

}  // namespace

TEST_CASE("k-means recovers well-separated clusters exactly") {
  std::vector<uint32_t> truth;
  auto x = Blobs(3000, 8, 6, 1, &truth);
  KMeansOptions o;
  o.k = 6;
  o.iterations = 25;
  auto r = TrainKMeans(x.data(), 3000, 8, o);
  std::vector<uint32_t> labels(3000);
  AssignNearest(x.data(), 3000, 8, r.centroids.data(), 6, 2, labels.data());
  // Same partition as the truth, up to renaming: each true cluster maps to one label.
  std::vector<std::set<uint32_t>> seen(6);
  for (size_t i = 0; i < 3000; ++i) seen[truth[i]].insert(labels[i]);
  std::set<uint32_t> used;
  for (const auto& s : seen) {
    CHECK(s.size() == 1);
    used.insert(*s.begin());
  }
  CHECK(used.size() == 6);
  CHECK(r.objective / 3000 < 8 * 0.25 * 1.2);  // about the within-cluster variance
}

TEST_CASE("k-means is deterministic for a seed and samples at most max_points_per_centroid * k") {
  std::vector<uint32_t> truth;
  auto x = Blobs(5000, 4, 10, 2, &truth);
  KMeansOptions o;
  o.k = 5;
  o.max_points_per_centroid = 100;
  o.seed = 42;
  auto a = TrainKMeans(x.data(), 5000, 4, o);
  auto b = TrainKMeans(x.data(), 5000, 4, o);
  CHECK(a.centroids == b.centroids);
  CHECK(a.sample_size == 500);
  o.seed = 43;
  CHECK(TrainKMeans(x.data(), 5000, 4, o).centroids != a.centroids);
}

TEST_CASE("k-means survives identical vectors and more centroids than points") {
  std::vector<float> same(50 * 3, 1.5f);
  KMeansOptions o;
  o.k = 8;
  auto r = TrainKMeans(same.data(), 50, 3, o);
  CHECK(r.centroids.size() == 8 * 3);
  for (float f : r.centroids) CHECK(std::isfinite(f));
  CHECK(r.objective == doctest::Approx(0).epsilon(1e-3));
  std::vector<float> two = {0, 0, 1, 1};
  o.k = 10;
  auto small = TrainKMeans(two.data(), 2, 2, o);
  CHECK(small.centroids.size() == 2 * 2);  // k clamped to n
}

TEST_CASE("assignment agrees with a brute-force nearest centroid") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(700 * 5), c(33 * 5);
  for (auto& v : x) v = u(rng);
  for (auto& v : c) v = u(rng);
  std::vector<uint32_t> labels(700);
  AssignNearest(x.data(), 700, 5, c.data(), 33, 2, labels.data());
  for (size_t i = 0; i < 700; ++i) {
    double best = 1e30;
    uint32_t arg = 0;
    for (uint32_t k = 0; k < 33; ++k) {
      double d = 0;
      for (int j = 0; j < 5; ++j) d += (double(x[i * 5 + j]) - c[k * 5 + j]) * (double(x[i * 5 + j]) - c[k * 5 + j]);
      if (d < best) best = d, arg = k;
    }
    double got = 0;
    for (int j = 0; j < 5; ++j)
      got += (double(x[i * 5 + j]) - c[labels[i] * 5 + j]) * (double(x[i * 5 + j]) - c[labels[i] * 5 + j]);
    CHECK(got <= best + 1e-5);
    (void)arg;
  }
}

TEST_CASE("directions: trained and assigned without a normalized copy of the set, as with one, bit for bit") {
  // Norms from 0 (zero rows, left as they are) to 1000, 37 dimensions (no
  // kernel's multiple), samples of part and all of the set, chunks of
  // every kind of size.
  const uint32_t dim = 37;
  const size_t n = 1500;
  std::mt19937_64 rng(11);
  std::normal_distribution<float> g(0, 1);
  std::uniform_real_distribution<float> scale(0.001f, 1000.0f);
  std::vector<float> x(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float s = i % 97 == 0 ? 0.0f : scale(rng);
    for (uint32_t j = 0; j < dim; ++j) x[i * dim + j] = s * g(rng);
  }
  std::vector<float> normalized = x;
  NormalizeRows(normalized.data(), n, dim);
  std::vector<float> reference = x;  // the rebuild's own loop before NormalizeRows
  for (size_t i = 0; i < n; ++i) {
    float* v = reference.data() + i * dim;
    float norm = Norm(v, dim);
    if (norm > 0)
      for (uint32_t j = 0; j < dim; ++j) v[j] /= norm;
  }
  REQUIRE(normalized == reference);
  for (size_t i = 0; i < n; i += 97) REQUIRE(normalized[i * dim] == 0.0f);  // zero rows stay zero
  for (uint32_t k : {5u, 40u}) {
    for (uint32_t per : {10u, 256u}) {
      CAPTURE(k);
      CAPTURE(per);
      KMeansOptions o;
      o.k = k;
      o.max_points_per_centroid = per;
      o.seed = 7;
      const KMeansResult want = TrainKMeans(normalized.data(), n, dim, o);
      o.directions = true;
      const KMeansResult got = TrainKMeans(x.data(), n, dim, o);
      CHECK(got.centroids == want.centroids);
      CHECK(got.objective == want.objective);
      std::vector<uint32_t> expect(n), labels(n);
      AssignNearest(normalized.data(), n, dim, want.centroids.data(), k, 2, expect.data());
      for (size_t chunk : {size_t(1), size_t(7), size_t(256), size_t(1499), n, size_t(65536)}) {
        CAPTURE(chunk);
        std::fill(labels.begin(), labels.end(), uint32_t(-1));
        AssignNearestDirections(x.data(), n, dim, want.centroids.data(), k, 2, labels.data(), chunk);
        CHECK(labels == expect);
      }
    }
  }
}

TEST_CASE("a centroids file round-trips and every truncation or flipped byte is corruption") {
  Centroids c{3, 4, 7, {}};
  for (int i = 0; i < 12; ++i) c.data.push_back(float(i) * 0.5f);
  std::string bytes = CentroidsFile::Encode(c);
  CHECK(bytes.size() == 32 + 48 + 4);
  CHECK(bytes.substr(0, 8) == "AETHCENT");
  Centroids d;
  REQUIRE(CentroidsFile::Decode(bytes, "x", 3, &d).ok());
  CHECK(d.data == c.data);
  CHECK(d.generation == 7);
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK(CentroidsFile::Decode(bytes.substr(0, n), "x", 3, &d).code() == Code::kCorruption);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = char(b[i] ^ 1);
    CHECK_MESSAGE(!CentroidsFile::Decode(b, "x", 3, &d).ok(), "byte " << i);
  }
}

// The file read whole (CentroidsFile::Read) and streamed a chunk at a time
// (CentroidsStream, a one-shot search's probe): the same floats intact, and
// every truncation and flipped byte an error from both, never other floats.
TEST_CASE("a centroids file read whole or streamed: the same floats, and every damage is refused by both") {
  test::TempDir dir(/*in_memory=*/true);
  const std::string path = dir / "g.centroids";
  Centroids c{3, 600, 2, {}};  // over several of the probe's chunks (kProbeChunk)
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (uint32_t i = 0; i < 600 * 3; ++i) c.data.push_back(u(rng));
  const std::string bytes = CentroidsFile::Encode(c);
  // Status of the streamed read (the floats it gave in *out).
  auto stream = [&](std::vector<float>* out) -> Status {
    out->clear();
    AETHER_ASSIGN_OR_RETURN(auto s, CentroidsStream::Open(Env::Default(), path, 3));
    for (uint32_t c0 = 0; c0 < s->k(); c0 += kProbeChunk) {
      const uint32_t n = std::min(kProbeChunk, s->k() - c0);
      AETHER_ASSIGN_OR_RETURN(const float* rows, s->Rows(c0, n));
      out->insert(out->end(), rows, rows + size_t(n) * 3);
    }
    return s->Finish();
  };
  test::WriteFile(path, bytes);
  std::vector<float> got;
  REQUIRE(stream(&got).ok());
  CHECK(got == c.data);
  auto whole = CentroidsFile::Read(Env::Default(), path, 3);
  REQUIRE(whole.ok());
  CHECK(whole->data == c.data);
  auto check = [&](const std::string& damaged) {
    test::WriteFile(path, damaged);
    const Status whole_read = CentroidsFile::Read(Env::Default(), path, 3).status();
    const Status streamed = stream(&got);
    CHECK(whole_read.code() == Code::kCorruption);
    CHECK(streamed.code() == Code::kCorruption);
    CHECK(streamed.message() == whole_read.message());
  };
  for (size_t n = 0; n < bytes.size(); n += n < 64 ? 1 : 37) check(bytes.substr(0, n));
  for (size_t i = 0; i < bytes.size(); ++i) {
    CAPTURE(i);
    std::string b = bytes;
    b[i] = char(b[i] ^ 0x10);
    check(b);
  }
  // Out of order: a chunk asked for twice, or Finish before the end.
  test::WriteFile(path, bytes);
  auto s = CentroidsStream::Open(Env::Default(), path, 3);
  REQUIRE(s.ok());
  REQUIRE((*s)->Rows(0, 10).ok());
  CHECK(!(*s)->Rows(0, 10).ok());
  CHECK(!(*s)->Finish().ok());
  // A failure of the chunks' source is the probe's.
  std::vector<float> q(3, 0.5f);
  auto probe = NearestCentroidsChunked(
      600, 3,
      [&](uint32_t c0, uint32_t) -> Result<const float*> {
        if (c0 >= kProbeChunk) return Status::IOError("chunk 2");
        return c.data.data() + size_t(c0) * 3;
      },
      q.data(), 1, 5, Metric::kL2);
  CHECK(probe.status().message() == "chunk 2");
}

TEST_CASE("probing: a batch gives each query what it gets alone, in the order a double-precision reference ranks") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  // dim and nq off every SIMD width and block size; k over several of the
  // chunks a few queries' probe codes one at a time (256 centroids), its
  // tail off every tile. NearestCentroidsChunked takes that path, a table
  // the whole.
  const uint32_t dim = 37, k = 555, nq = 61;
  std::vector<float> q(size_t(nq) * dim), c(size_t(k) * dim);
  for (auto& v : q) v = u(rng);
  for (auto& v : c) v = u(rng);
  std::fill(c.begin() + 3 * dim, c.begin() + 4 * dim, 0.0f);  // a zero centroid (cosine: distance 1)
  // Near twins, some across the chunk boundaries: a centroid one ulp from
  // another in one component, so that any difference between the two paths'
  // rounding would reorder them.
  for (uint32_t j : {41u, 42u, 255u, 256u, 300u, 511u, 512u, 554u}) {
    std::copy_n(c.begin() + (j - 40) * dim, dim, c.begin() + size_t(j) * dim);
    float& v = c[size_t(j) * dim + j % dim];
    v = std::nextafter(v, 2.0f);
  }
  // Exact twins: equal distances, ranked by index.
  for (uint32_t j : {100u, 101u, 400u}) std::copy_n(c.begin() + size_t(j - 37) * dim, dim, c.begin() + size_t(j) * dim);
  for (uint32_t i = 0; i < 3; ++i)  // queries right at some of them, so the twins rank first
    std::copy_n(c.begin() + size_t(63 + i * 337 % 400) * dim, dim, q.begin() + size_t(i) * dim);
  ProbeTable table = PrepareProbe(c.data(), k, dim);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const std::string name = MetricName(metric);
    CAPTURE(name);
    for (uint32_t count : {1u, 2u, 9u, 32u, 33u, k, k + 5}) {
      CAPTURE(count);
      auto batch = NearestCentroids(table, q.data(), nq, count, metric, 2);
      REQUIRE(batch.size() == nq);
      for (uint32_t i = 0; i < nq; ++i) {
        const float* x = q.data() + size_t(i) * dim;
        CHECK(batch[i] == NearestCentroids(x, dim, c.data(), k, count, metric));
        auto chunked = NearestCentroidsChunked(
            k, dim, [&](uint32_t c0, uint32_t) -> Result<const float*> { return c.data() + size_t(c0) * dim; }, x, 1,
            count, metric);
        REQUIRE(chunked.ok());
        CHECK((*chunked)[0] == batch[i]);
        REQUIRE(batch[i].size() == std::min(count, k));
        // The reference distance of what is returned never decreases (but
        // for float rounding), and nothing left out is nearer.
        auto ref = [&](uint32_t j) {
          double dot = 0, xx = 0, cc = 0;
          for (uint32_t d = 0; d < dim; ++d)
            dot += double(x[d]) * c[j * dim + d], xx += double(x[d]) * x[d],
                cc += double(c[j * dim + d]) * c[j * dim + d];
          if (metric == Metric::kL2) return xx + cc - 2 * dot;
          if (metric == Metric::kInnerProduct) return -dot;
          return cc > 0 ? 1 - dot / std::sqrt(xx * cc) : 1.0;
        };
        std::set<uint32_t> in(batch[i].begin(), batch[i].end());
        CHECK(in.size() == batch[i].size());
        for (size_t r = 1; r < batch[i].size(); ++r) CHECK(ref(batch[i][r]) >= ref(batch[i][r - 1]) - 1e-5);
        const double last = ref(batch[i].back());
        for (uint32_t j = 0; j < k; ++j)
          if (!in.count(j)) CHECK(ref(j) >= last - 1e-5);
      }
    }
  }
  // Up to 16 queries at once through the chunks (a one-shot batch's path)
  // and a query with an infinite or a NaN component: each as the batch has
  // it, at every count (a count past 256 keeps more than a chunk).
  std::vector<float> odd(q.begin(), q.begin() + 16 * dim);
  odd[5 * dim + 3] = INFINITY;
  odd[6 * dim] = NAN;
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
    for (uint32_t count : {1u, 3u, 200u, k}) {
      CAPTURE(count);
      auto batch = NearestCentroids(table, odd.data(), 16, count, metric, 2);
      auto chunked = NearestCentroidsChunked(
          k, dim, [&](uint32_t c0, uint32_t) -> Result<const float*> { return c.data() + size_t(c0) * dim; },
          odd.data(), 16, count, metric);
      REQUIRE(chunked.ok());
      CHECK(*chunked == batch);
      for (const auto& r : batch) CHECK(r.size() == count);
    }
}

// The first pass codes every vector around the mean of the first centroids:
// around the origin, data far from it (a shared offset of 200 against
// clusters 20 wide, centroids spread by 3) leaves the differences between
// centroids below the 8-bit codes' resolution (coded so, 163-384 of the 400
// queries' lists differ under l2 and cosine; around the mean, none). Against a double-precision reference ranking
// every centroid, ties by index.
TEST_CASE("probing: on clustered data far from the origin the two passes rank as an exact reference does") {
  std::mt19937 rng(17);
  std::normal_distribution<float> noise(0, 3);
  std::uniform_real_distribution<float> u(-10, 10);
  const uint32_t dim = 64, k = 600, nq = 400, clusters = 40;
  std::vector<float> centers(size_t(clusters) * dim), c(size_t(k) * dim), q(size_t(nq) * dim);
  for (auto& v : centers) v = 200 + u(rng);
  for (uint32_t i = 0; i < k; ++i)
    for (uint32_t j = 0; j < dim; ++j) c[size_t(i) * dim + j] = centers[size_t(i % clusters) * dim + j] + noise(rng);
  for (uint32_t i = 0; i < nq; ++i) {
    const uint32_t at = uint32_t(rng() % k);
    for (uint32_t j = 0; j < dim; ++j) q[size_t(i) * dim + j] = c[size_t(at) * dim + j] + noise(rng);
  }
  const ProbeTable table = PrepareProbe(c.data(), k, dim);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const std::string name = MetricName(metric);
    CAPTURE(name);
    for (uint32_t count : {1u, 3u, 8u}) {
      CAPTURE(count);
      const auto got = NearestCentroids(table, q.data(), nq, count, metric, 2);
      size_t differ = 0;
      for (uint32_t i = 0; i < nq; ++i) {
        const float* x = q.data() + size_t(i) * dim;
        std::vector<std::pair<double, uint32_t>> ref(k);
        for (uint32_t j = 0; j < k; ++j) {
          double dot = 0, xx = 0, cc = 0;
          for (uint32_t d = 0; d < dim; ++d)
            dot += double(x[d]) * c[size_t(j) * dim + d], xx += double(x[d]) * x[d],
                cc += double(c[size_t(j) * dim + d]) * c[size_t(j) * dim + d];
          ref[j] = {metric == Metric::kL2             ? cc - 2 * dot
                    : metric == Metric::kInnerProduct ? -dot
                                                      : 1 - dot / std::sqrt(xx * cc),
                    j};
        }
        std::partial_sort(ref.begin(), ref.begin() + count, ref.end());
        std::vector<uint32_t> want(count);
        for (uint32_t r = 0; r < count; ++r) want[r] = ref[r].second;
        differ += got[i] != want;
      }
      // Rounding ties between the reference's sums and dot_exact's may
      // reorder a rare pair; a lost nearest centroid is far more common.
      CHECK(differ <= nq / 100);
    }
  }
}

TEST_CASE("probing: SmallestInOrder picks what a stable sort by value ranks first, ties by index, NaN last") {
  std::mt19937 rng(11);
  for (uint32_t n : {1u, 2u, 7u, 64u, 65u, 300u, 1265u}) {
    for (int trial = 0; trial < 20; ++trial) {
      // Few distinct values in some trials (many ties), a NaN or an
      // infinity in some.
      std::uniform_int_distribution<int> pick(0, trial % 2 ? 5 : 1 << 20);
      std::vector<float> v(n);
      for (auto& x : v) x = float(pick(rng)) - 3.0f;
      if (trial % 3 == 0) v[rng() % n] = NAN;
      if (trial % 4 == 0) v[rng() % n] = INFINITY;
      if (trial % 5 == 0) v[rng() % n] = -0.0f;
      if (trial == 7)  // nothing but infinities and NaNs: ranked by index alone
        for (auto& x : v) x = rng() % 2 ? INFINITY : NAN;
      std::vector<uint32_t> order(n);
      std::iota(order.begin(), order.end(), 0u);
      auto key = [&](uint32_t i) { return std::isnan(v[i]) ? INFINITY : v[i]; };
      std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
      std::vector<std::pair<float, uint32_t>> scratch;
      for (uint32_t count : {0u, 1u, 2u, 10u, kInsertionSelect, kInsertionSelect + 1, n, n + 3}) {
        CAPTURE(n);
        CAPTURE(count);
        const std::vector<uint32_t> want(order.begin(), order.begin() + std::min(count, n));
        CHECK(SmallestInOrder(v.data(), n, count, &scratch) == want);
      }
    }
  }
}
