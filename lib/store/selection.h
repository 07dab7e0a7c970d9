// A filtered search's selection (search --where, README "Filtered
// search"): the live memories of the searched tiers that the filter
// matches, read from the metadata in the search's snapshot, each with its
// place. It answers the scan's questions without SQLite: a record is a
// candidate only when its row id is selected and the selection places it
// exactly where the record was read.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "meta/place.h"

namespace aether {

class Selection {
 public:
  // Adds a selected memory (any order); Seal before anything else.
  void Add(MemoryRef m) { rows_.push_back(std::move(m)); }
  // Orders the rows by place (hot by slot, then cold by shard, frame offset
  // and index: file order) and indexes them by row id.
  void Seal();

  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  const std::vector<MemoryRef>& rows() const { return rows_; }
  size_t hot() const { return hot_; }  // rows_[0, hot) are hot
  // The selected memory with this row id, or nullptr. Thread-safe, O(1).
  const MemoryRef* Find(int64_t row_id) const {
    if (!dense_.empty()) {
      const uint64_t at = uint64_t(row_id) - uint64_t(base_);
      return at < dense_.size() && dense_[at] ? &rows_[dense_[at] - 1] : nullptr;
    }
    auto it = sparse_.find(row_id);
    return it == sparse_.end() ? nullptr : &rows_[it->second];
  }
  // True when `place` (read from a file) is where a selected memory is.
  bool HoldsAt(int64_t row_id, const Place& place) const {
    const MemoryRef* m = Find(row_id);
    return m != nullptr && m->place.SameRecord(place);
  }
  // How many selected memories shard `shard_id` holds.
  uint64_t InShard(int64_t shard_id) const {
    auto it = std::lower_bound(shards_.begin(), shards_.end(), std::make_pair(shard_id, uint64_t(0)));
    return it != shards_.end() && it->first == shard_id ? it->second : 0;
  }
  // What reading the selected vectors costs, in vectors read (the plan's
  // estimate, set by whoever selected them): each hot one; each cold frame
  // that holds one, whole when it is lossless (it is decoded whole).
  uint64_t read_cost = 0;

 private:
  std::vector<MemoryRef> rows_;
  size_t hot_ = 0;
  // Row id -> index + 1 (0: not selected) over [base_, base_ + size), when
  // the row ids are dense enough; else sparse_ (row id -> index).
  int64_t base_ = 0;
  std::vector<uint32_t> dense_;
  std::unordered_map<int64_t, size_t> sparse_;
  std::vector<std::pair<int64_t, uint64_t>> shards_;  // shard id, selected in it; ascending
};

}  // namespace aether
