// A rebuild's journal steps (format-spec/journal.md, "Rebuild"): the commit
// that switches generations, the cleanup of the old generation's files, and
// the replay of a rebuild a dead process left. The long phase that trains
// and writes the new generation is StoreImpl::RebuildIndex (index.cc).
#include <fmt/format.h>

#include <set>
#include <tuple>

#include "env/fault_point.h"
#include "index/centroids_file.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/migrator.h"

namespace aether {

// The switch: reads the new generation's partitions back (which verifies
// every frame checksum), then one transaction moves every cold memory to its
// place in them and makes the generation current.
Status Migrator::CommitRebuild(const Migration& m, const CalibrationRow* calibration) {
  AETHER_ASSIGN_OR_RETURN(
      Centroids c, CentroidsFile::Read(
                       s_->env_, s_->Path(std::string(layout::kIndexDir) + "/" + layout::CentroidsName(m.generation)),
                       s_->config_.dim));
  struct Part {
    uint64_t bytes = 0, records = 0;
    std::vector<std::tuple<int64_t, int64_t, int64_t>> places;  // row, offset, index
  };
  std::vector<Part> parts(c.k);
  for (uint32_t p = 0; p < c.k; ++p) {
    std::string path = s_->Path(layout::PartitionPath(m.generation, p));
    AETHER_ASSIGN_OR_RETURN(auto shard, ShardFile::Open(s_->env_, path, s_->config_.dim, false));
    AETHER_ASSIGN_OR_RETURN(parts[p].bytes, shard->Size());
    AETHER_RETURN_IF_ERROR(shard->Scan(parts[p].bytes, [&](uint64_t off, const DecodedFrame& f) {
      for (uint32_t i = 0; i < f.count; ++i) parts[p].places.emplace_back(f.row_ids[i], int64_t(off), int64_t(i));
      parts[p].records += f.count;
      return Status::Ok();
    }));
  }
  index_->Invalidate();
  return InTransaction(s_->db_.get(), [&]() -> Status {
    uint64_t moved = 0;
    for (uint32_t p = 0; p < c.k; ++p) {
      const uint64_t n = parts[p].records;
      AETHER_ASSIGN_OR_RETURN(
          int64_t shard_id, s_->tables_->shards.InsertPartition(layout::PartitionPath(m.generation, p), m.generation, p,
                                                                parts[p].bytes, n, n * (8 + 4ull * s_->config_.dim)));
      for (const auto& [row, off, idx] : parts[p].places) {
        AETHER_ASSIGN_OR_RETURN(bool cold, s_->tables_->memories.MoveInShards(row, Place::Cold(shard_id, off, idx)));
        if (!cold) return Status::Corruption(fmt::format("rebuild: row {} is no longer in a shard", row));
        ++moved;
      }
    }
    AETHER_ASSIGN_OR_RETURN(uint64_t cold, s_->tables_->memories.CountInShards());
    if (moved != cold)
      return Status::Corruption(fmt::format("rebuild: generation {} holds {} memories, the store has {} cold and warm",
                                            m.generation, moved, cold));
    AETHER_RETURN_IF_ERROR(s_->tables_->shards.DeleteGeneration(m.old_generation));
    AETHER_RETURN_IF_ERROR(s_->tables_->shards.Empty(layout::kStagingShardId, ShardFile::kHeaderSize));
    AETHER_RETURN_IF_ERROR(s_->tables_->generations.Retire(m.old_generation));
    AETHER_RETURN_IF_ERROR(s_->tables_->generations.Activate(
        m.generation, m.created_ms, c.k, std::string(layout::kIndexDir) + "/" + layout::CentroidsName(m.generation)));
    AETHER_RETURN_IF_ERROR(s_->tables_->config.SetIndexGeneration(m.generation));
    AETHER_RETURN_IF_ERROR(s_->tables_->config.Set("last_rebuild_ms", std::to_string(s_->env_->NowMs())));
    if (calibration) AETHER_RETURN_IF_ERROR(s_->tables_->calibration.Put(*calibration));
    return Journal(s_->db_.get()).SetState(m, MigrationState::kCommitted);
  });
}

Status Migrator::RemoveGeneration(int64_t generation, uint32_t partitions) {
  if (generation <= 0) return Status::Ok();
  const std::string gdir = layout::GenerationDir(generation);
  std::vector<std::string> names;
  const FileType type = s_->env_->TypeOf(s_->Path(gdir));
  const bool listed = type == FileType::kDirectory;
  // Not a real directory (a link, say): each partition's name, which the
  // removal below refuses and reports; past 2^20 (most likely a damaged
  // row's count) only the directory is reported. Missing: nothing to name.
  if (!listed && type != FileType::kMissing && partitions <= (1u << 20))
    for (uint32_t p = 0; p < partitions; ++p) names.push_back(layout::PartitionPath(generation, p));
  if (listed) {
    // The partitions below the recorded count ("pNNNNNN.shard", found by
    // listing: a damaged count costs no more than the directory holds),
    // those rewritten by maintain ("pNNNNNN.rSSSSSS.shard"), and, for a
    // row from before partition counts were journaled (0), every name a
    // generation's partitions have; nothing else.
    AETHER_ASSIGN_OR_RETURN(auto entries, s_->env_->ListDir(s_->Path(gdir)));
    for (const auto& n : entries) {
      const std::string rel = gdir + "/" + n;
      if (partitions == 0 ? layout::IsPartitionFileName(n) : layout::IsRewrittenPartitionFileName(n)) {
        names.push_back(rel);
      } else if (n.size() > 7 && n[0] == 'p' && n.compare(n.size() - 6, 6, ".shard") == 0) {
        const std::string digits = n.substr(1, n.size() - 7);
        if (!digits.empty() && digits.size() <= 10 && digits.find_first_not_of("0123456789") == std::string::npos) {
          const uint64_t p = std::stoull(digits);
          if (p < partitions && rel == layout::PartitionPath(generation, uint32_t(p))) names.push_back(rel);
        }
      }
      // The temporary of a private copy a crash cut short (Unshare, env.h).
      if (const auto shard = n.find(".shard."); shard != std::string::npos) {
        const std::string base = n.substr(0, shard + 6);
        if (layout::IsPartitionFileName(base) && layout::IsTempNameOf(n, base)) names.push_back(gdir + "/" + n);
      }
    }
  }
  for (const auto& rel : names) AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(rel));
  AETHER_RETURN_IF_ERROR(s_->RemoveOwnedDir(gdir));
  const std::string cent = std::string(layout::kIndexDir) + "/" + layout::CentroidsName(generation);
  AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(cent));
  if (s_->env_->TypeOf(s_->Path(layout::kIndexDir)) == FileType::kDirectory) {
    // Temporaries of an interrupted centroids write: "<name>.<hex>.tmp" (and
    // "<name>.tmp" from before temporary names were random).
    AETHER_ASSIGN_OR_RETURN(auto entries, s_->env_->ListDir(s_->Path(layout::kIndexDir)));
    for (const auto& n : entries)
      if (layout::IsTempNameOf(n, layout::CentroidsName(generation)))
        AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(std::string(layout::kIndexDir) + "/" + n));
  }
  AETHER_RETURN_IF_ERROR(s_->env_->SyncDir(s_->Path(layout::kIndexDir)));
  return s_->env_->SyncDir(s_->Path(layout::kColdDir));
}

