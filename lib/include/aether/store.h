// aether::Store: an open store directory. Start here.
//
// A Store is opened through one path: take the store lock (shared for
// readers, exclusive for writers), replay any migration a dead process left
// dangling, then serve requests. Dropping the Store releases the lock.
// A Store is used by one thread at a time; separate processes coordinate
// through the lock (see format-spec/README.md, "Concurrency").
//
// Every call returns a Status (or Result<T>); no exception leaves the
// library. The codes mean the same everywhere (status.h): kBusy, another
// process holds the lock longer than OpenOptions::wait_seconds (retry
// later; nothing changed); kCorruption, a checksum or invariant failed
// (the message names the file and offset or the table and row; nothing
// changed; `Verify` lists all); kIOError, the OS refused (IsNoSpace() for a
// full disk; a write that fails is rolled back or left for the next open's
// replay, never half-visible); kPermissionDenied, this user may not write.
// "Requires kWrite" means the store was opened with AccessMode::kWrite
// (else kInternal, a bug in the caller). A writer holds the store
// exclusively from Open to its destruction (except as YieldToReaders and
// RebuildIndex say); a reader shares it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aether/metrics.h"
#include "aether/options.h"
#include "aether/status.h"

namespace aether {

class StoreImpl;

class Store {
 public:
  // The on-disk format version this binary writes (and the newest it reads).
  // 2: the cold_codec config key and frame codec 1 (1 is still read).
  // 3: frame codecs 2 and 3 (float16, sq8).
  // 4: the journal packs a migration's items in blocks (migration_blocks),
  // which no older aether reads; every store is created at 4. A store of
  // an older version keeps a row per item until `upgrade` makes it 4.
  // 5: the warm tier (memories.tier 2). A store of an older version has no
  // warm memory until `upgrade` makes it 5; every store is created at 5.
  // 6: a cold tier in a bucket may be named (config cold_uri; the
  // cold_objects table). Every store is created at 6 but a float32 one.
  // 7: the cold codec float32 (frame codec 4, till then the warm tier's
  // alone, as a store's cold_codec). A store is made 7 when it takes that
  // codec (FormatVersionFor, options.h) and stays 7 (a version never goes
  // down): an aether of version 6 still reads every store that never had
  // it.
  static constexpr uint32_t kFormatVersion = 7;  // the newest this aether reads and writes

  // Creates an empty store in `path` (created if missing). kAlreadyExists
  // when it holds anything; kInvalidArgument for a dimension of 0 or over
  // 65,536.
  // With config.cold_uri, the prefix is claimed for the new store (its
  // marker written; kAlreadyExists when another store's), reached as `s3`
  // says.
  static Status Create(const std::string& path, const StoreConfig& config, Env* env = nullptr,
                       const S3Options& s3 = S3Options());
  // Opens the store at `path`: takes the lock for options.access (waiting up
  // to wait_seconds: kBusy), then replays what a dead process left (a
  // reader that cannot replay reads the committed state: see
  // deferred_recovery). kNotFound when `path` is not a store;
  // kNotSupported when a newer aether wrote it; kPermissionDenied for kWrite
  // where this user may not write; kCorruption for a damaged journal row
  // (unless options.discard_damaged_journal).
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const OpenOptions& options);
  // Ok when `where` is a filter expression list, export and delete can
  // take (README "Filters"); else kInvalidArgument naming the character
  // where it stops making sense. Opens nothing.
  static Status CheckFilter(const std::string& where);
  // True when `path` is a directory holding a store's metadata DB (no lock,
  // nothing read beyond that).
  static bool LooksLikeStore(const std::string& path, Env* env = nullptr);
  // Ok when `trace_id` can tag what a handle writes (OpenOptions::trace_id):
  // empty, or 1 to kMaxTraceIdBytes printable ASCII characters without a
  // space (a UUID, a W3C trace id, "agent-7/step-42"); else
  // kInvalidArgument saying why, naming it as `source` says.
  static Status CheckTraceId(const std::string& trace_id, const std::string& source = "trace id");
  ~Store();

