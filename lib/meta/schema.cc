#include "meta/schema.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "meta/config_table.h"

namespace aether {
namespace {

// Format version 1. See format-spec/metadata_db.md, which lists these tables
// column by column; change both together.
const char* const kSchemaV1 = R"sql(
CREATE TABLE config (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE memories (
  row_id         INTEGER PRIMARY KEY,
  id             TEXT NOT NULL UNIQUE,
  tier           INTEGER NOT NULL,
  slot           INTEGER,
  shard_id       INTEGER,
  frame_offset   INTEGER,
  frame_index    INTEGER,
  importance     REAL NOT NULL,
  created_ms     INTEGER NOT NULL,
  last_access_ms INTEGER NOT NULL,
  access_count   INTEGER NOT NULL DEFAULT 0,
  payload        TEXT
);
CREATE INDEX memories_by_slot ON memories(tier, slot);

CREATE TABLE hot_free (
  slot INTEGER PRIMARY KEY
);

CREATE TABLE shards (
  shard_id   INTEGER PRIMARY KEY,
  path       TEXT NOT NULL UNIQUE,
  generation INTEGER NOT NULL,
  partition  INTEGER,
  file_bytes INTEGER NOT NULL,
  records    INTEGER NOT NULL,
  live       INTEGER NOT NULL,
  raw_bytes  INTEGER NOT NULL
);

CREATE TABLE migrations (
  id               INTEGER PRIMARY KEY,
  kind             TEXT NOT NULL,
  state            INTEGER NOT NULL,
  created_ms       INTEGER NOT NULL,
  hot_slots_before INTEGER NOT NULL,
  generation       INTEGER,
  old_generation   INTEGER,
  partitions       INTEGER,
  crc              INTEGER
);

CREATE TABLE migration_targets (
  migration_id INTEGER NOT NULL REFERENCES migrations(id) ON DELETE CASCADE,
  shard_id     INTEGER NOT NULL,
  len_before   INTEGER NOT NULL,
  len_after    INTEGER NOT NULL,
  PRIMARY KEY (migration_id, shard_id)
) WITHOUT ROWID;

CREATE TABLE migration_items (
  migration_id    INTEGER NOT NULL REFERENCES migrations(id) ON DELETE CASCADE,
  seq             INTEGER NOT NULL,
  row_id          INTEGER NOT NULL,
  id              TEXT NOT NULL,
  src_tier        INTEGER,
  src_slot        INTEGER,
  src_shard_id    INTEGER,
  src_frame_offset INTEGER,
  src_frame_index INTEGER,
  tier            INTEGER NOT NULL,
  slot            INTEGER,
  shard_id        INTEGER,
  frame_offset    INTEGER,
  frame_index     INTEGER,
  importance      REAL NOT NULL,
  payload         TEXT,
  replaces_row_id INTEGER,
  PRIMARY KEY (migration_id, seq)
) WITHOUT ROWID;

CREATE TABLE restore_queue (
  row_id          INTEGER PRIMARY KEY,
  priority        REAL NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error      TEXT
);

CREATE TABLE index_generations (
  generation INTEGER PRIMARY KEY,
  state      INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  partitions INTEGER NOT NULL,
  path       TEXT NOT NULL
);

CREATE TABLE audit_log (
  seq    INTEGER PRIMARY KEY,
  ts_ms  INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  id     TEXT,
  detail TEXT
);
)sql";

// Added after v3's first release: UpgradeSchema adds it to older stores.
const char* const kCalibrationTable = R"sql(
CREATE TABLE IF NOT EXISTS index_calibration (
  generation INTEGER PRIMARY KEY,
  target     REAL NOT NULL,
  k          INTEGER NOT NULL,
  queries    INTEGER NOT NULL,
  nprobe     INTEGER NOT NULL,
  recall     REAL NOT NULL,
  std_error  REAL NOT NULL,
  created_ms INTEGER NOT NULL,
  micros     INTEGER NOT NULL,
  curve      TEXT NOT NULL
);
)sql";

// A migration's items packed in blocks (format-spec/journal.md, "Item
// blocks"): one row per block of about a MiB instead of one row per item.
const char* const kBlocksTable = R"sql(
CREATE TABLE IF NOT EXISTS migration_blocks (
  migration_id INTEGER NOT NULL REFERENCES migrations(id) ON DELETE CASCADE,
  block        INTEGER NOT NULL,
  items        BLOB NOT NULL,
  PRIMARY KEY (migration_id, block)
);
)sql";

