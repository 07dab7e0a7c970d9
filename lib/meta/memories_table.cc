#include "meta/memories_table.h"

#include <fmt/format.h>

#include <algorithm>

#include "policy/access_pattern.h"

namespace aether {
namespace {

constexpr const char* kPlaceColumns = "tier, slot, shard_id, frame_offset, frame_index";

// A place from five columns starting at `col` (tier, slot, shard, offset, index).
Place PlaceAt(const Stmt& st, int col) {
  Place p;
  p.tier = static_cast<Tier>(st.Int(col));
  p.slot = st.IsNull(col + 1) ? -1 : st.Int(col + 1);
  p.shard_id = st.IsNull(col + 2) ? 0 : st.Int(col + 2);
  p.frame_offset = st.Int(col + 3);
  p.frame_index = st.Int(col + 4);
  return p;
}

// Binds a place's columns at `col`.. (the other tier's NULL).
void BindPlace(Stmt& st, int col, const Place& p) {
  st.Bind(col, TierCode(p.tier));
  if (p.hot())
    st.Bind(col + 1, p.slot);
  else
    st.Bind(col + 2, p.shard_id).Bind(col + 3, p.frame_offset).Bind(col + 4, p.frame_index);
}

}  // namespace

Result<std::optional<MemoryRef>> MemoriesTable::Find(const std::string& id) {
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached(std::string("SELECT row_id, ") + kPlaceColumns + " FROM memories WHERE id = ?"));
  st->Bind(1, id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<MemoryRef>();
  return std::optional<MemoryRef>(MemoryRef{st->Int(0), id, PlaceAt(*st, 1)});
}

Status MemoriesTable::FindMany(const std::vector<const std::string*>& ids, std::vector<std::optional<MemoryRef>>* out) {
  out->assign(ids.size(), std::nullopt);
  if (ids.size() > 1) {
    // One probe of the id index first: no memory's id within the ids' range
    // (byte order, as the column's BINARY collation compares) means none of
    // them is stored: a bulk load of new ids looks up nothing one by one.
    const auto [lo, hi] =
        std::minmax_element(ids.begin(), ids.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
    AETHER_ASSIGN_OR_RETURN(StmtLease range,
                            db_->PrepareCached("SELECT 1 FROM memories WHERE id >= ? AND id <= ? LIMIT 1"));
    range->Bind(1, **lo);
    range->Bind(2, **hi);
    AETHER_ASSIGN_OR_RETURN(bool any, range->Step());
    range->Reset();
    if (!any) return Status::Ok();
  }
  // One walk of the id index in byte order (the column's BINARY collation,
  // as std::string compares): the wanted ids sorted, a cursor seeks the
  // first and steps along the stored ids; each stored id it passes settles
  // every wanted id up to it (equal: found; below: absent). After a stored
  // id that settles nothing it seeks the next wanted id. A bulk load's ids
  // among stored ones ("v1001" sorts among "v10000".."v10255") are settled
  // by a few steps. Where each seek settles fewer than two (ids spread over
  // a large store: a seek and a step each), the rest are looked up by
  // statements of 16 ids (LookUpEach), whose overhead is shared.
  std::vector<uint32_t> order(ids.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return *ids[a] < *ids[b]; });
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached(std::string("SELECT row_id, id, ") + kPlaceColumns +
                                                           " FROM memories WHERE id >= ? ORDER BY id"));
  size_t p = 0, seeks = 0;
  for (; p < order.size(); ++seeks) {
    if (seeks >= 4 && p < 2 * seeks) break;  // sparse
    st->Reset();
    st->Bind(1, *ids[order[p]]);
    for (bool idle = false; !idle && p < order.size();) {
      AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
      // No stored id from here on, or one that is no text (a damaged row's
      // BLOB: those sort after every text, and an id asked as text never
      // equals one, as Find's `id = ?` never does): the rest are absent.
      if (!row || st->TypeOf(1) != Stmt::Type::kText) {
        st->Reset();
        return Status::Ok();
      }
      const std::string_view stored = st->TextView(1);
      const size_t from = p;
      while (p < order.size() && std::string_view(*ids[order[p]]) < stored) ++p;  // absent
      if (p < order.size() && std::string_view(*ids[order[p]]) == stored) {
        const MemoryRef found{st->Int(0), std::string(stored), PlaceAt(*st, 2)};
        for (; p < order.size() && std::string_view(*ids[order[p]]) == found.id; ++p) (*out)[order[p]] = found;
      }
      idle = p == from;
    }
  }
  st->Reset();
  if (p == order.size()) return Status::Ok();
  std::vector<const std::string*> rest;
  for (size_t i = p; i < order.size(); ++i) rest.push_back(ids[order[i]]);
  std::vector<std::optional<MemoryRef>> found;
  AETHER_RETURN_IF_ERROR(LookUpEach(rest, &found));
  for (size_t i = p; i < order.size(); ++i) (*out)[order[i]] = std::move(found[i - p]);
  return Status::Ok();
}

