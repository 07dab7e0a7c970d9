// verify: every checksum, and the metadata DB against the files. Shape:
//   1. SQLite's own integrity check, and an empty journal;
//   2. the memories table: each live memory has exactly one place;
//   3. hot.slots: every slot is live xor free, live slots pass their CRC and
//      hold the right row id;
//   4. each shard: header, every committed frame's CRC, each live record
//      found exactly where the DB says, garbage counted, counters match
//      (and the staging shard's row is there);
//   5. the current index generation: its centroids, its recall calibration.
#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "policy/access_pattern.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

constexpr int64_t kHotCode = TierCode(Tier::kHot), kColdCode = TierCode(Tier::kCold), kWarmCode = TierCode(Tier::kWarm);

// A memories row as verify follows it: its place, when the row is sane
// (else it is reported and not looked for in the files).
struct Row {
  std::string id;
  std::optional<Place> place;
  bool found = false;
};

// What is wrong with a memories row (SELECT row_id, id, tier, slot,
// shard_id, frame_offset, frame_index, importance, created_ms,
// last_access_ms, access_count, payload), or "": every value a reader
// relies on, with its stored type. Warm memories exist from format 5.
std::string MemoryRowProblem(const Stmt& st, uint32_t format_version) {
  using T = Stmt::Type;
  auto is_int = [&](int c) { return st.TypeOf(c) == T::kInteger; };
  if (st.TypeOf(1) != T::kText || st.Text(1).empty() || st.Text(1).size() > kMaxIdBytes) return "bad id";
  if (!is_int(2) || (st.Int(2) != kHotCode && st.Int(2) != kColdCode && st.Int(2) != kWarmCode)) return "bad tier";
  if (st.Int(2) == kWarmCode && format_version < 5) return "a warm memory in a store of format version 4 or older";
  if (st.Int(2) == kHotCode && (!is_int(3) || st.Int(3) < 0 || !st.IsNull(4)))
    return "a hot memory needs a slot and no shard";
  if (st.Int(2) != kHotCode &&
      (!st.IsNull(3) || !is_int(4) || !is_int(5) || !is_int(6) || st.Int(5) < 0 || st.Int(6) < 0))
    return "a cold or warm memory needs a shard, a frame offset and an index, and no slot";
  const double importance = st.Double(7);
  if ((!is_int(7) && st.TypeOf(7) != T::kFloat) || !(importance >= 0 && importance <= 1)) return "bad importance";
  if (!is_int(8) || !is_int(9) || !is_int(10) || st.Int(10) < 0) return "bad access statistics";
  if (!st.IsNull(11) && (st.TypeOf(11) != T::kText || !ValidPayload(st.Text(11))))
    return "its payload is not valid JSON";
  return "";
}

}  // namespace

// One verify run: the steps of the shape above share what the metadata
// says (each memory's place, who owns each slot and record) and the report.
class Verifier {
 public:
  Verifier(StoreImpl* s, const ProgressFn& progress) : s_(s), progress_(progress) {}
  Result<VerifyReport> Run();

 private:
  void Problem(std::string p) { rep_.problems.push_back(std::move(p)); }
  void Report() {
    if (progress_) progress_(rep_.bytes_checked, total_bytes_);
  }
  Status CheckDb();
  Status CheckMemories();
  Status CheckHotFile();
  Status CheckSlot(SlotFile* hot, uint64_t s, bool is_free);
  Status CheckShard(const ShardInfo& info);
  void CheckCalibration(const IndexView& index);
  void ReportMissing();

  StoreImpl* s_;
  ProgressFn progress_;
  VerifyReport rep_;
  uint64_t total_bytes_ = 0;  // what the file steps read, for progress
  std::map<int64_t, Row> rows_;
  std::map<int64_t, int64_t> slot_owner_;
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> cold_owner_;
};

Result<VerifyReport> StoreImpl::Verify(const ProgressFn& progress) { return Verifier(this, progress).Run(); }

Result<VerifyReport> Verifier::Run() {
  AETHER_RETURN_IF_ERROR(CheckDb());
  AETHER_RETURN_IF_ERROR(CheckMemories());
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, s_->tables_->shards.All());
  // Every store has one (init makes it; a rebuild empties it, keeping the
  // row): searches refuse a store without it, staged memories or not.
  if (std::string bad = StoreImpl::StagingRowProblem(shards); !bad.empty())
    Problem(fmt::format("{}: {}", layout::kDbFile, bad));
  for (const ShardInfo& info : shards) total_bytes_ += info.file_bytes;
  AETHER_RETURN_IF_ERROR(CheckHotFile());
  // A cold tier in a bucket: each object a shard's row names is there, as
  // long; the shards themselves are read below through the bucket's cache.
  AETHER_RETURN_IF_ERROR(s_->ColdObjectProblems(&rep_.problems));
  for (const ShardInfo& info : shards) AETHER_RETURN_IF_ERROR(CheckShard(info));
  // 5. the current index generation's centroids, and its recall calibration
  if (auto index = s_->index_->Current(); !index.ok()) {
    Problem(index.status().message());
  } else if (*index) {
    CheckCalibration(**index);
  }
  ReportMissing();
  return rep_;
}