// Added with format version 6: the cold shards whose bytes are objects in
// the store's bucket (config cold_uri; format-spec/metadata_db.md). A row
// goes with its shard's.
const char* const kColdObjectsTable = R"sql(
CREATE TABLE IF NOT EXISTS cold_objects (
  shard_id INTEGER PRIMARY KEY REFERENCES shards(shard_id) ON DELETE CASCADE,
  bytes    INTEGER NOT NULL,
  sha256   TEXT NOT NULL
);
)sql";

// Added after v3's first release: the metrics folded from metrics.log
// (format-spec/metrics_log.md).
const char* const kMetricsTable = R"sql(
CREATE TABLE IF NOT EXISTS metrics (
  period_ms INTEGER NOT NULL,
  name      TEXT NOT NULL,
  labels    TEXT NOT NULL,
  value     INTEGER NOT NULL,
  PRIMARY KEY (period_ms, name, labels)
) WITHOUT ROWID;
)sql";

// Each trace id an audit entry names, once (format-spec/metadata_db.md,
// "audit_traces"): an entry of a store of format version 4 names it by
// number in audit_log.trace instead of repeating its text. Added after v4's
// first release, with that column; inside the caller's transaction.
Status AddAuditTraces(Db* db) {
  AETHER_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS audit_traces (trace INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE)"));
  return db->Exec("ALTER TABLE audit_log ADD COLUMN trace INTEGER");
}

// migration_items' kept_* columns (ingest --preserve-state), added after
// v3's first release; inside the caller's transaction.
Status AddKeptColumns(Db* db) {
  for (const char* c : {"kept_created_ms", "kept_last_access_ms", "kept_access_count"})
    AETHER_RETURN_IF_ERROR(db->Exec(std::string("ALTER TABLE migration_items ADD COLUMN ") + c + " INTEGER"));
  return Status::Ok();
}

// migration_items' kept_pinned and kept_access_times columns (ingest
// --preserve-state keeps pins and access histories); inside the caller's
// transaction.
Status AddKeptPinColumns(Db* db) {
  AETHER_RETURN_IF_ERROR(db->Exec("ALTER TABLE migration_items ADD COLUMN kept_pinned INTEGER"));
  return db->Exec("ALTER TABLE migration_items ADD COLUMN kept_access_times BLOB");
}

// The trace_id columns (--trace-id): the command that wrote an audit row,
// and the one that journaled a migration (its replay's audit rows name it);
// inside the caller's transaction.
Status AddTraceIdColumns(Db* db) {
  for (const char* table : {"audit_log", "migrations"})
    AETHER_RETURN_IF_ERROR(db->Exec(std::string("ALTER TABLE ") + table + " ADD COLUMN trace_id TEXT"));
  return Status::Ok();
}

// memories.pinned (aether pin: kept hot regardless of policy; NULL or 1)
// and the index of the pinned rows alone (their count per tier); inside the
// caller's transaction.
Status AddPinnedColumn(Db* db) {
  AETHER_RETURN_IF_ERROR(db->Exec("ALTER TABLE memories ADD COLUMN pinned INTEGER"));
  return db->Exec("CREATE INDEX IF NOT EXISTS memories_pinned ON memories(tier) WHERE pinned = 1");
}

// The shards of one generation, and one partition's, in O(log n): a
// one-shot search's staging shards and probed partitions (a 10,000,000-memory
// store has some 12,650 shard rows, and reading them all cost a query 5 ms).
Status AddShardsIndex(Db* db) {
  return db->Exec("CREATE INDEX IF NOT EXISTS shards_by_generation ON shards(generation, partition)");
}

