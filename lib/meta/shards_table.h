// The shards table (format-spec/metadata_db.md): one row per shard file, its
// committed length and record counts. All of its SQL is here. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "meta/sqlite_db.h"

namespace aether {

// A row of the shards table.
struct ShardInfo {
  int64_t shard_id = 0;
  std::string path;  // relative to the store directory
  int64_t generation = 0;
  uint64_t file_bytes = 0;  // committed length
  uint64_t records = 0;
  uint64_t live = 0;
  uint64_t raw_bytes = 0;
  int64_t partition = -1;  // -1 for staging
  // The staging shard: cold data no index covers yet (generation 0, shard id
  // kStagingShardId, the shard file's partition kStagingPartition).
  bool staging() const { return generation == 0; }
};

class ShardsTable {
 public:
  explicit ShardsTable(Db* db) : db_(db) {}
  // Corruption when the shard is not registered.
  Result<ShardInfo> Get(int64_t shard_id);
  Result<std::vector<ShardInfo>> All();                             // by shard id
  Result<std::vector<ShardInfo>> InGeneration(int64_t generation);  // by shard id
  // (shard id, partition) of every shard of a generation.
  Result<std::vector<std::pair<int64_t, int64_t>>> Partitions(int64_t generation);
  Result<uint64_t> CountInGeneration(int64_t generation);
  // The shard of a generation's partition: of two (a rewrite's, until its
  // cleanup), the higher shard id; nullopt when it has none.
  Result<std::optional<ShardInfo>> OfPartition(int64_t generation, int64_t partition);

  // The staging shard, at creation (its file only a header of header_bytes).
  Status InsertStaging(int64_t shard_id, const std::string& path, uint64_t header_bytes);
  // A partition of a new generation; returns its shard id.
  Result<int64_t> InsertPartition(const std::string& path, int64_t generation, uint32_t partition, uint64_t bytes,
                                  uint64_t records, uint64_t raw_bytes);
  // A rewritten partition's shard (maintain's cold compaction), empty: its
  // rewrite's commit grows it.
  Status InsertRewritten(int64_t shard_id, const std::string& path, int64_t generation, uint32_t partition,
                         uint64_t header_bytes);
  Status Delete(int64_t shard_id);
  // Grows a shard from exactly len_before to len_after by n records; false
  // when its committed length is not len_before.
  Result<bool> Grow(int64_t shard_id, uint64_t len_before, uint64_t len_after, uint64_t n, uint64_t raw_bytes);
  // One of its records became garbage.
  Status Release(int64_t shard_id);
  Status DeleteGeneration(int64_t generation);  // generation > 0 only
  // Sets a shard empty (committed length header_bytes).
  Status Empty(int64_t shard_id, uint64_t header_bytes);
  // Sets every shard without a live record but with records empty; returns
  // how many records that drops.
  Result<uint64_t> EmptyGarbageOnly(uint64_t header_bytes);
  Result<uint64_t> CountGarbageOnly(uint64_t header_bytes);  // live = 0, longer than a header
  Result<uint64_t> CountWithGarbage();                       // records > live

 private:
  Db* db_;
};

}  // namespace aether
