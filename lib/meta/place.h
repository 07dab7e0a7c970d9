// Where a memory's vector is, the one spelling of it: the memories table, the
// journal's items, the replay, verify and the scan all use Place
// (format-spec/metadata_db.md, memories). Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "aether/options.h"

namespace aether {

// A hot slot, or record `frame_index` of the frame at byte `frame_offset` of
// shard `shard_id` (a cold or a warm memory: both tiers live in the shards).
// In the DB a tier is its frozen number (Tier: 0 hot, 1 cold, 2 warm); the
// fields of the other kind of place are NULL.
struct Place {
  Tier tier = Tier::kHot;
  int64_t slot = -1;     // hot
  int64_t shard_id = 0;  // cold
  int64_t frame_offset = 0;
  int64_t frame_index = 0;

  static Place Hot(int64_t slot) { return Place{Tier::kHot, slot, 0, 0, 0}; }
  static Place Cold(int64_t shard_id, int64_t frame_offset, int64_t frame_index) {
    return Shard(Tier::kCold, shard_id, frame_offset, frame_index);
  }
  // A record in a shard, of tier kCold or kWarm.
  static Place Shard(Tier tier, int64_t shard_id, int64_t frame_offset, int64_t frame_index) {
    return Place{tier, -1, shard_id, frame_offset, frame_index};
  }
  bool hot() const { return tier == Tier::kHot; }
  bool cold() const { return tier == Tier::kCold; }
  bool warm() const { return tier == Tier::kWarm; }
  bool in_shard() const { return cold() || warm(); }
  bool operator==(const Place& o) const {
    return tier == o.tier &&
           (hot() ? slot == o.slot
                  : shard_id == o.shard_id && frame_offset == o.frame_offset && frame_index == o.frame_index);
  }
  bool operator!=(const Place& o) const { return !(*this == o); }
  // The same slot, or the same record of a shard whatever its tier: what a
  // scan, which reads frames and not tiers, asks of a memory's place.
  bool SameRecord(const Place& o) const {
    return hot() ? o.hot() && slot == o.slot
                 : in_shard() && o.in_shard() && shard_id == o.shard_id && frame_offset == o.frame_offset &&
                       frame_index == o.frame_index;
  }
};

// A live memory: its internal row id (what slots and frames store), its
// external id, and its place.
struct MemoryRef {
  int64_t row_id = 0;
  std::string id;
  Place place;
};

// The DB's number for a tier, and back (false for a number that is neither).
constexpr int64_t TierCode(Tier t) { return static_cast<int64_t>(t); }
inline bool TierFromCode(int64_t code, Tier* out) {
  if (code != TierCode(Tier::kHot) && code != TierCode(Tier::kCold) && code != TierCode(Tier::kWarm)) return false;
  *out = static_cast<Tier>(code);
  return true;
}

}  // namespace aether
