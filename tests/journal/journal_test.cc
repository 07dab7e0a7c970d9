// The journal in process (lib/journal/journal.h) on a real metadata DB: rows
// round-trip field for field through every state, and a change to any stored
// value of any row, target or item is caught by the checksum.
#include "journal/journal.h"

#include <doctest/doctest.h>

#include "meta/schema.h"
#include "meta/sqlite_db.h"
#include "policy/access_pattern.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

namespace {

struct Journaled {
  Migration m;
  std::vector<MigrationItem> items;
};

std::vector<Journaled> Examples() {
  std::vector<Journaled> out;
  Journaled ingest;
  ingest.m.kind = "ingest";
  ingest.m.created_ms = 1700000000123;
  ingest.m.hot_slots_before = 4;
  ingest.m.targets = {{1, 32, 4128}};
  MigrationItem a{11, "a", std::nullopt, Place::Hot(4), 0.5, std::string("{\"k\":[1,2]}"), 0, std::nullopt};
  MigrationItem b{
      12, "b\xc3\xa9", std::nullopt, Place::Cold(1, 32, 0), 0.25, std::nullopt, 3, KeptState{5, 7, 2, false, ""}};
  // A kept pin and access history (the encoding with marker 2), and each alone.
  MigrationItem c{13,
                  "c",
                  std::nullopt,
                  Place::Hot(5),
                  0.75,
                  std::nullopt,
                  0,
                  KeptState{6, 9, 4, true, EncodeHistory(AccessHistory{{8, 9}, 3})}};
  MigrationItem d = c, e = c;
  d.row_id = 14;
  d.id = "d";
  d.kept->access_times.clear();
  e.row_id = 15;
  e.id = "e";
  e.kept->pinned = false;
  ingest.items = {a, b, c, d, e};
  out.push_back(ingest);

  Journaled descend;
  descend.m.kind = "descend";
  descend.m.created_ms = 5;
  descend.m.hot_slots_before = 9;
  descend.m.targets = {{1, 4128, 9000}, {7, 32, 700}};
  descend.items = {MigrationItem{3, "c", Place::Hot(2), Place::Cold(7, 32, 1), 1.0, std::nullopt, 0, std::nullopt}};
  out.push_back(descend);

  Journaled ascend;
  ascend.m.kind = "ascend";
  ascend.m.hot_slots_before = 9;
  ascend.items = {MigrationItem{4, "d", Place::Cold(7, 32, 2), Place::Hot(9), 0, std::nullopt, 0, std::nullopt}};
  out.push_back(ascend);

  Journaled rebuild;
  rebuild.m.kind = "rebuild";
  rebuild.m.hot_slots_before = 10;
  rebuild.m.generation = 3;
  rebuild.m.old_generation = 2;
  rebuild.m.partitions = 17;
  out.push_back(rebuild);

  Journaled scrub;  // moves nothing: a row, no targets, no items
  scrub.m.kind = "scrub";
  scrub.m.created_ms = 77;
  scrub.m.hot_slots_before = 12;
  out.push_back(scrub);
  return out;
}

std::unique_ptr<Db> NewDb(const TempDir& dir) {
  auto db = Db::Open(dir / "meta.db", true, false);
  REQUIRE(db.ok());
  StoreConfig c;
  c.dim = 4;
  REQUIRE(CreateSchema(db->get(), c, 3, 0).ok());
  REQUIRE(UpgradeSchema(db->get()).ok());  // as every writer's open: the columns added since
  return std::move(*db);
}

void CheckSame(const MigrationItem& x, const MigrationItem& y) {
  CHECK(x.row_id == y.row_id);
  CHECK(x.id == y.id);
  CHECK(x.src.has_value() == y.src.has_value());
  if (x.src && y.src) CHECK(*x.src == *y.src);
  CHECK(x.dst == y.dst);
  CHECK(x.importance == y.importance);
  CHECK(x.payload == y.payload);
  CHECK(x.replaces_row_id == y.replaces_row_id);
  CHECK(x.kept == y.kept);
}

// What the journal reads back, every field of every row and item, as text.
Result<std::string> AsRead(Journal* journal) {
  std::string out;
  AETHER_ASSIGN_OR_RETURN(std::vector<Migration> rows, journal->All());
  // A place by what it means (Place::operator==): a hot one is its slot, a
  // cold one its record; a tier that is neither shows every field.
  auto place = [](const Place& p) {
    const std::string cold =
        std::to_string(p.shard_id) + "/" + std::to_string(p.frame_offset) + "/" + std::to_string(p.frame_index);
    if (p.hot()) return "hot " + std::to_string(p.slot);
    if (p.cold()) return "cold " + cold;
    return std::to_string(int(p.tier)) + " " + std::to_string(p.slot) + " " + cold;
  };
  for (const Migration& m : rows) {
    out += std::to_string(m.id) + " " + m.kind + " " + StateName(m.state) + " " + std::to_string(m.created_ms) + " " +
           std::to_string(m.hot_slots_before) + " " + std::to_string(m.generation) + " " +
           std::to_string(m.old_generation) + " " + std::to_string(m.partitions) + " " +
           std::to_string(m.stored_crc.value_or(0)) + ";";
    for (const ShardTarget& t : m.targets)
      out += std::to_string(t.shard_id) + ":" + std::to_string(t.len_before) + "-" + std::to_string(t.len_after) + ";";
    Migration read = m;
    AETHER_ASSIGN_OR_RETURN(auto items, journal->Items(&read));
    out += read.items_damage;
    for (const MigrationItem& it : items)
      out += std::to_string(it.row_id) + " " + it.id + " " + (it.src ? place(*it.src) : "-") + " " + place(it.dst) +
             " " + std::to_string(it.importance) + " " + it.payload.value_or("(none)") + " " +
             std::to_string(it.replaces_row_id) +
             (it.kept ? " kept " + std::to_string(it.kept->created_ms) + "/" + std::to_string(it.kept->last_access_ms) +
                            "/" + std::to_string(it.kept->access_count) + (it.kept->pinned ? " pinned" : "") +
                            " history " + it.kept->access_times
                      : "") +
             ";";
    out += "\n";
  }
  return out;
}

// Every migration the journal holds passes CheckIntegrity.
Result<bool> AllIntact(Journal* journal) {
  AETHER_ASSIGN_OR_RETURN(std::vector<Migration> rows, journal->All());
  for (Migration& m : rows) {
    AETHER_ASSIGN_OR_RETURN(auto items, journal->Items(&m));
    if (!journal->CheckIntegrity(&m, items).ok()) return false;
  }
  return true;
}

// Examples(), journaled in state intent, items as blocks or a row each.
std::vector<Journaled> InsertExamples(Db* db, Journal* journal, bool blocks) {
  const auto layout = blocks ? Journal::ItemLayout::kBlocks : Journal::ItemLayout::kRows;
  std::vector<Journaled> ex = Examples();
  for (Journaled& j : ex) REQUIRE(InTransaction(db, [&] { return journal->Insert(&j.m, j.items, layout); }).ok());
  return ex;
}

}  // namespace

