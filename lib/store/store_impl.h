// StoreImpl: the facade behind aether::Store, wiring its parts, and the
// operations on the store, one .cc file per concern:
//   store_open.cc  open path: lock, config, journal replay
//   ingest.cc      the ingest migration
//   move.cc        descend, ascend, the restore queue
//   index.cc       rebuild-index's long phase, the recall check
//   search.cc      plans the scan (lib/search/), liveness, hits, accesses
//   filtered_search.cc  search --where: the selection, its exact scan
//   records.cc     get, delete
//   backup.cc      backup: a consistent copy, sharing unchanged files
//   upgrade.cc     upgrade: an older format, schema or codec to this one
//   dynamics.cc    the maintenance tick
//   scrub.cc       scrub
//   verify.cc      verify
//   stats.cc       stats
// Parts with their own state, each in its own file:
//   store_context.h StoreContext (the base): what every part shares
//   store_lock.h    StoreLock: WRITER, LOCK and the GATE turnstile (lock_)
//   cold_index.h    ColdIndex: the active K-Means generation, routing (index_)
//   migrator.h      Migrator: the journal protocol and its replay (migrator_)
//   memory_model.h  MemoryModel: parameters, feedback, the tick's sample (model_)
// The metadata tables are reached only through their owners (tables_,
// lib/meta/*_table.h); places are meta/place.h's Place. Not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aether/env.h"
#include "aether/options.h"
#include "aether/status.h"
#include "cold/shard_file.h"
#include "hot/slot_file.h"
#include "index/calibration.h"
#include "journal/journal.h"
#include "meta/sqlite_db.h"
#include "meta/tables.h"
#include "policy/access_pattern.h"
#include "policy/eviction.h"
#include "policy/params.h"
#include "policy/pressure.h"
#include "search/scan_context.h"
#include "search/scan_engine.h"
#include "store/access_log.h"
#include "store/cold_index.h"
#include "store/memory_model.h"
#include "store/metrics_log.h"
#include "store/migrator.h"
#include "store/selection.h"
#include "store/store_context.h"
#include "store/store_lock.h"

namespace aether {

// A search's hits with the row ids the store knows them by (row ids stay
// inside the library): hits[q] belongs to query q, best first, and
// rows[q][r] is hits[q][r]'s row. Two arrays, so the hits are handed to the
// caller as they are.
struct RankedHits {
  explicit RankedHits(size_t queries = 0) : hits(queries), rows(queries) {}
  std::vector<std::vector<SearchHit>> hits;
  std::vector<std::vector<int64_t>> rows;
};

// store.cc: "dir/" -> "dir" (a lone "/" stays).
std::string StripTrailingSlashes(std::string path);
// For init and backup, which create a store directory.
// OK when `path` is missing or an empty directory; kAlreadyExists naming
// what is there otherwise.
Status CheckNewStorePath(Env* env, const std::string& path);
// The directory `path` is to be made in exists (through links): 66 when it
// is missing or not a directory, `why` saying what is made.
Status CheckParentDirectory(const std::string& path, const std::string& why);
// Where a new store is built before its rename onto `path`:
// "PARENT/.NAME.aether-WHAT.PID" (HiddenSiblingName, env.h).
std::string HiddenSibling(const std::string& path, const std::string& what);

// The format version a store of version `current` gets when this aether
// changes its format to `codec` (rebuild-index --codec, `upgrade`): the
// version a new store of that codec is created at, never lower than it is
// (format-spec/README.md, "Versions").
uint32_t FormatVersionAfter(uint32_t current, ColdCodec codec);

class StoreImpl : public StoreContext {
 public:
  ~StoreImpl();
  static Status Create(const std::string& path, const StoreConfig& config, Env* env, const S3Options& s3);
  static Result<std::unique_ptr<StoreImpl>> Open(const std::string& path, const OpenOptions& opt);

  // store_open.cc
  // Takes the store exclusively (WRITER, then LOCK), then replays what
  // another writer may have left while this process held no lock. On
  // failure a reader is a reader again (BackToReader).
  Status EnsureExclusive();
  // A reader that took the store exclusively shares it again: LOCK shared
  // (waiting up to `wait` s; < 0: the store's wait), WRITER let go.
  Status BackToReader(double wait = -1);
  Status YieldToReaders();  // LOCK shared, WRITER kept (Store::YieldToReaders)
  Status RecordHotSlots();
  Status Checkpoint();  // Store::Checkpoint

