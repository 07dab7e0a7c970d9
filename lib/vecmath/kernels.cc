#include "vecmath/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define AETHER_X86 1
#endif

namespace aether::simd {
namespace {

// ---- Scalar reference: plain loops, eight partial sums. ---------------------

float DotScalar(const float* a, const float* b, uint32_t dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < dim; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

float L2Scalar(const float* a, const float* b, uint32_t dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int j = 0; j < 8; ++j) {
      float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  float s = 0;
  for (; i < dim; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// The many-vector form of a single-pair kernel: strided rows (a hot block's
// vectors sit between slot headers), each prefetched two rows ahead.
template <float (*L2)(const float*, const float*, uint32_t)>
void L2Many(const float* q, const float* x, uint64_t n, uint64_t stride, uint32_t dim, float* out) {
  for (uint64_t i = 0; i < n; ++i) {
    if (i + 2 < n) __builtin_prefetch(x + (i + 2) * stride);
    out[i] = L2(q, x + i * stride, dim);
  }
}

// Four double partial sums (Kernels::dot_exact): the reference order.
double DotExactScalar(const float* a, const float* b, uint32_t dim) {
  double s[4] = {0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += double(a[i + j]) * b[i + j];
  for (; i < dim; ++i) s[0] += double(a[i]) * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

double L2ExactScalar(const float* a, const float* b, uint32_t dim) {
  double s[4] = {0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4)
    for (int j = 0; j < 4; ++j) {
      const double d = double(a[i + j]) - b[i + j];
      s[j] += d * d;
    }
  for (; i < dim; ++i) {
    const double d = double(a[i]) - b[i];
    s[0] += d * d;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

void L2ExactManyScalar(const float* a, const float* const* xs, uint32_t m, uint32_t dim, double* out) {
  for (uint32_t r = 0; r < m; ++r) out[r] = L2ExactScalar(a, xs[r], dim);
}

void HalfToFloatScalar(const uint16_t* h, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(h[i]);
}

// The transpose of rows [i0, n) and columns [j0, dim), eight rows at a
// time: each row's floats are read in order, and the eight columns written
// per j are adjacent. (The scalar variant whole; the AVX2 one's tails.)
void TransposeScalarFrom(const float* x, uint64_t i0, uint64_t n, uint64_t stride, uint32_t j0, uint32_t dim, float* xt,
                         uint64_t ld) {
  for (; i0 + 8 <= n; i0 += 8)
    for (uint32_t j = j0; j < dim; ++j)
      for (uint32_t i = 0; i < 8; ++i) xt[size_t(j) * ld + i0 + i] = x[(i0 + i) * stride + j];
  for (; i0 < n; ++i0)
    for (uint32_t j = j0; j < dim; ++j) xt[size_t(j) * ld + i0] = x[i0 * stride + j];
}

void TransposeScalar(const float* x, uint64_t n, uint64_t stride, uint32_t dim, float* xt, uint64_t ld) {
  TransposeScalarFrom(x, 0, n, stride, 0, dim, xt, ld);
}

void DotsTransposedScalar(const float* x, uint32_t nx, uint32_t dim, const float* xt, uint32_t n, float* out) {
  for (uint32_t p = 0; p < nx; ++p) {
    float* o = out + size_t(p) * n;
    for (uint32_t c = 0; c < n; ++c) o[c] = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      const float xv = x[size_t(p) * dim + j];
      const float* row = xt + size_t(j) * n;
      for (uint32_t c = 0; c < n; ++c) o[c] += xv * row[c];
    }
  }
}

void DotsCodesScalar(const uint8_t* xq, uint32_t nx, uint32_t dim4, const int8_t* codes, uint32_t n, int32_t* out) {
  for (uint32_t p = 0; p < nx; ++p) {
    int32_t* o = out + size_t(p) * n;
    for (uint32_t c = 0; c < n; ++c) o[c] = 0;
    for (uint32_t j = 0; j < dim4; ++j) {
      const int32_t xv = xq[size_t(p) * dim4 + j];
      const int8_t* col = codes + size_t(j / kCodeGroup) * n * kCodeGroup + j % kCodeGroup;
      for (uint32_t c = 0; c < n; ++c) o[c] += xv * int32_t(col[size_t(c) * kCodeGroup]);
    }
  }
}

uint32_t ArgminL2Scalar(const float* norm2, const float* dots, uint32_t n, float* best) {
  uint32_t arg = 0;
  float bv = std::numeric_limits<float>::infinity();
  for (uint32_t c = 0; c < n; ++c) {
    const float v = norm2[c] - 2 * dots[c];
    if (v < bv) bv = v, arg = c;
  }
  *best = bv;
  return arg;
}

// The short list of the smallest values so far, sorted, filled with
// +infinity: a value enters below the first greater one (after its equals)
// and the last falls off.
float SmallestAtScalar(const float* values, const uint32_t* rows, size_t n, uint32_t first) {
  float best[kMaxShortRank];
  std::fill(best, best + first, std::numeric_limits<float>::infinity());
  for (size_t j = 0; j < n; ++j) {
    const float v = values[rows[j]];
    if (!(v < best[first - 1])) continue;
    uint32_t at = first - 1;
    for (; at > 0 && best[at - 1] > v; --at) best[at] = best[at - 1];
    best[at] = v;
  }
  return best[first - 1];
}

size_t FirstBelowScalar(const float* values, size_t n, size_t from, float bound) {
  for (size_t i = from; i < n; ++i)
    if (values[i] < bound) return i;
  return n;
}

// From row `from` on, `passed` rows already written (the SIMD variants'
// tail).
size_t RowsNotAboveFrom(float* values, size_t from, size_t n, float bound, uint32_t* rows, size_t passed) {
  for (size_t i = from; i < n; ++i) {
    if (std::isnan(values[i])) values[i] = -std::numeric_limits<float>::infinity();
    rows[passed] = uint32_t(i);
    passed += !(values[i] > bound);
  }
  return passed;
}

size_t RowsNotAboveScalar(float* values, size_t n, float bound, uint32_t* rows) {
  return RowsNotAboveFrom(values, 0, n, bound, rows, 0);
}

// From value `from` on (a multiple of kLanes: value i is in lane i % kLanes),
// into minima already holding the lanes' smallest before it.
void LaneMinimaFrom(float* values, size_t from, size_t n, float* minima) {
  for (size_t i = from; i < n; ++i) {
    if (std::isnan(values[i])) values[i] = std::numeric_limits<float>::infinity();
    float& m = minima[i % kLanes];
    m = values[i] < m ? values[i] : m;
  }
}

void LaneMinimaScalar(float* values, size_t n, float* minima) {
  std::fill(minima, minima + kLanes, std::numeric_limits<float>::infinity());
  LaneMinimaFrom(values, 0, n, minima);
}

#if AETHER_X86

// ---- AVX2 + FMA: two 8-lane accumulators, a masked-free scalar tail. --------

__attribute__((target("avx2,fma"))) inline float HSum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, uint32_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  uint32_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  if (i + 8 <= dim) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    i += 8;
  }
  float s = HSum256(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float L2Avx2(const float* a, const float* b, uint32_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  uint32_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  if (i + 8 <= dim) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    i += 8;
  }
  float s = HSum256(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// The exact sums with the four partial sums in one 4-lane register: the
// same operations in the same order as the scalar reference, so the same
// double. Compiled without FMA, so no multiply and add can be fused.
__attribute__((target("avx2"))) double DotExactAvx2(const float* a, const float* b, uint32_t dim) {
  __m256d s = _mm256_setzero_pd();
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4)
    s = _mm256_add_pd(s, _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i)), _mm256_cvtps_pd(_mm_loadu_ps(b + i))));
  alignas(32) double p[4];
  _mm256_store_pd(p, s);
  for (; i < dim; ++i) p[0] += double(a[i]) * b[i];
  return (p[0] + p[1]) + (p[2] + p[3]);
}

__attribute__((target("avx2"))) double L2ExactAvx2(const float* a, const float* b, uint32_t dim) {
  __m256d s = _mm256_setzero_pd();
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i)), _mm256_cvtps_pd(_mm_loadu_ps(b + i)));
    s = _mm256_add_pd(s, _mm256_mul_pd(d, d));
  }
  alignas(32) double p[4];
  _mm256_store_pd(p, s);
  for (; i < dim; ++i) {
    const double d = double(a[i]) - b[i];
    p[0] += d * d;
  }
  return (p[0] + p[1]) + (p[2] + p[3]);
}

// As L2ExactAvx2 for M rows at once: M independent chains of additions in
// flight instead of one (the same additions in the same order per row).
template <uint32_t M>
__attribute__((target("avx2"))) void L2ExactRowsAvx2(const float* a, const float* const* xs, uint32_t dim,
                                                     double* out) {
  __m256d s[M];
  for (uint32_t r = 0; r < M; ++r) s[r] = _mm256_setzero_pd();
  uint32_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    const __m256d av = _mm256_cvtps_pd(_mm_loadu_ps(a + i));
    for (uint32_t r = 0; r < M; ++r) {
      const __m256d d = _mm256_sub_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(xs[r] + i)));
      s[r] = _mm256_add_pd(s[r], _mm256_mul_pd(d, d));
    }
  }
  for (uint32_t r = 0; r < M; ++r) {
    alignas(32) double p[4];
    _mm256_store_pd(p, s[r]);
    for (uint32_t t = i; t < dim; ++t) {
      const double d = double(a[t]) - xs[r][t];
      p[0] += d * d;
    }
    out[r] = (p[0] + p[1]) + (p[2] + p[3]);
  }
}