Status MemoriesTable::LookUpEach(const std::vector<const std::string*>& ids,
                                 std::vector<std::optional<MemoryRef>>* out) {
  out->assign(ids.size(), std::nullopt);
  // Ids per statement: as with InsertMany, the statement overhead is most
  // of a lookup in an index the page cache holds.
  constexpr size_t kIdsPerStatement = 16;
  size_t i = 0;
  if (ids.size() >= kIdsPerStatement) {
    std::string sql = std::string("SELECT row_id, id, ") + kPlaceColumns + " FROM memories WHERE id IN (?";
    for (size_t k = 1; k < kIdsPerStatement; ++k) sql += ", ?";
    AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached(sql + ")"));
    for (; ids.size() - i >= kIdsPerStatement; i += kIdsPerStatement) {
      for (size_t k = 0; k < kIdsPerStatement; ++k) st->Bind(int(k) + 1, *ids[i + k]);
      for (;;) {
        AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        const std::string id = st->Text(1);
        // Every place that asked for it (an id may be asked twice).
        for (size_t k = 0; k < kIdsPerStatement; ++k)
          if (*ids[i + k] == id) (*out)[i + k] = MemoryRef{st->Int(0), id, PlaceAt(*st, 2)};
      }
      st->Reset();
    }
  }
  for (; i < ids.size(); ++i) {
    AETHER_ASSIGN_OR_RETURN((*out)[i], Find(*ids[i]));
  }
  return Status::Ok();
}

Result<std::optional<MemoryRef>> MemoriesTable::FindRow(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached(std::string("SELECT id, ") + kPlaceColumns + " FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<MemoryRef>();
  return std::optional<MemoryRef>(MemoryRef{row_id, st->Text(0), PlaceAt(*st, 1)});
}

Status MemoriesTable::FindIds(const std::vector<int64_t>& rows,
                              const std::function<Status(size_t i, std::string_view id, Tier tier)>& visit) {
  if (rows.empty()) return Status::Ok();
  // Stepping past a row costs a small fraction of a seek (a bind, a
  // descent of the B-tree): rows this close to the next wanted one are
  // stepped over, further ones sought.
  constexpr int64_t kStepOver = 16;
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached("SELECT row_id, id, tier FROM memories WHERE row_id >= ? ORDER BY row_id"));
  size_t i = 0;
  while (i < rows.size()) {
    st->Reset();
    st->Bind(1, rows[i]);
    for (;;) {
      AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return Status::Ok();  // past the last row: the rest have none
      const int64_t at = st->Int(0);
      while (i < rows.size() && rows[i] < at) ++i;  // rows without a memory
      if (i == rows.size()) return Status::Ok();
      if (rows[i] == at) {
        AETHER_RETURN_IF_ERROR(visit(i, st->TextView(1), static_cast<Tier>(st->Int(2))));
        if (++i == rows.size()) return Status::Ok();
      }
      if (rows[i] - at > kStepOver) break;  // far: seek it
    }
  }
  return Status::Ok();
}

Result<std::string> MemoriesTable::PinnedColumn() {
  if (!has_pinned_) {
    AETHER_ASSIGN_OR_RETURN(int64_t n,
                            db_->QueryInt("SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'pinned'"));
    has_pinned_ = n > 0;
  }
  return std::string(*has_pinned_ ? "pinned IS 1" : "0");
}

