// Every SIMD variant this CPU supports against a double-precision reference,
// over dimensions that exercise each tail path (1..300, odd and even, below
// and above one register).
#include "vecmath/kernels.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "vecmath/distance.h"

namespace aether::simd {
namespace {

double RefDot(const float* a, const float* b, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) s += double(a[i]) * b[i];
  return s;
}

double RefL2(const float* a, const float* b, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

// The worst-case bound of a float sum of `dim` terms in any order is about
// dim * eps * (sum of the terms' magnitudes); a dropped or doubled element,
// the bug a tail path would have, is ~1/dim of that sum: far outside.
double Tolerance(uint32_t dim, double abs_sum) { return 2.0 * dim * 6e-8 * abs_sum + 1e-30; }

TEST_CASE("every supported SIMD kernel matches the double-precision reference") {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 3.0f);
  int variants = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) {
      MESSAGE("not supported on this CPU, skipped: isa ", int(isa));
      continue;
    }
    ++variants;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    CHECK(k.isa == isa);
    for (uint32_t dim = 1; dim <= 300; dim += (dim < 40 ? 1 : 7)) {
      CAPTURE(dim);
      // Unaligned starts (offset 1 float) so loads cannot rely on alignment.
      std::vector<float> a(dim + 1), b(dim + 1);
      for (auto& v : a) v = g(rng);
      for (auto& v : b) v = g(rng);
      const float* pa = a.data() + 1;
      const float* pb = b.data() + 1;
      double abs_dot = 0;
      for (uint32_t i = 0; i < dim; ++i) abs_dot += std::fabs(double(pa[i]) * pb[i]);
      CHECK(std::fabs(k.dot(pa, pb, dim) - RefDot(pa, pb, dim)) <= Tolerance(dim, abs_dot));
      double l2 = RefL2(pa, pb, dim);
      CHECK(std::fabs(k.l2_squared(pa, pb, dim) - l2) <= Tolerance(dim, l2));
    }
    // The many-vector form: strided rows, against the single-pair kernel.
    const uint32_t dim = 37, stride = 41, n = 50;
    std::vector<float> q(dim), x(size_t(n) * stride), out(n);
    for (auto& v : q) v = g(rng);
    for (auto& v : x) v = g(rng);
    k.l2_squared_many(q.data(), x.data(), n, stride, dim, out.data());
    for (uint32_t i = 0; i < n; ++i) {
      double ref = RefL2(q.data(), x.data() + size_t(i) * stride, dim);
      CHECK(std::fabs(out[i] - ref) <= Tolerance(dim, ref));
    }
  }
  CHECK(variants >= 1);
  // The active table is one of the supported ones.
  CHECK(Supported(Active().isa));
}

// The exact kernels' documented order (Kernels::dot_exact), written out
// here: element i into partial sum i % 4 (the tail into the first), then
// (s0 + s1) + (s2 + s3).
double OrderedSum(const float* a, const float* b, uint32_t dim, bool l2) {
  double s[4] = {0, 0, 0, 0};
  const uint32_t body = dim / 4 * 4;
  for (uint32_t i = 0; i < dim; ++i) {
    const double t = l2 ? (double(a[i]) - b[i]) * (double(a[i]) - b[i]) : double(a[i]) * b[i];
    s[i < body ? i % 4 : 0] += t;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

bool SameBits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// fn(kernels) for every variant this CPU runs, the variant's name captured
// for the messages; returns how many ran.
template <typename Fn>
int ForEachVariant(Fn&& fn) {
  int variants = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    ++variants;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    fn(k);
  }
  return variants;
}

TEST_CASE("the exact double kernels give the same double, bit for bit, in every variant") {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 3.0f);
  std::uniform_int_distribution<int> exponent(-140, 49);  // subnormals to ~1e15
  int variants = 0, compared = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    ++variants;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (int wide = 0; wide < 2; ++wide)
      for (uint32_t dim = 1; dim <= 300; dim += (dim < 40 ? 1 : 7)) {
        CAPTURE(dim);
        CAPTURE(wide);
        std::vector<float> a(dim + 1), b(dim + 1);  // unaligned starts, as above
        for (auto* v : {&a, &b})
          for (auto& x : *v) x = wide ? std::ldexp(g(rng), exponent(rng)) : g(rng);
        const float* pa = a.data() + 1;
        const float* pb = b.data() + 1;
        const double dot = k.dot_exact(pa, pb, dim), l2 = k.l2_squared_exact(pa, pb, dim);
        CHECK(SameBits(dot, OrderedSum(pa, pb, dim, false)));
        CHECK(SameBits(l2, OrderedSum(pa, pb, dim, true)));
        CHECK(SameBits(k.dot_exact(pa, pa, dim), OrderedSum(pa, pa, dim, false)));
        // And the order is only an order: the sums are the exact ones to
        // double rounding.
        double abs_dot = 0;
        for (uint32_t i = 0; i < dim; ++i) abs_dot += std::fabs(double(pa[i]) * pb[i]);
        CHECK(std::fabs(dot - RefDot(pa, pb, dim)) <= dim * 2.3e-16 * abs_dot);
        CHECK(std::fabs(l2 - RefL2(pa, pb, dim)) <= dim * 2.3e-16 * l2);
        ++compared;
      }
  }
  CHECK(variants >= 1);
  CHECK(compared == variants * 2 * 77);  // dims 1..39, then 40..299 by 7
}

