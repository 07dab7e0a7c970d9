// The migration journal (format-spec/journal.md): every move of data is a row
// in `migrations` plus its targets in `migration_targets` and its items in
// `migration_blocks` (packed, about a MiB per row: stores of format 4) or
// `migration_items` (a row per item: stores of format 1-3), advanced through
//
//   (none) --Insert--> intent --SetState(kWritten)--> written
//          --commit txn (caller): SetState(kCommitted)--> committed --Remove--> (none)
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
#include "meta/place.h"
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
  uint32_t partitions = 0;           // rebuild: the new generation's partition files (0: not recorded)
  std::string trace_id;              // the journaling command's (OpenOptions::trace_id); "" for none
  // The checksum of everything above but the state (Journal::ContentCrc),
  // set by Insert and by CheckIntegrity; the stored crc adds the state.
  uint32_t content_crc = 0;
  std::optional<uint32_t> stored_crc;  // as read; nullopt: a row an older aether wrote
  // Set by Journal::Items: how many item blocks it has, and why they do not
  // decode ("" when they do); CheckIntegrity refuses the row then, or when
  // it has blocks but no checksum (blocks came after checksums).
  int64_t item_blocks = 0;
  std::string items_damage;
};

// The statistics of a memory ingested with its state (Record's fields),
// its pin and its access history (memories.access_times' bytes; "" none).
struct KeptState {
  int64_t created_ms = 0;
  int64_t last_access_ms = 0;
  int64_t access_count = 0;
  bool pinned = false;
  std::string access_times;
  // Whether it has what came after the first kept state (journal.md, "Item
  // blocks": the encoding with marker 2).
  bool extended() const { return pinned || !access_times.empty(); }
  bool operator==(const KeptState& o) const {
    return created_ms == o.created_ms && last_access_ms == o.last_access_ms && access_count == o.access_count &&
           pinned == o.pinned && access_times == o.access_times;
  }
};

struct MigrationItem {
  int64_t row_id = 0;
  std::string id;
  std::optional<Place> src;  // ingest: none; descend: a hot slot; ascend: a cold record
  Place dst;                 // where it goes (a damaged row may hold a tier that is neither)
  double importance = 0;
  std::optional<std::string> payload;
  int64_t replaces_row_id = 0;  // a memory this one replaces (same id), 0 none
  // ingest --preserve-state: the new memory's dynamics state as it was
  // exported; none: a new memory's (the migration's time, no access).
  std::optional<KeptState> kept;
};

// A journal row's checksum (format-spec/journal.md, "Checksums"): CRC-32C
// over a fixed little-endian encoding of the row, its targets and its items
// as they are stored, extended by the state, masked. A damaged or
// half-restored row is refused, never replayed.
class Journal {
 public:
  // An item block's size: items are added until it reaches this.
  static constexpr size_t kBlockBytes = 1 << 20;
  explicit Journal(Db* db) : db_(db) {}
  // Inserts the migration in state intent with its items and its checksum;
  // sets m->id and m->content_crc. Must run inside the caller's transaction.
  // Where Insert writes the items: a row each (migration_items, stores
  // before format 4) or packed in blocks (migration_blocks, format 4).
  enum class ItemLayout { kRows, kBlocks };
  Status Insert(Migration* m, const std::vector<MigrationItem>& items, ItemLayout layout);
  // Updates the state and the checksum (from m.content_crc); must run
  // inside the caller's transaction, or alone.
  Status SetState(const Migration& m, MigrationState state);
  // Deletes the migration and its items (cleanup done).
  Status Remove(int64_t id);
  // Deletes target and item rows of no migration (what a damaged row's id
  // left behind).
  Status RemoveOrphans();
  // The highest shard id any row targets (0 when none).
  Result<int64_t> MaxTargetShard();
  Result<uint64_t> Count();
  // The oldest row's created_ms (0 when the journal is empty).
  Result<int64_t> OldestCreatedMs();
  // Every migration in the journal, oldest first. A row whose kind or state
  // is unknown is returned as it is; CheckIntegrity refuses it.
  Result<std::vector<Migration>> All();
  // Its items: the migration_items rows, then the migration_blocks' items;
  // blocks that do not decode set m->items_damage (the items before the
  // damage are returned).
  Result<std::vector<MigrationItem>> Items(Migration* m);
  // Corruption, naming the row, when the stored checksum does not match the
  // row and items as read, or the kind or state is unknown; sets
  // m->content_crc. A row without a checksum (written by an aether before
  // checksums) passes: the replay's checks against the committed state
  // still apply to it.
  Status CheckIntegrity(Migration* m, const std::vector<MigrationItem>& items) const;

  static uint32_t ContentCrc(const Migration& m, const std::vector<MigrationItem>& items);
  static uint32_t RowCrc(uint32_t content_crc, MigrationState state);

 private:
  // Whether `table` has `column`, asked of the DB once (*cached).
  Result<bool> HasColumn(const char* table, const char* column, std::optional<bool>* cached);
  Result<bool> HasChecksums();  // false in a DB no writer has upgraded yet
  Result<bool> HasKeptState();  // migration_items' created_ms, ...: likewise
  Result<bool> HasKeptPins();   // migration_items' kept_pinned, kept_access_times: likewise
  Result<bool> HasTraceIds();   // migrations' trace_id: likewise
  Result<bool> HasBlocks();     // the migration_blocks table: likewise
  // Writes the items as blocks (format-spec/journal.md, "Item blocks") and
  // sets m->content_crc; inside Insert.
  Status InsertBlocks(Migration* m, const std::vector<MigrationItem>& items);
  Db* db_;
  std::optional<bool> has_checksums_, has_kept_state_, has_kept_pins_, has_trace_ids_, has_blocks_;
};

// "migration 7 (ingest, intent)": how errors and reports name a row.
std::string Describe(const Migration& m);

}  // namespace aether
