// Names of the files in a store directory (format-spec/README.md).
#pragma once

#include <cstdint>
#include <string>

namespace aether::layout {

constexpr const char* kLockFile = "LOCK";          // readers shared, data writers exclusive
constexpr const char* kWriterLockFile = "WRITER";  // held exclusively by every writer, whole run
constexpr const char* kGateLockFile = "GATE";      // turnstile in front of LOCK (fairness)
constexpr const char* kDbFile = "meta.db";
// A writer leaves meta.db's WAL in place when it closes, unless it has
// grown past this; then closing checkpoints it into meta.db and removes it.
constexpr uint64_t kWalCheckpointBytes = 1 << 20;
// Zeros kept in reserve: deleted to free room for a roll back when the disk
// is full, re-created by the next writer that finds room.
constexpr const char* kReserveFile = "RESERVE";
constexpr uint64_t kReserveBytes = 2 << 20;
constexpr const char* kHotFile = "hot.slots";
// Accesses searches recorded without the write lock, folded by writers.
constexpr const char* kAccessLog = "access.log";
constexpr const char* kMetricsLog = "metrics.log";  // format-spec/metrics_log.md
constexpr const char* kColdDir = "cold";
constexpr const char* kIndexDir = "index";
// A cold tier in a bucket: the shards fetched from it (objects/SHA256).
constexpr const char* kColdCacheDir = "cold-cache";
constexpr const char* kStagingShard = "cold/staging.shard";
constexpr int64_t kStagingShardId = 1;

// Index generation g: centroids in index/, partitions in cold/gNNNNNN/.
std::string GenerationDir(int64_t generation);              // "cold/g000001"
std::string PartitionPath(int64_t generation, uint32_t p);  // "cold/g000001/p000007.shard"
// Partition p rewritten without its garbage (maintain's cold compaction) as
// shard `shard_id`: "cold/g000001/p000007.r000042.shard".
std::string RewrittenPartitionPath(int64_t generation, uint32_t p, int64_t shard_id);
std::string CentroidsName(int64_t generation);  // "g000001.centroids" (in index/)

// Name tests for the store's cleanup, which removes only names aether makes.
bool IsPartitionFileName(const std::string& name);           // "pNNNNNN.shard" or a rewritten one's
bool IsRewrittenPartitionFileName(const std::string& name);  // "pNNNNNN.rSSSSSS.shard" (6 to 19 digits S)
// A store-relative path in GenerationDir(generation) with a file name of
// partition `partition` (either form).
bool IsPartitionPathOf(const std::string& path, int64_t generation, int64_t partition);
// "<base>.<16 hex digits>.tmp" (TempNameFor in env.h) or "<base>.tmp" (older aether).
bool IsTempNameOf(const std::string& name, const std::string& base);
// Only the first form: where no aether ever wrote "<base>.tmp" (a fetch's,
// a bring-back's temporary), such a name is not aether's.
bool IsRandomTempNameOf(const std::string& name, const std::string& base);
// The generation of "gNNNNNN" (a directory in cold/) or of "gNNNNNN.centroids"
// and its temporaries (in index/); 0 for any other name.
int64_t GenerationOfName(const std::string& name);

}  // namespace aether::layout
