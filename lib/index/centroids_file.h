// The centroids file of an index generation (format-spec/index_generation.md):
// a 32-byte header, k*dim float32 centroids, and a trailing checksum.
// Written once (temp file, sync, rename, sync dir), then only read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/env.h"

namespace aether {

struct Centroids {
  uint32_t dim = 0;
  uint32_t k = 0;
  uint32_t generation = 0;
  std::vector<float> data;  // k * dim
};

class CentroidsFile {
 public:
  static constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'C', 'E', 'N', 'T'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kHeaderSize = 32;

  // Writes path atomically and durably (tmp + fsync + rename + dir fsync).
  static Status Write(Env* env, const std::string& dir, const std::string& name, const Centroids& c);
  static Result<Centroids> Read(Env* env, const std::string& path, uint32_t expected_dim);
  static std::string Encode(const Centroids& c);
  static Status Decode(const std::string& bytes, const std::string& path, uint32_t expected_dim, Centroids* out);
};

}  // namespace aether