TEST_CASE("journal: rows of every kind round-trip through every state, and Remove takes their items") {
  for (bool blocks : {true, false}) {
    CAPTURE(blocks);
    TempDir dir;
    auto db = NewDb(dir);
    Journal journal(db.get());
    std::vector<Journaled> ex = InsertExamples(db.get(), &journal, blocks);
    REQUIRE(*journal.Count() == ex.size());
    for (MigrationState state : {MigrationState::kIntent, MigrationState::kWritten, MigrationState::kCommitted}) {
      for (const Journaled& j : ex) REQUIRE(journal.SetState(j.m, state).ok());
      auto rows = journal.All();
      REQUIRE(rows.ok());
      REQUIRE(rows->size() == ex.size());
      for (size_t i = 0; i < ex.size(); ++i) {
        Migration& m = (*rows)[i];
        const Migration& want = ex[i].m;
        CHECK(m.id == want.id);
        CHECK(m.kind == want.kind);
        CHECK(m.state == state);
        CHECK(m.created_ms == want.created_ms);
        CHECK(m.hot_slots_before == want.hot_slots_before);
        CHECK(m.generation == want.generation);
        CHECK(m.old_generation == want.old_generation);
        CHECK(m.partitions == want.partitions);
        REQUIRE(m.targets.size() == want.targets.size());
        for (size_t t = 0; t < m.targets.size(); ++t) {
          CHECK(m.targets[t].shard_id == want.targets[t].shard_id);
          CHECK(m.targets[t].len_before == want.targets[t].len_before);
          CHECK(m.targets[t].len_after == want.targets[t].len_after);
        }
        auto items = journal.Items(&m);
        REQUIRE(items.ok());
        REQUIRE(items->size() == ex[i].items.size());
        for (size_t k = 0; k < items->size(); ++k) CheckSame((*items)[k], ex[i].items[k]);
        CHECK(journal.CheckIntegrity(&m, *items).ok());
        CHECK(m.content_crc == want.content_crc);
      }
    }
    REQUIRE(InTransaction(db.get(), [&] { return journal.Remove(ex[0].m.id); }).ok());
    CHECK(*journal.Count() == ex.size() - 1);
    CHECK(journal.Items(&ex[0].m)->empty());
    for (const char* table : {"migration_items", "migration_blocks"})
      CHECK(*db->QueryInt(std::string("SELECT COUNT(*) FROM ") + table +
                          " WHERE migration_id = " + std::to_string(ex[0].m.id)) == 0);
    // Items go where the layout says.
    CHECK((*db->QueryInt("SELECT COUNT(*) FROM migration_items") == 0) == blocks);
  }
}

