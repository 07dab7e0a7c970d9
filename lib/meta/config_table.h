// The config table (format-spec/metadata_db.md): the store's settings and the
// model's parameters, as decimal text. All of its SQL is here, and typed
// getters so that no caller parses a value itself. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "meta/sqlite_db.h"

namespace aether {

class ConfigTable {
 public:
  explicit ConfigTable(Db* db) : db_(db) {}
  Result<std::optional<std::string>> Get(const std::string& key);
  // Corruption when the key is missing.
  Result<std::string> Require(const std::string& key);
  // A number (fallback when absent; Corruption when not a number).
  Result<double> Number(const std::string& key, double fallback);
  // A whole number (fallback when absent; Corruption when not one).
  Result<int64_t> Integer(const std::string& key, int64_t fallback);
  Status Set(const std::string& key, const std::string& value);
  Status Remove(const std::string& key);  // absent: nothing to do
  // The active index generation (0: none yet), a whole number.
  Result<int64_t> IndexGeneration() { return Integer("index_generation", 0); }
  Status SetIndexGeneration(int64_t generation) { return Set("index_generation", std::to_string(generation)); }

 private:
  Db* db_;
};

}  // namespace aether