  const StoreConfig& config() const;
  // The store's ID (config store_id, format-spec/metadata_db.md): 32
  // lower-case hexadecimal digits made at creation, or by the first
  // writer's open of a store an older aether made (or a reader's replay
  // of a dead writer's journal there); "" in such a store until then. A
  // backup, a store restored from it and a pulled replica have their
  // store's ID.
  Result<std::string> Id();
  // What the replay at open did (empty when nothing was dangling).
  const std::vector<ReplayAction>& replayed() const;
  // Not ok when a read-only open found dangling migrations it could not
  // replay (disk full, I/O error): it reads the committed state regardless.
  const Status& deferred_recovery() const;
  // False when this process may not write the store (file permissions, or
  // a file system mounted read-only): it can still be read; a recording
  // Search and every writer fail with PermissionDenied.
  bool writable() const;
  // Why not, as the errors say it ("this user may not write this store
  // (...)", or "the file system holding this store is mounted read-only");
  // "" when writable.
  const std::string& why_not_writable() const;
  // What the library left in place rather than delete (an unknown entry in
  // a directory it cleans, a link, an unregistered index generation), one
  // line each, in order; empty usually. OpenOptions::on_notice hears each
  // as it happens.
  const std::vector<std::string>& notices() const;

  // Writes one batch as one migration (intent, write, commit): after a
  // crash the next open finds all of it or none. New memories go hot up to
  // the hot capacity, the rest to the staging shard. Every record (under
  // kStop, every one before the first duplicate) is checked first
  // (dimension, VectorProblem, id, importance, payload JSON):
  // kInvalidArgument naming it, and nothing is written. Duplicate ids as
  // `policy` says (DuplicatePolicy; kBadInput under kError). Returns the
  // counts. Requires kWrite; takes the store exclusively for the batch
  // again after YieldToReaders.
  Result<IngestBatchResult> IngestBatch(const std::vector<Record>& batch, DuplicatePolicy policy);
  // A writer about to spend a while on something else (reading its input)
  // lets readers in: LOCK goes shared, WRITER stays held, so no other writer
  // starts; the next IngestBatch takes LOCK exclusively again.
  Status YieldToReaders();