Result<bool> MemoriesTable::SetPinned(int64_t row_id, bool pinned) {
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached(pinned ? "UPDATE memories SET pinned = 1 WHERE row_id = ? AND pinned IS NOT 1"
                                              : "UPDATE memories SET pinned = NULL WHERE row_id = ? AND pinned IS 1"));
  st->Bind(1, row_id);
  AETHER_RETURN_IF_ERROR(st->Run());
  return db_->Changes() == 1;
}

Result<uint64_t> MemoriesTable::CountPinned(std::optional<Tier> tier) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  if (pinned == "0") return uint64_t(0);
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached(tier ? "SELECT COUNT(*) FROM memories WHERE pinned = 1 AND tier = ?"
                                                  : "SELECT COUNT(*) FROM memories WHERE pinned = 1"));
  if (tier) st->Bind(1, TierCode(*tier));
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return uint64_t(row ? st->Int(0) : 0);
}

Result<std::optional<MemoryRow>> MemoriesTable::Get(const std::string& id) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(bool history, HasAccessTimes());
  AETHER_ASSIGN_OR_RETURN(
      StmtLease st, db_->PrepareCached(std::string("SELECT row_id, ") + kPlaceColumns +
                                       ", importance, created_ms, last_access_ms, access_count, payload, " + pinned +
                                       (history ? ", access_times" : ", NULL") + " FROM memories WHERE id = ?"));
  st->Bind(1, id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<MemoryRow>();
  MemoryRow r;
  r.ref = MemoryRef{st->Int(0), id, PlaceAt(*st, 1)};
  r.tier_code = st->Int(1);
  r.stats = MemoryStats{st->Int(7), st->Int(8), uint64_t(st->Int(9)), st->Double(6), st->Int(11) != 0};
  if (!st->IsNull(10)) r.payload = st->Text(10);
  if (!st->IsNull(12)) r.access_times = st->Blob(12);
  return std::optional<MemoryRow>(std::move(r));
}

Result<std::optional<MemoryStats>> MemoriesTable::Stats(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT created_ms, last_access_ms, access_count, "
                                                           "importance, " +
                                                           pinned + " FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<MemoryStats>();
  return std::optional<MemoryStats>(
      MemoryStats{st->Int(0), st->Int(1), uint64_t(st->Int(2)), st->Double(3), st->Int(4) != 0});
}

Result<std::optional<std::string>> MemoriesTable::Payload(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT payload FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->IsNull(0)) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Result<std::optional<std::string>> MemoriesTable::Payload(int64_t row_id, std::string* history) {
  history->clear();
  AETHER_ASSIGN_OR_RETURN(bool has, HasAccessTimes());
  if (!has) return Payload(row_id);
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("SELECT payload, access_times FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<std::string>();
  if (!st->IsNull(1)) *history = st->Blob(1);
  if (st->IsNull(0)) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Result<uint64_t> MemoriesTable::Count() {
  AETHER_ASSIGN_OR_RETURN(int64_t n, db_->QueryInt("SELECT COUNT(*) FROM memories"));
  return uint64_t(n);
}

Result<uint64_t> MemoriesTable::Count(Tier tier) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT COUNT(*) FROM memories WHERE tier = ?"));
  st->Bind(1, TierCode(tier));
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? uint64_t(st->Int(0)) : 0;
}

// "tier > 0": in a shard, cold (1) or warm (2); a range of memories_by_slot.
Result<uint64_t> MemoriesTable::CountInShards() {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT COUNT(*) FROM memories WHERE tier > 0"));
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? uint64_t(st->Int(0)) : 0;
}

Result<uint64_t> MemoriesTable::CountInShard(int64_t shard_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("SELECT COUNT(*) FROM memories WHERE tier > 0 AND shard_id = ?"));
  st->Bind(1, shard_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? uint64_t(st->Int(0)) : 0;
}

Result<uint64_t> MemoriesTable::HotSlotEnd() {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("SELECT COALESCE(MAX(slot) + 1, 0) FROM memories WHERE tier = ?"));
  st->Bind(1, TierCode(Tier::kHot));
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? uint64_t(std::max<int64_t>(st->Int(0), 0)) : 0;
}