TEST_CASE("the many-row exact L2 kernel gives each row's l2_squared_exact, bit for bit, in every variant") {
  // Rows of their own allocations, unaligned, at every count up to the
  // largest and every tail length; values from subnormal to large, signed
  // zeros, infinities and NaN (a damaged row is scanned like any other).
  std::mt19937 rng(13);
  std::normal_distribution<float> g(0.0f, 3.0f);
  std::uniform_int_distribution<int> exponent(-140, 49), special(0, 40);
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min()};
  auto value = [&](bool wide) {
    const int s = special(rng);
    if (wide && s < 6) return specials[s];
    return wide ? std::ldexp(g(rng), exponent(rng)) : g(rng);
  };
  int compared = 0;
  const int variants = ForEachVariant([&](const Kernels& k) {
    for (int wide = 0; wide < 2; ++wide)
      for (uint32_t dim = 1; dim <= 140; dim += (dim < 20 ? 1 : 9))
        for (uint32_t m = 1; m <= kMaxExactRows; ++m) {
          CAPTURE(dim);
          CAPTURE(m);
          CAPTURE(wide);
          std::vector<float> a(dim + 1);
          std::vector<std::vector<float>> rows(m, std::vector<float>(dim + 3));
          for (auto& x : a) x = value(wide);
          const float* xs[kMaxExactRows];
          for (uint32_t r = 0; r < m; ++r) {
            for (auto& x : rows[r]) x = value(wide);
            xs[r] = rows[r].data() + 1 + r % 3;
          }
          double out[kMaxExactRows + 1];
          out[m] = 12345.0;  // past the last row: left alone
          k.l2_squared_exact_many(a.data() + 1, xs, m, dim, out);
          for (uint32_t r = 0; r < m; ++r) {
            CAPTURE(r);
            // Bit for bit; a NaN only as a NaN (its sign and payload follow
            // the order the compiler gave an addition's operands: NaN
            // input and inf - inf give NaNs of either sign).
            auto same = [](double x, double y) { return SameBits(x, y) || (std::isnan(x) && std::isnan(y)); };
            CHECK(same(out[r], k.l2_squared_exact(a.data() + 1, xs[r], dim)));
            CHECK(same(out[r], OrderedSum(a.data() + 1, xs[r], dim, true)));
            ++compared;
          }
          CHECK(out[m] == 12345.0);
        }
  });
  CHECK(variants >= 1);
  CHECK(compared == variants * 2 * 33 * (kMaxExactRows * (kMaxExactRows + 1) / 2));  // dims 1..19, 20..137 by 9
}

