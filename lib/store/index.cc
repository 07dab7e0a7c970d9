// The cold index: rebuild-index (a migration of kind "rebuild"), the
// nearest-partition routing of descends, and the recall self-check.
//
// Rebuild, in the journal's terms (format-spec/journal.md):
//   intent    row with the new and old generation numbers (exclusive lock)
//   write     K-Means on a sample, assign every live cold record, write one
//             partition shard per centroid + the centroids file, fsync all;
//             meanwhile the store lock is only shared, so searches run
//   written   (exclusive again) row -> written
//   commit    one txn: shard rows, every cold memory's new place, the
//             generation switch, staging emptied
//   cleanup   old generation's files removed, staging truncated
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "aether/store.h"
#include "env/fault_point.h"
#include "env/system_readings.h"
#include "format/crc32c.h"
#include "index/calibration.h"
#include "index/centroids_file.h"
#include "index/kmeans.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

namespace {

// A memory in a shard, as ColdSource matches it with the records it reads.
struct InShard {
  int64_t shard_id, frame_offset, frame_index, row_id;
  bool warm;
  bool in_shard;  // of a shard's tier: a damaged tier code names no record
  auto key() const { return std::tie(shard_id, frame_offset, frame_index); }
};

// The live records of the shards (cold and warm) in shard and frame order,
// for a rebuild. The first walk of the shards lists them (row ids, tiers,
// which records are garbage); their vectors are held from it when they fit
// the memory budget, else each pass that needs them walks the shards again
// (a store larger than memory rebuilds in more passes; nothing writes the
// shards meanwhile: this process holds the writer lock).
class ColdSource {
 public:
  using Visit = std::function<Status(size_t index, const float* vector)>;

  ColdSource(StoreContext* s, uint64_t budget) : s_(s), dim_(s->config_.dim), budget_(budget) {}

  // The first walk: every live record listed, the garbage counted. When
  // the vectors are not held, the records ahead(n) names (n: the memories
  // the metadata places in shards) are gathered on the way, for a later
  // Gather of exactly those (a read of the shards saved).
  Status Open(const std::function<std::vector<size_t>(size_t n)>& ahead);
  size_t size() const { return row_ids_.size(); }
  bool held() const { return held_; }
  uint64_t walks() const { return walks_; }
  uint64_t garbage() const { return garbage_; }
  const std::vector<int64_t>& row_ids() const { return row_ids_; }
  const std::vector<uint8_t>& warm() const { return warm_; }
  const float* held_vectors() const { return vectors_.data(); }  // held() only
  // Rows a run of Runs holds: what the budget holds, from 512 to 65,536, a
  // multiple of 512 (the calibration's brute force works in blocks of 512
  // rows: runs cut where its blocks do give it the same floats).
  size_t run_rows() const {
    const uint64_t fit = budget_ / (uint64_t(dim_) * sizeof(float));
    return size_t(std::clamp<uint64_t>(fit / 512 * 512, 512, 65536));
  }

  // visit(i, vector) for every record, in order.
  Status ForEach(const Visit& visit);
  // fn(first, vectors, count) over consecutive runs of at most `rows`.
  Status Runs(size_t rows, const std::function<void(size_t, const float*, size_t)>& fn);
  // The vectors of records `indices`, dim each, in the order given.
  Result<std::vector<float>> Gather(const std::vector<size_t>& indices);

 private:
  using Frame = std::function<Status(int64_t shard_id, uint64_t offset, const DecodedFrame& f)>;
  Status Walk(const Frame& fn);
  static Status Changed(int64_t shard_id);