TEST_CASE("journal: a change to any stored value of any row, target or item fails the checksum") {
  for (bool blocks : {true, false}) {
    CAPTURE(blocks);
    TempDir dir;
    auto db = NewDb(dir);
    Journal journal(db.get());
    std::vector<Journaled> ex = InsertExamples(db.get(), &journal, blocks);
    REQUIRE(journal.SetState(ex[1].m, MigrationState::kWritten).ok());
    REQUIRE(*AllIntact(&journal));
    const std::string original = *AsRead(&journal);
    // Each table's rows by a key that names one row, and its columns.
    struct Table {
      const char* name;
      const char* key;
    };
    size_t mutations = 0, unread = 0;
    std::vector<Table> tables = {Table{"migrations", "id"},
                                 Table{"migration_targets", "migration_id || ':' || shard_id"}};
    tables.push_back(blocks ? Table{"migration_blocks", "migration_id || ':' || block"}
                            : Table{"migration_items", "migration_id || ':' || seq"});
    for (Table t : tables) {
      std::vector<std::string> columns, keys;
      {
        auto st = db->Prepare(std::string("SELECT name FROM pragma_table_info('") + t.name + "')");
        REQUIRE(st.ok());
        while (*st->Step()) columns.push_back(st->Text(0));
        auto k = db->Prepare(std::string("SELECT ") + t.key + " FROM " + t.name);
        REQUIRE(k.ok());
        while (*k->Step()) keys.push_back(k->Text(0));
      }
      for (const std::string& key : keys) {
        for (const std::string& col : columns) {
          // NULL becomes 7, a number grows, text gains a byte.
          const std::string change = "UPDATE " + std::string(t.name) + " SET " + col + " = CASE WHEN " + col +
                                     " IS NULL THEN 7 WHEN typeof(" + col + ") = 'text' THEN " + col +
                                     " || 'x' WHEN typeof(" + col + ") = 'real' THEN " + col + " + 0.25 ELSE " + col +
                                     " + 1000 END WHERE " + t.key + " = '" + key + "'";
          REQUIRE(db->Exec("BEGIN").ok());
          Status changed = db->Exec(change);
          if (changed.ok()) {
            // A value the journal does not read (a column of the other tier's
            // place, an item's sequence number that keeps its order) changes
            // nothing a replay could act on; any other change is refused.
            auto read = AsRead(&journal);
            if (read.ok() && *read == original) {
              ++unread;
            } else {
              ++mutations;
              auto intact = AllIntact(&journal);
              CHECK_MESSAGE((!intact.ok() || !*intact), std::string(t.name), ".", col, " of ", key,
                            " changed unnoticed");
            }
          }
          REQUIRE(db->Exec("ROLLBACK").ok());
        }
      }
    }
    // Every byte of every item block, changed in turn, and a block dropped.
    size_t block_bytes = 0;
    if (blocks) {
      std::vector<std::pair<int64_t, int64_t>> keys;
      {
        auto k = db->Prepare("SELECT migration_id, block FROM migration_blocks");
        REQUIRE(k.ok());
        while (*k->Step()) keys.push_back({k->Int(0), k->Int(1)});
      }
      REQUIRE(!keys.empty());
      for (const auto& key : keys) {
        const int64_t id = key.first, block = key.second;  // not a binding: lambdas capture them
        std::string bytes;
        {
          auto st = db->Prepare("SELECT items FROM migration_blocks WHERE migration_id = ? AND block = ?");
          REQUIRE(st.ok());
          st->Bind(1, id).Bind(2, block);
          REQUIRE(*st->Step());
          bytes = st->Blob(0);
        }
        auto put = [&](const std::string& b) {
          auto up = db->Prepare("UPDATE migration_blocks SET items = ? WHERE migration_id = ? AND block = ?");
          REQUIRE(up.ok());
          up->BindBlob(1, b).Bind(2, id).Bind(3, block);
          REQUIRE(up->Run().ok());
        };
        for (size_t i = 0; i < bytes.size(); ++i) {
          for (uint8_t x : {uint8_t(0x01), uint8_t(0x80)}) {
            std::string changed = bytes;
            changed[i] = char(uint8_t(changed[i]) ^ x);
            REQUIRE(db->Exec("BEGIN").ok());
            put(changed);
            ++block_bytes;
            auto intact = AllIntact(&journal);
            CHECK_MESSAGE((!intact.ok() || !*intact), "byte ", i, " of block ", block, " of migration ", id,
                          " changed unnoticed");
            REQUIRE(db->Exec("ROLLBACK").ok());
          }
        }
        for (const std::string& changed :
             {bytes.substr(0, bytes.size() - 1), bytes + std::string(1, '\0'), std::string()}) {
          REQUIRE(db->Exec("BEGIN").ok());
          put(changed);
          auto intact = AllIntact(&journal);
          CHECK_MESSAGE((!intact.ok() || !*intact), "block ", block, " of migration ", id, " cut or grown unnoticed");
          REQUIRE(db->Exec("ROLLBACK").ok());
        }
        REQUIRE(db->Exec("BEGIN").ok());
        REQUIRE(db->Exec("DELETE FROM migration_blocks WHERE migration_id = " + std::to_string(id)).ok());
        CHECK(!*AllIntact(&journal));
        REQUIRE(db->Exec("ROLLBACK").ok());
      }
    }
    MESSAGE(mutations, " single-value changes, each caught; ", unread, " changed a value the journal does not read; ",
            block_bytes, " block byte changes, each caught");
    CHECK(mutations > (blocks ? 20 : 60));
    CHECK(*AllIntact(&journal));
  }
}

