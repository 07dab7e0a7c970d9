// The memories table (format-spec/metadata_db.md): one row per live memory,
// its place, its access statistics and its payload. All of its SQL is here.
// Calls run inside the caller's transaction (or alone). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "meta/place.h"
#include "meta/sqlite_db.h"

namespace aether {

// A memory's access statistics and importance.
struct MemoryStats {
  int64_t created_ms = 0;
  int64_t last_access_ms = 0;
  uint64_t access_count = 0;
  double importance = 0;
  bool pinned = false;  // kept hot regardless of policy (aether pin)
};

// One whole row, for Get. `tier_code` is the tier as stored (a damaged row
// may hold a number that is no tier: TierFromCode tells).
struct MemoryRow {
  MemoryRef ref;
  int64_t tier_code = 0;
  MemoryStats stats;
  std::optional<std::string> payload;
  std::string access_times;  // the history as stored (policy/access_pattern.h; empty: none)
};

class MemoriesTable {
 public:
  explicit MemoriesTable(Db* db) : db_(db) {}

  // The memory with this external id / row id (nullopt: none).
  Result<std::optional<MemoryRef>> Find(const std::string& id);
  Result<std::optional<MemoryRef>> FindRow(int64_t row_id);
  // The memories of many external ids at once: (*out)[i] is *ids[i]'s, as
  // Find gives it: nothing looked up when no stored id lies within the ids'
  // range, else a walk of the id index in byte order while it settles them
  // a few per seek, the rest by LookUpEach.
  Status FindMany(const std::vector<const std::string*>& ids, std::vector<std::optional<MemoryRef>>* out);
  // The id and tier of the memories of many row ids at once, for a
  // search's hits, `rows` ascending and distinct: visit(i, id, tier) for
  // each rows[i] that has a memory, i ascending (the id's bytes are valid
  // during the call only). One statement walks the table in row order,
  // seeking only across gaps, so a dense set costs a step per row rather
  // than a lookup, and reads two columns.
  Status FindIds(const std::vector<int64_t>& rows,
                 const std::function<Status(size_t i, std::string_view id, Tier tier)>& visit);
  Result<std::optional<MemoryRow>> Get(const std::string& id);
  Result<std::optional<MemoryStats>> Stats(int64_t row_id);
  Result<std::optional<std::string>> Payload(int64_t row_id);
  // The same, and the stored access_times in *history ("" none; export
  // reads both in one lookup).
  Result<std::optional<std::string>> Payload(int64_t row_id, std::string* history);
  Result<uint64_t> Count();
  Result<uint64_t> Count(Tier tier);
  Result<uint64_t> CountInShards();                 // cold and warm memories
  Result<uint64_t> CountInShard(int64_t shard_id);  // cold and warm memories placed in it (a scan: no index)
  // One past the highest hot slot in use (0: none).
  Result<uint64_t> HotSlotEnd();

  // A new memory, accessed last at last_access_ms (< 0: created_ms) and
  // access_count times (by default: its created and last-access times both
  // `created_ms`, never accessed).
  Status Insert(const MemoryRef& m, double importance, int64_t created_ms, const std::optional<std::string>& payload,
                int64_t last_access_ms = -1, int64_t access_count = 0);
  // Many new memories, in this order, the rows Insert would make of each,
  // several rows to a statement: a bulk load's statement overhead is per
  // group rather than per memory. On an error (an id already stored) the
  // rows before the failing one may or may not be in: the caller's
  // transaction is rolled back. The pointers are the caller's.
  struct NewRow {
    int64_t row_id = 0;
    const std::string* id = nullptr;
    Place place;
    double importance = 0;
    int64_t created_ms = 0;
    int64_t last_access_ms = -1;  // < 0: created_ms
    int64_t access_count = 0;
    const std::optional<std::string>* payload = nullptr;  // null or nullopt: none
    bool pinned = false;
    const std::string* access_times = nullptr;  // the history's bytes; null or empty: none
  };
  Status InsertMany(const std::vector<NewRow>& rows);
  // Moves a memory that is exactly at `from` to `to`; false when it is not.
  Result<bool> Move(int64_t row_id, const Place& from, const Place& to);
  // Moves a memory in a shard (cold or warm) to another place in a shard,
  // in the same tier (a rebuild); false when it is in no shard.
  Result<bool> MoveInShards(int64_t row_id, const Place& to);
  Status Delete(int64_t row_id);
  // Accesses at now_ms: each row's access_count grows by its hits in
  // row_ids, its last_access_ms rises to now_ms, and now_ms joins its
  // access_times history once (a history that does not decode starts
  // again; verify reports it first).
  Status Touch(const std::vector<int64_t>& row_ids, int64_t now_ms);
  // The stored access_times of a row (empty: none, or no such row).
  Result<std::string> AccessTimes(int64_t row_id);
  Status SetImportance(int64_t row_id, double importance);
  Status SetPayload(int64_t row_id, const std::optional<std::string>& payload);  // nullopt: NULL
  // importance *= factor for every memory; returns how many.
  Result<uint64_t> DecayImportance(double factor);

