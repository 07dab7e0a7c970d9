// Distance kernels with runtime dispatch: one scalar reference and hand-written
// AVX2+FMA and AVX-512 versions, each compiled with a per-function target
// attribute, so one binary runs on any x86-64 and uses the widest unit the CPU
// has (no -march=native). The choice is made once, on first use, from
// __builtin_cpu_supports; AETHER_SIMD=scalar|avx2|avx512 forces a narrower one
// (for tests and benchmarks; a wider one than the CPU has is refused and the
// best supported one is kept).
//
// Every variant is tested against the scalar reference (tests/search/).
// Thread-safe: the tables are immutable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aether::simd {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct Kernels {
  Isa isa;
  const char* name;
  float (*dot)(const float* a, const float* b, uint32_t dim);
  float (*l2_squared)(const float* a, const float* b, uint32_t dim);
  // Squared L2 distances from one query to n vectors spaced `stride` floats
  // apart: out[i] = |q - x_i|^2.
  void (*l2_squared_many)(const float* q, const float* x, uint64_t n, uint64_t stride, uint32_t dim, float* out);
  // Dot products of nx <= kMaxDotRows row vectors x (nx x dim, row-major)
  // with n columns given transposed, xt (dim x n):
  // out[p * n + c] = sum_j x[p * dim + j] * xt[j * n + c]. The batch kernel
  // (many queries against a block of vectors; points against centroids):
  // register-blocked, each xt element loaded once per call.
  void (*dots_transposed)(const float* x, uint32_t nx, uint32_t dim, const float* xt, uint32_t n, float* out);
  // The probe's first pass (lib/index/kmeans.h, ProbeTable): exact integer
  // dot products of nx <= kMaxDotRows rows of codes xq (nx x dim4,
  // row-major, each in [0, kMaxQueryCode]) with n columns of codes packed
  // kCodeGroup dimensions to a 32-bit word: column c's codes for dimensions
  // [4g, 4g + 4) are the 4 bytes at codes + (g * n + c) * 4, each in
  // [-kMaxColumnCode, kMaxColumnCode]:
  // out[p * n + c] = sum_j xq[p * dim4 + j] * codes[(j / 4 * n + c) * 4 + j % 4].
  // dim4 is a multiple of kCodeGroup and n of kCodeColumns (pad with zero
  // codes). No sum overflows (two products fit 16 bits: AVX2's VPMADDUBSW),
  // so every variant returns the same integers; AVX-512 uses VNNI's VPDPBUSD
  // where the CPU has it.
  void (*dots_codes)(const uint8_t* xq, uint32_t nx, uint32_t dim4, const int8_t* codes, uint32_t n, int32_t* out);
  // The transpose dots_transposed takes: xt[j * ld + i] = x[i * stride + j]
  // for i in [0, n), j in [0, dim) (n rows `stride` floats apart). Every
  // variant writes the same floats (a copy: bits as they are, NaN too).
  void (*transpose)(const float* x, uint64_t n, uint64_t stride, uint32_t dim, float* xt, uint64_t ld);
  // The first c in [0, n) minimising norm2[c] - 2 * dots[c] (each value
  // rounded once: 2 * dots[c] is exact), and that value in *best; n >= 1.
  // The nearest centroid from the dot products (K-Means' assignment): the
  // same answer in every variant.
  uint32_t (*argmin_l2)(const float* norm2, const float* dots, uint32_t n, float* best);
  // The exact path's double-precision sums: sum of a[i] * b[i] and of
  // (a[i] - b[i])^2, each term computed in double, accumulated in four
  // partial sums (element i into sum i % 4, the tail past the last multiple
  // of 4 into the first) added as (s0 + s1) + (s2 + s3), with no fused
  // multiply-add. Every variant returns the same double bit for bit, so
  // a reported distance never depends on the CPU.
  double (*dot_exact)(const float* a, const float* b, uint32_t dim);
  double (*l2_squared_exact)(const float* a, const float* b, uint32_t dim);
  // l2_squared_exact(a, xs[r], dim) into out[r] for r in [0, m), m <=
  // kMaxExactRows, bit for bit (a NaN result as a NaN: its sign is the
  // compiler's order of an addition's operands). A SIMD variant keeps the
  // rows' sums in flight together: each is a chain of dependent
  // additions, which alone waits on every one's latency.
  void (*l2_squared_exact_many)(const float* a, const float* const* xs, uint32_t m, uint32_t dim, double* out);
  // IEEE-754 binary16 to binary32 (exact): out[i] = h[i]. The float16 cold
  // codec's decode (F16C where the CPU has it).
  void (*half_to_float)(const uint16_t* h, float* out, size_t n);
  // The value of rank `first` (1-based, 1 <= first <= kMaxShortRank) among
  // values[rows[j]], j in [0, n), as a sort would place it; +infinity when
  // n < first. No value may be NaN. The tiled scan's early bound: the same
  // value in every variant.
  float (*smallest_at)(const float* values, const uint32_t* rows, size_t n, uint32_t first);
  // The first i in [from, n) with values[i] < bound (NaN never is), else n
  // (also when from >= n):
  // the probe's selection skips to it past the centroids too far to enter
  // its short list.
  size_t (*first_below)(const float* values, size_t n, size_t from, float bound);
  // The rows a tiled scan visits: each NaN in values[0, n) replaced by
  // -infinity in place (damaged data is visited, and the exact path
  // decides), then every i with !(values[i] > bound) written to rows in
  // ascending order (so a NaN bound passes every row); returns how many.
  // `rows` must have room for n + kSelectSlack entries (past the count,
  // scratch).
  size_t (*rows_not_above)(float* values, size_t n, float bound, uint32_t* rows);
  // Each NaN in values[0, n) replaced by +infinity in place, then
  // minima[l] = the smallest of values[l], values[l + 16], values[l + 32],
  // ... for l < kLanes (+infinity for a lane with none): the probe's bound
  // on the keep-th smallest (keep distinct values are at most the keep-th
  // smallest of these). The same floats in every variant.
  void (*lane_minima)(float* values, size_t n, float* minima);
};

// binary32 to binary16, rounded to nearest, ties to even (overflow gives
// infinity, NaN stays NaN); the same result as F16C's VCVTPS2PH. Scalar:
// the encoder is not on a search path.
uint16_t FloatToHalf(float f);
// One binary16 value to binary32, exact (the scalar reference).
float HalfToFloat(uint16_t h);

constexpr uint32_t kMaxDotRows = 8;
constexpr uint32_t kMaxExactRows = 4;   // l2_squared_exact_many's largest m
constexpr uint32_t kMaxShortRank = 16;  // smallest_at's largest rank
constexpr size_t kSelectSlack = 16;     // rows_not_above's room past n
constexpr uint32_t kLanes = 16;         // lane_minima's lanes
constexpr uint32_t kCodeGroup = 4;      // dots_codes: dimensions per packed word
constexpr uint32_t kCodeColumns = 32;   // dots_codes: n is a multiple of this
constexpr int kMaxQueryCode = 127;      // dots_codes: xq in [0, this]
constexpr int kMaxColumnCode = 127;     // dots_codes: codes in [-this, this]

// True when this CPU (and this build) can run `isa`.
bool Supported(Isa isa);
// The kernels for `isa`; only call with a supported one.
const Kernels& For(Isa isa);
// The kernels in use: the widest supported, unless AETHER_SIMD narrows it.
const Kernels& Active();

}  // namespace aether::simd
