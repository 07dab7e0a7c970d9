// verify: every checksum, and the metadata DB against the files. Shape:
//   1. SQLite's own integrity check, and an empty journal;
//   2. the memories table: each live memory has exactly one place;
//   3. hot.slots: every slot is live xor free, live slots pass their CRC and
//      hold the right row id;
//   4. each shard: header, every committed frame's CRC, each live record
//      found exactly where the DB says, garbage counted, counters match.
#include <fmt/format.h>

#include <map>
#include <set>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

struct Row {
  std::string id;
  int64_t tier;
  int64_t slot;
  int64_t shard_id;
  int64_t frame_offset;
  int64_t frame_index;
  bool found = false;
};

// What is wrong with a memories row (SELECT row_id, id, tier, slot,
// shard_id, frame_offset, frame_index, importance, created_ms,
// last_access_ms, access_count, payload), or "": every value a reader
// relies on, with its stored type.
std::string MemoryRowProblem(const Stmt& st) {
  using T = Stmt::Type;
  auto is_int = [&](int c) { return st.TypeOf(c) == T::kInteger; };
  if (st.TypeOf(1) != T::kText || st.Text(1).empty() || st.Text(1).size() > kMaxIdBytes) return "bad id";
  if (!is_int(2) || (st.Int(2) != kTierHot && st.Int(2) != kTierCold)) return "bad tier";
  if (st.Int(2) == kTierHot && (!is_int(3) || st.Int(3) < 0 || !st.IsNull(4)))
    return "a hot memory needs a slot and no shard";
  if (st.Int(2) == kTierCold &&
      (!st.IsNull(3) || !is_int(4) || !is_int(5) || !is_int(6) || st.Int(5) < 0 || st.Int(6) < 0))
    return "a cold memory needs a shard, a frame offset and an index, and no slot";
  const double importance = st.Double(7);
  if ((!is_int(7) && st.TypeOf(7) != T::kFloat) || !(importance >= 0 && importance <= 1)) return "bad importance";
  if (!is_int(8) || !is_int(9) || !is_int(10) || st.Int(10) < 0) return "bad access statistics";
  if (!st.IsNull(11) && (st.TypeOf(11) != T::kText || !ValidPayload(st.Text(11))))
    return "its payload is not valid JSON";
  return "";
}

}  // namespace