void L2ExactManyAvx2(const float* a, const float* const* xs, uint32_t m, uint32_t dim, double* out) {
  switch (m) {
    case 1:
      return L2ExactRowsAvx2<1>(a, xs, dim, out);
    case 2:
      return L2ExactRowsAvx2<2>(a, xs, dim, out);
    case 3:
      return L2ExactRowsAvx2<3>(a, xs, dim, out);
    case 4:
      return L2ExactRowsAvx2<4>(a, xs, dim, out);
    default:
      return;
  }
}

// Register blocking for the transposed dot products: NX rows x 8 columns of
// accumulators live in registers over the whole dim loop; per j one load of
// the columns and NX broadcasts feed NX FMAs.
template <uint32_t NX>
__attribute__((target("avx2,fma"))) void DotsTileAvx2(const float* x, uint32_t dim, const float* xt, uint32_t n,
                                                      uint32_t c, float* out) {
  __m256 acc[NX];
  for (uint32_t p = 0; p < NX; ++p) acc[p] = _mm256_setzero_ps();
  for (uint32_t j = 0; j < dim; ++j) {
    const __m256 col = _mm256_loadu_ps(xt + size_t(j) * n + c);
    for (uint32_t p = 0; p < NX; ++p) acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(x[size_t(p) * dim + j]), col, acc[p]);
  }
  for (uint32_t p = 0; p < NX; ++p) _mm256_storeu_ps(out + size_t(p) * n + c, acc[p]);
}

