// Store statistics: counts from the tiers' accounting (the hot tier's
// slots, the shards' live counters: what verify checks against the rows)
// and file sizes; no pass over the memories or their vectors, so a
// 10,000,000-memory store answers as fast as a small one.
#include <algorithm>

#include "env/system_readings.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<StoreStats> StoreImpl::Stats() {
  StoreStats s;
  s.format_version = format_version_;
  s.dim = config_.dim;
  s.metric = config_.metric;
  s.codec = config_.codec;
  s.hot_capacity = HotCapacity();
  AETHER_ASSIGN_OR_RETURN(s.hot_count, HotMemories());
  AETHER_ASSIGN_OR_RETURN(s.pinned, tables_->memories.CountPinned());
  AETHER_ASSIGN_OR_RETURN(s.hot_bytes, env_->FileSize(Path(layout::kHotFile)));
  s.hot_slots =
      s.hot_bytes < SlotFile::kHeaderSize ? 0 : (s.hot_bytes - SlotFile::kHeaderSize) / SlotFile::SlotSize(config_.dim);
  if (cold_env_) {
    s.cold_uri = cold_uri_;
    s.cold_cache_dir = Path(layout::kColdCacheDir);
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  std::vector<uint64_t> sizes;
  for (const ShardInfo& sh : shards) {
    s.cold_count += sh.live;
    if (!sh.staging())
      sizes.push_back(sh.live);
    else
      s.staging_records += sh.live;
    AETHER_ASSIGN_OR_RETURN(uint64_t bytes, env_->FileSize(Path(sh.path)));
    s.cold_bytes += bytes;
    if (cold_env_ && cold_env_->IsRemote(Path(sh.path))) {
      ++s.cold_remote_shards;
      s.cold_remote_bytes += sh.file_bytes;
    }
    s.cold_raw_bytes += sh.raw_bytes;
    uint64_t dead = sh.records - sh.live;
    s.cold_garbage_records += dead;
    if (sh.records > 0) s.cold_garbage_bytes += (sh.file_bytes - ShardFile::kHeaderSize) * dead / sh.records;
  }
  AETHER_ASSIGN_OR_RETURN(s.warm_count, tables_->memories.Count(Tier::kWarm));
  s.cold_count -= std::min(s.cold_count, s.warm_count);
  s.warm_bytes = WarmBytes(s.warm_count);
  std::sort(sizes.begin(), sizes.end());
  s.partitions = sizes.size();
  if (!sizes.empty()) {
    s.partition_min = sizes.front();
    s.partition_median = sizes[sizes.size() / 2];
    s.partition_max = sizes.back();
    s.default_nprobe = DefaultNprobe(uint32_t(sizes.size()));
  }
  AETHER_ASSIGN_OR_RETURN(s.last_rebuild_ms, tables_->config.Integer("last_rebuild_ms", 0));
  AETHER_ASSIGN_OR_RETURN(s.pending_migrations, Journal(db_.get()).Count());
  AETHER_ASSIGN_OR_RETURN(s.oldest_pending_ms, Journal(db_.get()).OldestCreatedMs());
  AETHER_ASSIGN_OR_RETURN(s.restore_queue_depth, tables_->restore_queue.Depth());
  AETHER_ASSIGN_OR_RETURN(s.temperature, tables_->config.Number("temperature", 1.0));
  AETHER_ASSIGN_OR_RETURN(PolicyParams params, model_->Params());
  s.warm_capacity_bytes = uint64_t(params.warm_capacity_bytes);
  AETHER_ASSIGN_OR_RETURN(PressureReport pressure, PressureNow(params, s.hot_count, s.restore_queue_depth));
  s.pressure_level = PressureLevelName(pressure.level);
  s.pressure = int(pressure.level);
  s.pressure_why = pressure.Why();
  s.memory_available = pressure.readings.memory_available.value_or(-1);
  s.disk_free = pressure.readings.disk_free.value_or(-1);
  s.disk_free_bytes = pressure.readings.disk_free_bytes.value_or(-1);
  AETHER_ASSIGN_OR_RETURN(int64_t gen, tables_->config.IndexGeneration());
  s.index_generation = uint64_t(gen);
  AETHER_ASSIGN_OR_RETURN(std::optional<CalibrationRow> cal, tables_->calibration.Get(gen));
  if (cal && !sizes.empty()) {
    s.calibration = {
        cal->target, cal->k, cal->queries, cal->nprobe, cal->recall, cal->std_error, double(cal->micros) / 1e6};
    s.default_nprobe = std::min<uint32_t>(cal->nprobe, uint32_t(sizes.size()));
  }
  return s;
}

Result<PressureReport> StoreImpl::PressureNow(const PolicyParams& p, uint64_t hot_memories,
                                              std::optional<uint64_t> restore_queue) {
  PressureReadings r;
  r.hot_memories = hot_memories;
  r.hot_capacity = HotCapacity();
  if (restore_queue) {
    r.restore_queue = *restore_queue;
  } else {
    AETHER_ASSIGN_OR_RETURN(r.restore_queue, tables_->restore_queue.Depth());
  }
  const SystemReadings system = ReadSystem(dir_);
  r.memory_available = system.memory_available;
  r.disk_free = system.disk_free;
  r.disk_free_bytes = system.disk_free_bytes;
  return JudgePressure(r, p);
}

}  // namespace aether