// After the switch: the old generation's files go, and the staging shard
// (whose records all moved into partitions) is cut back to its committed
// length, its header.
Status Migrator::CleanupRebuild(const Migration& m) {
  AETHER_ASSIGN_OR_RETURN(uint32_t old_k, s_->tables_->generations.Partitions(m.old_generation));
  AETHER_RETURN_IF_ERROR(RemoveGeneration(m.old_generation, old_k));
  AETHER_FAULT_POINT("rebuild.mid_cleanup");
  AETHER_ASSIGN_OR_RETURN(ShardInfo staging, s_->tables_->shards.Get(layout::kStagingShardId));
  AETHER_ASSIGN_OR_RETURN(auto shard, s_->OpenShard(staging, true));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, shard->Size());
  if (size > staging.file_bytes) {
    AETHER_RETURN_IF_ERROR(shard->Truncate(staging.file_bytes));
    AETHER_RETURN_IF_ERROR(shard->Sync());
  }
  return Status::Ok();
}

Status Migrator::ReplayRebuild(const Migration& m, ReplayAction* action) {
  if (m.state == MigrationState::kCommitted) {
    action->action = "cleaned up";
    return CleanupRebuild(m);
  }
  if (m.state == MigrationState::kWritten) {
    Status commit = CommitRebuild(m);
    if (commit.ok()) {
      AETHER_FAULT_POINT("replay.after_rollforward_commit");
      action->action = "rolled forward";
      return CleanupRebuild(m);
    }
    if (commit.code() == Code::kIOError || commit.code() == Code::kBusy) return commit;
    action->action = "rolled back (" + commit.message() + ")";
  } else {
    action->action = "rolled back";
  }
  AETHER_RETURN_IF_ERROR(RemoveGeneration(m.generation, m.partitions));
  AETHER_FAULT_POINT("replay.after_rollback_truncate");
  return Status::Ok();
}

// A rebuild's replay deletes one generation's files: the new one (roll
// back) or the old one (cleanup). Neither may be a generation the committed
// state uses: the current one, or any with registered shards.
Status Migrator::CheckRebuildReplayable(const Migration& m) {
  auto refuse = [&](const std::string& why) { return Status::Corruption(Describe(m) + ": " + why); };
  AETHER_ASSIGN_OR_RETURN(const int64_t current, s_->tables_->config.IndexGeneration());
  auto in_use = [&](int64_t g) -> Result<bool> {
    if (g == current) return true;
    AETHER_ASSIGN_OR_RETURN(uint64_t n, s_->tables_->shards.CountInGeneration(g));
    return n > 0;
  };
  if (m.generation <= 0 || m.old_generation < 0 || m.generation == m.old_generation)
    return refuse(fmt::format("generations {} -> {} are not a rebuild", m.old_generation, m.generation));
  if (m.state == MigrationState::kCommitted) {
    if (m.generation != current)
      return refuse(fmt::format("it switched to generation {}, but generation {} is current", m.generation, current));
    AETHER_ASSIGN_OR_RETURN(bool old_used, in_use(m.old_generation));
    if (m.old_generation > 0 && old_used)
      return refuse(fmt::format("its cleanup would delete generation {}, which is in use", m.old_generation));
    return Status::Ok();
  }
  AETHER_ASSIGN_OR_RETURN(bool new_used, in_use(m.generation));
  if (new_used) return refuse(fmt::format("a roll back would delete generation {}, which is in use", m.generation));
  AETHER_ASSIGN_OR_RETURN(bool known, s_->tables_->generations.Known(m.generation));
  if (known) return refuse(fmt::format("generation {} was committed before", m.generation));
  if (m.old_generation != current)
    return refuse(fmt::format("it replaces generation {}, but generation {} is current", m.old_generation, current));
  return Status::Ok();
}

}  // namespace aether