template <uint32_t NX>
__attribute__((target("avx2,fma"))) void DotsRowsAvx2(const float* x, uint32_t dim, const float* xt, uint32_t n,
                                                      float* out) {
  uint32_t c = 0;
  for (; c + 8 <= n; c += 8) DotsTileAvx2<NX>(x, dim, xt, n, c, out);
  for (; c < n; ++c)
    for (uint32_t p = 0; p < NX; ++p) {
      float s = 0;
      for (uint32_t j = 0; j < dim; ++j) s += x[size_t(p) * dim + j] * xt[size_t(j) * n + c];
      out[size_t(p) * n + c] = s;
    }
}

// The row count is a template parameter (the accumulators must be
// registers); these tables pick the instance, index = rows.
using RowsFn = void (*)(const float* x, uint32_t dim, const float* xt, uint32_t n, float* out);
constexpr RowsFn kRowsAvx2[kMaxDotRows + 1] = {nullptr,         DotsRowsAvx2<1>, DotsRowsAvx2<2>,
                                               DotsRowsAvx2<3>, DotsRowsAvx2<4>, DotsRowsAvx2<5>,
                                               DotsRowsAvx2<6>, DotsRowsAvx2<7>, DotsRowsAvx2<8>};

void DotsTransposedAvx2(const float* x, uint32_t nx, uint32_t dim, const float* xt, uint32_t n, float* out) {
  if (nx >= 1 && nx <= kMaxDotRows) kRowsAvx2[nx](x, dim, xt, n, out);
}

// NX rows x 8 columns at a time, a 32-bit word (4 dimensions) per lane:
// VPMADDUBSW multiplies the unsigned query bytes by the signed codes and adds
// pairs (no saturation: the codes' ranges keep a pair within 16 bits),
// VPMADDWD by ones adds the pairs into the lane's 32-bit sum.
template <uint32_t NX>
__attribute__((target("avx2"))) void DotsCodesRowsAvx2(const uint8_t* xq, uint32_t dim4, const int8_t* codes,
                                                       uint32_t n, int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (uint32_t c = 0; c < n; c += 8) {
    __m256i acc[NX];
    for (uint32_t p = 0; p < NX; ++p) acc[p] = _mm256_setzero_si256();
    for (uint32_t g = 0; g < dim4 / kCodeGroup; ++g) {
      const __m256i col =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + (size_t(g) * n + c) * kCodeGroup));
      for (uint32_t p = 0; p < NX; ++p) {
        int32_t word;
        std::memcpy(&word, xq + size_t(p) * dim4 + size_t(g) * kCodeGroup, 4);
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi32(word), col);
        acc[p] = _mm256_add_epi32(acc[p], _mm256_madd_epi16(pairs, ones));
      }
    }
    for (uint32_t p = 0; p < NX; ++p) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + size_t(p) * n + c), acc[p]);
  }
}