TEST_CASE(
    "journal: items over several blocks round-trip; a block dropped, renumbered, swapped or emptied, or a "
    "checksum cleared, is refused") {
  TempDir dir;
  auto db = NewDb(dir);
  Journal journal(db.get());
  Migration m;
  m.kind = "ingest";
  m.created_ms = 5;
  m.targets = {{3, 32, 4096}};
  std::vector<MigrationItem> items;
  for (int i = 0; i < 40; ++i) {  // ~100 KB each: 4 MB, more than 3 blocks
    MigrationItem it;
    it.row_id = 10 + i;
    it.id = "big" + std::to_string(i);
    it.dst = i % 2 ? Place::Hot(i) : Place{Tier::kCold, -1, 3, 32, i};
    it.importance = 0.5;
    it.payload = "\"" + std::string(100000, char('a' + i % 26)) + "\"";
    items.push_back(it);
  }
  REQUIRE(InTransaction(db.get(), [&] { return journal.Insert(&m, items, Journal::ItemLayout::kBlocks); }).ok());
  const int64_t blocks = *db->QueryInt("SELECT COUNT(*) FROM migration_blocks");
  CHECK(blocks >= 4);
  CHECK(*db->QueryInt("SELECT MAX(length(items)) FROM migration_blocks") < int64_t(Journal::kBlockBytes) + 200000);
  {
    auto rows = journal.All();
    REQUIRE(rows->size() == 1);
    auto read = journal.Items(&(*rows)[0]);
    REQUIRE(read->size() == items.size());
    for (size_t i = 0; i < items.size(); ++i) CheckSame((*read)[i], items[i]);
    CHECK((*rows)[0].item_blocks == blocks);
    CHECK(journal.CheckIntegrity(&(*rows)[0], *read).ok());
  }
  const std::string id = std::to_string(m.id);
  for (const std::string& change : std::vector<std::string>{
           "DELETE FROM migration_blocks WHERE block = 1",
           "DELETE FROM migration_blocks WHERE block = " + std::to_string(blocks - 1),
           "UPDATE migration_blocks SET block = 100 WHERE block = 1",
           "UPDATE migration_blocks SET block = -1 WHERE block = 0; UPDATE migration_blocks SET block = 0 WHERE block "
           "= 1; "
           "UPDATE migration_blocks SET block = 1 WHERE block = -1",
           "UPDATE migration_blocks SET items = x'' WHERE block = 2",
           "UPDATE migration_blocks SET items = CAST(items AS TEXT) WHERE block = 0",
           "INSERT INTO migration_blocks VALUES(" + id + ", " + std::to_string(blocks) + ", x'00000000')",
           "UPDATE migrations SET crc = NULL"}) {
    CAPTURE(change);
    REQUIRE(db->Exec("BEGIN").ok());
    REQUIRE(db->Exec(change).ok());
    CHECK(!*AllIntact(&journal));
    REQUIRE(db->Exec("ROLLBACK").ok());
  }
  CHECK(*AllIntact(&journal));
}

TEST_CASE("journal: a row without a checksum is refused when it has a kept state or item blocks (both came later)") {
  for (bool blocks : {false, true}) {
    for (bool kept : {false, true}) {
      CAPTURE(blocks);
      CAPTURE(kept);
      TempDir dir;
      auto db = NewDb(dir);
      Journal journal(db.get());
      Migration m;
      m.kind = "ingest";
      m.created_ms = 9;
      MigrationItem it;
      it.row_id = 4;
      it.id = "k";
      it.dst = Place::Hot(0);
      it.importance = 0.5;
      if (kept) it.kept = KeptState{1, 2, 3, false, ""};
      REQUIRE(InTransaction(db.get(), [&] {
                return journal.Insert(&m, {it}, blocks ? Journal::ItemLayout::kBlocks : Journal::ItemLayout::kRows);
              }).ok());
      CHECK(*AllIntact(&journal));
      REQUIRE(db->Exec("UPDATE migrations SET crc = NULL").ok());
      // A checksum-less row is what an aether before checksums wrote: only
      // one with neither passes.
      CHECK(*AllIntact(&journal) == (!blocks && !kept));
    }
  }
}