namespace {

// The columns of a new row and one row's parameters.
constexpr int kInsertColumns = 14;
// Rows per statement of InsertMany: 16 cuts a bulk load's statement
// overhead (prepare, step, halt) by most of what more would (1,000,000 rows:
// 1 a statement 2.4 s, 10 1.7 s, 100 1.8 s in SQLite alone).
constexpr size_t kRowsPerInsert = 16;

std::string InsertSql(size_t rows) {
  std::string sql = std::string("INSERT INTO memories(row_id, id, ") + kPlaceColumns +
                    ", importance, created_ms, last_access_ms, access_count, payload, pinned, access_times) VALUES";
  for (size_t r = 0; r < rows; ++r)
    sql += r ? ",(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  return sql;
}

// Binds one new row's parameters at `col`.. (kInsertColumns of them).
void BindNewRow(Stmt& st, int col, const MemoriesTable::NewRow& r) {
  st.Bind(col, r.row_id).Bind(col + 1, *r.id);
  BindPlace(st, col + 2, r.place);
  st.Bind(col + 7, r.importance).Bind(col + 8, r.created_ms);
  st.Bind(col + 9, r.last_access_ms < 0 ? r.created_ms : r.last_access_ms).Bind(col + 10, r.access_count);
  if (r.payload && *r.payload) st.Bind(col + 11, **r.payload);
  if (r.pinned) st.Bind(col + 12, int64_t(1));  // NULL or 1
  if (r.access_times && !r.access_times->empty()) st.BindBlob(col + 13, *r.access_times);
}

}  // namespace

Status MemoriesTable::Insert(const MemoryRef& m, double importance, int64_t created_ms,
                             const std::optional<std::string>& payload, int64_t last_access_ms, int64_t access_count) {
  NewRow r;
  r.row_id = m.row_id;
  r.id = &m.id;
  r.place = m.place;
  r.importance = importance;
  r.created_ms = created_ms;
  r.last_access_ms = last_access_ms;
  r.access_count = access_count;
  r.payload = &payload;
  return InsertMany({r});
}

Status MemoriesTable::InsertMany(const std::vector<NewRow>& rows) {
  // Rows [from, to) one to a statement.
  auto one_by_one = [&](size_t from, size_t to) -> Status {
    if (from == to) return Status::Ok();
    AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached(InsertSql(1)));
    for (size_t i = from; i < to; ++i) {
      BindNewRow(*st, 1, rows[i]);
      AETHER_RETURN_IF_ERROR(st->Run());
    }
    return Status::Ok();
  };
  size_t i = 0;
  if (rows.size() < kRowsPerInsert) return one_by_one(0, rows.size());
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached(InsertSql(kRowsPerInsert)));
  for (; rows.size() - i >= kRowsPerInsert; i += kRowsPerInsert) {
    for (size_t r = 0; r < kRowsPerInsert; ++r) BindNewRow(*st, 1 + int(r) * kInsertColumns, rows[i + r]);
    Status s = st->Run();
    if (s.ok()) continue;
    st->Reset();
    // A constraint that fails undoes the statement's rows and nothing
    // else: the group again row by row gives the error its failing row
    // gives alone, not one naming the whole 16-row statement. Any other
    // error (a full disk, I/O) may have ended the caller's transaction:
    // returned as it is, never retried.
    if (s.code() != Code::kInternal || !db_->in_transaction()) return s;
    AETHER_RETURN_IF_ERROR(one_by_one(i, i + kRowsPerInsert));
  }
  return one_by_one(i, rows.size());
}

Result<bool> MemoriesTable::Move(int64_t row_id, const Place& from, const Place& to) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st,
                          db_->PrepareCached("UPDATE memories SET tier = ?, slot = ?, shard_id = ?, frame_offset = ?, "
                                             "frame_index = ? WHERE row_id = ? AND tier = ? AND slot IS ? AND "
                                             "shard_id IS ? AND frame_offset IS ? AND frame_index IS ?"));
  BindPlace(*st, 1, to);
  st->Bind(6, row_id);
  BindPlace(*st, 7, from);
  AETHER_RETURN_IF_ERROR(st->Run());
  return db_->Changes() == 1;
}

Result<bool> MemoriesTable::MoveInShards(int64_t row_id, const Place& to) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("UPDATE memories SET shard_id = ?, frame_offset = ?, "
                                                           "frame_index = ? WHERE row_id = ? AND tier > 0"));
  st->Bind(1, to.shard_id).Bind(2, to.frame_offset).Bind(3, to.frame_index).Bind(4, row_id);
  AETHER_RETURN_IF_ERROR(st->Run());
  return db_->Changes() == 1;
}

