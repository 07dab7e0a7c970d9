// StoreContext: what every part of an open store shares: the OS seam, the
// directory, the config, the metadata DB and its table owners, the notices,
// and the reads and releases every part needs (a hot slot file, a shard
// file, a vector; a memory's place released in the caller's transaction).
// StoreImpl is one (its base); the Migrator holds a pointer to it.
//
// The fields are set by StoreImpl::Open and fixed afterwards. What they
// reach (the DB, the files) is protected across processes by the store lock
// (StoreLock) and used by one thread at a time; the scan's worker threads
// only read the files they are handed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aether/env.h"
#include "aether/options.h"
#include "aether/status.h"
#include "bucket/bucket_env.h"
#include "cold/shard_file.h"
#include "hot/slot_file.h"
#include "meta/sqlite_db.h"
#include "meta/tables.h"
#include "policy/eviction.h"
#include "policy/params.h"

namespace aether {

// The codec of warm frames (format-spec/cold_shard.md): the float32 vectors
// as they are, scanned exactly without decompression.
constexpr uint32_t kWarmCodec = kCodecFloat32;

// The error for a stored payload that does not parse (a damaged meta.db).
Status PayloadCorruption(const std::string& id, int64_t row_id);
// The error for a memory row whose tier is no tier (a damaged meta.db).
Status UnknownTierCorruption(const std::string& id, int64_t row_id, int64_t tier_code);
// Ok when `frame` (read from the shard at `path`) holds memory m at m's
// place; else the corruption naming both.
Status CheckFrameHolds(const std::string& path, const DecodedFrame& frame, const MemoryRef& m);

// The smaller of a config's hot_capacity and hot_capacity_bytes / slot size.
uint64_t HotCapacityOf(const StoreConfig& c);

class StoreContext {
 public:
  Env* env_ = nullptr;
  std::shared_ptr<Env> shared_env_;  // env_, when the store keeps it alive (OpenOptions::shared_env)
  // A cold tier in a bucket (store/cold_tier.cc): env_, over cold_local_env_
  // (the local disk's); shards whose files left the disk are read from the
  // bucket through it.
  std::shared_ptr<BucketEnv> cold_env_;
  Env* cold_local_env_ = nullptr;
  std::string dir_;
  StoreConfig config_;
  uint32_t format_version_ = 0;
  // What this open changed in an older aether's meta.db schema
  // (UpgradeSchema: a writer's open, or a reader's replay), for `upgrade`
  // to report.
  std::vector<std::string> schema_upgraded_;
  std::string trace_id_;  // OpenOptions::trace_id: on every audit row and journal row this handle writes
  std::unique_ptr<Db> db_;
  std::unique_ptr<Tables> tables_;  // the owners of the metadata tables, over db_
  bool writable_ = true;            // this process may write the store's files
  std::string why_not_writable_;    // when not: why, for messages (Store::why_not_writable)
  // maintain --dry-run: the tick runs on the metadata alone, in one
  // transaction rolled back at its end, through a ReadOnlyEnv; moves write
  // no data and read none they do not need (StoreImpl::Maintain).
  bool rehearsal_ = false;
  std::map<int64_t, uint64_t> rehearsal_cold_bytes_;  // shard -> committed length as the rehearsal began
  // A cold record whose frame is in its file: always, but in a rehearsal
  // only those that predate it (what it appends is in the metadata alone).
  bool ColdRecordOnDisk(const Place& p) const {
    if (!rehearsal_) return true;
    auto it = rehearsal_cold_bytes_.find(p.shard_id);
    return it != rehearsal_cold_bytes_.end() && uint64_t(p.frame_offset) < it->second;
  }

  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  // Something left in place rather than deleted, for the caller to report
  // (Store::notices, OpenOptions::on_notice).
  void Notice(const std::string& text) {
    notices_.push_back(text);
    if (on_notice_) on_notice_(text);
  }
  const std::vector<std::string>& notices() const { return notices_; }
  void set_on_notice(std::function<void(const std::string&)> f) { on_notice_ = std::move(f); }

