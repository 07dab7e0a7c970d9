// Plain value types passed to and returned from aether::Store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aether {

class Env;

// Numbers are frozen: they are stored in the metadata DB (format-spec/metadata_db.md).
enum class Metric : int { kL2 = 0, kCosine = 1, kInnerProduct = 2 };
// Warm (2, format version 5): in the cold tier's partition shards, in frames
// of their own of uncompressed float32 (scanned exactly, nothing to
// decompress), with a capacity of its own in bytes.
enum class Tier : int { kHot = 0, kCold = 1, kWarm = 2 };
// How cold frames store vectors (format-spec/cold_shard.md; the numbers are
// the frame codec numbers).
//   zstd          lossless: zstd over the raw float32 bytes
//   zstd-shuffle  lossless: zstd over the float32 bytes regrouped by byte
//                 position (all first bytes, then all second bytes, ...): the
//                 exponent bytes compress, the noisy mantissa bytes are
//                 stored as-is and decompress at memory speed. The default.
//   float16       a search scans binary16 copies of the vectors, then
//                 re-ranks its best candidates with the full-precision
//                 vectors kept beside them (uncompressed): faster scans,
//                 more bytes on disk, results exact for what it re-ranks
//   sq8           the same with 8-bit codes (per frame and dimension, a
//                 minimum and a step) instead of binary16
//   float32       lossless, uncompressed: a search scans the stored
//                 vectors as they are, with nothing to decompress (the
//                 fastest scan, the most bytes on disk of the lossless
//                 codecs); format version 7
enum class ColdCodec : int { kZstd = 0, kZstdShuffle = 1, kFloat16 = 2, kSq8 = 3, kFloat32 = 4 };
// The store format version (Store::kFormatVersion) a store of `codec` is
// created at, and the least that upgrade or rebuild-index --codec makes
// it: 7 for float32, else 6.
constexpr uint32_t FormatVersionFor(ColdCodec c) { return c == ColdCodec::kFloat32 ? 7 : 6; }
// True for the codecs whose search scan is approximate and re-ranked.
inline bool Quantized(ColdCodec c) { return c == ColdCodec::kFloat16 || c == ColdCodec::kSq8; }

// The values aether stores and searches with (format-spec/README.md,
// "Distances"): every component finite and within ±kMaxComponent, so no
// float32 distance can overflow at any dimension; under cosine, a Euclidean
// norm of at least kMinCosineNorm, so the norm itself is computed exactly
// enough to give the direction.
constexpr double kMaxComponent = 1e15;
constexpr double kMinCosineNorm = 1e-15;
// Why vector v[0, n) cannot be stored or searched with under `metric`, or
// "" when it can; `name(i)` names component i in the message ("vector[3]").
std::string VectorProblem(const float* v, size_t n, Metric metric, const std::function<std::string(size_t)>& name);

const char* MetricName(Metric m);
bool ParseMetric(const std::string& name, Metric* out);
const char* ColdCodecName(ColdCodec c);
bool ParseColdCodec(const std::string& name, ColdCodec* out);
// Every codec's name, the default first (for a command's choices).
const std::vector<std::string>& ColdCodecNames();
const char* TierName(Tier t);
bool ParseTier(const std::string& name, Tier* out);

struct StoreConfig {
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  uint64_t hot_capacity = 65536;
  ColdCodec codec = ColdCodec::kZstdShuffle;
  // The hot_capacity_bytes parameter (0: none): the hot tier holds at most
  // this many bytes of slots, so at most hot_capacity_bytes / slot size
  // memories (StoreContext::HotCapacity, the smaller of the two limits).
  uint64_t hot_capacity_bytes = 0;
  // s3://BUCKET/PREFIX: the cold tier's shards past cold_local_bytes kept
  // in a bucket (format version 6; README "A cold tier in a bucket"); ""
  // for none (every byte on the local disk).
  std::string cold_uri;
};

// What a writer did for a cold tier in a bucket (Store::SettleColdTier).
struct ColdTierReport {
  std::string uri;                              // "": the store keeps its cold tier on the local disk
  uint64_t local_bytes = 0;                     // committed bytes of the shards on the local disk, after
  uint64_t evicted = 0, evicted_bytes = 0;      // shards sent out of the local disk
  uint64_t uploaded = 0, uploaded_bytes = 0;    // objects put (one already there is not sent again)
  uint64_t replaced = 0;                        // of the evicted: a row named an older content's object
  uint64_t collected = 0, collected_bytes = 0;  // objects no row named, deleted
  // A publish of the store ran: the collection deleted nothing (the next does).
  bool collect_deferred = false;
};