using CodesRowsFn = void (*)(const uint8_t* xq, uint32_t dim4, const int8_t* codes, uint32_t n, int32_t* out);
constexpr CodesRowsFn kCodesRowsAvx2[kMaxDotRows + 1] = {nullptr,
                                                         DotsCodesRowsAvx2<1>,
                                                         DotsCodesRowsAvx2<2>,
                                                         DotsCodesRowsAvx2<3>,
                                                         DotsCodesRowsAvx2<4>,
                                                         DotsCodesRowsAvx2<5>,
                                                         DotsCodesRowsAvx2<6>,
                                                         DotsCodesRowsAvx2<7>,
                                                         DotsCodesRowsAvx2<8>};

void DotsCodesAvx2(const uint8_t* xq, uint32_t nx, uint32_t dim4, const int8_t* codes, uint32_t n, int32_t* out) {
  if (nx >= 1 && nx <= kMaxDotRows) kCodesRowsAvx2[nx](xq, dim4, codes, n, out);
}

// 8 x 8 blocks through registers (unpack, shuffle, lane permute: the
// usual transpose of eight __m256); the rows past the last full eight and
// the columns past the last full eight by TransposeScalarFrom.
__attribute__((target("avx2"))) void TransposeAvx2(const float* x, uint64_t n, uint64_t stride, uint32_t dim, float* xt,
                                                   uint64_t ld) {
  const uint32_t body = dim / 8 * 8;
  uint64_t i0 = 0;
  for (; i0 + 8 <= n; i0 += 8) {
    for (uint32_t j0 = 0; j0 < body; j0 += 8) {
      __m256 r[8];
      for (uint32_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + (i0 + i) * stride + j0);
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* o = xt + size_t(j0) * ld + i0;
      _mm256_storeu_ps(o + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(o + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(o + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(o + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(o + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(o + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(o + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(o + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    TransposeScalarFrom(x, i0, i0 + 8, stride, body, dim, xt, ld);
  }
  TransposeScalarFrom(x, i0, n, stride, 0, dim, xt, ld);
}

// Per lane the first minimum (strict <), then the smallest index among the
// lanes holding the overall minimum: the first minimum overall.
__attribute__((target("avx2"))) uint32_t ArgminL2Avx2(const float* norm2, const float* dots, uint32_t n, float* best) {
  const __m256 two = _mm256_set1_ps(2.0f);
  __m256 bv = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  __m256i bi = _mm256_setzero_si256(), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i step = _mm256_set1_epi32(8);
  uint32_t c = 0;
  for (; n - c >= 8; c += 8) {
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(norm2 + c), _mm256_mul_ps(two, _mm256_loadu_ps(dots + c)));
    const __m256 lt = _mm256_cmp_ps(v, bv, _CMP_LT_OQ);
    bv = _mm256_blendv_ps(bv, v, lt);
    bi = _mm256_blendv_epi8(bi, idx, _mm256_castps_si256(lt));
    idx = _mm256_add_epi32(idx, step);
  }
  alignas(32) float lv[8];
  alignas(32) uint32_t li[8];
  _mm256_store_ps(lv, bv);
  _mm256_store_si256(reinterpret_cast<__m256i*>(li), bi);
  float m = lv[0];
  uint32_t arg = li[0];
  for (int l = 1; l < 8; ++l)
    if (lv[l] < m || (lv[l] == m && li[l] < arg)) m = lv[l], arg = li[l];
  for (; c < n; ++c) {  // the tail: later indices, so only a strictly smaller value wins
    const float v = norm2[c] - 2 * dots[c];
    if (v < m) m = v, arg = c;
  }
  *best = m;
  return arg;
}

// The short list in two registers, sorted, +infinity past what was seen;
// each value without a branch: every lane holding a greater value takes
// the larger of its left neighbour and the value (the list shifted right
// past the insertion point, the value at it).
__attribute__((target("avx2"))) float SmallestAtAvx2(const float* values, const uint32_t* rows, size_t n,
                                                     uint32_t first) {
  __m256 lo = _mm256_set1_ps(std::numeric_limits<float>::infinity()), hi = lo;
  const __m256i left = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6), last = _mm256_set1_epi32(7);
  const __m256 none = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (size_t j = 0; j < n; ++j) {
    const __m256 v = _mm256_set1_ps(values[rows[j]]);
    const __m256 lo_left = _mm256_blend_ps(_mm256_permutevar8x32_ps(lo, left), none, 1);
    const __m256 hi_left = _mm256_blend_ps(_mm256_permutevar8x32_ps(hi, left), _mm256_permutevar8x32_ps(lo, last), 1);
    lo = _mm256_blendv_ps(lo, _mm256_max_ps(lo_left, v), _mm256_cmp_ps(lo, v, _CMP_GT_OQ));
    hi = _mm256_blendv_ps(hi, _mm256_max_ps(hi_left, v), _mm256_cmp_ps(hi, v, _CMP_GT_OQ));
  }
  alignas(32) float best[16];
  _mm256_store_ps(best, lo);
  _mm256_store_ps(best + 8, hi);
  return best[first - 1];
}

__attribute__((target("avx2"))) size_t FirstBelowAvx2(const float* values, size_t n, size_t from, float bound) {
  if (from >= n) return n;
  const __m256 b = _mm256_set1_ps(bound);
  size_t i = from;
  for (; n - i >= 8; i += 8) {
    const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(values + i), b, _CMP_LT_OQ));
    if (m != 0) return i + size_t(__builtin_ctz(unsigned(m)));
  }
  return FirstBelowScalar(values, n, i, bound);
}

// ---- AVX-512: 16 lanes, the tail through a mask (no scalar loop). -----------

// By hand: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its header.
__attribute__((target("avx512f"))) inline float HSum512(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  float s[8];
  for (int i = 0; i < 8; ++i) s[i] = t[i] + t[i + 8];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

__attribute__((target("avx512f"))) float DotAvx512(const float* a, const float* b, uint32_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = dim - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (dim - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return HSum512(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) float L2Avx512(const float* a, const float* b, uint32_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = dim - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (dim - i)) - 1);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  return HSum512(_mm512_add_ps(s0, s1));
}

// NX rows x 32 columns of accumulators (2 registers per row); the last
// partial tile of columns through masks.
template <uint32_t NX>
__attribute__((target("avx512f"))) void DotsRowsAvx512(const float* x, uint32_t dim, const float* xt, uint32_t n,
                                                       float* out) {
  for (uint32_t c = 0; c < n; c += 32) {
    const uint32_t left = n - c;
    const __mmask16 m0 = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    const __mmask16 m1 = left >= 32   ? __mmask16(0xFFFF)
                         : left <= 16 ? __mmask16(0)
                                      : __mmask16((1u << (left - 16)) - 1);
    __m512 a0[NX], a1[NX];
    for (uint32_t p = 0; p < NX; ++p) a0[p] = a1[p] = _mm512_setzero_ps();
    for (uint32_t j = 0; j < dim; ++j) {
      const float* row = xt + size_t(j) * n + c;
      const __m512 c0 = _mm512_maskz_loadu_ps(m0, row);
      const __m512 c1 = _mm512_maskz_loadu_ps(m1, row + 16);
      for (uint32_t p = 0; p < NX; ++p) {
        const __m512 b = _mm512_set1_ps(x[size_t(p) * dim + j]);
        a0[p] = _mm512_fmadd_ps(b, c0, a0[p]);
        a1[p] = _mm512_fmadd_ps(b, c1, a1[p]);
      }
    }
    for (uint32_t p = 0; p < NX; ++p) {
      _mm512_mask_storeu_ps(out + size_t(p) * n + c, m0, a0[p]);
      _mm512_mask_storeu_ps(out + size_t(p) * n + c + 16, m1, a1[p]);
    }
  }
}

constexpr RowsFn kRowsAvx512[kMaxDotRows + 1] = {nullptr,           DotsRowsAvx512<1>, DotsRowsAvx512<2>,
                                                 DotsRowsAvx512<3>, DotsRowsAvx512<4>, DotsRowsAvx512<5>,
                                                 DotsRowsAvx512<6>, DotsRowsAvx512<7>, DotsRowsAvx512<8>};

void DotsTransposedAvx512(const float* x, uint32_t nx, uint32_t dim, const float* xt, uint32_t n, float* out) {
  if (nx >= 1 && nx <= kMaxDotRows) kRowsAvx512[nx](x, dim, xt, n, out);
}

// NX rows x 32 columns at a time (two registers per row), VPDPBUSD adding
// a lane's four products to its 32-bit sum in one instruction.
template <uint32_t NX>
__attribute__((target("avx512f,avx512vnni"))) void DotsCodesRowsVnni(const uint8_t* xq, uint32_t dim4,
                                                                     const int8_t* codes, uint32_t n, int32_t* out) {
  for (uint32_t c = 0; c < n; c += 32) {
    __m512i a0[NX], a1[NX];
    for (uint32_t p = 0; p < NX; ++p) a0[p] = a1[p] = _mm512_setzero_si512();
    for (uint32_t g = 0; g < dim4 / kCodeGroup; ++g) {
      const int8_t* cols = codes + (size_t(g) * n + c) * kCodeGroup;
      const __m512i c0 = _mm512_loadu_si512(cols);
      const __m512i c1 = _mm512_loadu_si512(cols + 64);
      for (uint32_t p = 0; p < NX; ++p) {
        int32_t word;
        std::memcpy(&word, xq + size_t(p) * dim4 + size_t(g) * kCodeGroup, 4);
        const __m512i b = _mm512_set1_epi32(word);
        a0[p] = _mm512_dpbusd_epi32(a0[p], b, c0);
        a1[p] = _mm512_dpbusd_epi32(a1[p], b, c1);
      }
    }
    for (uint32_t p = 0; p < NX; ++p) {
      _mm512_storeu_si512(out + size_t(p) * n + c, a0[p]);
      _mm512_storeu_si512(out + size_t(p) * n + c + 16, a1[p]);
    }
  }
}

constexpr CodesRowsFn kCodesRowsVnni[kMaxDotRows + 1] = {nullptr,
                                                         DotsCodesRowsVnni<1>,
                                                         DotsCodesRowsVnni<2>,
                                                         DotsCodesRowsVnni<3>,
                                                         DotsCodesRowsVnni<4>,
                                                         DotsCodesRowsVnni<5>,
                                                         DotsCodesRowsVnni<6>,
                                                         DotsCodesRowsVnni<7>,
                                                         DotsCodesRowsVnni<8>};

// AVX-512 without VNNI (AVX512F alone, as on Skylake-SP) takes the AVX2 kernel.
void DotsCodesAvx512(const uint8_t* xq, uint32_t nx, uint32_t dim4, const int8_t* codes, uint32_t n, int32_t* out) {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  if (nx < 1 || nx > kMaxDotRows) return;
  if (vnni)
    kCodesRowsVnni[nx](xq, dim4, codes, n, out);
  else
    kCodesRowsAvx2[nx](xq, dim4, codes, n, out);
}

// As ArgminL2Avx2, 16 lanes, the tail through a mask (+infinity elsewhere).
__attribute__((target("avx512f"))) uint32_t ArgminL2Avx512(const float* norm2, const float* dots, uint32_t n,
                                                           float* best) {
  const __m512 two = _mm512_set1_ps(2.0f), inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 bv = inf;
  __m512i bi = _mm512_setzero_si512();
  __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  for (uint32_t c = 0; c < n; c += std::min(n - c, 16u)) {
    const uint32_t left = n - c;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    const __m512 v = _mm512_mask_sub_ps(inf, m, _mm512_maskz_loadu_ps(m, norm2 + c),
                                        _mm512_mul_ps(two, _mm512_maskz_loadu_ps(m, dots + c)));
    const __mmask16 lt = _mm512_cmp_ps_mask(v, bv, _CMP_LT_OQ);
    bv = _mm512_mask_blend_ps(lt, bv, v);
    bi = _mm512_mask_blend_epi32(lt, bi, idx);
    idx = _mm512_add_epi32(idx, step);
  }
  // Across the lanes (GCC 12's reduce intrinsics warn of uninitialized use).
  alignas(64) float lv[16];
  alignas(64) uint32_t li[16];
  _mm512_store_ps(lv, bv);
  _mm512_store_si512(li, bi);
  float m = lv[0];
  uint32_t arg = li[0];
  for (int l = 1; l < 16; ++l)
    if (lv[l] < m || (lv[l] == m && li[l] < arg)) m = lv[l], arg = li[l];
  *best = m;
  return arg;
}

// F16C: eight halves per instruction (every AVX2 and AVX-512 CPU has it).
__attribute__((target("avx2,f16c"))) void HalfToFloatF16c(const uint16_t* h, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  for (; i < n; ++i) out[i] = HalfToFloat(h[i]);
}

// SmallestAtAvx2's list in one register.
__attribute__((target("avx512f"))) float SmallestAtAvx512(const float* values, const uint32_t* rows, size_t n,
                                                          uint32_t first) {
  __m512 best = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  const __m512i left = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
  const __m512 none = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (size_t j = 0; j < n; ++j) {
    const __m512 v = _mm512_set1_ps(values[rows[j]]);
    const __m512 shifted = _mm512_mask_permutexvar_ps(none, __mmask16(0xFFFE), left, best);
    best = _mm512_mask_max_ps(best, _mm512_cmp_ps_mask(best, v, _CMP_GT_OQ), shifted, v);
  }
  alignas(64) float out[16];
  _mm512_store_ps(out, best);
  return out[first - 1];
}

__attribute__((target("avx512f"))) size_t FirstBelowAvx512(const float* values, size_t n, size_t from, float bound) {
  const __m512 b = _mm512_set1_ps(bound);
  for (size_t i = from; i < n; i += 16) {
    const __mmask16 in = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __mmask16 m = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, values + i), b, _CMP_LT_OQ);
    if (m != 0) return i + size_t(__builtin_ctz(unsigned(m)));
  }
  return n;
}

// Per 8-bit mask: the lanes it selects, in order, packed to the front.
struct LanePacks {
  uint8_t lanes[256][8];
  constexpr LanePacks() : lanes() {
    for (uint32_t m = 0; m < 256; ++m) {
      uint32_t at = 0;
      for (uint8_t l = 0; l < 8; ++l)
        if ((m >> l) & 1) lanes[m][at++] = l;
    }
  }
};
constexpr LanePacks kLanePacks;

// Eight lanes a step: NaN lanes written back as -infinity, then the
// passing lanes' indexes packed by a permutation from kLanePacks and
// stored whole (the room past the count is scratch); the tail as scalar.
__attribute__((target("avx2"))) size_t RowsNotAboveAvx2(float* values, size_t n, float bound, uint32_t* rows) {
  const __m256 b = _mm256_set1_ps(bound), ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i step = _mm256_set1_epi32(8);
  __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  size_t passed = 0, i = 0;
  for (; n - i >= 8; i += 8, idx = _mm256_add_epi32(idx, step)) {
    __m256 v = _mm256_loadu_ps(values + i);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    if (_mm256_movemask_ps(nan) != 0) {
      v = _mm256_blendv_ps(v, ninf, nan);
      _mm256_storeu_ps(values + i, v);
    }
    const unsigned m = unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, b, _CMP_NGT_UQ)));
    uint64_t packed;
    std::memcpy(&packed, kLanePacks.lanes[m], 8);
    const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(packed)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(rows + passed), _mm256_permutevar8x32_epi32(idx, perm));
    passed += size_t(__builtin_popcount(m));
  }
  return RowsNotAboveFrom(values, i, n, bound, rows, passed);
}

