// The restore_queue table (format-spec/metadata_db.md): cold memories waiting
// to be restored to hot, with priority and backoff. All of its SQL is here.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "meta/place.h"
#include "meta/sqlite_db.h"

namespace aether {

class RestoreQueueTable {
 public:
  explicit RestoreQueueTable(Db* db) : db_(db) {}
  // Queues a memory (a repeated request keeps the higher priority).
  Status Put(int64_t row_id, double priority, int64_t now_ms);
  // The same, only if the memory exists and is cold.
  // Drops the lowest priorities (then the newest row ids) past `max`
  // entries; returns how many.
  Result<uint64_t> CapAt(uint64_t max);
  // Queues the memory while it is in a shard (cold or warm).
  Status PutIfCold(int64_t row_id, double priority, int64_t now_ms);
  // Entries due at now_ms, highest priority first, each with its memory as
  // it is now (nullopt: gone).
  struct Due {
    int64_t row_id;
    std::optional<MemoryRef> memory;
  };
  Result<std::vector<Due>> DueAt(int64_t now_ms);
  // Failed attempts so far (0: not queued).
  Result<int64_t> Attempts(int64_t row_id);
  Status Defer(int64_t row_id, int64_t attempts, int64_t next_attempt_ms, const std::string& error);
  Status Remove(int64_t row_id);
  Result<uint64_t> Depth();
  // Every entry's priority, by row id.
  Result<std::unordered_map<int64_t, double>> Priorities();

 private:
  Db* db_;
};

}  // namespace aether
