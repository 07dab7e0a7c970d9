// VectorFileReader's .npy path against a reference model of the format:
// vectors in order, each bad one reported where it is and skipped, the
// reading going on after it, and a truncated or overlong file failing at
// its end, whatever the number of vectors asked per call.
#include "aether/vector_file.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

namespace aether {
namespace {

// A .npy 1.0 file of n vectors of dim float32 (the header padded to 64).
std::string NpyBytes(const std::vector<float>& values, size_t n, uint32_t dim) {
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " + std::to_string(dim) + "), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(dict.size() & 0xff);
  out += char(dict.size() >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return out;
}

struct Outcome {
  std::vector<float> values;          // every vector read, in order
  std::vector<std::string> errors;    // every error, in order
  std::vector<uint64_t> read_before;  // vectors read before each error
};

Outcome ReadAll(const std::string& bytes, size_t max) {
  std::istringstream in(bytes);
  VectorFileReader r(&in, "f.npy", VectorFormat::kNpy);
  Outcome o;
  REQUIRE(r.Open().ok());
  for (int calls = 0; calls < 100000; ++calls) {
    size_t got = 0;
    const size_t before = o.values.size();
    Status s = r.Read(max, Metric::kL2, &o.values, &got);
    CHECK(o.values.size() == before + got * r.dim());  // what it says it read, appended
    if (!s.ok()) {
      o.errors.push_back(s.message());
      o.read_before.push_back(o.values.size() / r.dim());
      if (r.broken()) break;
      continue;
    }
    if (got == 0) break;
  }
  return o;
}

TEST_CASE("npy reading: bad vectors, truncation and trailing data, at any count per call, as the format says") {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (uint32_t dim : {3u, 128u}) {
    // Bad vectors first, last, adjacent, and apart.
    const size_t n = dim == 128 ? 3000 : 700;
    for (const std::vector<size_t>& bad :
         std::vector<std::vector<size_t>>{{}, {0}, {5, 6}, {2047, 2048}, {1, 699, 2999}, {n - 1}}) {
      for (int tail : {0, 1, -1, 2}) {  // 0 whole; 1 one byte short; -1 a vector's bytes minus one short; 2 extra
        CAPTURE(dim);
        CAPTURE(bad.size() ? bad[0] : 0);
        CAPTURE(tail);
        std::vector<float> values(n * dim);
        for (float& v : values) v = g(rng);
        std::vector<size_t> bad_in;
        for (size_t b : bad)
          if (b < n) {
            values[b * dim + b % dim] = (b % 2) ? std::numeric_limits<float>::infinity() : std::nanf("");
            bad_in.push_back(b);
          }
        std::string bytes = NpyBytes(values, n, dim);
        const size_t header = bytes.size() - values.size() * 4, row = 4ull * dim;
        if (tail == 1) bytes.pop_back();
        if (tail == -1) bytes.resize(bytes.size() - (row - 1));
        if (tail == 2) bytes += "xy";
        // The model: the complete vectors in order, the bad ones reported
        // and left out; then the end.
        const size_t complete = tail == 1 || tail == -1 ? n - 1 : n;
        Outcome want;
        for (size_t i = 0; i < complete; ++i) {
          if (std::find(bad_in.begin(), bad_in.end(), i) != bad_in.end()) {
            want.errors.push_back("f.npy: vector " + std::to_string(i) + " (byte " + std::to_string(header + i * row) +
                                  "): value " + std::to_string(i % dim) + " is not finite");
            want.read_before.push_back(want.values.size() / dim);
            continue;
          }
          want.values.insert(want.values.end(), values.begin() + i * dim, values.begin() + (i + 1) * dim);
        }
        if (complete < n) {
          want.errors.push_back("f.npy: vector " + std::to_string(n - 1) + " (byte " +
                                std::to_string(header + (n - 1) * row) + "): truncated; the header declares " +
                                std::to_string(n) + " vectors of " + std::to_string(dim) + " values");
          want.read_before.push_back(want.values.size() / dim);
        }
        if (tail == 2) {
          want.errors.push_back("f.npy: data continues after the " + std::to_string(n) +
                                " vectors the header declares (byte " + std::to_string(header + n * row) + ")");
          want.read_before.push_back(want.values.size() / dim);
        }
        for (size_t max : {size_t(1), size_t(2), size_t(3), size_t(64), size_t(4096), size_t(100000)}) {
          CAPTURE(max);
          const Outcome got = ReadAll(bytes, max);
          CHECK(got.errors == want.errors);
          CHECK(got.read_before == want.read_before);
          REQUIRE(got.values.size() == want.values.size());
          CHECK(std::memcmp(got.values.data(), want.values.data(), want.values.size() * 4) == 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace aether