Status AddStoreId(Db* db) {
  AETHER_ASSIGN_OR_RETURN(std::string id, NewRandomId());
  return ConfigTable(db).Set("store_id", id);
}

// memories.access_times (policy/access_pattern.h: the times of a memory's
// recent accesses; NULL: none yet); inside the caller's transaction.
Status AddAccessTimesColumn(Db* db) { return db->Exec("ALTER TABLE memories ADD COLUMN access_times BLOB"); }

}  // namespace

// A new store's ID (config store_id): 128 bits from the kernel's random
// source as 32 lower-case hexadecimal digits. Publish names its snapshots
// by it, so that a second store publishing to a prefix is told so.
Result<std::string> NewRandomId() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(std::string("getrandom: ") + std::strerror(errno));
    got += size_t(n);
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

Status CreateSchema(Db* db, const StoreConfig& config, uint32_t format_version, int64_t now_ms) {
  return InTransaction(db, [&]() -> Status {
    AETHER_RETURN_IF_ERROR(db->Exec(kSchemaV1));
    AETHER_RETURN_IF_ERROR(db->Exec(kCalibrationTable));
    AETHER_RETURN_IF_ERROR(db->Exec(kMetricsTable));
    AETHER_RETURN_IF_ERROR(db->Exec(kBlocksTable));
    AETHER_RETURN_IF_ERROR(db->Exec(kColdObjectsTable));
    AETHER_RETURN_IF_ERROR(AddKeptColumns(db));
    AETHER_RETURN_IF_ERROR(AddTraceIdColumns(db));
    AETHER_RETURN_IF_ERROR(AddAuditTraces(db));
    AETHER_RETURN_IF_ERROR(AddPinnedColumn(db));
    AETHER_RETURN_IF_ERROR(AddAccessTimesColumn(db));
    AETHER_RETURN_IF_ERROR(AddKeptPinColumns(db));
    AETHER_RETURN_IF_ERROR(AddShardsIndex(db));
    AETHER_RETURN_IF_ERROR(AddStoreId(db));
    const std::pair<const char*, std::string> rows[] = {
        {"format_version", std::to_string(format_version)},
        {"dim", std::to_string(config.dim)},
        {"metric", MetricName(config.metric)},
        {"hot_capacity", std::to_string(config.hot_capacity)},
        {"cold_codec", ColdCodecName(config.codec)},
        {"next_row_id", "1"},
        {"temperature", "1.0"},
        {"index_generation", "0"},
        {"hot_slots", "0"},
        {"created_ms", std::to_string(now_ms)},
    };
    for (const auto& [key, value] : rows) AETHER_RETURN_IF_ERROR(ConfigTable(db).Set(key, value));
    if (!config.cold_uri.empty()) AETHER_RETURN_IF_ERROR(ConfigTable(db).Set("cold_uri", config.cold_uri));
    return Status::Ok();
  });
}