  // ingest.cc
  Result<IngestBatchResult> IngestBatch(const std::vector<Record>& batch, DuplicatePolicy policy);
  Result<bool> Contains(const std::string& id);
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& ids);

  // search.cc
  Result<std::vector<std::vector<SearchHit>>> Search(const std::vector<std::vector<float>>& queries,
                                                     const SearchOptions& options);
  // The search itself, inside the read transaction Search opens.
  Result<RankedHits> SearchInSnapshot(const std::vector<std::vector<float>>& queries, const SearchOptions& options);
  // The shards to scan (with a selection, the partitions a filtered search
  // probes); `clean` gets those whose every record is live. `packed`: the
  // same queries row-major (ScanContext::packed).
  Result<std::vector<ShardScan>> PlanShards(const std::vector<std::vector<float>>& queries, const float* packed,
                                            const SearchOptions& options, const Selection* selection,
                                            std::unordered_set<int64_t>* clean);
  // PlanShards for a few queries without a filter (a one-shot search), when
  // an index exists: reads the rows of the shards it plans (not every
  // shard's) and probes without loading the generation (ColdIndex::ProbeFew).
  Result<std::vector<ShardScan>> PlanFew(const std::vector<std::vector<float>>& queries, const IndexHead& head,
                                         const SearchOptions& options, std::unordered_set<int64_t>* clean);
  std::vector<ShardScan> ScansOf(const std::vector<ShardInfo>& shards, std::map<int64_t, std::vector<uint32_t>>& plan,
                                 std::unordered_set<int64_t>* clean);
  // The partitions a query probes: options.nprobe; else the calibrated
  // nprobe for options.recall; else the generation's calibrated default;
  // else the formula's (DefaultNprobe). At most k.
  Result<uint32_t> NprobeOf(int64_t generation, uint32_t k, const SearchOptions& options);
  // A calibration row's recall curve, as search --recall reads it (and
  // verify checks it): decoded and not empty, else kCorruption naming the
  // generation.
  static Result<std::vector<RecallPoint>> CurveOf(const CalibrationRow& row);
  // "" when the shards hold the staging shard's row, which every store has
  // (init makes it; a rebuild empties the shard and keeps the row); else
  // what is wrong (searches refuse such a store, verify reports it).
  static std::string StagingRowProblem(const std::vector<ShardInfo>& shards);
  Status Decorate(const SearchOptions& options, RankedHits* results);
  // filtered_search.cc (search --where): the live memories of `tiers` the
  // filter expression ("": every one) matches, with the cost of reading their vectors; the
  // exact top k of queries `qs` over them alone (the others' lists empty).
  Result<Selection> Select(const std::string& where, TierFilter tiers);
  // search.cc: the scan of a filtered search, by the plan options name or
  // the cheaper one (request: the unfiltered search's plan).
  Result<std::vector<std::vector<Candidate>>> FilteredScan(const Selection& selection, const ScanRequest& request,
                                                           const SearchOptions& options);
  Result<std::vector<std::vector<Candidate>>> ScanSelected(const Selection& selection, const ScanContext& c,
                                                           const std::vector<uint32_t>& qs, uint32_t threads);
  // search.cc: the config's search_timeout_ms, checked (kCorruption).
  Result<uint32_t> SearchTimeoutMs();
  // Records an access to every hit and queues each query's first
  // restore_top_n cold hits for restore (SearchOptions::record_access), in
  // one transaction with the store taken exclusively; a store opened for
  // reading shares it again afterwards.
  Status RecordAccess(const RankedHits& results);
  // access.cc: accesses applied (in the caller's transaction), and the
  // access log folded in (a writer, under the exclusive lock).
  Status ApplyAccesses(const std::vector<AccessRecord>& records);
  Status FoldAccessLog();
  // What searches recorded in the access log that no writer folded yet, per
  // row id (a reader's view: Get and --explain add it; a writer folded at
  // open). Read under a shared flock, incrementally.
  struct PendingAccess {
    uint64_t count = 0;
    int64_t last_ms = 0;
    AccessHistory history;  // the times, as a stored history keeps them (PushAccess)
  };
  Result<const std::unordered_map<int64_t, PendingAccess>*> PendingAccesses();
  // The stored access stats plus what is pending.
  void AddPending(int64_t row_id, uint64_t* count, int64_t* last_ms);
  // The same from the pending accesses as read once (nullptr: none), for a
  // pass over many rows: one view of the log, not a stat per row.
  // A memory's access history: as stored (a history that does not decode
  // reads as none), with the access log's pending times added as the fold
  // will add them.
  static AccessHistory HistoryWithPending(const std::unordered_map<int64_t, PendingAccess>* pending, int64_t row_id,
                                          const std::string& stored);
  static void AddPendingFrom(const std::unordered_map<int64_t, PendingAccess>* pending, int64_t row_id, uint64_t* count,
                             int64_t* last_ms);
  const std::unordered_map<int64_t, PendingAccess>* PendingOnce() {
    auto pending = PendingAccesses();
    return pending.ok() ? *pending : nullptr;  // the stored stats stand; the fold will tell
  }
  // A memory's access pattern now: its stored history (`stored`, as
  // MemoriesTable keeps it; one that does not decode reads as none) with
  // the pending accesses, from its creation at created_ms; with what
  // maintain's placement by pattern would decide for it where it is (`hot`;
  // a pinned memory: nothing).
  AccessPatternInfo PatternOf(int64_t row_id, const std::string& stored, int64_t created_ms, bool hot, bool pinned,
                              const PolicyParams& p);
  // A fold that fails leaves the records for the next writer: a notice.
  // The metrics log folds with the access log (every writer's open).
  void FoldAccessLogOrNotice() {
    if (Status s = FoldAccessLog(); !s.ok()) Notice("access log not folded: " + s.message());
    FoldMetricsLogOrNotice(kMetricsFoldBytes);
  }
  // Folds metrics.log when it holds at least `at_least` bytes: every
  // writer's open once it is kMetricsFoldBytes, maintain and recover
  // always (so that other commands, dry runs included, leave meta.db as it
  // is).
  static constexpr uint64_t kMetricsFoldBytes = 1 << 20;
  void FoldMetricsLogOrNotice(uint64_t at_least) {
    if (Status s = FoldMetricsLog(at_least); !s.ok()) Notice("metrics log not folded: " + s.message());
  }