// Two registers of 8 lanes (lanes 0-7 and 8-15): a NaN lane written back as
// +infinity, then the minimum (no NaN left: MINPS is the scalar ternary).
__attribute__((target("avx2"))) void LaneMinimaAvx2(float* values, size_t n, float* minima) {
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  __m256 m0 = inf, m1 = inf;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 v0 = _mm256_loadu_ps(values + i), v1 = _mm256_loadu_ps(values + i + 8);
    const __m256 nan0 = _mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), nan1 = _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q);
    if (_mm256_movemask_ps(_mm256_or_ps(nan0, nan1)) != 0) {
      v0 = _mm256_blendv_ps(v0, inf, nan0);
      v1 = _mm256_blendv_ps(v1, inf, nan1);
      _mm256_storeu_ps(values + i, v0);
      _mm256_storeu_ps(values + i + 8, v1);
    }
    m0 = _mm256_min_ps(v0, m0);
    m1 = _mm256_min_ps(v1, m1);
  }
  _mm256_storeu_ps(minima, m0);
  _mm256_storeu_ps(minima + 8, m1);
  LaneMinimaFrom(values, i, n, minima);
}

// Sixteen lanes a step, the tail through a mask; the indexes packed in a
// register (VPCOMPRESSD to memory is microcoded on some CPUs) and stored
// whole.
__attribute__((target("avx512f"))) size_t RowsNotAboveAvx512(float* values, size_t n, float bound, uint32_t* rows) {
  const __m512 b = _mm512_set1_ps(bound), ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i step = _mm512_set1_epi32(16);
  __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  size_t passed = 0;
  for (size_t i = 0; i < n; i += 16, idx = _mm512_add_epi32(idx, step)) {
    const __mmask16 in = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(in, values + i);
    const __mmask16 nan = _mm512_mask_cmp_ps_mask(in, v, v, _CMP_UNORD_Q);
    if (nan != 0) {
      v = _mm512_mask_blend_ps(nan, v, ninf);
      _mm512_mask_storeu_ps(values + i, nan, v);
    }
    const __mmask16 m = _mm512_mask_cmp_ps_mask(in, v, b, _CMP_NGT_UQ);
    _mm512_storeu_si512(rows + passed, _mm512_maskz_compress_epi32(m, idx));
    passed += size_t(__builtin_popcount(unsigned(m)));
  }
  return passed;
}