  // Pins or unpins a memory (the pinned column, format-spec/metadata_db.md);
  // false when it was already so or does not exist.
  Result<bool> SetPinned(int64_t row_id, bool pinned);
  // Pinned memories of a tier, or of both (nullopt), through the index of
  // the pinned rows alone.
  Result<uint64_t> CountPinned(std::optional<Tier> tier = std::nullopt);

  // Every memory, in row id order: fn(ref, stats); fn returns false to stop.
  Status ForEach(const std::function<bool(const MemoryRef&, const MemoryStats&)>& fn);
  // The same with each row's payload when with_payload ("" when it has none,
  // and always "" without with_payload).
  Status ForEach(bool with_payload,
                 const std::function<bool(const MemoryRef&, const MemoryStats&, std::string&& payload)>& fn);
  // Every memory with an access history, in row id order: fn(ref, stats,
  // the history as stored); none in a DB without the column.
  Status ForEachWithHistory(
      const std::function<void(const MemoryRef&, const MemoryStats&, const std::string& access_times)>& fn);
  // Every hot memory: fn(ref, stats). Every memory in a shard (cold or
  // warm): fn(row id, place).
  Status ForEachHot(const std::function<void(const MemoryRef&, const MemoryStats&)>& fn);
  Status ForEachInShards(const std::function<void(int64_t row_id, const Place&)>& fn);
  Result<std::vector<int64_t>> ShardRowIds();  // ascending
  // The memories (cold and warm) of each of `shards` (one pass over the
  // shards' memories), each shard's in file order.
  Result<std::map<int64_t, std::vector<MemoryRef>>> InShards(const std::set<int64_t>& shards);
  // Every row, raw, in row id order, for the readers that judge the stored
  // values themselves (verify, the maintenance sample). Columns: row_id,
  // id, tier, slot, shard_id, frame_offset, frame_index, importance,
  // created_ms, last_access_ms, access_count, payload, pinned,
  // access_times (as stored; NULL without the column).
  Status ForEachRaw(const std::function<Status(const Stmt&)>& fn);
  // Every row in id order (byte order; the UNIQUE index), for listings, until
  // fn returns false. Columns: row_id, id, tier, importance, created_ms,
  // last_access_ms, access_count, payload (NULL unless with_payload),
  // pinned (0 or 1).
  Status ForEachById(bool descending, bool with_payload, const std::function<Result<bool>(const Stmt&)>& fn);

 private:
  // FindMany's lookups one id at a time, 16 ids to a statement.
  Status LookUpEach(const std::vector<const std::string*>& ids, std::vector<std::optional<MemoryRef>>* out);
  // The stored pinned flag as a 0/1 expression: "0" in a DB an older aether
  // made, before the writer's schema step adds the column (a reader does
  // not add it). Looked up once: a writer's schema steps run at open,
  // before any query; a reader that replays a journal (and so adds the
  // column) has nothing pinned yet.
  Result<std::string> PinnedColumn();
  // Whether the DB has memories.access_times (an older aether's may not:
  // its memories have no history yet).
  Result<bool> HasAccessTimes();

  Db* db_;
  std::optional<bool> has_pinned_, has_access_times_;
};

}  // namespace aether