  StoreContext* s_;
  uint32_t dim_;
  uint64_t budget_;
  std::vector<ShardInfo> shards_;
  std::vector<int64_t> row_ids_;
  std::vector<uint8_t> warm_;      // per record: 1 for a warm memory (its frames stay warm)
  std::vector<bool> live_;         // per record walked, garbage included
  std::vector<uint32_t> digests_;  // per shard, of the first walk (Walk)
  std::vector<float> vectors_;
  std::vector<size_t> ahead_;         // Open's ahead(n), in the order asked
  std::vector<float> ahead_vectors_;  // theirs, in that order
  bool held_ = false;
  uint64_t garbage_ = 0, walks_ = 0;
};

// fn for every frame of every shard, in shard_id and frame order. Each
// shard's row ids and vectors are checksummed (CRC-32C): a later walk that
// reads a shard otherwise than the first (a file replaced or damaged under
// the rebuild) fails once that shard is read, before anything is committed.
Status ColdSource::Walk(const Frame& fn) {
  const bool first = walks_++ == 0;
  for (size_t n = 0; n < shards_.size(); ++n) {
    const ShardInfo& info = shards_[n];
    uint32_t crc = 0;
    AETHER_ASSIGN_OR_RETURN(auto shard, s_->OpenShard(info, false));
    AETHER_RETURN_IF_ERROR(shard->Scan(info.file_bytes, [&](uint64_t offset, const DecodedFrame& f) {
      if (!held_) {  // held: read once
        crc = crc32c::Extend(crc, f.row_ids.data(), size_t(f.count) * sizeof(int64_t));
        crc = crc32c::Extend(crc, f.data(), size_t(f.count) * f.dim * sizeof(float));
      }
      return fn(info.shard_id, offset, f);
    }));
    if (first)
      digests_.push_back(crc);
    else if (digests_[n] != crc)
      return Changed(info.shard_id);
  }
  return Status::Ok();
}

Status ColdSource::Changed(int64_t shard_id) {
  return Status::Corruption(
      fmt::format("shard {} read differently on another pass of the rebuild (run verify)", shard_id));
}

// The memories' places, sorted, are walked beside the shards' records in
// the same order (a map of 10,000,000 of them took about a GiB).
Status ColdSource::Open(const std::function<std::vector<size_t>(size_t n)>& ahead) {
  std::vector<InShard> where;
  AETHER_RETURN_IF_ERROR(s_->tables_->memories.ForEachInShards([&](int64_t row_id, const Place& place) {
    where.push_back(
        InShard{place.shard_id, place.frame_offset, place.frame_index, row_id, place.warm(), place.in_shard()});
  }));
  std::sort(where.begin(), where.end(), [](const InShard& a, const InShard& b) {
    return std::tie(a.shard_id, a.frame_offset, a.frame_index, a.row_id) <
           std::tie(b.shard_id, b.frame_offset, b.frame_index, b.row_id);
  });
  held_ = uint64_t(where.size()) * dim_ * sizeof(float) <= budget_;
  std::vector<std::pair<size_t, size_t>> wanted;  // ahead_'s (record, place), by record
  if (!held_) {
    ahead_ = ahead(where.size());
    ahead_vectors_.resize(ahead_.size() * dim_);
    for (size_t j = 0; j < ahead_.size(); ++j) wanted.emplace_back(ahead_[j], j);
    std::sort(wanted.begin(), wanted.end());
  }
  size_t next = 0;
  row_ids_.reserve(where.size());
  warm_.reserve(where.size());
  if (held_) vectors_.reserve(where.size() * dim_);
  AETHER_ASSIGN_OR_RETURN(shards_, s_->tables_->shards.All());
  // All() orders them by shard_id; the walk depends on it.
  std::sort(shards_.begin(), shards_.end(),
            [](const ShardInfo& a, const ShardInfo& b) { return a.shard_id < b.shard_id; });
  size_t at = 0;  // the first memory whose place is not before the record being read
  AETHER_RETURN_IF_ERROR(Walk([&](int64_t shard_id, uint64_t offset, const DecodedFrame& f) {
    for (uint32_t i = 0; i < f.count; ++i) {
      const auto key = std::make_tuple(shard_id, int64_t(offset), int64_t(i));
      while (at < where.size() && where[at].key() < key) ++at;
      // Live when a memory placed here is this record's row.
      const InShard* live = nullptr;
      for (size_t j = at; j < where.size() && where[j].key() == key; ++j)
        if (where[j].in_shard && where[j].row_id == f.row_ids[i]) live = &where[j];
      live_.push_back(live != nullptr);
      if (!live) {
        ++garbage_;
        continue;
      }
      for (; next < wanted.size() && wanted[next].first == row_ids_.size(); ++next)
        std::copy_n(f.vector(i), dim_, ahead_vectors_.begin() + wanted[next].second * dim_);
      row_ids_.push_back(f.row_ids[i]);
      warm_.push_back(live->warm);
      if (held_) vectors_.insert(vectors_.end(), f.vector(i), f.vector(i) + dim_);
    }
    return Status::Ok();
  }));
  if (row_ids_.size() != where.size())
    return Status::Corruption(fmt::format("{} memories in shards in the metadata, {} found in the shards (run verify)",
                                          where.size(), row_ids_.size()));
  return Status::Ok();
}

Status ColdSource::ForEach(const Visit& visit) {
  if (held_) {
    for (size_t i = 0; i < size(); ++i) AETHER_RETURN_IF_ERROR(visit(i, vectors_.data() + i * dim_));
    return Status::Ok();
  }
  // The records the first walk found, in the same order: a shard that reads
  // otherwise now changed under the rebuild (damage), which stops it.
  uint64_t record = 0;
  size_t index = 0;
  int64_t last_shard = 0;
  AETHER_RETURN_IF_ERROR(Walk([&](int64_t shard_id, uint64_t, const DecodedFrame& f) {
    last_shard = shard_id;
    for (uint32_t i = 0; i < f.count; ++i, ++record) {
      if (record >= live_.size()) return Changed(shard_id);
      if (!live_[record]) continue;
      if (f.row_ids[i] != row_ids_[index]) return Changed(shard_id);
      AETHER_RETURN_IF_ERROR(visit(index++, f.vector(i)));
    }
    return Status::Ok();
  }));
  return record == live_.size() ? Status::Ok() : Changed(last_shard);
}

Status ColdSource::Runs(size_t rows, const std::function<void(size_t, const float*, size_t)>& fn) {
  if (held_) {
    for (size_t first = 0; first < size(); first += rows)
      fn(first, vectors_.data() + first * dim_, std::min(rows, size() - first));
    return Status::Ok();
  }
  std::vector<float> run;
  run.reserve(std::min(rows, size()) * dim_);
  size_t first = 0;
  AETHER_RETURN_IF_ERROR(ForEach([&](size_t, const float* v) {
    run.insert(run.end(), v, v + dim_);
    if (run.size() == rows * dim_) {
      fn(first, run.data(), rows);
      first += rows;
      run.clear();
    }
    return Status::Ok();
  }));
  if (!run.empty()) fn(first, run.data(), run.size() / dim_);
  return Status::Ok();
}

Result<std::vector<float>> ColdSource::Gather(const std::vector<size_t>& indices) {
  if (!held_ && !ahead_.empty() && indices == ahead_) {  // gathered by the first walk
    ahead_.clear();
    return std::move(ahead_vectors_);
  }
  std::vector<float> out(indices.size() * dim_);
  if (held_) {
    for (size_t j = 0; j < indices.size(); ++j)
      std::copy_n(vectors_.data() + indices[j] * dim_, dim_, out.begin() + j * dim_);
    return out;
  }
  std::vector<std::pair<size_t, size_t>> wanted;  // (record, place in out), by record
  wanted.reserve(indices.size());
  for (size_t j = 0; j < indices.size(); ++j) wanted.emplace_back(indices[j], j);
  std::sort(wanted.begin(), wanted.end());
  size_t next = 0;
  AETHER_RETURN_IF_ERROR(ForEach([&](size_t i, const float* v) {
    for (; next < wanted.size() && wanted[next].first == i; ++next)
      std::copy_n(v, dim_, out.begin() + wanted[next].second * dim_);
    return Status::Ok();
  }));
  return out;
}

}  // namespace