Result<VerifyReport> StoreImpl::Verify(const ProgressFn& progress) {
  VerifyReport rep;
  uint64_t total_bytes = 0;  // what steps 3 and 4 read, for progress
  auto report = [&] {
    if (progress) progress(rep.bytes_checked, total_bytes);
  };
  auto problem = [&](std::string p) { rep.problems.push_back(std::move(p)); };

  // 1. the DB itself and the journal
  AETHER_ASSIGN_OR_RETURN(Stmt check, db_->Prepare("PRAGMA integrity_check"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, check.Step());
    if (!row) break;
    if (check.Text(0) != "ok") problem(layout::kDbFile + std::string(": ") + check.Text(0));
  }
  AETHER_ASSIGN_OR_RETURN(int64_t pending, db_->QueryInt("SELECT COUNT(*) FROM migrations"));
  if (pending > 0 && !writer_lock_) {
    // A live writer (a rebuild in its long phase) owns its journal row.
    auto probe = env_->Lock(Path(layout::kWriterLockFile), LockMode::kExclusive, 0);
    if (probe.ok()) {
      problem(fmt::format("{} migrations are still in the journal", pending));
      // Name each row the replay would refuse (a checksum mismatch, a row
      // that contradicts the committed state).
      Journal journal(db_.get());
      AETHER_ASSIGN_OR_RETURN(std::vector<Migration> rows, journal.All());
      for (Migration& m : rows)
        if (Status s = CheckJournalRow(&m); !s.ok()) problem("journal: " + s.message());
    }
  }

  // 2. memories: one place each
  std::map<int64_t, Row> rows;
  std::map<int64_t, int64_t> slot_owner;
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> cold_owner;
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id, id, tier, slot, shard_id, frame_offset, "
                                                "frame_index, importance, created_ms, last_access_ms, "
                                                "access_count, payload FROM memories"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Row r{st.Text(1), st.Int(2), st.IsNull(3) ? -1 : st.Int(3), st.IsNull(4) ? 0 : st.Int(4), st.Int(5), st.Int(6)};
    int64_t row_id = st.Int(0);
    ++rep.memories;
    if (std::string bad = MemoryRowProblem(st); !bad.empty()) {
      problem(fmt::format("{}: memory '{}' (row {}): {}", layout::kDbFile, r.id, row_id, bad));
      r.tier = -1;  // reported; not looked for in the files
    }
    if (r.tier == kTierHot) {
      if (r.slot < 0)
        problem(fmt::format("memory '{}' is hot but has no slot", r.id));
      else if (!slot_owner.emplace(r.slot, row_id).second)
        problem(fmt::format("memory '{}' shares hot slot {} with row {}", r.id, r.slot, slot_owner[r.slot]));
    } else if (r.tier == kTierCold) {
      auto key = std::make_tuple(r.shard_id, r.frame_offset, r.frame_index);
      if (!cold_owner.emplace(key, row_id).second)
        problem(fmt::format("memory '{}' shares its cold record with row {}", r.id, cold_owner[key]));
    } else {
      problem(fmt::format("memory '{}' has unknown tier {}", r.id, r.tier));
    }
    rows.emplace(row_id, std::move(r));
  }

  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, AllShards());
  for (const ShardInfo& info : shards) total_bytes += info.file_bytes;

  // 3. the hot slot file
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> free_list, db_->QueryInts("SELECT slot FROM hot_free"));
  std::set<int64_t> free_slots(free_list.begin(), free_list.end());
  auto hot = OpenHot(false);
  if (!hot.ok()) {
    problem(hot.status().message());
  } else {
    AETHER_ASSIGN_OR_RETURN(uint64_t count, (*hot)->SlotCount());
    AETHER_ASSIGN_OR_RETURN(uint64_t bytes, env_->FileSize((*hot)->path()));
    if (bytes != SlotFile::SlotOffset(config_.dim, count))
      problem(fmt::format("{}: {} bytes of a torn slot at the end", layout::kHotFile,
                          bytes - SlotFile::SlotOffset(config_.dim, count)));
    rep.hot_slots = count;
    rep.free_slots = free_slots.size();
    total_bytes += SlotFile::SlotSize(config_.dim) * count;
    std::vector<float> vec(config_.dim);
    int64_t row_id_unused = 0;
    AETHER_ASSIGN_OR_RETURN(uint64_t in_use, HotSlotsInUse());
    if (count < in_use)
      problem(fmt::format("{}: holds {} slots, but committed memories use {} (truncated?)", layout::kHotFile, count,
                          in_use));
    for (uint64_t s = 0; s < count; ++s) {
      auto owner = slot_owner.find(int64_t(s));
      bool is_free = free_slots.count(int64_t(s)) > 0;
      if (owner == slot_owner.end()) {
        if (!is_free) problem(fmt::format("{}: slot {} is neither live nor free (leaked)", layout::kHotFile, s));
        // A free slot's bytes matter to no one, but damage is damage (and a
        // search, which checks every slot it scans, reports it too).
        else if (Status read = (*hot)->ReadSlot(s, &row_id_unused, vec.data()); !read.ok())
          problem(read.message() + " (a free slot)");
        continue;
      }
      Row& r = rows[owner->second];
      if (is_free) problem(fmt::format("{}: slot {} is free but holds live memory '{}'", layout::kHotFile, s, r.id));
      int64_t row_id = 0;
      Status read = (*hot)->ReadSlot(s, &row_id, vec.data());
      rep.bytes_checked += SlotFile::SlotSize(config_.dim);
      if (!read.ok())
        problem(read.message() + " (memory '" + r.id + "')");
      else if (row_id != owner->second)
        problem(fmt::format("{}: slot {} holds row {}, but memory '{}' is row {}", layout::kHotFile, s, row_id, r.id,
                            owner->second));
      else
        r.found = true;
      if ((s & 4095) == 4095) report();
    }
    for (int64_t s : free_slots)
      if (uint64_t(s) >= count) problem(fmt::format("free slot {} is past the end of {}", s, layout::kHotFile));
  }

  // 4. the cold shards
  for (const ShardInfo& info : shards) {
    auto shard = OpenShard(info, false);
    if (!shard.ok()) {
      problem(shard.status().message());
      continue;
    }
    AETHER_ASSIGN_OR_RETURN(uint64_t size, (*shard)->Size());
    if (size != info.file_bytes)
      problem(fmt::format("{}: file is {} bytes, its committed length is {}", info.path, size, info.file_bytes));
    uint64_t records = 0, live = 0;
    Status scanned = (*shard)->Scan(std::min(size, info.file_bytes), [&](uint64_t off, const DecodedFrame& f) {
      ++rep.frames;
      for (uint32_t i = 0; i < f.count; ++i) {
        ++records;
        auto owner = cold_owner.find(std::make_tuple(info.shard_id, int64_t(off), int64_t(i)));
        if (owner != cold_owner.end() && owner->second == f.row_ids[i]) {
          ++live;
          rows[owner->second].found = true;
        }
      }
      return Status::Ok();
    });
    if (!scanned.ok()) problem(scanned.message());
    rep.cold_records += records;
    rep.garbage_records += records - live;
    rep.bytes_checked += std::min(size, info.file_bytes);
    report();
    if (scanned.ok() && (records != info.records || live != info.live))
      problem(fmt::format("{}: holds {} records ({} live), the metadata says {} ({} live)", info.path, records, live,
                          info.records, info.live));
  }
  // 5. the current index generation's centroids
  if (auto index = CurrentIndex(); !index.ok()) problem(index.status().message());

  for (const auto& [row_id, r] : rows) {
    if (r.found || (r.tier != kTierHot && r.tier != kTierCold)) continue;
    if (r.tier == kTierHot)
      problem(fmt::format("memory '{}' (row {}): hot slot {} missing or damaged", r.id, row_id, r.slot));
    else
      problem(fmt::format("memory '{}' (row {}): not found in shard {} frame at offset {} index {}", r.id, row_id,
                          r.shard_id, r.frame_offset, r.frame_index));
  }
  return rep;
}

}  // namespace aether