TEST_CASE("the transpose kernel writes x's floats transposed, bit for bit, in every variant") {
  // Every row count and column count around the 8 x 8 blocks, strides
  // past the row (a hot slot's header sits between vectors), a leading
  // dimension past n (the output's untouched columns must stay), and
  // NaN payloads and signed zeros copied as bits.
  std::mt19937 rng(17);
  std::uniform_int_distribution<uint32_t> bits;
  int compared = 0;
  const int variants = ForEachVariant([&](const Kernels& k) {
    for (uint32_t dim : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 128u, 131u})
      for (uint64_t n : {1u, 5u, 7u, 8u, 9u, 16u, 23u, 24u, 79u})
        for (uint64_t pad : {0u, 5u}) {
          CAPTURE(dim);
          CAPTURE(n);
          CAPTURE(pad);
          const uint64_t stride = dim + pad, ld = n + pad;
          std::vector<float> x(n * stride + 1);
          for (auto& v : x) {
            const uint32_t b = bits(rng);
            std::memcpy(&v, &b, 4);
          }
          const float* px = x.data() + 1;  // unaligned
          const float sentinel = -12345.0f;
          std::vector<float> xt(size_t(dim) * ld, sentinel);
          k.transpose(px, n, stride, dim, xt.data(), ld);
          bool same = true;
          for (uint32_t j = 0; j < dim; ++j)
            for (uint64_t i = 0; i < ld; ++i) {
              const float want = i < n ? px[i * stride + j] : sentinel;
              same = same && std::memcmp(&xt[j * ld + i], &want, 4) == 0;
            }
          CHECK(same);
          ++compared;
        }
  });
  CHECK(variants >= 1);
  CHECK(compared == variants * 10 * 9 * 2);
}

TEST_CASE("the transposed dot-product kernel matches the reference for every row count and tail") {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 2.0f);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (uint32_t dim : {1u, 7u, 128u, 131u})
      for (uint32_t n : {1u, 8u, 15u, 16u, 17u, 31u, 32u, 33u, 100u})
        for (uint32_t nx = 1; nx <= kMaxDotRows; ++nx) {
          CAPTURE(dim);
          CAPTURE(n);
          CAPTURE(nx);
          std::vector<float> x(size_t(nx) * dim), xt(size_t(dim) * n);
          for (auto& v : x) v = g(rng);
          for (auto& v : xt) v = g(rng);
          // A guard past the output: the kernel may not write beyond nx * n.
          std::vector<float> out(size_t(nx) * n + 16, -7.0f);
          k.dots_transposed(x.data(), nx, dim, xt.data(), n, out.data());
          bool all_close = true;
          for (uint32_t p = 0; p < nx; ++p)
            for (uint32_t c = 0; c < n; ++c) {
              double ref = 0, abs_sum = 0;
              for (uint32_t j = 0; j < dim; ++j) {
                double t = double(x[size_t(p) * dim + j]) * xt[size_t(j) * n + c];
                ref += t;
                abs_sum += std::fabs(t);
              }
              if (std::fabs(out[size_t(p) * n + c] - ref) > Tolerance(dim, abs_sum)) all_close = false;
            }
          CHECK(all_close);
          for (size_t i = size_t(nx) * n; i < out.size(); ++i) CHECK(out[i] == -7.0f);
        }
  }
}

// The reference: the sum as the kernel's contract states it, in 64 bits.
TEST_CASE("the codes' dot-product kernel gives the exact integer sums in every variant, extreme codes included") {
  std::mt19937 rng(13);
  const int variants = ForEachVariant([&](const Kernels& k) {
    for (uint32_t dim4 : {4u, 8u, 128u, 132u, 788u})
      for (uint32_t n : {kCodeColumns, 2 * kCodeColumns, 8 * kCodeColumns + kCodeColumns})
        for (uint32_t nx = 1; nx <= kMaxDotRows; ++nx)
          for (int extreme = 0; extreme < 2; ++extreme) {
            CAPTURE(dim4);
            CAPTURE(n);
            CAPTURE(nx);
            CAPTURE(extreme);
            std::vector<uint8_t> xq(size_t(nx) * dim4);
            std::vector<int8_t> codes(size_t(dim4) * n);
            // Random codes over the whole ranges; or every value at its
            // largest magnitude, the largest sums (a 16-bit pair of products
            // at its bound: a saturating or sign-confused kernel differs).
            std::uniform_int_distribution<int> uq(0, kMaxQueryCode), uc(-kMaxColumnCode, kMaxColumnCode);
            for (auto& v : xq) v = uint8_t(extreme ? kMaxQueryCode : uq(rng));
            for (size_t i = 0; i < codes.size(); ++i)
              codes[i] = int8_t(extreme ? ((i / (kCodeGroup * n)) % 2 ? kMaxColumnCode : -kMaxColumnCode) : uc(rng));
            std::vector<int32_t> out(size_t(nx) * n + 16, -7);
            k.dots_codes(xq.data(), nx, dim4, codes.data(), n, out.data());
            bool exact = true;
            for (uint32_t p = 0; p < nx; ++p)
              for (uint32_t c = 0; c < n; ++c) {
                int64_t ref = 0;
                for (uint32_t j = 0; j < dim4; ++j)
                  ref += int64_t(xq[size_t(p) * dim4 + j]) *
                         codes[(size_t(j / kCodeGroup) * n + c) * kCodeGroup + j % kCodeGroup];
                if (out[size_t(p) * n + c] != ref) exact = false;
              }
            CHECK(exact);
            for (size_t i = size_t(nx) * n; i < out.size(); ++i) CHECK(out[i] == -7);
          }
  });
  CHECK(variants >= 1);
}