// The clustering: the kept centroids, or K-Means on a sample of the cold
// vectors (their directions, under cosine); and every cold record's
// partition (labels). Under cosine only the sample and a run at a time are
// normalized copies, never the whole cold set.
static Status Cluster(StoreContext* s, ColdSource* cold, uint32_t k, const std::vector<float>& kept,
                      const RebuildOptions& o, RebuildReport* rep, std::vector<float>* centroids,
                      std::vector<uint32_t>* labels) {
  const uint32_t dim = s->config_.dim;
  const size_t n = cold->size();
  const bool directions = s->config_.metric == Metric::kCosine;
  if (!kept.empty()) {
    *centroids = kept;
  } else {
    if (o.progress) o.progress("train", 0, rep->sample);
    KMeansOptions ko{k, o.iterations, o.max_points_per_centroid, o.seed, 0, directions};
    std::mt19937_64 rng(ko.seed);
    const std::vector<size_t> rows = SampleRows(n, ko, &rng);
    AETHER_ASSIGN_OR_RETURN(std::vector<float> sample, cold->Gather(rows));
    KMeansResult km = TrainOnSample(std::move(sample), rows.size(), dim, ko, &rng);
    rep->objective = km.objective;
    *centroids = std::move(km.centroids);
  }
  if (o.progress) o.progress("assign", 0, rep->cold_memories);
  labels->resize(n);
  return cold->Runs(cold->run_rows(), [&](size_t first, const float* v, size_t count) {
    if (directions)
      AssignNearestDirections(v, count, dim, centroids->data(), k, 0, labels->data() + first, count);
    else
      AssignNearest(v, count, dim, centroids->data(), k, 0, labels->data() + first);
  });
}