enum class AccessMode { kRead, kWrite };

// How to reach the bucket. Each empty field: the environment and the AWS
// shared files decide (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...,
// ~/.aws/credentials and ~/.aws/config; README "Snapshots in S3").
struct S3Options {
  std::string endpoint;  // scheme://host[:port]
  std::string region;
  std::string profile;     // a profile of the shared files
  std::string addressing;  // "", "path" or "virtual"
};

struct OpenOptions {
  AccessMode access = AccessMode::kRead;
  double wait_seconds = 5.0;  // how long to wait for the store lock
  Env* env = nullptr;         // nullptr: Env::Default()
  // Or an Env the store keeps alive as long as it is open (one made for
  // it, e.g. OpenBucket's); it wins over `env`.
  std::shared_ptr<Env> shared_env;
  // A journal row that fails its checksum or would touch committed data is
  // refused (Corruption). With this set (kWrite only), such a row is
  // dropped instead, after every file is cut back to its committed length
  // (format-spec/journal.md, "Damaged rows"); what it did is reported in
  // Store::replayed().
  bool discard_damaged_journal = false;
  // Hears each notice as it happens (see Store::notices), e.g. to print it.
  std::function<void(const std::string&)> on_notice;
  // Called after each change this handle commits to meta.db (a batch of a
  // move or an ingest, a config change, feedback, ...): a caller whose
  // later step fails can say that what came before is kept. Not for
  // bookkeeping: the journal's own rows, folding the access and metrics
  // logs, a replay of another process's migrations (at the open or later),
  // a restore's retry (or its drop after the last) after a failure. It
  // must not throw, nor use the store (it runs between a commit and its
  // cleanup).
  std::function<void()> on_change_committed;
  // Stored with every history entry and journaled migration this handle
  // writes, so that what a caller (an agent's action) caused can be found
  // (Store::History's trace_id); "" for none. Store::CheckTraceId says
  // what one may be.
  std::string trace_id;
  // A store whose cold tier is in a bucket (init --cold-uri): how to reach
  // it (each empty field as the environment and the AWS files say).
  S3Options s3;
};
constexpr size_t kMaxTraceIdBytes = 128;
// What a trace id may be: empty (none), or 1 to kMaxTraceIdBytes printable
// ASCII characters without a space (a UUID, a W3C trace id,
// "agent-7/step-42"). Store::CheckTraceId says why one is not.
inline bool ValidTraceId(const std::string& id) {
  if (id.size() > kMaxTraceIdBytes) return false;
  for (unsigned char c : id)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

// One memory as given to ingest.
struct Record {
  std::string id;
  std::vector<float> vector;
  std::string payload_json;  // empty: no payload
  double importance = 0.5;
  // Its dynamics state as exported (ingest --preserve-state): the tier it
  // goes to (cold: the staging shard; hot: as the hot capacity allows, like
  // any record), its creation and last access times (ms since the epoch,
  // 0 <= created_ms <= last_access_ms <= kMaxKeptTime; a last access in the
  // future holds the memory's age at 0 until then) and access count (at
  // most kMaxKeptCount). Unset: a new memory's (now, never accessed, placed
  // by the hot capacity); an unset time or count of a record that sets
  // another: created now (or at its last access, if earlier), last
  // accessed at creation, 0 accesses.
  static constexpr int64_t kMaxKeptTime = 253402300799999;  // 9999-12-31T23:59:59.999Z
  static constexpr int64_t kMaxKeptCount = int64_t(1)
                                           << 53;  // counts stay exact as JSON numbers, and far from overflow
  std::optional<Tier> tier = std::nullopt;
  std::optional<int64_t> created_ms = std::nullopt, last_access_ms = std::nullopt, access_count = std::nullopt;
  // Its pin (aether pin): set, it says whether the new memory is pinned (a
  // pinned one is placed hot first, whatever `tier` says); unset, a memory
  // it replaces passes its pin on. Its access history (README "Access
  // patterns"): the times held (distinct, ascending, at most 32, each in
  // [0, kMaxKeptTime]) and how many left it; empty: none.
  static constexpr size_t kMaxAccessTimes = 32;  // kHistoryMax (policy/access_pattern.h)
  std::optional<bool> pinned = std::nullopt;
  std::vector<int64_t> access_times = {};
  uint32_t access_times_older = 0;
  bool keeps_state() const { return created_ms || last_access_ms || access_count || !access_times.empty(); }
};

// What IngestBatch does with a duplicate: a record whose id is already
// stored, or is that of an earlier record of the same batch.
enum class DuplicatePolicy {
  kError,    // refuse the whole batch (kBadInput naming the id); nothing is written
  kSkip,     // skip it (IngestBatchResult::skipped_at); the first record with the id stays
  kReplace,  // it replaces the stored memory (or the earlier record, in that one's place)
  kStop,     // write the records before the first duplicate and stop there
             // (IngestBatchResult::stopped_at); nothing from it on is written
};

struct IngestBatchResult {
  uint64_t hot = 0;                // new memories placed in the hot tier
  uint64_t cold = 0;               // new memories placed in the cold tier
  uint64_t warm = 0;               // new memories placed in the warm tier
  uint64_t evicted = 0;            // hot memories descended to make room (ingest_evict)
  uint64_t evicted_warm = 0;       // of which to the warm tier (warm_capacity_bytes set)
  uint64_t skipped = 0;            // duplicates skipped (kSkip)
  uint64_t replaced = 0;           // duplicates replaced (kReplace)
  std::vector<size_t> skipped_at;  // kSkip: the batch index of each duplicate skipped, in order
  size_t stopped_at = 0;           // kStop: the first duplicate's batch index (batch size: none)
  // Under critical pressure or worse: the level and why, when the batch
  // placed cold what it would otherwise have placed hot ("" otherwise).
  std::string pressure_cold;
  uint64_t unpinned = 0;  // pinned memories replaced (kReplace) by records that say "pinned": false
  // Pinned new memories placed cold (no hot room: ingest_evict 0, or
  // critical pressure); `aether pin` ascends them.
  uint64_t pinned_cold = 0;
};

// kShards: the warm and the cold tier (what the index covers).
enum class TierFilter { kAll, kHot, kCold, kWarm, kShards };

struct SearchOptions {
  bool explain = false;  // fill SearchHit::explain
  uint32_t k = 10;
  uint32_t nprobe = 0;  // cold partitions to scan (0: the store's default)
  // When > 0 (and nprobe is 0): the smallest nprobe whose calibrated recall
  // reaches this; kFailedPrecondition when the index has no calibration.
  double recall = 0;
  TierFilter tiers = TierFilter::kAll;
  bool with_payload = false;
  uint32_t threads = 0;  // scan threads (0: one per core)
  // Quantized cold frames (float16, sq8): each query keeps its best
  // rerank * k approximate candidates from them and re-ranks those with
  // their full-precision vectors (0: kDefaultRerank).
  uint32_t rerank = 0;
  static constexpr uint32_t kDefaultRerank = 4;
  // Record an access to every hit (last access = now, count + 1) and queue
  // the first restore_top_n cold hits of each query for restore to hot
  // (priority 1 / (1 + rank)), as the memory model wants (README "Memory
  // dynamics"). A store opened for writing applies them at once; any other
  // appends them to the access log (format-spec/access_log.md) without
  // taking the write lock, for the next writer to fold in. It fails with
  // kPermissionDenied where this process may not write (Store::writable);
  // a failed append (full disk, I/O error) is a notice, not an error.
  // false: a read-only search.
  bool record_access = true;
  // Only memories this filter expression matches (a filter expression, as
  // ListOptions::where; empty: every memory). Each query still gets its k
  // best matching memories when at least k match (README "Filtered search").
  std::string where;
  // How a filtered search finds them: kExact reads the selected memories'
  // vectors alone and ranks them exactly; kScan scans as an unfiltered
  // search does, skipping what the filter does not select, then ranks
  // exactly the selection of any query that found fewer than k; kAuto
  // takes the one its cost estimate finds cheaper.
  enum class FilterPlan { kAuto, kExact, kScan };
  FilterPlan filter_plan = FilterPlan::kAuto;
  // A deadline, in ms from the start of the search (0: none). Once it has
  // passed, the scan starts no further part (a block of the hot tier, a
  // cold partition) and the search returns the best of what the parts it
  // did scan hold: true distances of live memories, but not always the true
  // top k. The queries a skipped part was planned for are marked in
  // *partial. One deadline for the whole batch. A filtered search's exact
  // plan (FilterPlan::kExact, and the exact ranking of a query the scan
  // left short of k) reads no parts and is not cut. nullopt: the store's
  // config search_timeout_ms (README "Memory dynamics" parameters).
  std::optional<uint32_t> timeout_ms;
  // When set, resized to the number of queries: (*partial)[q] is 1 when the
  // deadline left part of query q's scan undone, else 0.
  std::vector<uint8_t>* partial = nullptr;
};

// The context a Search error from recording the accesses starts with
// ("recording access: ..."); the hits were computed but not returned.
inline constexpr char kRecordingAccessContext[] = "recording access";

// A memory's access pattern (README "Access patterns"), read from the times
// of its recent accesses (at most 32) when asked: Store::Get, and
// SearchOptions::explain.
struct AccessPatternInfo {
  std::string pattern = "cold";  // cold, steady, periodic, bursty or decaying
  double confidence = 0;         // in [0, 1]
  // The pattern's own figure (0 for the others).
  double period_s = 0, burst_size = 0, half_life_s = 0, rate_per_hour = 0;
  int64_t next_expected_ms = 0;  // when the pattern expects the next access (0: none)
  uint32_t accesses = 0;         // the access times it was read from
  // What maintain's placement rule decides for the memory now, where it is
  // (README "Placement by access pattern"; the tick may still hold it back:
  // the low watermark, critical pressure, a promotion already queued): "promote",
  // "keep-hot", "demote" or "none", and why (periodic, burst, burst-over,
  // decayed, silent; for none: score, low-confidence, off, pinned). The
  // command line shows it for a memory with accesses only.
  std::string placement = "none";
  std::string placement_reason = "score";
};

struct SearchHit {
  std::string id;
  float distance = 0;
  Tier tier = Tier::kHot;
  std::string payload_json;  // filled when SearchOptions::with_payload
  struct Explain {
    double recency_hours = 0;  // since last access
    uint64_t access_count = 0;
    double importance = 0;
    double score = 0;  // eviction score (low: leaves the hot tier first)
    AccessPatternInfo pattern;
  };
  // Set when SearchOptions::explain (and the memory's state was read).
  // Held apart so that a hit stays small: a batch makes one per query and
  // rank, and an inline Explain made each 256 bytes.
  std::shared_ptr<const Explain> explain;
};

// A stored memory with its metadata, as returned by Store::Get.
struct MemoryRecord {
  std::string id;
  std::vector<float> vector;
  std::string payload_json;
  double importance = 0;
  Tier tier = Tier::kHot;
  int64_t created_ms = 0;
  int64_t last_access_ms = 0;
  uint64_t access_count = 0;
  bool pinned = false;        // aether pin: kept hot whatever the policy
  AccessPatternInfo pattern;  // Get fills it; List does not
  // Export fills them: the access history's times and how many left it
  // (README "Access patterns"), the access log's pending ones included.
  std::vector<int64_t> access_times;
  uint32_t access_times_older = 0;
};

// Which memories Store::List yields, and in what order (README "list").
// Every bound is inclusive; an unset one does not filter. Access times and
// counts include the accesses still in the access log, as Get's do.
struct ListOptions {
  std::optional<Tier> tier;
  std::optional<double> min_importance, max_importance;
  std::optional<int64_t> created_since_ms, created_until_ms;
  std::optional<int64_t> accessed_since_ms, accessed_until_ms;
  enum class Order { kId, kCreated, kLastAccess, kImportance, kAccessCount };
  Order order = Order::kId;  // ties by id
  bool descending = false;
  uint64_t limit = 0;         // 0: all
  bool with_payload = false;  // else MemoryRecord::payload_json stays empty
  // A filter expression (README "Filters"); empty: every memory.
  std::string where;
};

// Which memories Store::Export yields (all of them by default).
struct ExportOptions {
  std::optional<Tier> tier;
  std::string where;  // a filter expression, as ListOptions::where
  // Called after every 4,096th memory and after the last: (memories
  // given to fn so far, memories the export selected).
  std::function<void(uint64_t, uint64_t)> progress;
};

// The recall calibration of the active index generation (rebuild-index
// --target-recall; README "rebuild-index and index tuning"): recall@k of
// the indexed cold search, measured on held-out stored vectors against brute
// force, at the smallest nprobe that reaches the target.
struct RecallCalibration {
  double target = 0;  // 0: the generation has none
  uint32_t k = 10;
  uint32_t queries = 0;
  uint32_t nprobe = 0;
  double recall = 0;
  double std_error = 0;  // of the recall
  double seconds = 0;    // what the measurement took
};

struct StoreStats {
  uint32_t format_version = 0;
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  ColdCodec codec = ColdCodec::kZstd;
  uint64_t hot_count = 0;
  uint64_t hot_capacity = 0;
  uint64_t pinned = 0;     // pinned memories (aether pin), hot or (an older aether moved them) cold
  uint64_t hot_slots = 0;  // slots in the hot file, live or free
  uint64_t hot_bytes = 0;  // size of the hot slot file
  uint64_t cold_count = 0;
  // The warm tier: its memories (not in cold_count, though in the same
  // shards), the bytes of their records and its capacity (0: off).
  uint64_t warm_count = 0, warm_bytes = 0, warm_capacity_bytes = 0;
  uint64_t cold_bytes = 0;      // bytes of all shard files on disk
  uint64_t cold_raw_bytes = 0;  // uncompressed bytes of the records in them
  uint64_t cold_garbage_records = 0;
  uint64_t cold_garbage_bytes = 0;  // estimated share of cold_bytes that is garbage
  // A cold tier in a bucket (StoreConfig::cold_uri): the shards read from
  // it (not on the local disk) and their committed bytes.
  uint64_t cold_remote_shards = 0, cold_remote_bytes = 0;
  // The tier's bucket prefix, and the directory of its local cache, whose
  // running totals (hit rate, bytes fetched) ReadBucketCacheTotals reads
  // (aether/replica.h); both "" for a cold tier on the local disk.
  std::string cold_uri, cold_cache_dir;
  uint64_t partitions = 0;
  uint64_t index_generation = 0;
  uint64_t partition_min = 0, partition_median = 0, partition_max = 0;  // live records
  uint64_t staging_records = 0;                                         // live cold records no index covers yet
  int64_t last_rebuild_ms = 0;                                          // 0: never
  uint32_t default_nprobe = 0;  // the calibrated one when there is one, else max(8, ceil(K / 10))
  RecallCalibration calibration;
  uint64_t pending_migrations = 0;
  int64_t oldest_pending_ms = 0;  // created_ms of the oldest (0: none)
  uint64_t restore_queue_depth = 0;
  double temperature = 0;
  // Pressure (README "Pressure levels"): normal, warning, critical or
  // emergency; why (the readings that reach it, "; "-joined); the system's
  // readings it was judged from (-1: unknown).
  std::string pressure_level = "normal";
  int pressure = 0;  // the level as a number: 0 normal, 1 warning, 2 critical, 3 emergency
  std::string pressure_why;
  double memory_available = -1, disk_free = -1, disk_free_bytes = -1;
};

// What descend / ascend should move.
struct MoveOptions {
  std::vector<std::string> ids;  // explicit ids
  bool all = false;              // descend: every hot memory
  bool policy = false;           // descend: lowest eviction scores until hot <= capacity
  bool queued = false;           // ascend: drain the restore queue
  bool evict = false;            // ascend: make room by descending lowest scores first
  // The memories of the tier moved from (descend: hot; ascend: cold) that
  // this filter expression matches (README "Filters"); empty: none.
  std::string where;
  // descend: only hot memories idle (not accessed) for longer than this many
  // ms, or made longer ago than this many ms (-1: no such condition); they
  // narrow `where`, or select from the whole hot tier.
  int64_t idle_longer_than_ms = -1;
  int64_t older_than_ms = -1;
  // descend: which planned memories go first (and so stay within `limit`):
  // as planned (ids as given, all and policy by eviction score, a selection
  // in slot order), or by eviction score (lowest first), least recent
  // access, or age (oldest first).
  enum class Order { kPlanned, kScore, kLru, kAge };
  Order order = Order::kPlanned;
  // The tier moved to: descend kWarm or kCold (the default), ascend kHot
  // (the default) or kWarm. Descend to cold takes warm memories too, ascend
  // to hot warm ones too.
  std::optional<Tier> to;
  uint64_t limit = 0;    // at most this many memories (0: no limit)
  size_t batch = 10000;  // memories per migration (journal entry)
  bool dry_run = false;  // plan only
  // Called after each committed batch: (moved so far, total planned).
  std::function<void(uint64_t, uint64_t)> progress;
};

// What `ascend --enqueue` did: cold memories queued for restore.
struct EnqueueReport {
  uint64_t queued = 0;
  std::vector<std::string> not_found;
  std::vector<std::string> already_hot;  // nothing to restore
};

struct PlannedMove {
  PlannedMove() = default;
  PlannedMove(std::string id_, Tier from_, Tier to_, std::string reason_, double score_)
      : id(std::move(id_)), from(from_), to(to_), reason(std::move(reason_)), score(score_) {}
  std::string id;
  Tier from = Tier::kHot;
  Tier to = Tier::kCold;
  std::string reason;  // "requested", "all", "policy", "where", "idle", "age", "evict", "queued", "pressure", ...
  double score = 0;    // eviction score at planning time
  // A move maintain's placement by access pattern decided (reasons
  // "periodic", "burst", "burst-over", "decayed", "silent"): the pattern, the
  // reading's confidence and the next access it expects (ms; 0: none).
  // Empty pattern and 0 for a move the score or a command decided.
  std::string pattern;
  double confidence = 0;
  int64_t next_expected_ms = 0;
};

struct MoveReport {
  std::vector<PlannedMove> plan;       // in move order, evictions first
  uint64_t moved = 0;                  // memories committed
  uint64_t evicted = 0;                // of which descended to make room
  uint64_t bytes = 0;                  // bytes written to data files
  uint64_t batches = 0;                // migrations committed
  std::vector<std::string> not_found;  // requested ids that do not exist
  std::vector<std::string> already;    // requested ids already in the target tier
  std::vector<std::string> pinned;     // descend: chosen ids kept hot because pinned (aether unpin)
  std::vector<std::string> deferred;   // queue entries that failed and will retry
  std::vector<std::string> dropped;    // queue entries dropped after max retries
};

// Store::Pin / Unpin (README "pin, unpin").
struct PinReport {
  std::vector<std::string> changed;    // pinned (unpinned) now
  std::vector<std::string> already;    // already so (pin: pinned and hot)
  std::vector<std::string> not_found;  // no such memory
  MoveReport ascended;                 // pin: the cold ones moved hot first, and what made room
};

// Hears (done, total) as a long operation advances.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Store::Backup: where the copy goes, and an earlier backup to share with.
struct BackupOptions {
  std::string dest;  // a directory to create (missing, or empty)
  // An earlier backup of this store (or the store itself on another path):
  // a shard or centroids file unchanged since it is hard-linked from it
  // instead of copied (README "backup"). Empty: copy everything.
  std::string incremental_from;
  ProgressFn progress;  // (bytes copied or linked, bytes in all)
  // A store whose cold tier is in a bucket, opened with these S3 settings:
  // a shard read from there (not on the local disk) whose object holds its
  // committed bytes exactly is not copied but listed in
  // BackupReport::cold_tier_shards (publish names those objects instead of
  // sending them again). The copy lacks their files; its meta.db is as
  // ever (no cold_uri, no cold_objects rows). Other settings (or none):
  // every shard is copied.
  std::optional<S3Options> leave_cold_tier_shards_if_reached_with;
};

struct BackupReport {
  uint64_t memories = 0;
  uint64_t files_copied = 0, bytes_copied = 0;
  uint64_t files_linked = 0, bytes_linked = 0;
  // BackupOptions::leave_cold_tier_shards: the shards left out, each the
  // object objects/SHA256 under cold_uri.
  struct ColdTierShard {
    std::string path;  // relative to the store (cold/...)
    uint64_t bytes = 0;
    std::string sha256;
  };
  std::vector<ColdTierShard> cold_tier_shards;
  std::string cold_uri;
};

struct VerifyReport {
  std::vector<std::string> problems;  // empty: the store is consistent
  uint64_t memories = 0, hot_slots = 0, free_slots = 0, frames = 0, cold_records = 0, garbage_records = 0,
           bytes_checked = 0;
};

struct RebuildOptions {
  uint32_t partitions = 0;  // K; 0: about 4 * sqrt(cold memories)
  uint32_t iterations = 20;
  uint32_t max_points_per_centroid = 256;
  uint64_t seed = 1;
  bool dry_run = false;
  // Keep the current index's centroids (no training): the partitions are
  // rewritten as they are, without their garbage (scrub). With no index
  // yet, the rebuild fails (FailedPrecondition) and nothing changes.
  bool keep_centroids = false;
  // Calibrate the new generation for this recall@10 (0: do not; searches then
  // use the formula default nprobe).
  double target_recall = 0.95;
  // The store's cold codec from now on (rebuild-index --codec): set first,
  // in its own transaction (with the format version it needs), then every
  // cold memory is rewritten in it by the rebuild. A rebuild killed between
  // leaves some frames in the old codec (every frame names its own, so all
  // read as before): running it again finishes the change. Unset: as is.
  std::optional<ColdCodec> codec;
  // The cold vectors a rebuild holds in memory at most (0: half the
  // machine's memory, or of this process's memory cgroup's lower limit).
  // Past it they are read from the shards again by each step that needs
  // them (sample, assignment, calibration's brute force, and one pass per
  // budget's worth of partitions with members written): the same index, in
  // more time.
  // The training sample (max_points_per_centroid x K vectors) and the
  // calibration's queries (at most 1,000 vectors) are held besides.
  uint64_t memory_bytes = 0;
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
};

// What Store::Scrub (and Delete with purge) did to make deleted bytes leave
// the files (README "Deleting for good").
struct ScrubReport {
  uint64_t history_pruned = 0;     // audit log entries past history_retention_days
  uint64_t hot_slots_blanked = 0;  // free hot slots overwritten with zeros
  uint64_t shards_emptied = 0;     // shards with no live record cut to their header
  uint64_t cold_rewritten = 0;     // live cold records rewritten without their garbage (0: none needed)
  uint64_t garbage_dropped = 0;    // dead cold records gone
  uint64_t db_bytes_before = 0, db_bytes_after = 0;  // meta.db before and after its rewrite (VACUUM)
};

struct RebuildReport {
  uint64_t cold_memories = 0;  // vectors indexed: the cold and the warm memories
  uint64_t warm_memories = 0;  // of which warm
  uint32_t partitions = 0;     // K used
  uint64_t sample = 0;         // training sample size
  uint32_t iterations = 0;
  double objective = 0;          // K-Means objective on the sample
  int64_t generation = 0;        // the new generation (0: nothing written)
  uint64_t garbage_dropped = 0;  // dead records compacted away
  uint64_t bytes_written = 0;
  RecallCalibration calibration;       // target 0: none measured
  std::string note;                    // e.g. "K clamped to the cold count"
  ColdCodec codec = ColdCodec::kZstd;  // the codec of the frames written (with --codec: the new one)
  bool codec_changed = false;          // RebuildOptions::codec changed the store's codec
  uint64_t memory_bytes = 0;           // the memory budget used (RebuildOptions::memory_bytes)
  uint64_t cold_walks = 0;             // reads of the whole cold tier: 1 when its vectors fit the budget
};

// upgrade: bring a store an older aether made to what this one writes.
struct UpgradeOptions {
  // The cold codec from now on; unset: the store's own, except a version-1
  // store, which gets zstd-shuffle (what a new store gets).
  std::optional<ColdCodec> codec;
  // s3://BUCKET/PREFIX: the cold tier's shards past cold_local_bytes go to
  // this bucket prefix from now on (StoreConfig::cold_uri), claimed for the
  // store first (kAlreadyExists: another store's); reached as `s3` says.
  // A store whose cold tier has a bucket keeps it (another: refused).
  std::string cold_uri;
  S3Options s3;
  // The plan only: nothing changes beyond what the open did (a reader may
  // call it).
  bool dry_run = false;
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
};

struct UpgradeReport {
  uint32_t version_before = 0, version_after = 0;
  ColdCodec codec_before = ColdCodec::kZstd, codec_after = ColdCodec::kZstd;
  std::string cold_uri_before, cold_uri_after;  // "": the cold tier on the local disk
  // meta.db schema changes (UpgradeSchema): those the open made (a
  // writer's open, or a reader's replay: the first schema_changed_at_open)
  // and, in a dry run, those still to make.
  std::vector<std::string> schema_steps;
  size_t schema_changed_at_open = 0;
  // Migrations a killed process left that the open replayed (every
  // command's open does).
  uint64_t replayed_at_open = 0;
  uint64_t frames = 0;              // cold frames in the store before
  uint64_t frames_to_rewrite = 0;   // of them, frames not in codec_after
  uint64_t records_to_rewrite = 0;  // records (live or garbage) in those frames
  // A dry run whose open could not replay (a read-only user, a writer at
  // work): migrations left dangling, which upgrade replays first.
  uint64_t pending_migrations = 0;
  bool rewritten = false;  // the cold tier was rewritten (RebuildIndex keeping the centroids)
  RebuildReport rebuild;   // what the rewrite did (garbage_dropped includes shards of only garbage, emptied)
  // Nothing was or would be changed: the store is already what this aether
  // writes for codec_after.
  bool up_to_date() const {
    return version_before == version_after && codec_before == codec_after && schema_steps.empty() &&
           frames_to_rewrite == 0 && pending_migrations == 0 && cold_uri_before == cold_uri_after;
  }
};

struct RecallReport {
  uint64_t queries = 0;
  uint32_t k = 10;
  uint32_t nprobe = 0;
  // Mean recall@k of the indexed cold search vs an exact cold scan, each
  // sampled vector held out of both (its own memory is not its neighbour).
  double recall = 0;
};

// One memory's change (Store::Update): each part given replaces that part,
// a part not given stays. The vector, the tier and the access statistics
// (created, last access, access count) never change.
struct UpdateItem {
  std::string id;
  // The new payload as JSON text; "null" removes the payload.
  std::optional<std::string> payload_json;
  // A JSON merge patch (RFC 7396) for the stored payload (none counts as
  // null): a member set to null is removed, an object merges member by
  // member, anything else replaces. A result of null removes the payload.
  // Not together with payload_json.
  std::optional<std::string> merge_patch_json;
  std::optional<double> importance;  // in [0, 1]
};

// What Store::Update did (or, dry run, would do).
struct UpdateReport {
  uint64_t updated = 0;                // items applied (an id given twice counts twice)
  std::vector<std::string> not_found;  // the items' unknown ids, in item order
  // Dry run only: each applied item's memory as it would be after it, in
  // item order (MemoryRecord's id, importance and payload_json; the rest
  // empty).
  std::vector<MemoryRecord> after;
};

struct FeedbackItem {
  std::string id;
  double reward = 0;  // in [0, 1]
};

struct MaintainOptions {
  uint64_t seed = 0;     // 0: a random seed
  bool dry_run = false;  // compute the tick, change nothing
};

struct MaintainReport {
  uint64_t seed = 0;
  double ticks = 0;  // tick_seconds intervals since the last tick (1 for the first)
  double temperature_before = 0, temperature_after = 0;
  bool pressure = false;                  // pressure_level at least warning: the temperature scaled
  std::string pressure_level = "normal";  // README "Pressure levels"
  std::string pressure_why;
  bool promotions_paused = false;   // critical or emergency: no restore drained into the hot tier
  uint64_t descended_pressure = 0;  // emergency: the pressure_emergency_descend share of the hot tier
  uint64_t importance_decayed = 0;
  uint64_t hot_candidates = 0, cold_candidates = 0;
  uint64_t descended_sampled = 0, descended_capacity = 0;
  uint64_t descended_age = 0;     // by max_hot_idle_hours and max_hot_age_hours
  uint64_t descended_warm = 0;    // warm memories past warm_capacity_bytes, to cold
  Tier demoted_to = Tier::kCold;  // where the tick's hot demotions went (warm while the warm tier is on)
  uint64_t queued = 0, restored = 0, evicted_for_restore = 0;
  uint64_t deferred = 0, dropped = 0;
  uint64_t queue_depth_before = 0, queue_depth_after = 0;
  uint64_t hot_after = 0, hot_capacity = 0;
  uint64_t history_pruned = 0;  // audit log entries past history_retention_days
  // Placement by access pattern (pattern_placement): memories whose history
  // was read (not the pinned, nor a damaged history); of them, those left to
  // the score for a reading below min_confidence, those kept hot this tick,
  // those newly queued for promotion and those descended; and the demotions
  // held because the tick needed no room (left to the score). The
  // candidates above leave out the memories the pattern decided.
  uint64_t pattern_read = 0, pattern_low_confidence = 0, pattern_kept = 0, pattern_queued = 0, descended_pattern = 0;
  uint64_t pattern_held = 0;
  // Compaction (past hot_compact_slack free slots, cold_garbage_max dead
  // records): live hot slots moved into holes and slots cut from hot.slots;
  // staging records moved to their partitions; shards of only garbage
  // emptied; partitions rewritten one at a time, with their live records;
  // dead records dropped. A dry run counts what the tick would do.
  uint64_t hot_slots_moved = 0, hot_slots_cut = 0;
  uint64_t unstaged = 0, shards_emptied = 0, partitions_rewritten = 0, cold_rewritten = 0, garbage_dropped = 0;
  std::vector<PlannedMove> moves;  // what moved (or, dry run, would move), with reasons
};

struct HistoryEntry {
  int64_t seq = 0;
  int64_t ts_ms = 0;
  std::string kind;    // descend, ascend, ingest (an eviction), delete, feedback, update, config, ...
  std::string id;      // memory id, or config key
  std::string detail;  // JSON
  // The command that wrote it (OpenOptions::trace_id; for a move, the one
  // that journaled it, even when a later command's replay finished it);
  // "" for none (an entry written before trace ids, or without one).
  std::string trace_id;
};

// What the journal replay did when a store was opened (or by Recover()).
struct ReplayAction {
  int64_t migration_id = 0;
  std::string kind;  // "ingest", ...
  std::string from_state;
  std::string action;  // "rolled back", "rolled forward", "cleaned up"
  uint64_t items = 0;
};

}  // namespace aether
