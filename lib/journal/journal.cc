#include "journal/journal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "aether/options.h"
#include "format/coding.h"
#include "format/crc32c.h"

namespace aether {

const char* StateName(MigrationState s) {
  switch (s) {
    case MigrationState::kIntent:
      return "intent";
    case MigrationState::kWritten:
      return "written";
    case MigrationState::kCommitted:
      return "committed";
  }
  return "unknown";
}

std::string Describe(const Migration& m) {
  return fmt::format("migration {} ({}, {})", m.id, m.kind, StateName(m.state));
}

namespace {

bool KnownKind(const std::string& kind) {
  return kind == "ingest" || kind == "descend" || kind == "ascend" || kind == "rebuild" || kind == "scrub" ||
         kind == "compact" || kind == "rewrite" || kind == "unstage";
}

bool KnownState(MigrationState s) {
  return s == MigrationState::kIntent || s == MigrationState::kWritten || s == MigrationState::kCommitted;
}

// The checksum's encoding (format-spec/journal.md, "Checksums"): every
// column as it is stored, NULLs as the values Items() reads them back as.
void PutI64(std::string* out, int64_t v) { PutFixed64(out, static_cast<uint64_t>(v)); }
void PutStr(std::string* out, const std::string& v) {
  PutFixed32(out, static_cast<uint32_t>(v.size()));
  out->append(v);
}
// A place as stored: the tier's raw number (a damaged one included), the
// other fields as they read back from NULL.
void PutPlace(std::string* out, int64_t tier, int64_t slot, int64_t shard_id, int64_t frame_offset,
              int64_t frame_index) {
  PutI64(out, tier);
  PutI64(out, slot >= 0 ? slot : -1);
  PutI64(out, shard_id);
  PutI64(out, shard_id != 0 ? frame_offset : 0);
  PutI64(out, shard_id != 0 ? frame_index : 0);
}
void PutPlace(std::string* out, const Place& p) {
  PutPlace(out, TierCode(p.tier), p.slot, p.shard_id, p.frame_offset, p.frame_index);
}

void EncodeItem(std::string* out, const MigrationItem& it) {
  PutI64(out, it.row_id);
  PutStr(out, it.id);
  if (it.src)
    PutPlace(out, *it.src);
  else
    PutPlace(out, -1, -1, 0, 0, 0);
  PutPlace(out, it.dst);
  uint64_t bits;
  std::memcpy(&bits, &it.importance, 8);
  PutFixed64(out, bits);
  out->push_back(it.payload ? 1 : 0);
  PutStr(out, it.payload ? *it.payload : std::string());
  PutI64(out, it.replaces_row_id);
  // Only an item with a kept state encodes it: every other item (and so
  // every row an older aether wrote) checks as before.
  if (it.kept) {
    // Marker 2 adds the pin and the access history; a kept state without
    // them encodes with marker 1, as before they were kept.
    out->push_back(it.kept->extended() ? 2 : 1);
    PutI64(out, it.kept->created_ms);
    PutI64(out, it.kept->last_access_ms);
    PutI64(out, it.kept->access_count);
    if (it.kept->extended()) {
      out->push_back(it.kept->pinned ? 1 : 0);
      PutStr(out, it.kept->access_times);
    }
  }
}

// Reads an item block (format-spec/journal.md, "Item blocks"): each item as
// u32 length, then EncodeItem's bytes. Every field is bounds-checked, and an
// item must re-encode to exactly its bytes, so that any changed byte is
// refused (here or by the checksum), never read as a different item.
class BlockReader {
 public:
  explicit BlockReader(const std::string& block)
      : begin_(reinterpret_cast<const uint8_t*>(block.data())), p_(begin_), end_(begin_ + block.size()) {}
  bool done() const { return p_ == end_; }
  // The next item; false (with *why) when the bytes are not one.
  bool Next(MigrationItem* it, std::string* why) {
    const uint8_t* start = p_;
    const uint32_t len = U32();
    if (!ok_ || uint64_t(end_ - p_) < len) return Fail(why, "an item runs past the block's end", start);
    const uint8_t* item_end = p_ + len;
    *it = MigrationItem();
    it->row_id = I64();
    it->id = Str();
    Place src = PlaceOf();
    if (src.tier != static_cast<Tier>(-1)) it->src = src;
    it->dst = PlaceOf();
    const uint64_t bits = U64();
    std::memcpy(&it->importance, &bits, 8);
    const bool has_payload = U8() != 0;
    std::string payload = Str();
    if (has_payload) it->payload = std::move(payload);
    it->replaces_row_id = I64();
    if (ok_ && p_ < item_end) {
      const uint8_t marker = U8();
      KeptState k;
      k.created_ms = I64();
      k.last_access_ms = I64();
      k.access_count = I64();
      if (marker == 2) {
        k.pinned = U8() != 0;
        k.access_times = Str();
      }
      it->kept = std::move(k);
    }
    if (!ok_ || p_ != item_end) return Fail(why, "an item's fields do not fill its length", start);
    std::string again;
    EncodeItem(&again, *it);
    if (again.size() != len || std::memcmp(again.data(), item_end - len, len) != 0)
      return Fail(why, "an item is not in its one encoding", start);
    return true;
  }