// The kernel on chunks of 256 columns, each transposed on its own, and on
// all of them at once: each column's value must be the same float either
// way, in every variant (their column tiles, 8 and 32 wide, and tails line
// up): a column's value does not depend on the columns beside it.
TEST_CASE("the transposed dot-product kernel gives each column the same float in chunks of 256 columns") {
  std::mt19937 rng(12);
  std::normal_distribution<float> g(0.0f, 2.0f);
  constexpr uint32_t kChunk = 256;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (uint32_t n : {7u, 263u, 555u})
      for (uint32_t dim : {5u, 128u})
        for (uint32_t nx : {1u, 3u, kMaxDotRows}) {
          CAPTURE(n);
          CAPTURE(dim);
          CAPTURE(nx);
          std::vector<float> x(size_t(nx) * dim), rows(size_t(n) * dim);  // rows: the columns, row-major
          for (auto& v : x) v = g(rng);
          for (auto& v : rows) v = g(rng);
          std::vector<float> xt(size_t(dim) * n);
          for (uint32_t c = 0; c < n; ++c)
            for (uint32_t j = 0; j < dim; ++j) xt[size_t(j) * n + c] = rows[size_t(c) * dim + j];
          std::vector<float> whole(size_t(nx) * n);
          k.dots_transposed(x.data(), nx, dim, xt.data(), n, whole.data());
          size_t differ = 0;
          for (uint32_t c0 = 0; c0 < n; c0 += kChunk) {
            const uint32_t m = std::min(kChunk, n - c0);
            std::vector<float> ct(size_t(dim) * m), out(size_t(nx) * m);
            for (uint32_t c = 0; c < m; ++c)
              for (uint32_t j = 0; j < dim; ++j) ct[size_t(j) * m + c] = rows[size_t(c0 + c) * dim + j];
            k.dots_transposed(x.data(), nx, dim, ct.data(), m, out.data());
            for (uint32_t p = 0; p < nx; ++p)
              for (uint32_t c = 0; c < m; ++c)
                differ += std::memcmp(&out[size_t(p) * m + c], &whole[size_t(p) * n + c0 + c], 4) != 0;
          }
          CHECK(differ == 0);
        }
  }
}

TEST_CASE("the argmin kernel gives the first minimum of norm2 - 2 dot in every variant, ties and tails included") {
  std::mt19937 rng(12);
  std::normal_distribution<float> g(0.0f, 3.0f);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (uint32_t n : {1u, 2u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 100u, 1265u})
      for (int trial = 0; trial < 40; ++trial) {
        CAPTURE(n);
        CAPTURE(trial);
        std::vector<float> norm2(n), dots(n);
        for (uint32_t c = 0; c < n; ++c) norm2[c] = std::fabs(g(rng)), dots[c] = g(rng);
        // Ties: copies of one entry at several places, sometimes the minimum.
        if (trial % 2 && n > 1) {
          const uint32_t src = uint32_t(rng() % n);
          for (int t = 0; t < 3; ++t) {
            const uint32_t at = uint32_t(rng() % n);
            norm2[at] = norm2[src], dots[at] = dots[src];
          }
          if (trial % 4 == 1) {  // make that value the minimum
            for (uint32_t c = 0; c < n; ++c)
              if (norm2[c] != norm2[src] || dots[c] != dots[src]) dots[c] = std::min(dots[c], dots[src] - 1.0f);
            for (uint32_t c = 0; c < n; ++c)
              if (norm2[c] != norm2[src] || dots[c] != dots[src]) norm2[c] = norm2[src] + 1.0f;
          }
        }
        // The reference: in double, 2 * dot is exact and the difference is
        // rounded once to float, as every variant must do.
        uint32_t want = 0;
        float want_v = std::numeric_limits<float>::infinity();
        for (uint32_t c = 0; c < n; ++c) {
          const float v = float(double(norm2[c]) - 2.0 * double(dots[c]));
          if (v < want_v) want_v = v, want = c;
        }
        float got_v = 0;
        CHECK(k.argmin_l2(norm2.data(), dots.data(), n, &got_v) == want);
        CHECK(got_v == want_v);
      }
  }
}

