// ColdIndex: loading the active generation, routing, probing (cold_index.h).
#include "store/cold_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "index/centroids_file.h"
#include "index/kmeans.h"
#include "store/layout.h"
#include "vecmath/distance.h"

namespace aether {

namespace {

// n vectors of dim floats, row(i) the i-th, packed row after row.
template <typename Row>
std::vector<float> Pack(size_t n, uint32_t dim, Row&& row) {
  std::vector<float> packed(n * dim);
  for (size_t i = 0; i < n; ++i) std::copy_n(row(i), dim, packed.data() + i * dim);
  return packed;
}

}  // namespace

uint32_t DefaultPartitions(uint64_t n) {
  if (n == 0) return 0;
  uint64_t k = uint64_t(std::llround(4.0 * std::sqrt(double(n))));
  return uint32_t(std::clamp<uint64_t>(k, 1, n));
}

uint32_t DefaultNprobe(uint32_t k) {
  // Measured (README "Index tuning"): recall@10 >= 0.95 on clustered data.
  if (k == 0) return 0;
  return std::min<uint32_t>(k, std::max<uint32_t>(8, (k + 9) / 10));
}

std::string ColdIndex::CentroidsPath(int64_t generation) const {
  return dir_ + "/" + layout::kIndexDir + "/" + layout::CentroidsName(generation);
}

Result<std::optional<IndexHead>> ColdIndex::Head() {
  AETHER_ASSIGN_OR_RETURN(int64_t g, tables_->config.IndexGeneration());
  if (g <= 0) return std::optional<IndexHead>();
  if (index_ && index_->generation == g) return std::optional<IndexHead>(IndexHead{g, index_->k});
  AETHER_ASSIGN_OR_RETURN(auto stream, CentroidsStream::Open(env_, CentroidsPath(g), config_.dim));
  return std::optional<IndexHead>(IndexHead{g, stream->k()});
}

Result<std::vector<std::vector<uint32_t>>> ColdIndex::ProbeFew(const IndexHead& head,
                                                               const std::vector<std::vector<float>>& queries,
                                                               uint32_t nprobe) {
  const std::vector<float> packed = Pack(queries.size(), config_.dim, [&](size_t q) { return queries[q].data(); });
  if (index_ && index_->generation == head.generation)
    return ProbeAll(*index_, packed.data(), queries.size(), nprobe, 1);
  AETHER_ASSIGN_OR_RETURN(auto stream, CentroidsStream::Open(env_, CentroidsPath(head.generation), config_.dim));
  if (stream->k() != head.k)
    return Status::Corruption(
        fmt::format("{}: {} centroids, {} a moment ago", CentroidsPath(head.generation), stream->k(), head.k));
  AETHER_ASSIGN_OR_RETURN(
      auto probes, NearestCentroidsChunked(
                       head.k, config_.dim, [&](uint32_t c0, uint32_t n) { return stream->Rows(c0, n); }, packed.data(),
                       queries.size(), nprobe, config_.metric));
  AETHER_RETURN_IF_ERROR(stream->Finish());
  return probes;
}

Result<std::vector<int64_t>> ColdIndex::ShardOfPartition(
    int64_t generation, uint32_t k, const std::vector<std::pair<int64_t, int64_t>>& partitions) const {
  std::vector<int64_t> shard_of(k, 0);
  for (const auto& [shard_id, partition] : partitions) {
    if (partition < 0 || uint64_t(partition) >= k)
      return Status::Corruption(fmt::format("{}: shard {} has partition {} outside 0..{} (run aether verify)", DbPath(),
                                            shard_id, partition, int64_t(k) - 1));
    shard_of[size_t(partition)] = std::max(shard_of[size_t(partition)], shard_id);
  }
  for (uint32_t p = 0; p < k; ++p)
    if (shard_of[p] == 0)
      return Status::Corruption(
          fmt::format("{}: partition {} of generation {} has no shard (run aether verify)", DbPath(), p, generation));
  return shard_of;
}

Result<const IndexView*> ColdIndex::Current() {
  AETHER_ASSIGN_OR_RETURN(int64_t g, tables_->config.IndexGeneration());
  if (g <= 0) return static_cast<const IndexView*>(nullptr);
  if (index_ && index_->generation == g) return &*index_;
  IndexView v;
  v.generation = g;
  AETHER_ASSIGN_OR_RETURN(Centroids c, CentroidsFile::Read(env_, CentroidsPath(v.generation), config_.dim));
  v.k = c.k;
  v.centroids = std::move(c.data);
  v.probe = PrepareProbe(v.centroids.data(), v.k, config_.dim);
  AETHER_ASSIGN_OR_RETURN(auto partitions, tables_->shards.Partitions(v.generation));
  AETHER_ASSIGN_OR_RETURN(v.shard_of_partition, ShardOfPartition(v.generation, v.k, partitions));
  index_ = std::move(v);
  return &*index_;
}

std::vector<std::vector<uint32_t>> ColdIndex::ProbeAll(const IndexView& index, const float* packed, size_t nq,
                                                       uint32_t nprobe, uint32_t threads) const {
  return NearestCentroids(index.probe, packed, nq, nprobe, config_.metric, int(threads));
}

Result<std::map<int64_t, std::vector<size_t>>> ColdIndex::GroupByPartition(const std::vector<const float*>& vectors) {
  std::map<int64_t, std::vector<size_t>> groups;
  AETHER_ASSIGN_OR_RETURN(const IndexView* index, Current());
  if (!index) {
    for (size_t i = 0; i < vectors.size(); ++i) groups[layout::kStagingShardId].push_back(i);
    return groups;
  }
  const std::vector<float> packed = Pack(vectors.size(), config_.dim, [&](size_t i) { return vectors[i]; });
  std::vector<uint32_t> labels(vectors.size());
  if (config_.metric == Metric::kL2) {
    // The K-Means assignment (SIMD argmin in float), whatever the batch's
    // size: a vector goes where a rebuild would put it, alone or in a batch.
    AssignNearest(packed.data(), vectors.size(), config_.dim, index->centroids.data(), index->k, 0, labels.data());
  } else {  // each vector's first probe, a batch at a time
    const auto first = NearestCentroids(index->probe, packed.data(), vectors.size(), 1, config_.metric);
    for (size_t i = 0; i < vectors.size(); ++i) labels[i] = first[i][0];
  }
  for (size_t i = 0; i < vectors.size(); ++i) groups[index->shard_of_partition[labels[i]]].push_back(i);
  return groups;
}

std::string ColdIndex::DbPath() const { return dir_ + "/" + layout::kDbFile; }

}  // namespace aether