// One partition shard of the new generation, written and synced: the
// records `members` (indices into the cold source, ascending), the vector
// of members[j] at vector_of(j).
static Status WritePartition(StoreContext* s, const Migration& m, uint32_t p, const ColdSource& cold,
                             const std::vector<size_t>& members, const std::function<const float*(size_t)>& vector_of,
                             RebuildReport* rep) {
  const uint32_t dim = s->config_.dim;
  std::string path = s->Path(layout::PartitionPath(m.generation, p));
  AETHER_RETURN_IF_ERROR(ShardFile::Create(s->env_, path, dim, uint32_t(m.generation), p,
                                           /*sync=*/false));  // one sync below covers header and frames
  AETHER_ASSIGN_OR_RETURN(auto shard, ShardFile::Open(s->env_, path, dim, true));
  uint64_t at = ShardFile::kHeaderSize;
  // The cold members in frames of the store's codec, then the warm ones in
  // warm frames (kWarmCodec).
  for (const bool warm : {false, true}) {
    std::vector<size_t> tier;  // positions in members
    for (size_t j = 0; j < members.size(); ++j)
      if (bool(cold.warm()[members[j]]) == warm) tier.push_back(j);
    for (size_t b = 0; b < tier.size(); b += kMaxFrameRecords) {
      size_t e = std::min(tier.size(), b + kMaxFrameRecords);
      std::vector<int64_t> ids;
      std::vector<float> vecs;
      for (size_t j = b; j < e; ++j) {
        ids.push_back(cold.row_ids()[members[tier[j]]]);
        const float* v = vector_of(tier[j]);
        vecs.insert(vecs.end(), v, v + dim);
      }
      const uint32_t codec = s->FrameCodecOf(warm ? Tier::kWarm : Tier::kCold);
      AETHER_ASSIGN_OR_RETURN(std::string frame,
                              EncodeFrame(ids.data(), vecs.data(), uint32_t(ids.size()), dim, codec));
      AETHER_RETURN_IF_ERROR(shard->WriteAt(at, frame));
      at += frame.size();
    }
  }
  AETHER_RETURN_IF_ERROR(shard->Sync());
  rep->bytes_written += at;
  return Status::Ok();
}