namespace {

// One change UpgradeSchema makes to a DB an older aether made: what it is
// (as `upgrade` reports it), whether the DB still needs it, and the change.
struct SchemaStep {
  const char* what;
  const char* done_probe;  // a count that is 0 while the step is still to make
  std::function<Status(Db*)> apply;
};

const std::vector<SchemaStep>& SchemaSteps() {
  // Columns added after the first release are NULL in the rows an older
  // aether writes (it names its columns, so it never notices them).
  static const std::vector<SchemaStep> steps = {
      {"migrations: add the partitions and crc columns (journal checksums)",
       "SELECT COUNT(*) FROM pragma_table_info('migrations') WHERE name = 'crc'",
       [](Db* db) {
         return InTransaction(db, [&]() -> Status {
           AETHER_RETURN_IF_ERROR(db->Exec("ALTER TABLE migrations ADD COLUMN partitions INTEGER"));
           return db->Exec("ALTER TABLE migrations ADD COLUMN crc INTEGER");
         });
       }},
      // ingest --preserve-state: a new memory's statistics in its journal item.
      {"migration_items: add the kept_created_ms, kept_last_access_ms and kept_access_count columns "
       "(ingest --preserve-state)",
       "SELECT COUNT(*) FROM pragma_table_info('migration_items') WHERE name = 'kept_created_ms'",
       [](Db* db) { return InTransaction(db, [&] { return AddKeptColumns(db); }); }},
      // The recall calibration of the active index generation (rebuild-index
      // --target-recall); a store without the table reads as uncalibrated.
      {"add the index_calibration table (rebuild-index --target-recall)",
       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'index_calibration'",
       [](Db* db) { return db->Exec(kCalibrationTable); }},
      // The committed end of hot.slots in O(log n) (MAX(slot) of the hot tier).
      {"add the memories_by_slot index", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'memories_by_slot'",
       [](Db* db) { return db->Exec("CREATE INDEX IF NOT EXISTS memories_by_slot ON memories(tier, slot)"); }},
      // Trace ids: which command wrote an audit row or journaled a migration.
      {"audit_log and migrations: add the trace_id columns (--trace-id)",
       "SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'trace_id'",
       [](Db* db) { return InTransaction(db, [&] { return AddTraceIdColumns(db); }); }},
      // Counters and histograms commands record (stats, check, Prometheus).
      {"add the metrics table (stats --since, aether check, Prometheus counters)",
       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'metrics'", [](Db* db) { return db->Exec(kMetricsTable); }},
      // memories_by_slot(tier, slot) serves every query by tier, so the
      // single-column index only cost each insert and move an index entry,
      // and disk (format-spec/metadata_db.md). After the step above that
      // makes memories_by_slot.
      {"drop the memories_by_tier index (memories_by_slot serves its queries)",
       "SELECT COUNT(*) = 0 FROM sqlite_master WHERE type = 'index' AND name = 'memories_by_tier'",
       [](Db* db) { return db->Exec("DROP INDEX IF EXISTS memories_by_tier"); }},
      // A migration's items in blocks of about a MiB: a bulk ingest journals
      // a handful of rows, not one per memory (format-spec/journal.md).
      {"add the migration_blocks table (a migration's items packed in blocks)",
       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'migration_blocks'",
       [](Db* db) { return db->Exec(kBlocksTable); }},
      // An audit entry names its command's trace id by number, the text
      // once in audit_traces (half an entry's bytes). After the trace_id
      // step above.
      {"add the audit_traces table and the audit_log.trace column (trace ids stored once)",
       "SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'trace'",
       [](Db* db) { return InTransaction(db, [&] { return AddAuditTraces(db); }); }},
      // aether pin / unpin: memories kept hot regardless of policy.
      {"memories: add the pinned column and the memories_pinned index (aether pin)",
       "SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'pinned'",
       [](Db* db) { return InTransaction(db, [&] { return AddPinnedColumn(db); }); }},
      // Access patterns: each memory's recent access times.
      {"memories: add the access_times column (access patterns)",
       "SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'access_times'",
       [](Db* db) { return InTransaction(db, [&] { return AddAccessTimesColumn(db); }); }},
      // ingest --preserve-state: a new memory's pin and access history in
      // its journal item.
      {"migration_items: add the kept_pinned and kept_access_times columns (ingest --preserve-state)",
       "SELECT COUNT(*) FROM pragma_table_info('migration_items') WHERE name = 'kept_pinned'",
       [](Db* db) { return InTransaction(db, [&] { return AddKeptPinColumns(db); }); }},
      // A search's staging shards and probed partitions without reading
      // every shard row.
      {"add the shards_by_generation index", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'shards_by_generation'",
       [](Db* db) { return AddShardsIndex(db); }},
      // The store's ID, which publish writes into its manifests (a prefix
      // holds one store's snapshots).
      {"config: add the store's ID (store_id; publish names its snapshots by it)",
       "SELECT COUNT(*) FROM config WHERE key = 'store_id'",
       [](Db* db) { return InTransaction(db, [&] { return AddStoreId(db); }); }},
      // A cold tier in a bucket (upgrade --cold-uri): which shards are
      // objects there.
      {"add the cold_objects table (a cold tier in a bucket)",
       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'cold_objects'",
       [](Db* db) { return db->Exec(kColdObjectsTable); }},
  };
  return steps;
}

}  // namespace

namespace {

// The steps the DB still needs, each made first when `apply`.
Result<std::vector<std::string>> SchemaStepsToMake(Db* db, bool apply) {
  std::vector<std::string> steps;
  for (const auto& step : SchemaSteps()) {
    AETHER_ASSIGN_OR_RETURN(int64_t done, db->QueryInt(step.done_probe));
    if (done) continue;
    if (apply) AETHER_RETURN_IF_ERROR(step.apply(db));
    steps.push_back(step.what);
  }
  return steps;
}

}  // namespace

Result<std::vector<std::string>> PendingSchemaUpgrades(Db* db) { return SchemaStepsToMake(db, false); }
Result<std::vector<std::string>> UpgradeSchema(Db* db) { return SchemaStepsToMake(db, true); }

Result<StoreConfig> LoadConfig(Db* db, uint32_t max_format_version, uint32_t* format_version) {
  // An empty or truncated file opens as an empty database: that is damage,
  // not an I/O error.
  AETHER_ASSIGN_OR_RETURN(int64_t tables, db->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                                       "name IN ('config', 'memories', 'shards', 'migrations')"));
  if (tables != 4) return Status::Corruption(db->path() + ": the aether schema is missing (empty or damaged database)");
  auto version_text = ConfigTable(db).Require("format_version");
  if (!version_text.ok()) return version_text.status();
  char* end = nullptr;
  unsigned long version = std::strtoul(version_text->c_str(), &end, 10);
  if (*end != '\0' || version == 0)
    return Status::Corruption(db->path() + ": bad format_version '" + *version_text + "'");
  if (version > max_format_version)
    return Status::NotSupported(
        fmt::format("store format version {} is newer than this aether supports ({}); install a newer aether", version,
                    max_format_version));
  *format_version = static_cast<uint32_t>(version);