// The tiled scan's early bound: the value of rank `first` among the rows
// given, as a sort places it, in every variant: ties, infinities, signed
// zeros, subnormals, a list still short of `first` (+infinity), every rank
// the kernel takes.
TEST_CASE("the short-list kernel gives the value of a rank among the rows as a sort does, in every variant") {
  std::mt19937 rng(21);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {inf,
                            -inf,
                            0.0f,
                            -0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::max()};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (size_t n : {size_t(0), size_t(1), size_t(5), size_t(15), size_t(16), size_t(17), size_t(79), size_t(600)})
      for (int trial = 0; trial < 40; ++trial) {
        CAPTURE(n);
        CAPTURE(trial);
        // Few distinct values (ties) in odd trials, many in even ones.
        std::uniform_int_distribution<int> pick(0, trial % 2 ? 5 : 1 << 20);
        std::vector<float> values(n + 7);
        for (auto& x : values) x = float(pick(rng) - 3) * (trial % 3 == 0 ? 1e-40f : 1.0f);
        for (int s = 0; s < trial % 4; ++s) values[rng() % values.size()] = specials[rng() % std::size(specials)];
        std::vector<uint32_t> rows;  // a subset in row order, or the rows in a shuffled order
        for (uint32_t i = 0; i < values.size() && rows.size() < n; ++i)
          if (rng() % 4 != 0) rows.push_back(i);
        if (trial % 5 == 0) std::shuffle(rows.begin(), rows.end(), rng);
        std::vector<float> sorted;
        for (uint32_t i : rows) sorted.push_back(values[i]);
        std::sort(sorted.begin(), sorted.end());
        for (uint32_t first = 1; first <= kMaxShortRank; ++first) {
          CAPTURE(first);
          const float want = first <= sorted.size() ? sorted[first - 1] : inf;
          CHECK(k.smallest_at(values.data(), rows.data(), rows.size(), first) == want);
        }
      }
  }
}

// The probe's skip: the first value below a bound from any start, in every
// variant, over every tail length; NaN is never below, nor an equal value.
TEST_CASE("the skip kernel finds the first value below a bound from any start, in every variant") {
  std::mt19937 rng(22);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (size_t n :
         {size_t(0), size_t(1), size_t(7), size_t(8), size_t(9), size_t(16), size_t(17), size_t(40), size_t(1265)})
      for (int trial = 0; trial < 20; ++trial) {
        CAPTURE(n);
        CAPTURE(trial);
        std::vector<float> values(n);
        for (auto& x : values) x = float(rng() % 1000);
        for (int s = 0; s < trial % 4 && n > 0; ++s) values[rng() % n] = s % 2 ? nan : inf;
        const float bound = trial % 5 == 0 ? nan : float(rng() % 1000) * (trial % 2 ? 0.02f : 1.0f);
        for (size_t from = 0; from <= n; from += 1 + from / 8) {
          CAPTURE(from);
          size_t want = from;
          while (want < n && !(values[want] < bound)) ++want;
          CHECK(k.first_below(values.data(), n, from, bound) == want);
        }
        CHECK(k.first_below(values.data(), n, n + 5, 1e30f) == n);  // a start past the end
      }
  }
}

