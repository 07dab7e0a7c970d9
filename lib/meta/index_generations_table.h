// The index_generations table (format-spec/metadata_db.md): every index
// generation ever switched to. All of its SQL is here. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meta/sqlite_db.h"

namespace aether {

class IndexGenerationsTable {
 public:
  explicit IndexGenerationsTable(Db* db) : db_(db) {}
  Result<int64_t> Highest();  // 0: none
  Result<bool> Known(int64_t generation);
  Result<uint32_t> Partitions(int64_t generation);  // 0: unknown
  // The active one (state 2) with its partition count and centroids path.
  Status Activate(int64_t generation, int64_t created_ms, uint32_t partitions, const std::string& path);
  Status Retire(int64_t generation);  // state 3
  Result<std::vector<int64_t>> Active();

 private:
  Db* db_;
};

}  // namespace aether