// One register of 16 lanes, the tail through a mask (+infinity elsewhere).
__attribute__((target("avx512f"))) void LaneMinimaAvx512(float* values, size_t n, float* minima) {
  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 m = inf;
  for (size_t i = 0; i < n; i += kLanes) {
    const __mmask16 in = n - i >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_mask_loadu_ps(inf, in, values + i);
    const __mmask16 nan = _mm512_mask_cmp_ps_mask(in, v, v, _CMP_UNORD_Q);
    if (nan != 0) {
      v = _mm512_mask_blend_ps(nan, v, inf);
      _mm512_mask_storeu_ps(values + i, nan, v);
    }
    m = _mm512_mask_min_ps(m, in, v, m);  // (the unmasked form trips GCC 12 -Wmaybe-uninitialized)
  }
  _mm512_storeu_ps(minima, m);
}

#endif  // AETHER_X86

const Kernels kScalar{Isa::kScalar,         "scalar",          DotScalar,         L2Scalar,         L2Many<L2Scalar>,
                      DotsTransposedScalar, DotsCodesScalar,   TransposeScalar,   ArgminL2Scalar,   DotExactScalar,
                      L2ExactScalar,        L2ExactManyScalar, HalfToFloatScalar, SmallestAtScalar, FirstBelowScalar,
                      RowsNotAboveScalar,   LaneMinimaScalar};