  StoreConfig config;
  AETHER_ASSIGN_OR_RETURN(std::string dim, ConfigTable(db).Require("dim"));
  AETHER_ASSIGN_OR_RETURN(std::string metric, ConfigTable(db).Require("metric"));
  AETHER_ASSIGN_OR_RETURN(std::string capacity, ConfigTable(db).Require("hot_capacity"));
  config.dim = static_cast<uint32_t>(std::strtoul(dim.c_str(), nullptr, 10));
  config.hot_capacity = std::strtoull(capacity.c_str(), nullptr, 10);
  if (config.dim == 0 || !ParseMetric(metric, &config.metric))
    return Status::Corruption(db->path() + ": bad config (dim '" + dim + "', metric '" + metric + "')");
  // Version 1 stores predate the key: their frames are all plain zstd.
  config.codec = ColdCodec::kZstd;
  if (version >= 2) {
    AETHER_ASSIGN_OR_RETURN(std::string codec, ConfigTable(db).Require("cold_codec"));
    // float16 and sq8 came with version 3, float32 with 7.
    if (!ParseColdCodec(codec, &config.codec) || (version < 3 && Quantized(config.codec)) ||
        (version < 7 && config.codec == ColdCodec::kFloat32))
      return Status::Corruption(db->path() + ": bad config (cold_codec '" + codec + "' in a version " +
                                std::to_string(version) + " store)");
  }
  AETHER_ASSIGN_OR_RETURN(std::optional<std::string> cold_uri, ConfigTable(db).Get("cold_uri"));
  if (cold_uri) config.cold_uri = *cold_uri;
  return config;
}

}  // namespace aether