Status MemoriesTable::Delete(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("DELETE FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  return st->Run();
}

Status MemoriesTable::Touch(const std::vector<int64_t>& row_ids, int64_t now_ms) {
  std::map<int64_t, int64_t> hits;  // row -> its hits: one history entry however many
  for (int64_t r : row_ids) ++hits[r];
  AETHER_ASSIGN_OR_RETURN(bool history, HasAccessTimes());
  AETHER_ASSIGN_OR_RETURN(StmtLease plain,
                          db_->PrepareCached("UPDATE memories SET last_access_ms = MAX(last_access_ms, ?), "
                                             "access_count = access_count + ? WHERE row_id = ?"));
  for (const auto& [row, n] : hits) {
    std::string blob;  // stays empty without the column (or for a negative time: nothing to hold)
    if (history) {
      AETHER_ASSIGN_OR_RETURN(std::string stored, AccessTimes(row));
      AccessHistory h = DecodeHistory(stored).value_or(AccessHistory());
      PushAccess(&h, now_ms);
      blob = EncodeHistory(h);
    }
    if (blob.empty()) {
      plain->Bind(1, now_ms).Bind(2, n).Bind(3, row);
      AETHER_RETURN_IF_ERROR(plain->Run());
      continue;
    }
    AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("UPDATE memories SET last_access_ms = MAX(last_access_ms, "
                                                             "?), access_count = access_count + ?, access_times = ? "
                                                             "WHERE row_id = ?"));
    st->Bind(1, now_ms).Bind(2, n).BindBlob(3, blob).Bind(4, row);
    AETHER_RETURN_IF_ERROR(st->Run());
  }
  return Status::Ok();
}

Result<bool> MemoriesTable::HasAccessTimes() {
  if (!has_access_times_) {
    AETHER_ASSIGN_OR_RETURN(
        int64_t n, db_->QueryInt("SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'access_times'"));
    has_access_times_ = n > 0;
  }
  return *has_access_times_;
}

Result<std::string> MemoriesTable::AccessTimes(int64_t row_id) {
  AETHER_ASSIGN_OR_RETURN(bool history, HasAccessTimes());
  if (!history) return std::string();
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("SELECT access_times FROM memories WHERE row_id = ?"));
  st->Bind(1, row_id);
  AETHER_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->IsNull(0)) return std::string();
  return st->Blob(0);
}

Status MemoriesTable::SetImportance(int64_t row_id, double importance) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("UPDATE memories SET importance = ? WHERE row_id = ?"));
  st->Bind(1, importance).Bind(2, row_id);
  return st->Run();
}

Status MemoriesTable::SetPayload(int64_t row_id, const std::optional<std::string>& payload) {
  AETHER_ASSIGN_OR_RETURN(StmtLease st, db_->PrepareCached("UPDATE memories SET payload = ? WHERE row_id = ?"));
  if (payload) st->Bind(1, *payload);  // unbound: NULL
  st->Bind(2, row_id);
  return st->Run();
}

Result<uint64_t> MemoriesTable::DecayImportance(double factor) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE memories SET importance = importance * ?"));
  st.Bind(1, factor);
  AETHER_RETURN_IF_ERROR(st.Run());
  return uint64_t(db_->Changes());
}

Status MemoriesTable::ForEach(const std::function<bool(const MemoryRef&, const MemoryStats&)>& fn) {
  return ForEach(false, [&](const MemoryRef& m, const MemoryStats& s, std::string&&) { return fn(m, s); });
}

Status MemoriesTable::ForEach(
    bool with_payload, const std::function<bool(const MemoryRef&, const MemoryStats&, std::string&& payload)>& fn) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(std::string("SELECT row_id, id, ") + kPlaceColumns +
                                                ", created_ms, last_access_ms, access_count, importance, " + pinned +
                                                (with_payload ? ", payload" : "") + " FROM memories ORDER BY row_id"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    if (!fn(MemoryRef{st.Int(0), st.Text(1), PlaceAt(st, 2)},
            MemoryStats{st.Int(7), st.Int(8), uint64_t(st.Int(9)), st.Double(10), st.Int(11) != 0},
            with_payload && !st.IsNull(12) ? st.Text(12) : std::string()))
      return Status::Ok();
  }
}

