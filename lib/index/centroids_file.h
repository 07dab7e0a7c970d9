// The centroids file of an index generation (format-spec/index_generation.md):
// a 32-byte header, k*dim float32 centroids, and a trailing checksum.
// Written once (temp file, sync, rename, sync dir), then only read.
#pragma once

#include <cstdint>
#include <memory>
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

// A centroids file read a chunk of centroids at a time, in order, into one
// small buffer (a one-shot search's probe: no buffer of the file's size,
// whose first touch of every page costs more than the reading). Open checks
// the header; Finish, after the last centroid, the checksum of them all.
class CentroidsStream {
 public:
  static Result<std::unique_ptr<CentroidsStream>> Open(Env* env, const std::string& path, uint32_t expected_dim);
  uint32_t k() const { return head_.k; }
  uint32_t generation() const { return head_.generation; }
  // Centroids [c0, c0 + n), row-major, valid until the next call; c0 is
  // where the previous call ended (0 at first).
  Result<const float*> Rows(uint32_t c0, uint32_t n);
  // kCorruption unless every centroid was read and the checksum matches.
  Status Finish();

 private:
  CentroidsStream(std::unique_ptr<File> file, Centroids head) : file_(std::move(file)), head_(std::move(head)) {}
  std::unique_ptr<File> file_;
  Centroids head_;  // dim, k, generation (no data)
  uint32_t next_ = 0;
  uint32_t crc_ = 0;
  std::vector<float> buf_;
};

}  // namespace aether