#if AETHER_X86
const Kernels kAvx2{Isa::kAvx2,         "avx2",          DotAvx2,         L2Avx2,         L2Many<L2Avx2>,
                    DotsTransposedAvx2, DotsCodesAvx2,   TransposeAvx2,   ArgminL2Avx2,   DotExactAvx2,
                    L2ExactAvx2,        L2ExactManyAvx2, HalfToFloatF16c, SmallestAtAvx2, FirstBelowAvx2,
                    RowsNotAboveAvx2,   LaneMinimaAvx2};
const Kernels kAvx512{Isa::kAvx512,         "avx512",        DotAvx512,       L2Avx512,         L2Many<L2Avx512>,
                      DotsTransposedAvx512, DotsCodesAvx512, TransposeAvx2,   ArgminL2Avx512,   DotExactAvx2,
                      L2ExactAvx2,          L2ExactManyAvx2, HalfToFloatF16c, SmallestAtAvx512, FirstBelowAvx512,
                      RowsNotAboveAvx512,   LaneMinimaAvx512};
#endif

#if AETHER_X86
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
bool HasF16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

const Kernels& Choose() {
  Isa best = Isa::kScalar;
  if (Supported(Isa::kAvx512))
    best = Isa::kAvx512;
  else if (Supported(Isa::kAvx2))
    best = Isa::kAvx2;
  if (const char* want = std::getenv("AETHER_SIMD")) {
    Isa w = best;
    if (std::strcmp(want, "scalar") == 0)
      w = Isa::kScalar;
    else if (std::strcmp(want, "avx2") == 0)
      w = Isa::kAvx2;
    else if (std::strcmp(want, "avx512") == 0)
      w = Isa::kAvx512;
    if (Supported(w)) best = w;
  }
  return For(best);
}

}  // namespace

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00u;   // NaN (quiet)
  if (ax >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {                        // below 2^-14: a subnormal half (or 0)
    float a;
    std::memcpy(&a, &ax, 4);
    // Units of 2^-24, rounded to nearest even; 0x400 is the smallest normal, correctly encoded.
    return sign | uint16_t(std::nearbyint(a * 0x1p24f));
  }
  uint32_t h = (ax >> 13) - (112u << 10);  // exponent rebias 127 -> 15, top 10 mantissa bits
  const uint32_t rest = ax & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent, as it should
  return sign | uint16_t(h);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    const float v = float(mant) * 0x1p-24f;  // zero or subnormal: exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

bool Supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
#if AETHER_X86
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c();
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && HasF16c();
#endif
    default:
      return false;
  }
}

const Kernels& For(Isa isa) {
#if AETHER_X86
  if (isa == Isa::kAvx512) return kAvx512;
  if (isa == Isa::kAvx2) return kAvx2;
#endif
  (void)isa;
  return kScalar;
}

const Kernels& Active() {
  static const Kernels& k = Choose();
  return k;
}

}  // namespace aether::simd
