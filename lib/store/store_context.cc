// StoreContext: the reads and releases every part of an open store shares
// (store_context.h).
#include "store/store_context.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "hot/slot_file.h"
#include "store/layout.h"

namespace aether {

Status PayloadCorruption(const std::string& id, int64_t row_id) {
  return Status::Corruption(
      fmt::format("{}: memory '{}' (row {}): its stored payload is not valid JSON (run aether "
                  "verify)",
                  layout::kDbFile, id, row_id));
}

Status UnknownTierCorruption(const std::string& id, int64_t row_id, int64_t tier_code) {
  return Status::Corruption(fmt::format("{}: memory '{}' (row {}) has unknown tier {} (run aether verify)",
                                        layout::kDbFile, id, row_id, tier_code));
}

Status CheckFrameHolds(const std::string& path, const DecodedFrame& frame, const MemoryRef& m) {
  const Place& p = m.place;
  if (p.frame_index >= 0 && p.frame_index < frame.count && frame.row_ids[p.frame_index] == m.row_id)
    return Status::Ok();
  return Status::Corruption(
      fmt::format("{}: frame at offset {} does not hold row {} ('{}')", path, p.frame_offset, m.row_id, m.id));
}

Result<uint64_t> StoreContext::HotSlotsInUse() {
  // The recorded length, unless the metadata names a slot past it (an older
  // aether that did not keep it grew the file): never cut or skip a slot in
  // use.
  AETHER_ASSIGN_OR_RETURN(int64_t recorded, tables_->config.Integer("hot_slots", -1));
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, CommittedHotSlots());
  return std::max(committed, uint64_t(std::max<int64_t>(recorded, 0)));
}

Result<std::unique_ptr<SlotFile>> StoreContext::OpenHot(bool writable) {
  return SlotFile::Open(env_, Path(layout::kHotFile), config_.dim, writable);
}

Result<std::unique_ptr<ShardFile>> StoreContext::OpenShard(const ShardInfo& info, bool writable) {
  // A registered shard: its file missing is damage.
  return ShardFile::OpenNamed(env_, Path(info.path), config_.dim, writable);
}

Status StoreContext::ReadHotVector(SlotFile* hot, const MemoryRef& m, float* out) {
  int64_t row_id = 0;
  AETHER_RETURN_IF_ERROR(hot->ReadSlot(static_cast<uint64_t>(m.place.slot), &row_id, out));
  if (row_id != m.row_id)
    return Status::Corruption(fmt::format("{}: slot {} holds row {}, the metadata says '{}' (row {})", hot->path(),
                                          m.place.slot, row_id, m.id, m.row_id));
  return Status::Ok();
}

Status StoreContext::ReadVector(const MemoryRef& m, std::vector<float>* out) {
  out->resize(config_.dim);
  const Place& p = m.place;
  if (p.hot()) {
    AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(false));
    return ReadHotVector(hot.get(), m, out->data());
  }
  AETHER_ASSIGN_OR_RETURN(ShardInfo info, tables_->shards.Get(p.shard_id));
  AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, false));
  DecodedFrame frame;
  AETHER_RETURN_IF_ERROR(shard->ReadFrame(static_cast<uint64_t>(p.frame_offset), &frame));
  AETHER_RETURN_IF_ERROR(CheckFrameHolds(shard->path(), frame, m));
  std::copy(frame.vector(uint32_t(p.frame_index)), frame.vector(uint32_t(p.frame_index)) + config_.dim, out->begin());
  return Status::Ok();
}

Result<std::optional<AccessStats>> StoreContext::AccessStatsOf(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(auto stats, tables_->memories.Stats(row_id));
  if (!stats) return std::optional<AccessStats>();
  return std::optional<AccessStats>(ToAccessStats(*stats));
}

// Releases a place inside the caller's transaction: a hot slot becomes
// free, a cold record becomes garbage in its shard.
Status StoreContext::ReleasePlace(const Place& place) {
  if (place.hot()) return tables_->hot_free.Free(place.slot);
  return tables_->shards.Release(place.shard_id);
}

// Forgets a memory inside the caller's transaction.
Status StoreContext::ReleaseMemory(const MemoryRef& m) {
  AETHER_RETURN_IF_ERROR(ReleasePlace(m.place));
  AETHER_RETURN_IF_ERROR(tables_->memories.Delete(m.row_id));
  return tables_->restore_queue.Remove(m.row_id);
}

Result<uint64_t> StoreContext::CommittedHotSlots() {
  AETHER_ASSIGN_OR_RETURN(uint64_t live, tables_->memories.HotSlotEnd());
  AETHER_ASSIGN_OR_RETURN(uint64_t free, tables_->hot_free.End());
  return std::max(live, free);
}

uint64_t HotCapacityOf(const StoreConfig& c) {
  if (c.hot_capacity_bytes == 0) return c.hot_capacity;
  return std::min(c.hot_capacity, c.hot_capacity_bytes / SlotFile::SlotSize(c.dim));
}

uint64_t StoreContext::HotCapacity() const { return HotCapacityOf(config_); }

const char* StoreContext::HotCapacityKey() const {
  return HotCapacity() < config_.hot_capacity ? "hot_capacity_bytes" : "hot_capacity";
}

Status StoreContext::WarmAllowed() const {
  if (format_version_ >= 5) return Status::Ok();
  return Status::FailedPrecondition(
      fmt::format("the warm tier needs store format version 5, and this store is version {}: run aether upgrade "
                  "STORE first (an aether older than the warm tier then refuses the store)",
                  format_version_));
}

// A capacity under one byte (a fraction: config takes any number in
// range) is none, as stats shows it.
bool StoreContext::WarmTierOn(const PolicyParams& p) const {
  return uint64_t(p.warm_capacity_bytes) > 0 && format_version_ >= 5;
}

Result<uint64_t> StoreContext::HotMemories() {
  AETHER_ASSIGN_OR_RETURN(uint64_t end, CommittedHotSlots());
  AETHER_ASSIGN_OR_RETURN(uint64_t free, tables_->hot_free.Count());
  return end > free ? end - free : 0;
}

Status StoreContext::Audit(const std::string& kind, const std::optional<std::string>& id, const std::string& detail) {
  return tables_->audit_log.Append(env_->NowMs(), kind, id, detail, trace_id_);
}

std::vector<std::string> StoreContext::UnregisteredGenerations() {
  std::vector<std::string> out;
  auto shards = tables_->shards.All();
  auto active = tables_->generations.Active();
  if (!shards.ok() || !active.ok()) return out;
  std::set<int64_t> used(active->begin(), active->end());
  for (const ShardInfo& info : *shards) used.insert(info.generation);
  for (const char* dir : {layout::kColdDir, layout::kIndexDir}) {
    auto entries = env_->ListDir(Path(dir));
    if (!entries.ok()) continue;
    for (const auto& n : *entries) {
      int64_t g = layout::GenerationOfName(n);
      if (g > 0 && !used.count(g)) out.push_back(std::string(dir) + "/" + n);
    }
  }
  // In a generation in use, a partition file no shard names (a discarded
  // partition rewrite's new file).
  std::set<std::string> named;
  for (const ShardInfo& info : *shards) named.insert(info.path);
  for (int64_t g : used) {
    if (g <= 0) continue;
    auto entries = env_->ListDir(Path(layout::GenerationDir(g)));
    if (!entries.ok()) continue;
    for (const auto& n : *entries) {
      const std::string rel = layout::GenerationDir(g) + "/" + n;
      if (layout::IsPartitionFileName(n) && !named.count(rel)) out.push_back(rel);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace aether