// The tiled scan's selection: in every variant, over every tail length,
// the rows not above the bound in ascending order, NaN values written back
// as -infinity (and so selected), a NaN bound selecting every row, and
// nothing written past the room the contract gives.
TEST_CASE("the selection kernel gives the rows not above a bound, in order, in every variant") {
  std::mt19937 rng(23);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  constexpr uint32_t kGuard = 0xDEADBEEF;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (size_t n = 0; n <= 70; ++n)
      for (int trial = 0; trial < 12; ++trial) {
        CAPTURE(n);
        CAPTURE(trial);
        std::vector<float> values(n);
        for (auto& x : values) x = float(int(rng() % 200) - 100) * 0.5f;
        for (int s = 0; s < trial % 5 && n > 0; ++s) values[rng() % n] = s == 1 ? inf : s == 3 ? -inf : nan;
        if (n > 0 && trial % 6 == 5) values[rng() % n] = -0.0f;
        const float bound = trial % 7 == 0   ? nan
                            : trial % 7 == 1 ? -inf
                            : trial % 7 == 2 ? 0.0f
                                             : float(int(rng() % 200) - 100) * 0.5f;
        std::vector<float> want_values = values;
        std::vector<uint32_t> want;
        for (size_t i = 0; i < n; ++i) {
          if (std::isnan(want_values[i])) want_values[i] = -inf;
          if (!(want_values[i] > bound)) want.push_back(uint32_t(i));
        }
        std::vector<uint32_t> rows(n + kSelectSlack + 4, kGuard);
        const size_t got = k.rows_not_above(values.data(), n, bound, rows.data());
        REQUIRE(got == want.size());
        CHECK(std::equal(want.begin(), want.end(), rows.begin()));
        for (size_t i = 0; i < n; ++i) CHECK(std::memcmp(&values[i], &want_values[i], sizeof(float)) == 0);
        for (size_t i = n + kSelectSlack; i < rows.size(); ++i) CHECK(rows[i] == kGuard);
      }
  }
}

TEST_CASE("the lane-minima kernel turns NaN into +infinity and gives each lane's smallest, in every variant") {
  std::mt19937 rng(19);
  std::uniform_int_distribution<int> pick(0, 40);
  const int variants = ForEachVariant([&](const Kernels& k) {
    for (size_t n :
         {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(31), size_t(33), size_t(100), size_t(1265)})
      for (int trial = 0; trial < 8; ++trial) {
        CAPTURE(n);
        CAPTURE(trial);
        // Few distinct values (ties), NaN, infinities and -0 in some trials.
        std::vector<float> v(n);
        for (auto& x : v) {
          const int r = pick(rng);
          x = trial % 2 && r == 0   ? NAN
              : trial % 3 && r == 1 ? INFINITY
              : r == 2              ? -INFINITY
              : r == 3              ? -0.0f
                                    : float(r % (trial + 3)) - 2.0f;
        }
        std::vector<float> want = v;
        float want_min[kLanes];
        std::fill(want_min, want_min + kLanes, INFINITY);
        for (size_t i = 0; i < n; ++i) {
          if (std::isnan(want[i])) want[i] = INFINITY;
          want_min[i % kLanes] = std::min(want_min[i % kLanes], want[i]);
        }
        float got[kLanes];
        std::fill(got, got + kLanes, -7.0f);
        k.lane_minima(v.data(), n, got);
        bool same_values = true;
        for (size_t i = 0; i < n; ++i) same_values &= std::memcmp(&v[i], &want[i], sizeof(float)) == 0;
        CHECK(same_values);
        for (uint32_t l = 0; l < kLanes; ++l) CHECK(std::memcmp(&got[l], &want_min[l], sizeof(float)) == 0);
      }
  });
  CHECK(variants >= 1);
}