  // metrics.cc
  Status FoldMetricsLog(uint64_t at_least);
  Status UnfoldedMetrics(std::vector<MetricsRecord>* records, uint64_t* epoch, uint64_t* end, uint64_t* skipped);
  Result<MetricsReport> Metrics(int64_t since_ms);

  // records.cc
  Result<std::vector<std::optional<MemoryRecord>>> Get(const std::vector<std::string>& ids);
  Status List(const ListOptions& options, const std::function<Status(const MemoryRecord&)>& fn);
  // export.cc
  Status Export(const ExportOptions& options, const std::function<Status(const MemoryRecord&)>& fn);
  Status ExportInSnapshot(const ExportOptions& options, const std::function<Status(const MemoryRecord&)>& fn);
  Result<std::vector<std::string>> Delete(const std::vector<std::string>& ids, bool purge);
  Result<UpdateReport> Update(const std::vector<UpdateItem>& items, bool dry_run, const ProgressFn& progress);

  // backup.cc
  Result<BackupReport> Backup(const BackupOptions& options);

  // scrub.cc
  Result<ScrubReport> Scrub();
  Result<uint64_t> PruneHistory(const PolicyParams& p);

  // stats.cc
  Result<StoreStats> Stats();

  // move.cc
  // `keep`: hot rows a selection (idle, age, where, policy) leaves, like
  // the pinned but unreported (maintain's pattern keeps them this tick).
  // hot_only: only hot memories move, even to cold (the age policies).
  Result<MoveReport> Descend(const MoveOptions& o, const std::set<int64_t>& keep = {}, bool hot_only = false);
  // `keep`: hot rows no eviction may take (pin's, before they are marked).
  Result<MoveReport> Ascend(const MoveOptions& o, const std::set<int64_t>& keep = {});
  Result<EnqueueReport> Enqueue(const std::vector<std::string>& ids, double priority);

  // pin.cc
  Result<PinReport> Pin(const std::vector<std::string>& ids, bool dry_run);
  Result<PinReport> Unpin(const std::vector<std::string>& ids, bool dry_run);

  // verify.cc
  Result<VerifyReport> Verify(const ProgressFn& progress);