  Result<std::unique_ptr<SlotFile>> OpenHot(bool writable);
  Result<std::unique_ptr<ShardFile>> OpenShard(const ShardInfo& info, bool writable);
  // A memory's vector, checked against its row id (kCorruption otherwise).
  Status ReadVector(const MemoryRef& loc, std::vector<float>* out);
  // The vector of hot memory m from its slot (dim floats into out):
  // Corruption when the slot's checksum or row id disagrees.
  static Status ReadHotVector(SlotFile* hot, const MemoryRef& m, float* out);

  // Slots of hot.slots that committed metadata uses: one past the highest
  // live or free slot (0 when none).
  Result<uint64_t> CommittedHotSlots();
  // The committed length of hot.slots in slots (config hot_slots; computed
  // with CommittedHotSlots in a store an older aether made). A file shorter
  // than this has lost live or free slots.
  Result<uint64_t> HotSlotsInUse();
  // How many memories the hot tier holds, from its slot accounting: every
  // slot below CommittedHotSlots is live or free, never both (verify checks
  // it), so the count is that end less the free slots: two index lookups
  // and a count of hot_free's pages, instead of a step over every hot
  // memory's index entry (0.5 s at 10,000,000, paid by every ingest,
  // descend, ascend and maintain). In a damaged store, a leaked slot counts
  // as live (the tier looks fuller: nothing is placed past the capacity).
  Result<uint64_t> HotMemories();
  // Memories the hot tier may hold: hot_capacity, or fewer when
  // hot_capacity_bytes allows fewer slots (README "pin, unpin" and the
  // parameter table).
  uint64_t HotCapacity() const;
  // The config key that binds HotCapacity(): "hot_capacity_bytes" when it
  // allows fewer memories than hot_capacity, else "hot_capacity".
  const char* HotCapacityKey() const;
  // The warm tier (format version 5): kFailedPrecondition naming `upgrade`
  // in an older store, whose aether could not read a warm memory.
  Status WarmAllowed() const;
  // Whether the policies place demotions warm: warm_capacity_bytes set, and
  // the store of format 5.
  bool WarmTierOn(const PolicyParams& p) const;
  // The codec of a new frame of `tier` (kCold or kWarm): the store's cold
  // codec, or kWarmCodec.
  uint32_t FrameCodecOf(Tier tier) const {
    return tier == Tier::kWarm ? kWarmCodec : static_cast<uint32_t>(config_.codec);
  }
  // Where the policies demote a hot memory: warm while the warm tier is on.
  Tier DemotionTier(const PolicyParams& p) const { return WarmTierOn(p) ? Tier::kWarm : Tier::kCold; }
  // The bytes the warm tier's `memories` hold: each record's row id and
  // float32 vector (frame codec 4).
  uint64_t WarmBytes(uint64_t memories) const { return memories * (4ull * config_.dim + 8); }

  // In the caller's transaction: the memory's place is released (a hot slot
  // becomes free, a cold record garbage) and its row deleted
  // (ReleaseMemory), or only the place (ReleasePlace).
  Status ReleaseMemory(const MemoryRef& loc);
  Status ReleasePlace(const Place& place);
  // Appends to the audit log, stamped now, in the caller's transaction.
  Status Audit(const std::string& kind, const std::optional<std::string>& id, const std::string& detail);

  // The eviction score's inputs of one memory (nullopt: no such row).
  Result<std::optional<AccessStats>> AccessStatsOf(int64_t row_id);
  static AccessStats ToAccessStats(const MemoryStats& s) {
    return AccessStats{s.last_access_ms, s.access_count, s.importance, 1.0, s.pinned};
  }

  // Removes store-relative `rel` if it is a regular file reached through
  // real directories only; anything else is left and noted.
  Status RemoveOwnedFile(const std::string& rel);
  // Removes store-relative directory `rel` if it is a real, empty directory.
  Status RemoveOwnedDir(const std::string& rel);
  // Generation directories and centroids files no committed generation names,
  // and partition files of a generation in use that no shard names
  // (store-relative paths), e.g. what a discarded rebuild or rewrite left.
  std::vector<std::string> UnregisteredGenerations();

 private:
  std::vector<std::string> notices_;
  std::function<void(const std::string&)> on_notice_;
};

}  // namespace aether