TEST_CASE("identical vectors are at distance zero in every variant") {
  std::vector<float> a(133);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.37f - 20.0f;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
    if (Supported(isa)) CHECK(For(isa).l2_squared(a.data(), a.data(), 133) == 0.0f);
}

}  // namespace
TEST_CASE("binary16: every value converts exactly in every variant, and encoding rounds to nearest even") {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = uint16_t(i);
  std::vector<float> ref(65536);
  for (uint32_t i = 0; i < 65536; ++i) ref[i] = HalfToFloat(uint16_t(i));
  // Independent reference for the scalar decode: sign * 2^(e-15) * (1 + m/1024), subnormals m * 2^-24.
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint32_t e = (i >> 10) & 31, m = i & 1023;
    if (e == 31) {
      CHECK(!std::isfinite(ref[i]));
      CHECK((std::isnan(ref[i]) == (m != 0)));
      continue;
    }
    double v = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(1.0 + m / 1024.0, int(e) - 15);
    if (i & 0x8000) v = -v;
    REQUIRE_MESSAGE(double(ref[i]) == v, "half 0x" << std::hex << i);
    CHECK(std::signbit(ref[i]) == bool(i & 0x8000));
    CHECK(FloatToHalf(ref[i]) == i);  // exact values round-trip (both zeros too)
  }
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    CAPTURE(For(isa).name);
    for (size_t n : {size_t(0), size_t(1), size_t(7), size_t(8), size_t(9), size_t(65536)}) {
      std::vector<float> out(n + 1, 42.0f);
      For(isa).half_to_float(all.data(), out.data(), n);
      CHECK(out[n] == 42.0f);  // nothing written past n
      for (size_t i = 0; i < n; ++i)
        if (!std::isnan(ref[i])) REQUIRE(std::memcmp(&out[i], &ref[i], 4) == 0);
    }
  }
  // Encoding: the nearest half, ties to the even one; beyond 65520 infinity.
  std::mt19937 rng(5);
  std::vector<float> probes = {65504.0f,        65519.99f,         65520.0f, 1e9f,     0x1p-24f,
                               0x1p-25f,        0x1.8p-25f,        0x1p-26f, 0x1p-14f, 0x1.ffcp-15f,
                               1.0f + 0x1p-11f, 1.0f + 0x1.8p-10f, 3.14159f};
  std::uniform_int_distribution<uint32_t> bits(0, 0xFFFFFFFFu);
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(rng);
    b = (b & 0x80000000u) | ((b & 0x7FFFFFFFu) % 0x47800000u);  // |x| < 65536
    float f;
    std::memcpy(&f, &b, 4);
    probes.push_back(f);
  }
  for (float f : probes) {
    const uint16_t h = FloatToHalf(f);
    const double x = std::fabs(double(f));
    const double got = std::fabs(double(HalfToFloat(h)));
    if (x >= 65520) {
      CHECK(std::isinf(got));
      continue;
    }
    CHECK(std::signbit(HalfToFloat(h)) == std::signbit(f));
    // No other half is nearer; at a tie the mantissa is even.
    const uint16_t a = h & 0x7FFF;
    for (int step : {-1, 1}) {
      if ((a == 0 && step < 0) || a + step > 0x7BFF) continue;
      const double other = double(HalfToFloat(uint16_t(a + step)));
      const double mine = std::fabs(got - x), theirs = std::fabs(other - x);
      REQUIRE_MESSAGE(mine <= theirs, "f=" << f);
      if (mine == theirs) CHECK((a & 1) == 0);
    }
  }
}

}  // namespace aether::simd

namespace aether::simd {
namespace {

// Components log-uniform in magnitude over [1e-15, 1e15], with random signs
// and some exact zeros: the whole range aether accepts (kMaxComponent), where
// no float32 sum may overflow at any dimension up to 65536.
std::vector<float> ExtremeVector(std::mt19937& rng, uint32_t dim, bool at_limit) {
  std::uniform_real_distribution<double> exponent(-15, 15);
  std::vector<float> v(dim);
  for (auto& x : v) {
    const double mag = at_limit ? 1e15 : std::pow(10.0, exponent(rng));
    x = float((rng() & 1 ? 1 : -1) * mag);
    if (rng() % 17 == 0) x = 0;
  }
  return v;
}

TEST_CASE("extreme values: every kernel stays finite and matches the double reference across the accepted range") {
  std::mt19937 rng(1234);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!Supported(isa)) continue;
    const Kernels& k = For(isa);
    CAPTURE(k.name);
    for (uint32_t dim : {1u, 3u, 8u, 17u, 128u, 1000u, 4096u, 65536u}) {
      for (bool at_limit : {false, true}) {
        CAPTURE(dim);
        CAPTURE(at_limit);
        auto a = ExtremeVector(rng, dim, at_limit), b = ExtremeVector(rng, dim, at_limit);
        double abs_dot = 0, l2 = RefL2(a.data(), b.data(), dim);
        for (uint32_t i = 0; i < dim; ++i) abs_dot += std::fabs(double(a[i]) * b[i]);
        const float dot = k.dot(a.data(), b.data(), dim), d2 = k.l2_squared(a.data(), b.data(), dim);
        CHECK(std::isfinite(dot));
        CHECK(std::isfinite(d2));
        CHECK(std::fabs(dot - RefDot(a.data(), b.data(), dim)) <= Tolerance(dim, abs_dot));
        CHECK(std::fabs(d2 - l2) <= Tolerance(dim, l2));
        float many = 0;
        k.l2_squared_many(a.data(), b.data(), 1, dim, dim, &many);
        CHECK(std::isfinite(many));
        CHECK(std::fabs(many - l2) <= Tolerance(dim, l2));
        if (dim <= 4096) {
          // The batch kernel: 8 rows against 5 columns given transposed.
          std::vector<float> rows, xt(size_t(dim) * 5), out(8 * 5);
          for (int r = 0; r < 8; ++r) {
            auto v = ExtremeVector(rng, dim, at_limit);
            rows.insert(rows.end(), v.begin(), v.end());
          }
          std::vector<std::vector<float>> cols;
          for (int c = 0; c < 5; ++c) {
            cols.push_back(ExtremeVector(rng, dim, at_limit));
            for (uint32_t j = 0; j < dim; ++j) xt[size_t(j) * 5 + c] = cols.back()[j];
          }
          k.dots_transposed(rows.data(), 8, dim, xt.data(), 5, out.data());
          for (int r = 0; r < 8; ++r)
            for (int c = 0; c < 5; ++c) {
              double ref = RefDot(rows.data() + size_t(r) * dim, cols[c].data(), dim), abs = 0;
              for (uint32_t j = 0; j < dim; ++j) abs += std::fabs(double(rows[size_t(r) * dim + j]) * cols[c][j]);
              CHECK(std::isfinite(out[r * 5 + c]));
              CHECK(std::fabs(out[r * 5 + c] - ref) <= Tolerance(dim, abs));
            }
        }
      }
    }
  }
}

}  // namespace
}  // namespace aether::simd