// Every partition written: the vectors of as many partitions at a time as
// the memory budget holds (at least one), gathered by one pass over the
// cold source (none when it holds them all, or the partitions are empty).
static Status WritePartitions(StoreContext* s, const Migration& m, ColdSource* cold,
                              const std::vector<uint32_t>& labels, uint32_t k, const RebuildOptions& o,
                              RebuildReport* rep) {
  const uint32_t dim = s->config_.dim;
  std::vector<std::vector<size_t>> members(k);
  for (size_t i = 0; i < labels.size(); ++i) members[labels[i]].push_back(i);
  const uint64_t row_bytes = uint64_t(dim) * sizeof(float);
  for (uint32_t p0 = 0; p0 < k;) {
    uint32_t p1 = p0 + 1;
    uint64_t bytes = members[p0].size() * row_bytes;
    while (p1 < k && bytes + members[p1].size() * row_bytes <= o.memory_bytes)
      bytes += members[p1++].size() * row_bytes;
    std::vector<std::vector<float>> vectors(cold->held() ? 0 : p1 - p0);
    if (!cold->held() && bytes > 0) {  // a pass of empty partitions reads nothing
      for (uint32_t p = p0; p < p1; ++p) vectors[p - p0].reserve(members[p].size() * dim);
      AETHER_RETURN_IF_ERROR(cold->ForEach([&](size_t i, const float* v) {
        if (labels[i] >= p0 && labels[i] < p1)
          vectors[labels[i] - p0].insert(vectors[labels[i] - p0].end(), v, v + dim);
        return Status::Ok();
      }));
    }
    for (uint32_t p = p0; p < p1; ++p) {
      // The held vectors where they are; else this pass's, in members' order.
      auto vector_of = [&](size_t j) {
        return cold->held() ? cold->held_vectors() + members[p][j] * dim : vectors[p - p0].data() + j * dim;
      };
      AETHER_RETURN_IF_ERROR(WritePartition(s, m, p, *cold, members[p], vector_of, rep));
      if (p == k / 2) AETHER_FAULT_POINT("rebuild.mid_write");
      if (o.progress) o.progress("write", p + 1, k);
    }
    p0 = p1;
  }
  return Status::Ok();
}

// The calibration a rebuild runs (o.target_recall > 0).
static CalibrationOptions CalibrationOptionsOf(const RebuildOptions& o) {
  CalibrationOptions co;
  co.target = o.target_recall;
  co.seed = o.seed;
  return co;
}

// The long phase, under a shared store lock: clusters the cold tier and
// writes the new generation's partitions and centroids, every file and
// directory synced. Nothing committed refers to any of it yet.
static Status BuildGeneration(StoreContext* s, const Migration& m, ColdSource* cold, uint32_t k,
                              const std::vector<float>& kept, const RebuildOptions& o, RebuildReport* rep,
                              Calibration* cal) {
  std::vector<float> centroids;
  std::vector<uint32_t> labels;
  AETHER_RETURN_IF_ERROR(Cluster(s, cold, k, kept, o, rep, &centroids, &labels));
  if (o.target_recall > 0) {
    if (o.progress) o.progress("calibrate", 0, 0);
    const CalibrationOptions co = CalibrationOptionsOf(o);
    const VectorRuns runs = [&](const std::function<void(size_t, const float*, size_t)>& fn) {
      return cold->Runs(cold->run_rows(), fn);
    };
    const VectorGather gather = [&](const std::vector<size_t>& rows) { return cold->Gather(rows); };
    AETHER_ASSIGN_OR_RETURN(*cal, Calibrate(runs, gather, cold->size(), s->config_.dim, s->config_.metric,
                                            centroids.data(), k, labels.data(), co));
    rep->calibration = {cal->target, cal->k, cal->queries, cal->nprobe, cal->recall, cal->std_error, cal->seconds};
  }
  std::string gdir = s->Path(layout::GenerationDir(m.generation));
  AETHER_RETURN_IF_ERROR(s->env_->CreateDir(gdir));
  AETHER_RETURN_IF_ERROR(WritePartitions(s, m, cold, labels, k, o, rep));
  AETHER_RETURN_IF_ERROR(s->env_->SyncDir(gdir));
  AETHER_RETURN_IF_ERROR(s->env_->SyncDir(s->Path(layout::kColdDir)));
  Centroids c{s->config_.dim, k, uint32_t(m.generation), centroids};
  AETHER_RETURN_IF_ERROR(
      CentroidsFile::Write(s->env_, s->Path(layout::kIndexDir), layout::CentroidsName(m.generation), c));
  AETHER_FAULT_POINT("rebuild.after_sync");
  return Status::Ok();
}

// Half of the memory this process may use (the machine's, or its memory
// cgroup's tighter limit: a container's), at least a byte; 1 GiB when
// neither reads: what a rebuild holds of the cold vectors unless told
// (RebuildOptions::memory_bytes).
static uint64_t DefaultRebuildMemory() {
  const std::optional<uint64_t> limit = MemoryLimitBytes();
  return limit ? std::max<uint64_t>(1, *limit / 2) : uint64_t(1) << 30;
}