  // dynamics.cc: the maintenance tick (what it samples: the MemoryModel).
  Result<MaintainReport> Maintain(const MaintainOptions& o);
  Result<MaintainReport> Tick(const MaintainOptions& o);  // the tick, or (rehearsal_) its rehearsal
  // compact.cc: maintain's compaction of the hot file and the cold tier.
  Status CompactHot(const PolicyParams& p, MaintainReport* rep);
  Status CompactCold(const PolicyParams& p, MaintainReport* rep);
  Status RewritePartitions(const std::vector<ShardInfo>& partitions, MaintainReport* rep);
  Status Unstage(const ShardInfo& staging, MaintainReport* rep);
  Status LoadColdRecords(ShardFile* file, const ShardInfo& shard, const std::vector<MemoryRef>& rows, size_t begin,
                         size_t end, std::vector<MigrationItem>* items, std::vector<float>* data);
  Result<std::vector<MemoryRef>> LiveIn(const ShardInfo& shard, std::map<int64_t, std::vector<MemoryRef>>* live);
  Result<int64_t> NewShardId(const ShardInfo& partition, int64_t at_least);
  // Shards of only garbage cut to their headers (a committed "scrub" row).
  Status EmptyGarbageOnlyShards(uint64_t* shards, uint64_t* records);
  // Descends the lowest eviction scores past the hot capacity, `keep`'s rows
  // (the pattern's, this tick) left out like the pinned.
  Status EnforceCapacity(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep);
  Status DrainWarm(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep);
  Status AgeDescend(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep);
  Status OrderPlan(MoveOptions::Order order, std::vector<MemoryRef>* rows, std::vector<PlannedMove>* plan);
  // Drains the restore queue (restore_concurrency at most), evicting the
  // lowest scores but `keep`'s for room.
  Status DrainRestores(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep);
  // Emergency pressure: descends the pressure_emergency_descend share of the
  // hot tier, lowest eviction scores first.
  Status EmergencyDescend(const PolicyParams& p, MaintainReport* rep);
  // The pressure level now (policy/pressure.h) from the hot tier's count
  // (the caller has it), the system's readings for this store's directory
  // and the restore queue's depth (read here unless given).
  Result<PressureReport> PressureNow(const PolicyParams& p, uint64_t hot_memories,
                                     std::optional<uint64_t> restore_queue = std::nullopt);
  // Descends the n lowest eviction scores of the hot tier, each move planned
  // with `reason` (`keep`'s rows left out); *moved gets how many moved.
  Status DescendLowestScores(uint64_t n, Tier to, const char* reason, MaintainReport* rep, uint64_t* moved,
                             const std::set<int64_t>& keep = {});
  // Parameters, feedback, history: memory_model.h.
  MemoryModel& model() { return *model_; }

  // index.cc
  Result<RebuildReport> RebuildIndex(const RebuildOptions& o);
  Result<RecallReport> RecallCheck(uint64_t queries, uint64_t seed);
  // A rebuild that rewrites the cold tier as it is (scrub, upgrade): the
  // index's centroids kept, the new generation calibrated for the target
  // the current one was (not at all when it was not; a damaged calibration
  // row gets the default target).
  Result<RebuildOptions> RewriteOptions();
  // upgrade.cc
  Result<UpgradeReport> Upgrade(const UpgradeOptions& o);
  // Sets cold_codec and the format version it needs (FormatVersionAfter) in
  // one transaction (rebuild-index --codec, upgrade).
  Status SetCodec(ColdCodec codec);

  // cold_tier.cc: a cold tier in a bucket (config cold_uri). At the open,
  // before any part reads a shard: env_ becomes a BucketEnv over the local
  // Env, naming the shards whose bytes are objects.
  Status OpenColdTier(const OpenOptions& opt);
  Result<ColdTierReport> SettleColdTier(bool collect);  // Store::SettleColdTier
  void SettleColdTierOrNotice();                        // after a writing operation
  // verify: each cold_objects row's object in the bucket, with its length.
  Status ColdObjectProblems(std::vector<std::string>* problems);
  bool cold_tier() const { return cold_env_ != nullptr; }

  // What the replay at open did, and why a reader could not replay.
  const std::vector<ReplayAction>& replayed() const { return migrator_->replayed(); }
  const Status& deferred_recovery() const { return deferred_recovery_; }

 private:
  friend class Verifier;  // one verify run reads every part

  // The parts, each with its own state (the shared state is the
  // StoreContext base).
  std::unique_ptr<StoreLock> lock_;                     // WRITER and LOCK; writer() once opened for writing
  std::unique_ptr<ColdIndex> index_;                    // the active K-Means generation, over tables_
  std::unique_ptr<Migrator> migrator_;                  // the journal protocol and its replay
  std::unique_ptr<MemoryModel> model_;                  // parameters, feedback, the tick's sample
  std::unordered_map<int64_t, PendingAccess> pending_;  // PendingAccesses' cache
  uint64_t pending_epoch_ = 0, pending_end_ = 0;
  Status deferred_recovery_;  // a reader could not replay (disk full, I/O error)