  // True when a memory with this id exists.
  Result<bool> Contains(const std::string& id);
  // For each id, whether a memory with it exists (one read snapshot).
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& ids);

  // Exact top-k over the selected tiers for every query, one pass over the
  // data for the whole batch, in one read snapshot. results[i] belongs to
  // queries[i], best first. By default the hits' accesses are then recorded
  // and the best cold ones queued for restore (SearchOptions::record_access:
  // at once by a writer, else through the access log, never taking the
  // write lock). Errors: kInvalidArgument (a query's dimension),
  // kCorruption (a damaged file or row the scan needed), kIOError; from the
  // recording, with kRecordingAccessContext, kPermissionDenied (this user
  // may not write the store) or a writer's SQLite error. With
  // SearchOptions::timeout_ms, a deadline may cut the scan short: not an
  // error, the queries it cut are marked in SearchOptions::partial.
  Result<std::vector<std::vector<SearchHit>>> Search(const std::vector<std::vector<float>>& queries,
                                                     const SearchOptions& options);

  // One entry per id, in order: the record (vector bit-exact as ingested,
  // payload, metadata), or nullopt when the id is unknown. kCorruption when
  // its vector's checksum or its payload fails. Reads only.
  Result<std::vector<std::optional<MemoryRecord>>> Get(const std::vector<std::string>& ids);
  // The memories options select, without their vectors (MemoryRecord::vector
  // stays empty), in options.order, from one read snapshot: fn is called for
  // each and may stop the listing by returning an error, which List returns.
  // In id order the rows stream (constant memory); another order holds the
  // selected rows (at most `limit` of them when one is given). kCorruption
  // for a row whose tier, or (with_payload) payload, is damaged. Reads only.
  // kInvalidArgument for a filter (options.where) that does not parse.
  Status List(const ListOptions& options, const std::function<Status(const MemoryRecord&)>& fn);
  // Every memory options select, whole (vector bit-exact, payload, metadata
  // with the access log's pending accesses), each hot slot and cold frame
  // read once: hot in slot order, then cold shard by shard in file order.
  // Holds the metadata of the selected memories (not their payloads or
  // vectors) while it runs. fn may stop it by returning an error. Errors as
  // Get's. Reads only.
  Status Export(const ExportOptions& options, const std::function<Status(const MemoryRecord&)>& fn);
  // Deletes the memories in one transaction; returns the ids not found. A
  // deleted memory's bytes stay in the files until they are reused,
  // compacted or scrubbed (README "Deleting for good"); with purge, its
  // history goes too (the tombstone keeps no id) and Scrub runs at once, so
  // nothing of it is left in any file of the store when this returns.
  // `scrub`, when given, hears what the scrub did. Requires kWrite.
  Result<std::vector<std::string>> Delete(const std::vector<std::string>& ids, bool purge = false,
                                          ScrubReport* scrub = nullptr);
  // Changes payloads and importances in one transaction, item by item in
  // order (an id given twice gets both changes, the second applied to the
  // first's result), each audited in the history ("update": what changed,
  // not the payload itself). Every item is checked first (a payload or
  // patch that is not JSON or nests too deep, an importance outside [0, 1],
  // a payload together with a patch, nothing to change): kInvalidArgument
  // naming it, and nothing changes. Unknown ids are reported, not errors.
  // kCorruption when a patch meets a stored payload that does not parse.
  // With dry_run nothing is written (UpdateReport::after shows the result)
  // and a reader may call it; otherwise requires kWrite.
  // progress hears (items done, items) as they are applied.
  Result<UpdateReport> Update(const std::vector<UpdateItem>& items, bool dry_run = false,
                              const ProgressFn& progress = nullptr);
  // Makes every deleted byte leave the store's files now: prunes the audit
  // log past history_retention_days, overwrites free hot slots with zeros,
  // cuts shards with no live record to their headers, rewrites the cold
  // tier without its garbage when there is some (a rebuild keeping the
  // centroids: journaled, crash-safe), and rewrites meta.db (VACUUM with
  // secure_delete, WAL truncated). Requires kWrite.
  Result<ScrubReport> Scrub();

  // Moves every commit in meta.db's WAL into meta.db itself and empties
  // the WAL (a writer leaves a WAL under 1 MiB for the next one rather than
  // pay two syncs per command; a real maintain tick and `recover` call
  // this). Requires kWrite.
  Status Checkpoint();

  // A store whose cold tier is in a bucket (StoreConfig::cold_uri): the
  // least recently written shards past the cold_local_bytes parameter go to
  // the bucket (each uploaded, recorded, then removed from the local disk),
  // then, with `collect` (or when a shard's object changed or went), the
  // objects under the prefix no shard names are deleted. Every writing
  // operation of this API does it on success (a failure there is a notice:
  // the shards stay local); call it to settle the tier now. Requires kWrite
  // (a reader's handle: nothing done). A store without a bucket: an empty
  // report.
  Result<ColdTierReport> SettleColdTier(bool collect = false);

  // A consistent copy of the store in options.dest, made while readers go
  // on and writers wait (it holds the write lock; the dynamics state,
  // access log included, is copied too): built in a hidden sibling
  // directory, every file synced, then renamed onto dest, so a crash leaves
  // no dest or a complete one. The copy is a store: restoring is opening it.
  // kAlreadyExists when dest exists and is not an empty directory;
  // kInvalidArgument when incremental_from is not a store of the same
  // dimension and metric. Requires kWrite.
  Result<BackupReport> Backup(const BackupOptions& options);

  // Counts from the metadata, sizes from the files' lengths (no data file
  // is read). Reads only.
  Result<StoreStats> Stats();
  // The counters and histograms commands recorded (aether/metrics.h):
  // what is folded into meta.db in periods starting at or after since_ms
  // (rounded down to a minute; 0: all), plus the records metrics.log holds
  // unfolded from that minute on. Reads only.
  Result<MetricsReport> Metrics(int64_t since_ms = 0);
  // Folds metrics.log into meta.db now (maintain does, and every writer's
  // open once the log reaches 1 MiB). Requires kWrite.
  Status FoldMetrics();

  // Hot -> cold and cold -> hot moves, in batches, each batch one journaled
  // migration (a crash keeps the batches committed before it). Require
  // kWrite. With dry_run only the plan is returned, nothing changes.
  // Ascend: kFailedPrecondition when the hot tier cannot take the memories
  // (no room without `evict`; more than the capacity with it); unknown
  // ids and ids already in place are reported, not errors.
  Result<MoveReport> Descend(const MoveOptions& options);
  Result<MoveReport> Ascend(const MoveOptions& options);
  // Pins memories: kept hot whatever the policy (no capacity, pressure,
  // sampled, --all, --where or age descend moves them; naming one to
  // descend reports it pinned). Cold ones ascend first (evicting the lowest
  // unpinned scores when the tier is full), then all are marked in one
  // transaction. kFailedPrecondition when more memories than the hot
  // capacity would be pinned. Unpin clears the mark (nothing moves).
  // Unknown ids and ids already so are reported, not errors. Require kWrite.
  Result<PinReport> Pin(const std::vector<std::string>& ids, bool dry_run);
  Result<PinReport> Unpin(const std::vector<std::string>& ids, bool dry_run);
  // Queues cold memories for restore to hot (merging: the higher priority
  // wins); reports the ids not found and those already hot. Requires kWrite.
  Result<EnqueueReport> Enqueue(const std::vector<std::string>& ids, double priority);

  // Trains a new K-Means generation over the cold tier, moves every live cold
  // record into its partition (compacting garbage away) and switches to it,
  // journaled like a migration. Requires kWrite. While it trains and writes,
  // the store lock is only shared (searches run; writers wait); it is taken
  // exclusively again to commit, waiting for readers up to 600 s (or the
  // open's wait_seconds when longer).
  Result<RebuildReport> RebuildIndex(const RebuildOptions& options);
  // Brings a store an older aether made to what this one writes: meta.db's
  // schema (done by the writer's open, reported here), the config
  // (cold_codec, format_version: one transaction) and, when a cold frame is
  // in another codec, every cold memory rewritten (RebuildIndex keeping the
  // centroids; journaled). Killed anywhere, the store reads as before and
  // Upgrade run again finishes. options.codec also changes the codec of a
  // current store. With dry_run only the plan (a reader may call it);
  // otherwise requires kWrite.
  Result<UpgradeReport> Upgrade(const UpgradeOptions& options);
  // Samples `queries` stored cold vectors and compares the indexed search at
  // the default nprobe with an exact scan of the cold tier. Reads only (no
  // access is recorded).
  Result<RecallReport> RecallCheck(uint64_t queries, uint64_t seed);

  // Memory dynamics (README "Memory dynamics"). Feedback moves each
  // memory's importance toward its reward in one transaction and returns
  // the unknown ids; kInvalidArgument for a reward outside [0, 1]. Requires
  // kWrite.
  Result<std::vector<std::string>> Feedback(const std::vector<FeedbackItem>& items);
  // One tick: decay, temperature, sampled moves, the capacity, the restore
  // queue; each move a journaled migration. Requires kWrite.
  Result<MaintainReport> Maintain(const MaintainOptions& options);
  // Model parameters: every key of policy/params (defaults filled in).
  Result<std::map<std::string, double>> GetParams();
  // kInvalidArgument for an unknown key or a value outside its range;
  // audited. Requires kWrite.
  Status SetParam(const std::string& key, double value);
  // kInvalidArgument for an unknown preset. Requires kWrite.
  Status ApplyPreset(const std::string& name);
  // The audit log's entries for `id` (all ids when empty) since `since_ms`,
  // written under `trace_id` (any when empty), oldest first. Reads only.
  Result<std::vector<HistoryEntry>> History(const std::string& id, int64_t since_ms, const std::string& trace_id = "");

  // Checks every checksum and the metadata against the files; `progress`
  // (optional) hears bytes checked / bytes to check. Problems found are
  // the report's (VerifyReport::problems), not an error: the Status is for
  // what stopped the check itself (kIOError). Reads only.
  Result<VerifyReport> Verify(const ProgressFn& progress = nullptr);

 private:
  explicit Store(std::unique_ptr<StoreImpl> impl);
  std::unique_ptr<StoreImpl> impl_;
};

}  // namespace aether