Result<RebuildReport> StoreImpl::RebuildIndex(const RebuildOptions& o) {
  if (!lock_->writer()) return Status::Internal("rebuild on a store opened read-only");
  if (!(o.target_recall >= 0 && o.target_recall <= 1))
    return Status::InvalidArgument(fmt::format("target recall {} is outside [0, 1]", o.target_recall));
  RebuildReport rep;
  if (o.codec && *o.codec != config_.codec) {
    rep.codec_changed = true;
    if (!o.dry_run) AETHER_RETURN_IF_ERROR(SetCodec(*o.codec));
  }
  rep.codec = o.codec ? *o.codec : config_.codec;
  RebuildOptions opt = o;
  if (opt.memory_bytes == 0) opt.memory_bytes = DefaultRebuildMemory();
  rep.memory_bytes = opt.memory_bytes;
  ColdSource cold(this, opt.memory_bytes);
  if (o.progress) o.progress("read", 0, 0);
  // The calibration's queries, when it will run, come with the first read.
  AETHER_RETURN_IF_ERROR(cold.Open([&](size_t n) {
    return !o.dry_run && o.target_recall > 0 ? CalibrationQueryRows(n, config_.dim, CalibrationOptionsOf(opt))
                                             : std::vector<size_t>();
  }));
  rep.cold_walks = cold.walks();
  rep.cold_memories = cold.size();
  rep.warm_memories = uint64_t(std::count(cold.warm().begin(), cold.warm().end(), uint8_t(1)));
  rep.garbage_dropped = cold.garbage();
  if (rep.cold_memories == 0) {
    rep.note = "the cold tier is empty: nothing to index";
    return rep;
  }
  uint32_t k = o.partitions ? o.partitions : DefaultPartitions(rep.cold_memories);
  AETHER_ASSIGN_OR_RETURN(const IndexView* current, index_->Current());
  std::vector<float> kept;  // keep_centroids: the current index's, reused as they are
  if (o.keep_centroids && !current)
    return Status::FailedPrecondition(
        "--keep-centroids: the store has no index whose centroids could be kept (rebuild-index without it trains "
        "one)");
  if (o.keep_centroids) {
    kept = current->centroids;
    k = current->k;
  } else if (k > rep.cold_memories) {
    rep.note = fmt::format("--partitions {} is more than the {} cold memories; using {}", k, rep.cold_memories,
                           rep.cold_memories);
    k = uint32_t(rep.cold_memories);
  }
  rep.partitions = k;
  rep.iterations = o.iterations;
  rep.sample = kept.empty() ? std::min<uint64_t>(rep.cold_memories, uint64_t(o.max_points_per_centroid) * k) : 0;
  if (!kept.empty()) rep.iterations = 0;
  if (o.dry_run) return rep;

  AETHER_ASSIGN_OR_RETURN(int64_t cur, tables_->config.IndexGeneration());
  AETHER_ASSIGN_OR_RETURN(int64_t max_gen, tables_->generations.Highest());
  Migration m;
  m.kind = "rebuild";
  m.old_generation = cur;
  m.partitions = k;
  // A number no committed generation has used and no entry in cold/ or
  // index/ has taken (what an earlier, discarded rebuild left stays there).
  m.generation = std::max<int64_t>(int64_t(cur), max_gen) + 1;
  while (env_->TypeOf(Path(layout::GenerationDir(m.generation))) != FileType::kMissing ||
         env_->TypeOf(Path(std::string(layout::kIndexDir) + "/" + layout::CentroidsName(m.generation))) !=
             FileType::kMissing)
    ++m.generation;
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(false));
  AETHER_ASSIGN_OR_RETURN(m.hot_slots_before, hot->SlotCount());
  m.created_ms = env_->NowMs();
  m.trace_id = trace_id_;
  Journal journal(db_.get());
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return journal.Insert(&m, {}, Journal::ItemLayout::kRows); }));
  AETHER_FAULT_POINT("rebuild.after_intent");
  // The long phase runs under a shared store lock: searches go on; other
  // writers are kept out by the writer lock this process still holds.
  AETHER_RETURN_IF_ERROR(lock_->SetMode(LockMode::kShared));

  Calibration cal;
  Status built = BuildGeneration(this, m, &cold, k, kept, opt, &rep, &cal);
  rep.cold_walks = cold.walks();
  // Back to exclusive for the switch (or for the rollback of a failure).
  // Readers may hold the lock a moment; after the long phase, wait for them
  // rather than fail.
  AETHER_RETURN_IF_ERROR(lock_->SetMode(LockMode::kExclusive, std::max(lock_->wait_seconds(), 600.0)));
  if (!built.ok()) {
    Status undo = migrator_->Replay();
    (void)undo;
    return built;
  }
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return journal.SetState(m, MigrationState::kWritten); }));
  AETHER_FAULT_POINT("rebuild.after_written");
  // The calibration is committed with the generation it measured.
  const CalibrationRow row{m.generation,          cal.target,    cal.k,
                           cal.queries,           cal.nprobe,    cal.recall,
                           cal.std_error,         env_->NowMs(), int64_t(cal.seconds * 1e6),
                           EncodeCurve(cal.curve)};
  AETHER_RETURN_IF_ERROR(migrator_->CommitRebuild(m, cal.nprobe > 0 ? &row : nullptr));
  AETHER_FAULT_POINT("rebuild.after_commit");
  AETHER_RETURN_IF_ERROR(migrator_->CleanupRebuild(m));
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return journal.Remove(m.id); }));
  FoldAccessLogOrNotice();  // what searches recorded during the build
  rep.generation = m.generation;
  return rep;
}

