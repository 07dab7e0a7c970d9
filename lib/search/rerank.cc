#include "search/rerank.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>

#include "cold/shard_file.h"
#include "env/parallel.h"

namespace aether {
namespace {

// The batch's distinct candidate places, in file order, with their liveness
// and (once read) their full-precision rows.
struct Gathered {
  std::vector<int64_t> tags;  // sorted by (shard, frame offset, index)
  std::unordered_map<int64_t, size_t> pos;
  std::vector<char> alive;
  std::vector<std::pair<size_t, size_t>> frames;  // [begin, end) of tags in one frame
  std::vector<float> rows;                        // tags.size() x dim
};

Status Gather(const ScanContext& c, const std::vector<std::vector<Candidate>>& approx, const PlaceTable& places,
              Liveness* live, Gathered* g) {
  for (const auto& cands : approx)
    for (const Candidate& cand : cands) g->tags.push_back(cand.row_id);
  std::sort(g->tags.begin(), g->tags.end());
  g->tags.erase(std::unique(g->tags.begin(), g->tags.end()), g->tags.end());
  std::sort(g->tags.begin(), g->tags.end(), [&](int64_t a, int64_t b) {
    const FramePlace &x = places.At(a), &y = places.At(b);
    return std::tie(x.place.shard_id, x.place.frame_offset, x.place.frame_index) <
           std::tie(y.place.shard_id, y.place.frame_offset, y.place.frame_index);
  });
  g->alive.resize(g->tags.size());
  for (size_t i = 0; i < g->tags.size(); ++i) {
    g->pos[g->tags[i]] = i;
    const FramePlace& p = places.At(g->tags[i]);
    AETHER_ASSIGN_OR_RETURN(bool ok, live->ColdLive(p.row_id, p.place));
    g->alive[i] = ok;
  }
  for (size_t i = 0; i < g->tags.size();) {
    size_t j = i + 1;
    const FramePlace& first = places.At(g->tags[i]);
    while (j < g->tags.size() && places.At(g->tags[j]).place.shard_id == first.place.shard_id &&
           places.At(g->tags[j]).place.frame_offset == first.place.frame_offset)
      ++j;
    g->frames.emplace_back(i, j);
    i = j;
  }
  g->rows.resize(g->tags.size() * c.dim);
  return Status::Ok();
}

// Reads the live rows of one frame's candidates into g->rows.
class FrameReader {
 public:
  FrameReader(const ScanContext& c, const PlaceTable& places, const std::vector<ShardScan>& shards, Gathered* g)
      : c_(c), places_(places), shards_(shards), g_(g) {}

  Status Read(size_t begin, size_t end) {
    indexes_.clear();
    row_ids_.clear();
    for (size_t i = begin; i < end; ++i)
      if (g_->alive[i]) {
        indexes_.push_back(uint32_t(places_.At(g_->tags[i]).place.frame_index));
        row_ids_.push_back(places_.At(g_->tags[i]).row_id);
      }
    if (indexes_.empty()) return Status::Ok();
    const FramePlace& p = places_.At(g_->tags[begin]);
    // One shard open at a time (reopened when the next run is in another):
    // a batch's candidates lie in thousands of partitions, past the usual
    // descriptor limit of 1,024 were each kept open.
    std::unique_ptr<ShardFile>& file = file_;
    if (!file || open_shard_ != p.place.shard_id) {
      file.reset();
      auto shard = std::find_if(shards_.begin(), shards_.end(),
                                [&](const ShardScan& s) { return s.shard_id == p.place.shard_id; });
      if (shard == shards_.end()) return Status::Internal("re-rank candidate in an unknown shard");
      AETHER_ASSIGN_OR_RETURN(file, ShardFile::OpenNamed(c_.env, shard->path, c_.dim));
      open_shard_ = p.place.shard_id;
    }
    buffer_.resize(indexes_.size() * c_.dim);
    AETHER_RETURN_IF_ERROR(file->ReadFullRows(uint64_t(p.place.frame_offset), indexes_.size(), indexes_.data(),
                                              row_ids_.data(), buffer_.data()));
    for (size_t i = begin, k = 0; i < end; ++i)
      if (g_->alive[i]) std::copy_n(buffer_.data() + c_.dim * k++, c_.dim, g_->rows.data() + i * c_.dim);
    return Status::Ok();
  }

 private:
  const ScanContext& c_;
  const PlaceTable& places_;
  const std::vector<ShardScan>& shards_;
  Gathered* g_;
  std::unique_ptr<ShardFile> file_;
  int64_t open_shard_ = 0;
  std::vector<uint32_t> indexes_;
  std::vector<int64_t> row_ids_;
  std::vector<float> buffer_;
};

}  // namespace

Status Rerank(const ScanContext& c, const std::vector<std::vector<Candidate>>& approx, const PlaceTable& places,
              const std::vector<ShardScan>& shards, Liveness* live, size_t threads, std::vector<TopK>* tops) {
  Gathered g;
  AETHER_RETURN_IF_ERROR(Gather(c, approx, places, live, &g));
  if (g.tags.empty()) return Status::Ok();
  const size_t workers = std::min(threads, g.frames.size());
  std::vector<std::unique_ptr<FrameReader>> readers;
  for (size_t w = 0; w < workers; ++w) readers.push_back(std::make_unique<FrameReader>(c, places, shards, &g));
  AETHER_RETURN_IF_ERROR(ParallelFor(g.frames.size(), workers, [&](size_t f, size_t w) {
    return readers[w]->Read(g.frames[f].first, g.frames[f].second);
  }));
  for (size_t q = 0; q < approx.size(); ++q)
    for (const Candidate& cand : approx[q]) {
      const size_t i = g.pos[cand.row_id];
      if (g.alive[i])
        (*tops)[q].Push(Candidate{c.Exact(uint32_t(q), g.rows.data() + i * c.dim), places.At(cand.row_id).row_id});
    }
  return Status::Ok();
}

}  // namespace aether