  // cold_tier.cc (the Env itself: StoreContext::cold_env_)
  std::string cold_uri_;
  S3Options cold_s3_;
  uint64_t cold_rows_seen_ = 0;  // cold_objects rows after the open or the last settle
  Status EnsureColdCache();
  Status CheckColdPrefix();  // ClaimColdPrefix with this store's and tier's IDs
  Status EvictCold(uint64_t budget, ColdTierReport* rep);
  // The temporaries a killed bring-back or private copy left beside the
  // store's shards ("NAME.<16 hex digits>.tmp" of a shard's file name).
  Status RemoveDeadShardTemporaries(const std::vector<ShardInfo>& shards);
  Status ResendCutShards(const std::vector<ColdObject>& rows, ColdTierReport* rep);
  Status CollectColdObjects(ColdTierReport* rep);
  // BackupOptions::leave_cold_tier_shards_if_reached_with: the shards a
  // backup leaves in the bucket (listed in rep), by path.
  Result<std::set<std::string>> ColdTierShardsToName(const std::optional<S3Options>& reached_with,
                                                     const std::vector<ShardInfo>& shards, BackupReport* rep);

  // move.cc helpers.
  // `keep`: rows also left out (about to be pinned); `pinned`, when given,
  // gets the pinned memories left out.
  Result<std::vector<std::pair<double, MemoryRef>>> HotByScore(const std::set<int64_t>& keep = {},
                                                               std::vector<std::string>* pinned = nullptr);
  // A record of an ingest batch and the stored memory it replaces.
  struct Planned {
    const Record* record;
    int64_t replaces_row_id = 0;
    bool replaces_hot = false;
    bool replaces_pinned = false;
    bool pin = false;  // the new memory is pinned: the record says so, or it replaces a pinned one and says nothing
  };
  Result<std::vector<Planned>> PlanBatch(const std::vector<Record>& batch, DuplicatePolicy policy,
                                         IngestBatchResult* out);
  Result<std::vector<MemoryRef>> Victims(const std::vector<Planned>& plan, size_t n);
  Status CheckPinRoom(const std::vector<Planned>& plan);
  // The hot tier's count as the last ingest batch left it, and the content
  // version it holds for (Db::ContentVersion): a bulk load asks once per
  // batch, and COUNT(*) reads an index entry per hot memory.
  struct HotCount {
    uint64_t n = 0;
    std::pair<int64_t, int64_t> version{-1, -1};
  };
  HotCount ingest_hot_count_;
  Result<uint64_t> IngestHotCount();
  // Moves rows down into the shards' tier `to` (kWarm or kCold), or up
  // (AscendRows) to `to` (kHot, or kWarm from cold), in batches of o.batch.
  Status DescendRows(const std::vector<MemoryRef>& rows, Tier to, const MoveOptions& o, MoveReport* report,
                     uint64_t total);
  Status MoveToShards(const std::vector<MemoryRef>& rows, Tier to, const char* kind, const MoveOptions& o,
                      MoveReport* report, uint64_t total);
  Status ReadRowVectors(SlotFile* hot, const std::vector<MemoryRef>& rows, size_t begin, size_t end,
                        std::vector<float>* data);
  // Every warm memory but the pinned and `keep`, by eviction score, lowest
  // first; and those of them past warm_capacity_bytes (WarmOverflow).
  Result<std::vector<std::pair<double, MemoryRef>>> WarmByScore(const std::set<int64_t>& keep);
  Result<std::vector<std::pair<double, MemoryRef>>> WarmOverflow(const PolicyParams& p, const std::set<int64_t>& keep);
  Status RunToPartitions(Migration* m, std::vector<MigrationItem>* items, const std::vector<const float*>& vectors);
  Status AscendRows(const std::vector<MemoryRef>& rows, Tier to, const MoveOptions& o, MoveReport* report,
                    uint64_t total);
  Status LoadDueQueue(std::vector<MemoryRef>* rows, MoveReport* report);
  Status AscendSelection(const MoveOptions& o, Tier to, std::vector<MemoryRef>* rows, MoveReport* report);
  Status DeferQueued(const std::vector<MemoryRef>& rows, const std::string& error, MoveReport* report);
};

}  // namespace aether
