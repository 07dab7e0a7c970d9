// The migration journal (format-spec/journal.md): every move of data is a row
// in `migrations` plus its items in `migration_items`, advanced through
//
//   (none) --BeginIntent--> intent --MarkWritten--> written
//          --commit txn (caller)--> committed --Remove--> (none)
//
// The journal only stores and reads these rows; what "roll back", "roll
// forward" and "clean up" mean for each kind lives with the kind's code in
// store/. Calls run inside the caller's transaction where noted. Not
// thread-safe (one Db per thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aether/status.h"
#include "meta/sqlite_db.h"

namespace aether {

// Stored numbers are frozen.
enum class MigrationState : int64_t { kIntent = 1, kWritten = 2, kCommitted = 3 };
const char* StateName(MigrationState s);

// A shard a migration appends to, with its committed length before and after.
struct ShardTarget {
  int64_t shard_id = 0;
  uint64_t len_before = 0;
  uint64_t len_after = 0;
};

struct Migration {
  int64_t id = 0;
  std::string kind;  // "ingest", "descend", "ascend", "rebuild"
  MigrationState state = MigrationState::kIntent;
  int64_t created_ms = 0;
  uint64_t hot_slots_before = 0;     // hot file length (in slots) before the write
  std::vector<ShardTarget> targets;  // shards appended to
  int64_t generation = 0;            // rebuild: the generation it writes
  int64_t old_generation = 0;        // rebuild: the generation it replaces
};

// Where a memory's vector is: a hot slot, or a record in a cold frame.
struct Place {
  int64_t tier = -1;  // -1: nowhere (the source of an ingest)
  int64_t slot = -1;
  int64_t shard_id = 0;
  int64_t frame_offset = 0;
  int64_t frame_index = 0;
};

struct MigrationItem {
  int64_t row_id = 0;
  std::string id;
  Place src;                  // ingest: none; descend: hot slot; ascend: cold record
  int64_t tier = 0;           // destination
  int64_t slot = -1;          // hot destination
  int64_t shard_id = 0;       // cold destination
  int64_t frame_offset = 0;
  int64_t frame_index = 0;
  double importance = 0;
  std::optional<std::string> payload;
  int64_t replaces_row_id = 0;  // a memory this one replaces (same id), 0 none
};

class Journal {
 public:
  explicit Journal(Db* db) : db_(db) {}
  // Inserts the migration in state intent and its items; returns its id.
  // Must run inside the caller's transaction.
  Result<int64_t> Insert(Migration m, const std::vector<MigrationItem>& items);
  // Updates the state; must run inside the caller's transaction, or alone.
  Status SetState(int64_t id, MigrationState state);
  // Deletes the migration and its items (cleanup done).
  Status Remove(int64_t id);
  // Every migration in the journal, oldest first.
  Result<std::vector<Migration>> All();
  Result<std::vector<MigrationItem>> Items(int64_t id);

 private:
  Db* db_;
};

}  // namespace aether