Status MemoriesTable::ForEachWithHistory(
    const std::function<void(const MemoryRef&, const MemoryStats&, const std::string&)>& fn) {
  AETHER_ASSIGN_OR_RETURN(bool history, HasAccessTimes());
  if (!history) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare(std::string("SELECT row_id, id, ") + kPlaceColumns +
                                                ", created_ms, last_access_ms, access_count, importance, " + pinned +
                                                ", access_times FROM memories WHERE access_times IS NOT NULL "
                                                "ORDER BY row_id"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    fn(MemoryRef{st.Int(0), st.Text(1), PlaceAt(st, 2)},
       MemoryStats{st.Int(7), st.Int(8), uint64_t(st.Int(9)), st.Double(10), st.Int(11) != 0}, st.Blob(12));
  }
}

Status MemoriesTable::ForEachHot(const std::function<void(const MemoryRef&, const MemoryStats&)>& fn) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id, id, slot, created_ms, last_access_ms, access_count, "
                                                "importance, " +
                                                pinned + " FROM memories WHERE tier = ?"));
  st.Bind(1, TierCode(Tier::kHot));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    fn(MemoryRef{st.Int(0), st.Text(1), Place::Hot(st.Int(2))},
       MemoryStats{st.Int(3), st.Int(4), uint64_t(st.Int(5)), st.Double(6), st.Int(7) != 0});
  }
}

Status MemoriesTable::ForEachInShards(const std::function<void(int64_t, const Place&)>& fn) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id, tier, shard_id, frame_offset, frame_index FROM "
                                                "memories WHERE tier > 0"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    fn(st.Int(0), Place::Shard(static_cast<Tier>(st.Int(1)), st.Int(2), st.Int(3), st.Int(4)));
  }
}

Result<std::map<int64_t, std::vector<MemoryRef>>> MemoriesTable::InShards(const std::set<int64_t>& shards) {
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id, id, shard_id, frame_offset, frame_index, tier FROM "
                                                "memories WHERE tier > 0"));
  std::map<int64_t, std::vector<MemoryRef>> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (!shards.count(st.Int(2))) continue;
    out[st.Int(2)].push_back(
        MemoryRef{st.Int(0), st.Text(1), Place::Shard(static_cast<Tier>(st.Int(5)), st.Int(2), st.Int(3), st.Int(4))});
  }
  for (auto& [shard, refs] : out)
    std::sort(refs.begin(), refs.end(), [](const MemoryRef& a, const MemoryRef& b) {
      return std::make_pair(a.place.frame_offset, a.place.frame_index) <
             std::make_pair(b.place.frame_offset, b.place.frame_index);
    });
  return out;
}

Result<std::vector<int64_t>> MemoriesTable::ShardRowIds() {
  // Sorted here: memories_by_slot orders a tier's rows by slot first, so
  // ORDER BY row_id would make SQLite sort them in a temporary B-tree.
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT row_id FROM memories WHERE tier > 0"));
  std::vector<int64_t> out;
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.Int(0));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status MemoriesTable::ForEachRaw(const std::function<Status(const Stmt&)>& fn) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(bool history, HasAccessTimes());
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare(std::string("SELECT row_id, id, ") + kPlaceColumns +
                            ", importance, created_ms, last_access_ms, access_count, payload, " +
                            (pinned == "0" ? "NULL" : "pinned") + ", " + (history ? "access_times" : "NULL") +
                            " FROM memories ORDER BY row_id"));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    AETHER_RETURN_IF_ERROR(fn(st));
  }
}

Status MemoriesTable::ForEachById(bool descending, bool with_payload,
                                  const std::function<Result<bool>(const Stmt&)>& fn) {
  AETHER_ASSIGN_OR_RETURN(std::string pinned, PinnedColumn());
  AETHER_ASSIGN_OR_RETURN(
      Stmt st, db_->Prepare(fmt::format("SELECT row_id, id, tier, importance, created_ms, "
                                        "last_access_ms, access_count, {}, {} FROM memories "
                                        "ORDER BY id{}",
                                        with_payload ? "payload" : "NULL", pinned, descending ? " DESC" : "")));
  for (;;) {
    AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    AETHER_ASSIGN_OR_RETURN(bool more, fn(st));
    if (!more) return Status::Ok();
  }
}

}  // namespace aether
