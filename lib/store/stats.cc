// Store statistics: counts from indexed queries and file sizes, no scans of
// vector data.
#include <algorithm>

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
  s.hot_capacity = config_.hot_capacity;
  AETHER_ASSIGN_OR_RETURN(int64_t hot, db_->QueryInt("SELECT COUNT(*) FROM memories WHERE tier = 0"));
  AETHER_ASSIGN_OR_RETURN(int64_t cold, db_->QueryInt("SELECT COUNT(*) FROM memories WHERE tier = 1"));
  s.hot_count = uint64_t(hot);
  s.cold_count = uint64_t(cold);
  AETHER_ASSIGN_OR_RETURN(s.hot_bytes, env_->FileSize(Path(layout::kHotFile)));
  s.hot_slots =
      s.hot_bytes < SlotFile::kHeaderSize ? 0 : (s.hot_bytes - SlotFile::kHeaderSize) / SlotFile::SlotSize(config_.dim);
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, AllShards());
  std::vector<uint64_t> sizes;
  for (const ShardInfo& sh : shards) {
    if (sh.generation > 0)
      sizes.push_back(sh.live);
    else
      s.staging_records += sh.live;
    AETHER_ASSIGN_OR_RETURN(uint64_t bytes, env_->FileSize(Path(sh.path)));
    s.cold_bytes += bytes;
    s.cold_raw_bytes += sh.raw_bytes;
    uint64_t dead = sh.records - sh.live;
    s.cold_garbage_records += dead;
    if (sh.records > 0) s.cold_garbage_bytes += (sh.file_bytes - ShardFile::kHeaderSize) * dead / sh.records;
  }
  std::sort(sizes.begin(), sizes.end());
  s.partitions = sizes.size();
  if (!sizes.empty()) {
    s.partition_min = sizes.front();
    s.partition_median = sizes[sizes.size() / 2];
    s.partition_max = sizes.back();
    s.default_nprobe = DefaultNprobe(uint32_t(sizes.size()));
  }
  AETHER_ASSIGN_OR_RETURN(double last, ConfigNumber("last_rebuild_ms", 0));
  s.last_rebuild_ms = int64_t(last);
  AETHER_ASSIGN_OR_RETURN(int64_t pending, db_->QueryInt("SELECT COUNT(*) FROM migrations"));
  AETHER_ASSIGN_OR_RETURN(int64_t queue, db_->QueryInt("SELECT COUNT(*) FROM restore_queue"));
  s.pending_migrations = uint64_t(pending);
  s.restore_queue_depth = uint64_t(queue);
  AETHER_ASSIGN_OR_RETURN(std::string temp, GetConfigValue(db_.get(), "temperature"));
  AETHER_ASSIGN_OR_RETURN(std::string gen, GetConfigValue(db_.get(), "index_generation"));
  s.temperature = std::strtod(temp.c_str(), nullptr);
  s.index_generation = std::strtoull(gen.c_str(), nullptr, 10);
  return s;
}

}  // namespace aether