 private:
  bool Fail(std::string* why, const char* what, const uint8_t* at) {
    *why = fmt::format("{} (at byte {})", what, at - begin_);
    return false;
  }
  bool Has(size_t n) {
    if (ok_ && size_t(end_ - p_) >= n) return true;
    ok_ = false;
    return false;
  }
  uint8_t U8() { return Has(1) ? *p_++ : 0; }
  uint32_t U32() {
    if (!Has(4)) return 0;
    const uint32_t v = DecodeFixed32(p_);
    p_ += 4;
    return v;
  }
  uint64_t U64() {
    if (!Has(8)) return 0;
    const uint64_t v = DecodeFixed64(p_);
    p_ += 8;
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  std::string Str() {
    const uint32_t n = U32();
    if (!Has(n)) return std::string();
    std::string v(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return v;
  }
  // A place as PutPlace writes it.
  Place PlaceOf() {
    Place p;
    p.tier = static_cast<Tier>(I64());
    p.slot = I64();
    p.shard_id = I64();
    p.frame_offset = I64();
    p.frame_index = I64();
    return p;
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// The checksum's encoding of the row and its targets, then the item count.
std::string EncodeHead(const Migration& m, size_t n_items) {
  std::string buf;
  PutI64(&buf, m.id);
  PutStr(&buf, m.kind);
  PutI64(&buf, m.created_ms);
  PutI64(&buf, static_cast<int64_t>(m.hot_slots_before));
  PutI64(&buf, m.generation);
  PutI64(&buf, m.old_generation);
  PutI64(&buf, m.partitions);
  // trace_id is not covered: it labels the history, the replay reads no
  // place from it, and an older aether must still check a newer one's rows
  // (a damaged one is dropped as it is read, in All).
  std::vector<ShardTarget> targets = m.targets;
  std::sort(targets.begin(), targets.end(),
            [](const ShardTarget& a, const ShardTarget& b) { return a.shard_id < b.shard_id; });
  PutFixed32(&buf, static_cast<uint32_t>(targets.size()));
  for (const ShardTarget& t : targets) {
    PutI64(&buf, t.shard_id);
    PutI64(&buf, static_cast<int64_t>(t.len_before));
    PutI64(&buf, static_cast<int64_t>(t.len_after));
  }
  PutFixed32(&buf, static_cast<uint32_t>(n_items));
  return buf;
}

}  // namespace

uint32_t Journal::ContentCrc(const Migration& m, const std::vector<MigrationItem>& items) {
  const std::string head = EncodeHead(m, items.size());
  uint32_t crc = crc32c::Value(head.data(), head.size());
  std::string buf;
  for (const MigrationItem& it : items) {  // item by item: no buffer of the whole batch
    buf.clear();
    EncodeItem(&buf, it);
    crc = crc32c::Extend(crc, buf.data(), buf.size());
  }
  return crc;
}

uint32_t Journal::RowCrc(uint32_t content_crc, MigrationState state) {
  const uint8_t s = static_cast<uint8_t>(state);
  return crc32c::Mask(crc32c::Extend(content_crc, &s, 1));
}

Result<bool> Journal::HasColumn(const char* table, const char* column, std::optional<bool>* cached) {
  if (!*cached) {
    AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt(std::string("SELECT COUNT(*) FROM pragma_table_info('") + table +
                                                     "') WHERE name = '" + column + "'"));
    *cached = n > 0;
  }
  return **cached;
}

Result<bool> Journal::HasChecksums() { return HasColumn("migrations", "crc", &has_checksums_); }

Result<bool> Journal::HasTraceIds() { return HasColumn("migrations", "trace_id", &has_trace_ids_); }

Result<bool> Journal::HasKeptState() { return HasColumn("migration_items", "kept_created_ms", &has_kept_state_); }

Result<bool> Journal::HasKeptPins() { return HasColumn("migration_items", "kept_pinned", &has_kept_pins_); }

Result<bool> Journal::HasBlocks() {
  if (!has_blocks_) {
    AETHER_ASSIGN_OR_RETURN(int64_t n,
                            db_->QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE name = 'migration_blocks'"));
    has_blocks_ = n > 0;
  }
  return *has_blocks_;
}

Status Journal::Insert(Migration* m, const std::vector<MigrationItem>& items, ItemLayout layout) {
  Db::Bookkeeping bookkeeping(db_);  // the journal is no change of the content
  AETHER_ASSIGN_OR_RETURN(bool checksums, HasChecksums());
  if (!checksums) return Status::Internal("journal: the migrations table has no crc column (UpgradeSchema)");
  AETHER_ASSIGN_OR_RETURN(bool traced, HasTraceIds());
  if (!traced) return Status::Internal("journal: the migrations table has no trace_id column (UpgradeSchema)");
  AETHER_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT INTO migrations(kind, state, created_ms, hot_slots_before, "
                                                 "generation, old_generation, partitions, trace_id) "
                                                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  m->state = MigrationState::kIntent;
  ins.Bind(1, m->kind)
      .Bind(2, static_cast<int64_t>(m->state))
      .Bind(3, m->created_ms)
      .Bind(4, static_cast<int64_t>(m->hot_slots_before))
      .Bind(5, m->generation)
      .Bind(6, m->old_generation)
      .Bind(7, static_cast<int64_t>(m->partitions));
  if (!m->trace_id.empty()) ins.Bind(8, m->trace_id);
  AETHER_RETURN_IF_ERROR(ins.Run());
  m->id = db_->LastInsertRowId();
  AETHER_ASSIGN_OR_RETURN(Stmt target, db_->Prepare("INSERT INTO migration_targets(migration_id, shard_id, "
                                                    "len_before, len_after) VALUES(?, ?, ?, ?)"));
  for (const ShardTarget& t : m->targets) {
    target.Bind(1, m->id)
        .Bind(2, t.shard_id)
        .Bind(3, static_cast<int64_t>(t.len_before))
        .Bind(4, static_cast<int64_t>(t.len_after));
    AETHER_RETURN_IF_ERROR(target.Run());
  }

  if (layout == ItemLayout::kBlocks) {
    AETHER_ASSIGN_OR_RETURN(bool blocks, HasBlocks());
    if (!blocks) return Status::Internal("journal: meta.db has no migration_blocks table (UpgradeSchema)");
    AETHER_RETURN_IF_ERROR(InsertBlocks(m, items));
    return SetState(*m, MigrationState::kIntent);
  }
  AETHER_ASSIGN_OR_RETURN(Stmt item, db_->Prepare("INSERT INTO migration_items(migration_id, seq, row_id, id, tier, "
                                                  "slot, shard_id, frame_offset, frame_index, importance, payload, "
                                                  "replaces_row_id, src_tier, src_slot, src_shard_id, "
                                                  "src_frame_offset, src_frame_index, kept_created_ms, "
                                                  "kept_last_access_ms, kept_access_count, kept_pinned, "
                                                  "kept_access_times) "
                                                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  for (size_t i = 0; i < items.size(); ++i) {
    const MigrationItem& it = items[i];
    item.Bind(1, m->id).Bind(2, static_cast<int64_t>(i)).Bind(3, it.row_id).Bind(4, it.id);
    item.Bind(5, TierCode(it.dst.tier));
    if (it.dst.slot >= 0) item.Bind(6, it.dst.slot);
    if (it.dst.shard_id != 0) item.Bind(7, it.dst.shard_id).Bind(8, it.dst.frame_offset).Bind(9, it.dst.frame_index);
    item.Bind(10, it.importance);
    if (it.payload) item.Bind(11, *it.payload);
    if (it.replaces_row_id != 0) item.Bind(12, it.replaces_row_id);
    if (it.src) {
      item.Bind(13, TierCode(it.src->tier));
      if (it.src->slot >= 0) item.Bind(14, it.src->slot);
      if (it.src->shard_id != 0)
        item.Bind(15, it.src->shard_id).Bind(16, it.src->frame_offset).Bind(17, it.src->frame_index);
    }
    if (it.kept) item.Bind(18, it.kept->created_ms).Bind(19, it.kept->last_access_ms).Bind(20, it.kept->access_count);
    if (it.kept && it.kept->extended()) item.Bind(21, int64_t(it.kept->pinned));
    if (it.kept && !it.kept->access_times.empty()) item.BindBlob(22, it.kept->access_times);
    AETHER_RETURN_IF_ERROR(item.Run());
  }
  m->content_crc = ContentCrc(*m, items);
  return SetState(*m, MigrationState::kIntent);
}

Status Journal::InsertBlocks(Migration* m, const std::vector<MigrationItem>& items) {
  AETHER_ASSIGN_OR_RETURN(Stmt ins,
                          db_->Prepare("INSERT INTO migration_blocks(migration_id, block, items) VALUES(?, ?, ?)"));
  const std::string head = EncodeHead(*m, items.size());
  uint32_t crc = crc32c::Value(head.data(), head.size());
  std::string block, item;
  int64_t n = 0;
  auto flush = [&]() -> Status {
    ins.Bind(1, m->id).Bind(2, n++).BindBlob(3, block);
    block.clear();
    return ins.Run();
  };
  for (const MigrationItem& it : items) {
    item.clear();
    EncodeItem(&item, it);
    crc = crc32c::Extend(crc, item.data(), item.size());
    PutFixed32(&block, static_cast<uint32_t>(item.size()));
    block += item;
    if (block.size() >= kBlockBytes) AETHER_RETURN_IF_ERROR(flush());
  }
  if (!block.empty()) AETHER_RETURN_IF_ERROR(flush());
  m->content_crc = crc;
  return Status::Ok();
}

Status Journal::SetState(const Migration& m, MigrationState state) {
  Db::Bookkeeping bookkeeping(db_);  // the journal is no change of the content
  AETHER_ASSIGN_OR_RETURN(bool checksums, HasChecksums());
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(checksums ? "UPDATE migrations SET state = ?, crc = ? WHERE id = ?"
                                                          : "UPDATE migrations SET state = ? WHERE id = ?"));
  st.Bind(1, static_cast<int64_t>(state));
  if (checksums)
    st.Bind(2, static_cast<int64_t>(RowCrc(m.content_crc, state))).Bind(3, m.id);
  else
    st.Bind(2, m.id);
  return st.Run();
}

Status Journal::Remove(int64_t id) {
  Db::Bookkeeping bookkeeping(db_);  // the journal is no change of the content
  AETHER_ASSIGN_OR_RETURN(bool blocks, HasBlocks());
  for (const char* table : {"migration_items", "migration_targets", "migration_blocks"}) {
    if (!blocks && std::string(table) == "migration_blocks") continue;
    AETHER_ASSIGN_OR_RETURN(Stmt del, db_->Prepare(std::string("DELETE FROM ") + table + " WHERE migration_id = ?"));
    del.Bind(1, id);
    AETHER_RETURN_IF_ERROR(del.Run());
  }
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM migrations WHERE id = ?"));
  st.Bind(1, id);
  return st.Run();
}

Result<int64_t> Journal::MaxTargetShard() {
  return db_->QueryInt("SELECT COALESCE(MAX(shard_id), 0) FROM migration_targets");
}

Status Journal::RemoveOrphans() {
  Db::Bookkeeping bookkeeping(db_);  // the journal is no change of the content
  AETHER_ASSIGN_OR_RETURN(bool blocks, HasBlocks());
  for (const char* table : {"migration_items", "migration_targets", "migration_blocks"})
    if (blocks || std::string(table) != "migration_blocks")
      AETHER_RETURN_IF_ERROR(
          db_->Exec(std::string("DELETE FROM ") + table + " WHERE migration_id NOT IN (SELECT id FROM migrations)"));
  return Status::Ok();
}

Result<uint64_t> Journal::Count() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM migrations"));
  return uint64_t(n);
}

Result<int64_t> Journal::OldestCreatedMs() {
  return db_->QueryInt("SELECT COALESCE(MIN(created_ms), 0) FROM migrations");
}

Result<std::vector<Migration>> Journal::All() {
  AETHER_ASSIGN_OR_RETURN(bool checksums, HasChecksums());
  AETHER_ASSIGN_OR_RETURN(bool traced, HasTraceIds());
  AETHER_ASSIGN_OR_RETURN(Stmt st,
                          db_->Prepare(std::string("SELECT id, kind, state, created_ms, hot_slots_before, generation, "
                                                   "old_generation, ") +
                                       (traced ? "trace_id" : "NULL") + (checksums ? ", partitions, crc" : "") +
                                       " FROM migrations ORDER BY id"));
  AETHER_ASSIGN_OR_RETURN(Stmt tg, db_->Prepare("SELECT shard_id, len_before, len_after FROM migration_targets "
                                                "WHERE migration_id = ? ORDER BY shard_id"));
  std::vector<Migration> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Migration m;
    m.id = st.Int(0);
    m.kind = st.Text(1);
    m.state = static_cast<MigrationState>(st.Int(2));
    m.created_ms = st.Int(3);
    m.hot_slots_before = static_cast<uint64_t>(st.Int(4));
    m.generation = st.Int(5);
    m.old_generation = st.Int(6);
    if (!st.IsNull(7)) m.trace_id = st.Text(7);
    if (!ValidTraceId(m.trace_id)) m.trace_id.clear();  // damaged: the label is lost, nothing else
    if (checksums) {
      m.partitions = static_cast<uint32_t>(st.Int(8));
      if (!st.IsNull(9)) m.stored_crc = static_cast<uint32_t>(st.Int(9));
    }
    tg.Bind(1, m.id);
    for (;;) {
      AETHER_ASSIGN_OR_RETURN(bool t, tg.Step());
      if (!t) break;
      m.targets.push_back({tg.Int(0), uint64_t(tg.Int(1)), uint64_t(tg.Int(2))});
    }
    tg.Reset();
    out.push_back(m);
  }
  return out;
}

Result<std::vector<MigrationItem>> Journal::Items(Migration* m) {
  const int64_t id = m->id;
  m->items_damage.clear();
  m->item_blocks = 0;
  AETHER_ASSIGN_OR_RETURN(bool kept, HasKeptState());
  AETHER_ASSIGN_OR_RETURN(bool pins, HasKeptPins());
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare(std::string("SELECT row_id, id, tier, slot, shard_id, frame_offset, frame_index, "
                                        "importance, payload, replaces_row_id, src_tier, src_slot, "
                                        "src_shard_id, src_frame_offset, src_frame_index, ") +
                            (kept ? "kept_created_ms, kept_last_access_ms, kept_access_count" : "NULL, NULL, NULL") +
                            (pins ? ", kept_pinned, kept_access_times" : ", NULL, NULL") +
                            " FROM migration_items WHERE migration_id = ? ORDER BY seq"));
  st.Bind(1, id);
  std::vector<MigrationItem> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    MigrationItem it;
    it.row_id = st.Int(0);
    it.id = st.Text(1);
    // The tier as stored, whatever it is: CheckIntegrity and the replay judge it.
    it.dst.tier = static_cast<Tier>(st.Int(2));
    it.dst.slot = st.IsNull(3) ? -1 : st.Int(3);
    it.dst.shard_id = st.IsNull(4) ? 0 : st.Int(4);
    it.dst.frame_offset = st.Int(5);
    it.dst.frame_index = st.Int(6);
    it.importance = st.Double(7);
    if (!st.IsNull(8)) it.payload = st.Text(8);
    it.replaces_row_id = st.IsNull(9) ? 0 : st.Int(9);
    if (!st.IsNull(10))
      it.src = Place{static_cast<Tier>(st.Int(10)), st.IsNull(11) ? -1 : st.Int(11), st.IsNull(12) ? 0 : st.Int(12),
                     st.Int(13), st.Int(14)};
    // All three or none (a row with some is damaged: it keeps what it has,
    // and the checksum, which covers all three, refuses it).
    if (!st.IsNull(15) || !st.IsNull(16) || !st.IsNull(17) || !st.IsNull(18) || !st.IsNull(19)) {
      it.kept.emplace();
      it.kept->created_ms = st.Int(15);
      it.kept->last_access_ms = st.Int(16);
      it.kept->access_count = st.Int(17);
      // Any value but 0 reads as pinned (the checksum covers what it reads).
      it.kept->pinned = !st.IsNull(18) && st.Int(18) != 0;
      if (!st.IsNull(19)) it.kept->access_times = st.Blob(19);
    }
    out.push_back(std::move(it));
  }
  // Then the blocks' (a writer writes either, never both).
  AETHER_ASSIGN_OR_RETURN(bool blocks, HasBlocks());
  if (!blocks) return out;
  AETHER_ASSIGN_OR_RETURN(
      Stmt bl, db_->Prepare("SELECT block, items FROM migration_blocks WHERE migration_id = ? ORDER BY block"));
  bl.Bind(1, id);
  for (int64_t want = 0;; ++want) {
    AETHER_ASSIGN_OR_RETURN(bool row, bl.Step());
    if (!row) break;
    ++m->item_blocks;
    const std::string bytes = bl.Blob(1);
    if (bl.TypeOf(0) != Stmt::Type::kInteger || bl.Int(0) != want || bl.TypeOf(1) != Stmt::Type::kBlob ||
        bytes.empty()) {
      m->items_damage = fmt::format("item block {} is missing, empty or not a blob", want);
      break;
    }
    BlockReader reader(bytes);
    while (!reader.done()) {
      MigrationItem it;
      std::string why;
      if (!reader.Next(&it, &why)) {
        m->items_damage = fmt::format("item block {}: {}", want, why);
        return out;
      }
      out.push_back(std::move(it));
    }
  }
  return out;
}

Status Journal::CheckIntegrity(Migration* m, const std::vector<MigrationItem>& items) const {
  if (!m->items_damage.empty())
    return Status::Corruption(fmt::format("{}: {}: the journal row is damaged", Describe(*m), m->items_damage));
  if (m->item_blocks > 0 && !m->stored_crc)
    return Status::Corruption(
        fmt::format("{}: item blocks without a checksum: the journal row is damaged", Describe(*m)));
  // Likewise a kept state (ingest --preserve-state came after checksums).
  if (!m->stored_crc && std::any_of(items.begin(), items.end(), [](const MigrationItem& it) { return bool(it.kept); }))
    return Status::Corruption(
        fmt::format("{}: an item's kept state without a checksum: the journal row is damaged", Describe(*m)));
  m->content_crc = ContentCrc(*m, items);
  if (m->stored_crc && *m->stored_crc != RowCrc(m->content_crc, m->state))
    return Status::Corruption(fmt::format("{}: checksum mismatch: the journal row is damaged", Describe(*m)));
  if (!KnownState(m->state))
    return Status::Corruption(
        fmt::format("migration {} ({}): unknown state {}", m->id, m->kind, static_cast<int64_t>(m->state)));
  if (!KnownKind(m->kind)) return Status::Corruption(fmt::format("{}: unknown kind", Describe(*m)));
  return Status::Ok();
}

}  // namespace aether