// 5. What the default nprobe and search --recall read: the generation's
// calibration row (none: the formula's default), its nprobe within the
// generation's partitions, its curve decodable and not empty.
void Verifier::CheckCalibration(const IndexView& index) {
  auto cal = s_->tables_->calibration.Get(index.generation);
  if (!cal.ok()) return Problem(fmt::format("{}: {}", layout::kDbFile, cal.status().message()));
  if (!*cal) return;
  const CalibrationRow& row = **cal;
  if (row.nprobe > index.k)
    Problem(
        fmt::format("{}: index_calibration of generation {}: nprobe {} is more than its {} partitions (run "
                    "aether rebuild-index)",
                    layout::kDbFile, index.generation, row.nprobe, index.k));
  if (auto curve = StoreImpl::CurveOf(row); !curve.ok())
    Problem(fmt::format("{}: {}", layout::kDbFile, curve.status().message()));
}

// 1. the DB itself and the journal
Status Verifier::CheckDb() {
  AETHER_ASSIGN_OR_RETURN(Stmt check, s_->db_->Prepare("PRAGMA integrity_check"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, check.Step());
    if (!row) break;
    if (check.Text(0) != "ok") Problem(layout::kDbFile + std::string(": ") + check.Text(0));
  }
  AETHER_ASSIGN_OR_RETURN(uint64_t pending, Journal(s_->db_.get()).Count());
  if (pending == 0 || s_->lock_->writer()) return Status::Ok();
  // A live writer (a rebuild in its long phase) owns its journal row.
  auto probe = s_->env_->Lock(s_->Path(layout::kWriterLockFile), LockMode::kExclusive, 0);
  if (!probe.ok()) return Status::Ok();
  Problem(fmt::format("{} migrations are still in the journal", pending));
  // Name each row the replay would refuse (a checksum mismatch, a row that
  // contradicts the committed state).
  Journal journal(s_->db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<Migration> rows, journal.All());
  for (Migration& m : rows)
    if (Status st = s_->migrator_->CheckJournalRow(&m); !st.ok()) Problem("journal: " + st.message());
  return Status::Ok();
}

// 2. memories: sane rows, one place each
Status Verifier::CheckMemories() {
  return s_->tables_->memories.ForEachRaw([&](const Stmt& st) -> Status {
    Row r{st.Text(1), std::nullopt};
    int64_t row_id = st.Int(0);
    ++rep_.memories;
    if (std::string bad = MemoryRowProblem(st, s_->format_version_); !bad.empty()) {
      Problem(fmt::format("{}: memory '{}' (row {}): {}", layout::kDbFile, r.id, row_id, bad));
    } else if (st.Int(2) == kHotCode) {
      r.place = Place::Hot(st.Int(3));
      if (!slot_owner_.emplace(r.place->slot, row_id).second)
        Problem(
            fmt::format("memory '{}' shares hot slot {} with row {}", r.id, r.place->slot, slot_owner_[r.place->slot]));
    } else {
      r.place = Place::Shard(static_cast<Tier>(st.Int(2)), st.Int(4), st.Int(5), st.Int(6));
      auto key = std::make_tuple(r.place->shard_id, r.place->frame_offset, r.place->frame_index);
      if (!cold_owner_.emplace(key, row_id).second)
        Problem(fmt::format("memory '{}' shares its cold record with row {}", r.id, cold_owner_[key]));
    }
    // A bad mark reads as not pinned; the row's place still stands.
    if (!st.IsNull(12) && !(st.TypeOf(12) == Stmt::Type::kInteger && st.Int(12) == 1))
      Problem(fmt::format("{}: memory '{}' (row {}): bad pinned mark (NULL or 1)", layout::kDbFile, r.id, row_id));
    // A history that does not decode reads as none, and the next access
    // starts it again.
    if (!st.IsNull(13) && (st.TypeOf(13) != Stmt::Type::kBlob || !DecodeHistory(st.Blob(13))))
      Problem(fmt::format("{}: memory '{}' (row {}): damaged access_times (format-spec/metadata_db.md)",
                          layout::kDbFile, r.id, row_id));
    rows_.emplace(row_id, std::move(r));
    return Status::Ok();
  });
}