Result<RecallReport> StoreImpl::RecallCheck(uint64_t queries, uint64_t seed) {
  RecallReport rep;
  AETHER_ASSIGN_OR_RETURN(const IndexView* index, index_->Current());
  if (index) {
    AETHER_ASSIGN_OR_RETURN(rep.nprobe, NprobeOf(index->generation, index->k, SearchOptions{}));
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> rows, tables_->memories.ShardRowIds());
  std::mt19937_64 rng(seed);
  std::shuffle(rows.begin(), rows.end(), rng);
  rows.resize(std::min<size_t>(rows.size(), queries));
  if (rows.empty()) return rep;
  std::vector<std::vector<float>> qs;
  std::vector<std::string> own;  // each query's own memory, held out of its results (as the calibration does)
  for (int64_t r : rows) {
    AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.FindRow(r));
    if (!loc) return Status::Internal("memory vanished during the recall check");
    std::vector<float> v;
    AETHER_RETURN_IF_ERROR(ReadVector(*loc, &v));
    qs.push_back(std::move(v));
    own.push_back(loc->id);
  }
  const size_t k = rep.k;
  SearchOptions indexed;
  indexed.k = uint32_t(k + 1);  // room for the query itself
  indexed.tiers = TierFilter::kShards;
  indexed.nprobe = rep.nprobe;
  indexed.record_access = false;  // a measurement, not a use of the memories
  indexed.timeout_ms = 0;         // whole, whatever the store's search_timeout_ms
  SearchOptions exact = indexed;
  exact.nprobe = index ? index->k : 0;
  AETHER_ASSIGN_OR_RETURN(auto a, Search(qs, indexed));
  AETHER_ASSIGN_OR_RETURN(auto b, Search(qs, exact));
  // The first k of a list other than the query's own memory.
  auto others = [&](const std::vector<SearchHit>& hits, size_t q) {
    std::vector<std::string> out;
    for (const SearchHit& h : hits)
      if (h.id != own[q] && out.size() < k) out.push_back(h.id);
    return out;
  };
  double sum = 0;
  for (size_t q = 0; q < qs.size(); ++q) {
    std::set<std::string> truth;
    for (const std::string& id : others(b[q], q)) truth.insert(id);
    size_t hit = 0;
    for (const std::string& id : others(a[q], q)) hit += truth.count(id);
    sum += truth.empty() ? 1.0 : double(hit) / double(truth.size());
  }
  rep.queries = qs.size();
  rep.recall = sum / double(qs.size());
  return rep;
}

}  // namespace aether
