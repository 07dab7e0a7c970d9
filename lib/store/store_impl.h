// StoreImpl: the state behind aether::Store and the operations on it, one
// .cc file per concern:
//   store_open.cc  open path: lock, config, journal replay (recovery loop)
//   migration.cc   the protocol every data move follows (intent, write, commit)
//   replay.cc      finishing or undoing what a crashed process left
//   ingest.cc      the ingest migration
//   move.cc        descend, ascend, the restore queue
//   index.cc       rebuild-index, nearest-partition routing, recall check
//   search.cc      plans the scan (lib/search/), liveness, hits, touch
//   records.cc     get, delete
//   dynamics.cc    parameters, feedback, the maintenance tick, history
//   scrub.cc       scrub
//   verify.cc      verify
//   stats.cc       stats
// Parts with their own state, each in its own file:
//   store_lock.h   StoreLock: WRITER, LOCK and the GATE turnstile (lock_)
//   cold_index.h   ColdIndex: the active K-Means generation, routing (index_)
// The metadata tables are reached only through their owners (tables_,
// lib/meta/*_table.h); places are meta/place.h's Place. Not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "aether/env.h"
#include "aether/options.h"
#include "aether/status.h"
#include "cold/shard_file.h"
#include "hot/slot_file.h"
#include "journal/journal.h"
#include "meta/sqlite_db.h"
#include "meta/tables.h"
#include "policy/eviction.h"
#include "policy/params.h"
#include "search/scan_context.h"
#include "store/cold_index.h"
#include "store/store_lock.h"

namespace aether {

// The error for a stored payload that does not parse (a damaged meta.db).
Status PayloadCorruption(const std::string& id, int64_t row_id);

// Records per cold frame written by ingest and descend.
constexpr size_t kMaxFrameRecords = 1024;

// The bytes a migration writes, prepared before its intent is recorded.
struct PendingWrites {
  struct SlotWrite {
    uint64_t slot;
    int64_t row_id;
    const float* vector;
  };
  std::vector<SlotWrite> slots;
  // Frames per target shard, appended at that target's len_before.
  std::map<int64_t, std::vector<std::string>> frames;
};

// A search hit with the row id the store knows it by (row ids stay inside
// the library); hits[q] belongs to query q, best first.
struct RankedHit {
  int64_t row_id = 0;
  SearchHit hit;
};
using RankedHits = std::vector<std::vector<RankedHit>>;

class StoreImpl {
 public:
  static Status Create(const std::string& path, const StoreConfig& config, Env* env);
  static Result<std::unique_ptr<StoreImpl>> Open(const std::string& path, const OpenOptions& opt);

  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  // store_open.cc
  Status ReplayJournal();
  Status EnsureExclusive();
  Status YieldToReaders();  // LOCK shared, WRITER kept (Store::YieldToReaders)
  // The RESERVE file (layout.h): created when missing and there is room;
  // released (deleted) when a roll back needs the space.
  void EnsureReserve();
  bool ReleaseReserve();
  Status RecordHotSlots();

  // ingest.cc
  Result<IngestBatchResult> IngestBatch(const std::vector<Record>& batch, DuplicatePolicy policy);
  Result<bool> Contains(const std::string& id);
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& ids);

  // search.cc
  Result<std::vector<std::vector<SearchHit>>> Search(const std::vector<std::vector<float>>& queries,
                                                     const SearchOptions& options);
  // The search itself, inside the read transaction Search opens.
  Result<RankedHits> SearchInSnapshot(const std::vector<std::vector<float>>& queries, const SearchOptions& options);
  Result<std::vector<ShardScan>> PlanShards(const std::vector<std::vector<float>>& queries, uint32_t nprobe);
  Status Decorate(const SearchOptions& options, RankedHits* results);
  // Records an access to every hit and queues each query's first
  // restore_top_n cold hits for restore (SearchOptions::record_access), in
  // one transaction with the store taken exclusively.
  Status RecordAccess(const RankedHits& results);

  // records.cc
  Result<std::vector<std::optional<MemoryRecord>>> Get(const std::vector<std::string>& ids);
  Result<std::vector<std::string>> Delete(const std::vector<std::string>& ids, bool purge);

  // scrub.cc
  Result<ScrubReport> Scrub();
  Result<uint64_t> PruneHistory(const PolicyParams& p);

  // stats.cc
  Result<StoreStats> Stats();

  // move.cc
  Result<MoveReport> Descend(const MoveOptions& o);
  Result<MoveReport> Ascend(const MoveOptions& o);
  Result<EnqueueReport> Enqueue(const std::vector<std::string>& ids, double priority);

  // verify.cc
  Result<VerifyReport> Verify(const ProgressFn& progress);

  // dynamics.cc
  Result<std::map<std::string, double>> GetParams();
  Result<PolicyParams> Params();
  Status SetParams(const std::map<std::string, double>& values, const std::string& why);
  Status ApplyPreset(const std::string& name);
  Result<std::vector<std::string>> Feedback(const std::vector<FeedbackItem>& items);
  Result<MaintainReport> Maintain(const MaintainOptions& o);
  Result<std::vector<HistoryEntry>> History(const std::string& id, int64_t since_ms);
  Status QueueRestores(const std::vector<std::pair<int64_t, double>>& entries);
  Status SampleMoves(const PolicyParams& p, double heat, int64_t now, std::mt19937_64* rng, MaintainReport* rep,
                     std::vector<MemoryRef>* down, std::vector<std::pair<int64_t, double>>* up);
  Status EnforceCapacity(MaintainReport* rep);
  Status DrainRestores(const PolicyParams& p, MaintainReport* rep);
  Status Audit(const std::string& kind, const std::optional<std::string>& id, const std::string& detail);

