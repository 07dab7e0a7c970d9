// The cold_objects table (format-spec/metadata_db.md): for a store whose
// cold tier is in a bucket (config cold_uri), each shard whose committed
// bytes are an object there, objects/SHA256 under the cold URI. A shard
// whose file is not on the local disk is read from its object; a row goes
// with its shard's (ON DELETE CASCADE). All of its SQL is here. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "meta/sqlite_db.h"

namespace aether {

struct ColdObject {
  int64_t shard_id = 0;
  std::string path;         // the shard's, relative to the store directory
  uint64_t bytes = 0;       // the object's length: the shard's committed length when it was sent
  std::string sha256;       // lower-case hex: the object objects/SHA256
  uint64_t file_bytes = 0;  // the shard's committed length now (at most `bytes`)
};

class ColdObjectsTable {
 public:
  explicit ColdObjectsTable(Db* db) : db_(db) {}
  // Every row, with its shard's path and committed length, by shard id.
  Result<std::vector<ColdObject>> All();
  Result<std::optional<ColdObject>> Of(int64_t shard_id);
  // The shard's committed bytes are now the object `sha256`, `bytes` long
  // (a row it had is replaced).
  Status Put(int64_t shard_id, uint64_t bytes, const std::string& sha256);
  // Every object some row names.
  Result<std::set<std::string>> Named();
  Result<uint64_t> Count();
  Status Delete(int64_t shard_id);
  Status Clear();  // every row (a backup's copy, whose shards are all local)

 private:
  Db* db_;
};

}  // namespace aether
