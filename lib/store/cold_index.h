// ColdIndex: the cold tier's K-Means index as the store uses it: the active
// generation (its centroids, and the partition shard of each centroid),
// loaded from meta.db and its centroids file once per generation; it routes
// vectors to their partition (descend) and queries to their nearest
// partitions (search). rebuild-index (index.cc) trains and switches
// generations and then calls Invalidate. Owned by StoreImpl; not
// thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aether/env.h"
#include "aether/options.h"
#include "aether/status.h"
#include "index/kmeans.h"
#include "meta/tables.h"

namespace aether {

// One generation, as loaded.
struct IndexView {
  int64_t generation = 0;
  uint32_t k = 0;
  std::vector<float> centroids;             // k * dim
  std::vector<int64_t> shard_of_partition;  // partition -> shard_id
  ProbeTable probe;                         // the centroids prepared for NearestCentroids
};

// The active generation and its partition count, without its centroids.
struct IndexHead {
  int64_t generation = 0;
  uint32_t k = 0;
};

// Defaults measured on clustered data (README "Index tuning").
uint32_t DefaultPartitions(uint64_t cold_memories);
uint32_t DefaultNprobe(uint32_t partitions);

class ColdIndex {
 public:
  ColdIndex(Env* env, std::string dir, const StoreConfig& config, Tables* tables)
      : env_(env), dir_(std::move(dir)), config_(config), tables_(tables) {}

  // The active generation; nullptr when there is none (every cold memory is
  // in the staging shard). kCorruption when its centroids file or shard
  // rows do not describe it; kIOError.
  Result<const IndexView*> Current();
  // The active generation's number and partition count: the loaded one's, or
  // read from its centroids file's header. nullopt when there is none.
  Result<std::optional<IndexHead>> Head();
  // For a few queries (at most kFewProbeQueries, index/kmeans.h): their
  // `nprobe` nearest partitions of `head`'s generation; from the loaded
  // generation, or else streamed from its centroids file (a one-shot search
  // loads nothing it does not need). The same partitions as ProbeAll.
  Result<std::vector<std::vector<uint32_t>>> ProbeFew(const IndexHead& head,
                                                      const std::vector<std::vector<float>>& queries, uint32_t nprobe);
  // Each partition's shard from (shard id, partition) rows of `generation`:
  // of two shards of one partition (a rewrite committed, its cleanup not yet
  // done) the new one, the higher id, holds the live records. kCorruption for
  // a partition outside 0..k-1 or one without a shard (run aether verify).
  Result<std::vector<int64_t>> ShardOfPartition(int64_t generation, uint32_t k,
                                                const std::vector<std::pair<int64_t, int64_t>>& partitions) const;
  // Drops the loaded generation (the active one changed).
  void Invalidate() { index_.reset(); }
  // The `nprobe` partitions nearest to each of nq queries (packed: nq x
  // dim), nearest first, in blocked products on `threads` workers (0: one
  // per core).
  std::vector<std::vector<uint32_t>> ProbeAll(const IndexView& index, const float* packed, size_t nq, uint32_t nprobe,
                                              uint32_t threads) const;
  // vectors[i]'s destination shard: its nearest partition's, or staging when
  // there is no index; shard id -> indexes into `vectors`.
  Result<std::map<int64_t, std::vector<size_t>>> GroupByPartition(const std::vector<const float*>& vectors);

 private:
  Env* env_;
  std::string dir_;
  const StoreConfig& config_;
  Tables* tables_;
  std::string DbPath() const;
  std::string CentroidsPath(int64_t generation) const;
  std::optional<IndexView> index_;
};

}  // namespace aether
