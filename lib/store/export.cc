// Export: every memory (or one tier's) with its vector, payload and
// metadata, each hot slot and each cold frame read once: the hot tier in
// slot order, then the cold tier shard by shard in file order.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "aether/jsonl.h"
#include "filter/filter.h"
#include "store/store_impl.h"

namespace aether {

Status StoreImpl::Export(const ExportOptions& o, const std::function<Status(const MemoryRecord&)>& fn) {
  // One read snapshot for the whole export: the listing, payloads and shard
  // rows it reads come from one state of meta.db, and SQLite's lock is
  // taken once rather than around each lookup (a third of an export's time
  // went to those fcntl round trips).
  //
  // Payloads are looked up in frame order, which is not meta.db's row order:
  // with SQLite's default 2 MB page cache most lookups read their page from
  // the file again (82,000 preads for 100,000 memories). A cache as large as
  // meta.db (at most 256 MB; pages are cached only as they are read) reads
  // each page once. The size it had comes back afterwards.
  AETHER_ASSIGN_OR_RETURN(int64_t pages, db_->QueryInt("PRAGMA page_count"));
  AETHER_ASSIGN_OR_RETURN(int64_t page_size, db_->QueryInt("PRAGMA page_size"));
  AETHER_ASSIGN_OR_RETURN(int64_t was, db_->QueryInt("PRAGMA cache_size"));  // pages, or -KiB
  const int64_t kib = std::min<int64_t>(pages * page_size / 1024 + 1, 256 * 1024);
  const bool larger = kib > (was < 0 ? -was : was * page_size / 1024);
  if (larger) AETHER_RETURN_IF_ERROR(db_->Exec(fmt::format("PRAGMA cache_size = -{}", kib)));
  Status s = InReadTransaction(db_.get(), [&] { return ExportInSnapshot(o, fn); });
  if (larger) {
    Status restored = db_->Exec(fmt::format("PRAGMA cache_size = {}", was));
    if (s.ok()) s = restored;
  }
  return s;
}

Status StoreImpl::ExportInSnapshot(const ExportOptions& o, const std::function<Status(const MemoryRecord&)>& fn) {
  struct Row {
    MemoryRef ref;
    MemoryStats stats;
  };
  std::optional<Filter> where;
  if (!o.where.empty()) {
    AETHER_ASSIGN_OR_RETURN(where, Filter::Parse(o.where));
  }
  const auto* pending = PendingOnce();  // one view of the access log for the whole export
  // A memory's record without its vector: what the filter sees (the
  // payload read only when the filter reads it, or to emit).
  auto record = [&](const Row& row, bool with_payload, MemoryRecord* rec) -> Status {
    rec->id = row.ref.id;
    rec->tier = row.ref.place.tier;
    rec->importance = row.stats.importance;
    rec->created_ms = row.stats.created_ms;
    rec->last_access_ms = row.stats.last_access_ms;
    rec->access_count = row.stats.access_count;
    rec->pinned = row.stats.pinned;
    AddPendingFrom(pending, row.ref.row_id, &rec->access_count, &rec->last_access_ms);
    if (!with_payload) return Status::Ok();
    // The payload and the access history in one lookup (a history that
    // does not decode, which verify reports, is exported as none).
    std::string stored;
    AETHER_ASSIGN_OR_RETURN(auto payload, tables_->memories.Payload(row.ref.row_id, &stored));
    AccessHistory h = HistoryWithPending(pending, row.ref.row_id, stored);
    rec->access_times = std::move(h.times);
    rec->access_times_older = h.older;
    if (payload) rec->payload_json = std::move(*payload);
    if (!rec->payload_json.empty() && !ValidPayload(rec->payload_json))
      return PayloadCorruption(rec->id, row.ref.row_id);
    return Status::Ok();
  };

  std::vector<Row> hot;
  std::map<int64_t, std::vector<Row>> cold;  // by shard
  Status bad;
  AETHER_RETURN_IF_ERROR(tables_->memories.ForEach([&](const MemoryRef& ref, const MemoryStats& stats) {
    if (!ref.place.hot() && !ref.place.in_shard()) {
      bad = UnknownTierCorruption(ref.id, ref.row_id, int64_t(ref.place.tier));
      return false;
    }
    if (o.tier && ref.place.tier != *o.tier) return true;
    if (where) {
      MemoryRecord rec;
      bad = record({ref, stats}, where->uses_payload(), &rec);
      if (!bad.ok()) return false;
      if (!where->Matches(rec)) return true;
    }
    (ref.place.hot() ? hot : cold[ref.place.shard_id]).push_back({ref, stats});
    return true;
  }));
  AETHER_RETURN_IF_ERROR(bad);

  uint64_t total = hot.size(), done = 0;
  for (const auto& [shard_id, rows] : cold) total += rows.size();
  auto emit = [&](const Row& row, const float* vector) -> Status {
    MemoryRecord rec;
    AETHER_RETURN_IF_ERROR(record(row, /*with_payload=*/true, &rec));
    rec.vector.assign(vector, vector + config_.dim);
    AETHER_RETURN_IF_ERROR(fn(rec));
    if (o.progress && (++done % 4096 == 0 || done == total)) o.progress(done, total);
    return Status::Ok();
  };

  if (!hot.empty()) {
    std::sort(hot.begin(), hot.end(), [](const Row& a, const Row& b) { return a.ref.place.slot < b.ref.place.slot; });
    AETHER_ASSIGN_OR_RETURN(auto file, OpenHot(/*writable=*/false));
    // In chunks: one pread per run of nearby slots rather than one per slot.
    constexpr size_t kChunk = 256;
    std::vector<int64_t> slots(kChunk), row_ids(kChunk);
    std::vector<float> v(kChunk * config_.dim);
    for (size_t first = 0; first < hot.size(); first += kChunk) {
      const size_t n = std::min(kChunk, hot.size() - first);
      for (size_t i = 0; i < n; ++i) {
        slots[i] = hot[first + i].ref.place.slot;
        row_ids[i] = hot[first + i].ref.row_id;
      }
      if (file->ReadRows(n, slots.data(), row_ids.data(), v.data()).ok()) {
        for (size_t i = 0; i < n; ++i) AETHER_RETURN_IF_ERROR(emit(hot[first + i], v.data() + i * config_.dim));
        continue;
      }
      // A damaged slot: this chunk again one slot at a time, so the rows
      // before it are written and the error names the memory, as ever.
      for (size_t i = 0; i < n; ++i) {
        AETHER_RETURN_IF_ERROR(ReadHotVector(file.get(), hot[first + i].ref, v.data()));
        AETHER_RETURN_IF_ERROR(emit(hot[first + i], v.data()));
      }
    }
  }
  for (auto& [shard_id, rows] : cold) {
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::make_pair(a.ref.place.frame_offset, a.ref.place.frame_index) <
             std::make_pair(b.ref.place.frame_offset, b.ref.place.frame_index);
    });
    AETHER_ASSIGN_OR_RETURN(ShardInfo info, tables_->shards.Get(shard_id));
    AETHER_ASSIGN_OR_RETURN(auto shard, OpenShard(info, /*writable=*/false));
    DecodedFrame frame;
    int64_t frame_at = -1;
    for (const Row& row : rows) {
      const Place& p = row.ref.place;
      if (p.frame_offset != frame_at) {
        AETHER_RETURN_IF_ERROR(shard->ReadFrame(uint64_t(p.frame_offset), &frame));
        frame_at = p.frame_offset;
      }
      AETHER_RETURN_IF_ERROR(CheckFrameHolds(shard->path(), frame, row.ref));
      AETHER_RETURN_IF_ERROR(emit(row, frame.vector(uint32_t(p.frame_index))));
    }
  }
  return Status::Ok();
}

}  // namespace aether