  // index.cc
  Result<RebuildReport> RebuildIndex(const RebuildOptions& o);
  Result<RecallReport> RecallCheck(uint64_t queries, uint64_t seed);

  Env* env_ = nullptr;
  std::string dir_;
  StoreConfig config_;
  uint32_t format_version_ = 0;
  std::unique_ptr<StoreLock> lock_;   // WRITER and LOCK; writer() once opened for writing
  std::unique_ptr<ColdIndex> index_;  // the active K-Means generation, over tables_
  std::unique_ptr<Db> db_;
  std::unique_ptr<Tables> tables_;  // the owners of the metadata tables, over db_
  std::vector<ReplayAction> replayed_;
  Status deferred_recovery_;                           // a reader could not replay (disk full, I/O error)
  bool discard_damaged_ = false;                       // OpenOptions::discard_damaged_journal
  bool writable_ = true;                               // this process may write the store's files
  std::vector<std::string> notices_;                   // things left in place, for the caller to report
  std::function<void(const std::string&)> on_notice_;  // OpenOptions::on_notice
  void Notice(const std::string& text) {
    notices_.push_back(text);
    if (on_notice_) on_notice_(text);
  }

 private:
  // migration.cc: the protocol every data move follows.
  Status RunMigration(Migration* m, const std::vector<MigrationItem>& items, const PendingWrites& w,
                      const std::function<Status()>& also_in_intent = nullptr);
  Status CommitMigration(const Migration& m, const std::vector<MigrationItem>& items);
  Status CommitNew(const Migration& m, const MigrationItem& it);
  Status VerifyWritten(const Migration& m, const std::vector<MigrationItem>& items);
  Result<std::vector<int64_t>> AllocateSlots(size_t n, uint64_t slot_count);
  // Encodes frames for the items listed in `which` (vectors[i] is item i's
  // vector), sets their destinations in `shard`, and records the append as
  // one of m's targets and w's frames.
  Status BuildFrames(std::vector<MigrationItem>* items, const std::vector<size_t>& which,
                     const std::vector<const float*>& vectors, const ShardInfo& shard, Migration* m, PendingWrites* w);
  // replay.cc
  Status ReplayOne(Migration* m);
  Status ReplayAll();
  Status CheckReplayable(const Migration& m, const std::vector<MigrationItem>& items);
  Status RollBackWrites(const Migration& m);
  Status TruncateToCommitted();
  Status DiscardDamaged(const Migration& m, size_t items, const std::string& why);
  // index.cc helpers.
  Status CommitRebuild(const Migration& m);
  Status CleanupRebuild(const Migration& m);
  // Removes the files a generation consists of (its `partitions` partition
  // shards, or with 0 every pNNNNNN.shard, its centroids and their
  // temporaries), never through a link; unknown entries are left (notices_).
  Status RemoveGeneration(int64_t generation, uint32_t partitions);
  Status ReplayRebuild(const Migration& m, ReplayAction* action);
  Status CheckRebuildReplayable(const Migration& m);
  // Removes store-relative `rel` if it is a regular file reached through
  // real directories only; anything else is left and noted.
  Status RemoveOwnedFile(const std::string& rel);
  // Removes store-relative directory `rel` if it is a real, empty directory.
  Status RemoveOwnedDir(const std::string& rel);
  // move.cc helpers.
 public:
 private:
  Result<std::vector<std::pair<double, MemoryRef>>> HotByScore();
  Status DescendRows(const std::vector<MemoryRef>& rows, const MoveOptions& o, MoveReport* report, uint64_t total);
  Status AscendRows(const std::vector<MemoryRef>& rows, const MoveOptions& o, MoveReport* report, uint64_t total);
  Status LoadDueQueue(std::vector<MemoryRef>* rows, MoveReport* report);
  Status DeferQueued(const std::vector<MemoryRef>& rows, const std::string& error, MoveReport* report);
  // In the caller's transaction: the memory's place is released and its row
  // deleted (ReleaseMemory), or only the place (ReleasePlace).
  Status ReleaseMemory(const MemoryRef& loc);
  Status ReleasePlace(const Place& place);
  // The memory's eviction-score inputs, as the policy wants them.
  static AccessStats ToAccessStats(const MemoryStats& s) {
    return AccessStats{s.last_access_ms, s.access_count, s.importance, 1.0};
  }

 public:
  // Shared helpers.
  // Slots of hot.slots that committed metadata uses: one past the highest
  // live or free slot (0 when none).
  Result<uint64_t> CommittedHotSlots();
  // The committed length of hot.slots in slots (config hot_slots; computed
  // with CommittedHotSlots in a store an older aether made). A file shorter
  // than this has lost live or free slots.
  Result<uint64_t> HotSlotsInUse();
  Result<bool> IsFreeSlot(uint64_t slot);
  // Generation directories and centroids files no committed generation names
  // (store-relative paths), e.g. what a discarded rebuild left.
  std::vector<std::string> UnregisteredGenerations();
  // Validates a journal row as the replay would (Journal::CheckIntegrity,
  // CheckReplayable), without acting on it.
  Status CheckJournalRow(Migration* m);
  // The eviction score's inputs of one memory (nullopt: no such row).
  Result<std::optional<AccessStats>> AccessStatsOf(int64_t row_id);
  Result<std::unique_ptr<SlotFile>> OpenHot(bool writable);
  Result<std::unique_ptr<ShardFile>> OpenShard(const ShardInfo& info, bool writable);
  Status ReadVector(const MemoryRef& loc, std::vector<float>* out);
};

}  // namespace aether