// 3. the hot slot file: every slot live xor free, each passing its checksum
Status Verifier::CheckHotFile() {
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> free_list, s_->tables_->hot_free.All());
  std::set<int64_t> free_slots(free_list.begin(), free_list.end());
  auto hot = s_->OpenHot(false);
  if (!hot.ok()) {
    Problem(hot.status().message());
    return Status::Ok();
  }
  const uint32_t dim = s_->config_.dim;
  AETHER_ASSIGN_OR_RETURN(uint64_t count, (*hot)->SlotCount());
  AETHER_ASSIGN_OR_RETURN(uint64_t bytes, s_->env_->FileSize((*hot)->path()));
  if (bytes != SlotFile::SlotOffset(dim, count))
    Problem(fmt::format("{}: {} bytes of a torn slot at the end", layout::kHotFile,
                        bytes - SlotFile::SlotOffset(dim, count)));
  rep_.hot_slots = count;
  rep_.free_slots = free_slots.size();
  total_bytes_ += SlotFile::SlotSize(dim) * count;
  AETHER_ASSIGN_OR_RETURN(uint64_t in_use, s_->HotSlotsInUse());
  if (count < in_use)
    Problem(
        fmt::format("{}: holds {} slots, but committed memories use {} (truncated?)", layout::kHotFile, count, in_use));
  for (uint64_t slot = 0; slot < count; ++slot) {
    AETHER_RETURN_IF_ERROR(CheckSlot(hot->get(), slot, free_slots.count(int64_t(slot)) > 0));
    if ((slot & 4095) == 4095) Report();
  }
  for (int64_t slot : free_slots)
    if (uint64_t(slot) >= count) Problem(fmt::format("free slot {} is past the end of {}", slot, layout::kHotFile));
  return Status::Ok();
}

Status Verifier::CheckSlot(SlotFile* hot, uint64_t s, bool is_free) {
  std::vector<float> vec(s_->config_.dim);
  int64_t row_id = 0;
  auto owner = slot_owner_.find(int64_t(s));
  if (owner == slot_owner_.end()) {
    if (!is_free) Problem(fmt::format("{}: slot {} is neither live nor free (leaked)", layout::kHotFile, s));
    // A free slot's bytes matter to no one, but damage is damage (and a
    // search, which checks every slot it scans, reports it too).
    else if (Status read = hot->ReadSlot(s, &row_id, vec.data()); !read.ok())
      Problem(read.message() + " (a free slot)");
    return Status::Ok();
  }
  Row& r = rows_[owner->second];
  if (is_free) Problem(fmt::format("{}: slot {} is free but holds live memory '{}'", layout::kHotFile, s, r.id));
  Status read = hot->ReadSlot(s, &row_id, vec.data());
  rep_.bytes_checked += SlotFile::SlotSize(s_->config_.dim);
  if (!read.ok())
    Problem(read.message() + " (memory '" + r.id + "')");
  else if (row_id != owner->second)
    Problem(fmt::format("{}: slot {} holds row {}, but memory '{}' is row {}", layout::kHotFile, s, row_id, r.id,
                        owner->second));
  else
    r.found = true;
  return Status::Ok();
}

// 4. a shard: header, every committed frame's CRC, each live record found
// exactly where the metadata says, garbage counted, counters matching
Status Verifier::CheckShard(const ShardInfo& info) {
  auto shard = s_->OpenShard(info, false);
  if (!shard.ok()) {
    Problem(shard.status().message());
    return Status::Ok();
  }
  AETHER_ASSIGN_OR_RETURN(uint64_t size, (*shard)->Size());
  if (size != info.file_bytes)
    Problem(fmt::format("{}: file is {} bytes, its committed length is {}", info.path, size, info.file_bytes));
  uint64_t records = 0, live = 0;
  Status scanned = (*shard)->Scan(std::min(size, info.file_bytes), [&](uint64_t off, const DecodedFrame& f) {
    ++rep_.frames;
    bool warm = false, cold = false;  // live records of each tier in the frame
    for (uint32_t i = 0; i < f.count; ++i) {
      ++records;
      auto owner = cold_owner_.find(std::make_tuple(info.shard_id, int64_t(off), int64_t(i)));
      if (owner != cold_owner_.end() && owner->second == f.row_ids[i]) {
        ++live;
        Row& row = rows_[owner->second];
        row.found = true;
        (row.place->warm() ? warm : cold) = true;
      }
    }
    // Warm frames: codec 4 (float32), and of the warm tier alone (cold_shard.md, Rules).
    if (warm && f.codec != kWarmCodec)
      Problem(fmt::format("{}: the frame at offset {} holds warm memories in codec {} (a warm frame is codec {})",
                          info.path, off, f.codec, kWarmCodec));
    if (warm && cold)
      Problem(fmt::format("{}: the frame at offset {} holds live memories of both the warm and the cold tier",
                          info.path, off));
    return Status::Ok();
  });
  if (!scanned.ok()) Problem(scanned.message());
  rep_.cold_records += records;
  rep_.garbage_records += records - live;
  rep_.bytes_checked += std::min(size, info.file_bytes);
  Report();
  if (scanned.ok() && (records != info.records || live != info.live))
    Problem(fmt::format("{}: holds {} records ({} live), the metadata says {} ({} live)", info.path, records, live,
                        info.records, info.live));
  return Status::Ok();
}

// Every memory the metadata places in a file where the file does not hold it.
void Verifier::ReportMissing() {
  for (const auto& [row_id, r] : rows_) {
    if (r.found || !r.place) continue;
    const Place& p = *r.place;
    if (p.hot())
      Problem(fmt::format("memory '{}' (row {}): hot slot {} missing or damaged", r.id, row_id, p.slot));
    else
      Problem(fmt::format("memory '{}' (row {}): not found in shard {} frame at offset {} index {}", r.id, row_id,
                          p.shard_id, p.frame_offset, p.frame_index));
  }
}

}  // namespace aether