TEST_CASE("TopK keeps the k smallest candidates, ties by row id, as a full sort does") {
  std::mt19937_64 rng(11);
  for (uint32_t k : {0u, 1u, 2u, 10u, 40u, 1500u}) {
    for (int round = 0; round < 20; ++round) {
      CAPTURE(k);
      CAPTURE(round);
      aether::TopK top(k);
      std::vector<aether::Candidate> all;
      std::vector<char> used(100000, 0);
      const size_t n = rng() % 3000;
      for (size_t i = 0; i < n; ++i) {
        // Few distinct distances: many ties, broken by row id.
        const aether::Candidate c{float(rng() % 50) * 0.25f, int64_t(rng() % used.size())};
        if (used[size_t(c.row_id)]++) continue;
        all.push_back(c);
        top.Push(c);
        if (i % 101 == 0) {  // the bound: the k-th so far once there are k, else +infinity
          std::vector<aether::Candidate> sorted = all;
          std::sort(sorted.begin(), sorted.end());
          CHECK(top.Bound() ==
                (k > 0 && sorted.size() >= k ? sorted[k - 1].distance : std::numeric_limits<float>::infinity()));
        }
      }
      std::sort(all.begin(), all.end());
      const std::vector<aether::Candidate> every = all;
      all.resize(std::min<size_t>(k, all.size()));
      const std::vector<aether::Candidate> got = top.Take();
      REQUIRE(got.size() == all.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].distance == all[i].distance);
        CHECK(got[i].row_id == all[i].row_id);
      }
      CHECK(top.Take().empty());
      // Emptied by Take, it keeps the k smallest of what comes next (here
      // largest first: every later one evicts).
      for (auto c = every.rbegin(); c != every.rend(); ++c) top.Push(*c);
      const std::vector<aether::Candidate> twice = top.Take();
      REQUIRE(twice.size() == all.size());
      for (size_t i = 0; i < twice.size(); ++i) CHECK(twice[i].row_id == all[i].row_id);
    }
  }
}

// The batch merges each query's lists from the scan's workers by Absorb:
// the top k of the union, as one list fed everything would hold, whether
// the receiver is empty (it takes the other's heap whole), partly filled or
// full, and with the other list empty; the other list is left empty.
TEST_CASE("TopK::Absorb keeps the top k of both lists, as one list fed both would") {
  std::mt19937_64 rng(12);
  for (uint32_t k : {0u, 1u, 3u, 10u, 64u, 200u}) {
    for (int round = 0; round < 30; ++round) {
      CAPTURE(k);
      CAPTURE(round);
      aether::TopK a(k), b(k), both(k);
      const size_t na = round % 3 == 0 ? 0 : rng() % 400, nb = round % 5 == 0 ? 0 : rng() % 400;
      int64_t row = 0;
      for (size_t i = 0; i < na + nb; ++i) {
        const aether::Candidate c{float(rng() % 40) * 0.5f, row++};  // ties, broken by row id
        (i < na ? a : b).Push(c);
        both.Push(c);
      }
      a.Absorb(&b);
      CHECK(b.Take().empty());
      const std::vector<aether::Candidate> got = a.Take(), want = both.Take();
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].distance == want[i].distance);
        CHECK(got[i].row_id == want[i].row_id);
      }
    }
  }
}
