#include "meta/memories_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "meta/schema.h"
#include "meta/sqlite_db.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

namespace {

// A new meta.db in dir with the current schema (a store of dimension 4).
std::unique_ptr<Db> NewMetaDb(const TempDir& dir) {
  auto db = Db::Open(dir / "meta.db", true, false);
  REQUIRE(db.ok());
  StoreConfig c;
  c.dim = 4;
  REQUIRE(CreateSchema(db->get(), c, 1, 0).ok());
  return std::move(*db);
}

// FindMany's answer for `ids` against Find's for each: the same memory
// (row id, id, place) or none.
void CheckFindManyAgainstFind(MemoriesTable& memories, const std::vector<std::string>& ids) {
  std::vector<const std::string*> ptrs;
  for (const std::string& id : ids) ptrs.push_back(&id);
  std::vector<std::optional<MemoryRef>> got;
  REQUIRE(memories.FindMany(ptrs, &got).ok());
  REQUIRE(got.size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(ids[i]);
    auto one = memories.Find(ids[i]);
    REQUIRE(one.ok());
    REQUIRE(got[i].has_value() == one->has_value());
    if (!got[i]) continue;
    CHECK(got[i]->row_id == (*one)->row_id);
    CHECK(got[i]->id == ids[i]);
    CHECK(got[i]->place == (*one)->place);
  }
}

}  // namespace

TEST_CASE("FindIds visits every wanted row that has a memory, in order, with the id and tier FindRow gives") {
  TempDir dir;
  std::unique_ptr<Db> db = NewMetaDb(dir);
  MemoriesTable memories(db.get());
  // Row ids with runs and gaps of every size the walk decides on (it steps
  // over 16 rows, seeks further): rows 1..3000, most kept, some deleted.
  std::mt19937_64 rng(7);
  std::vector<int64_t> stored;
  for (int64_t row = 1; row <= 3000; ++row) {
    const uint64_t r = rng() % 100;
    if ((row / 200) % 3 == 1 ? r < 90 : r < 10) continue;  // sparse stretches between dense ones
    stored.push_back(row);
    const Place place = row % 2 ? Place::Hot(row * 3) : Place::Cold(row % 7 + 1, row * 11, row % 800);
    REQUIRE(memories.Insert(MemoryRef{row, "m" + std::to_string(row), place}, 0.5, 1000, std::nullopt).ok());
  }
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    // Wanted rows: stored and not, from 0 to past the last, at a random
    // density (all of them to a few).
    std::vector<int64_t> want;
    const uint64_t density = 1 + rng() % 100;
    for (int64_t row = 0; row <= 3100; ++row)
      if (rng() % 100 < density) want.push_back(row);
    if (round == 0) want.clear();
    if (round == 1) want = {3000};
    if (round == 2) want = {0, 3001, 99999};
    std::vector<size_t> visited;
    std::vector<std::string> ids;
    std::vector<Tier> tiers;
    REQUIRE(memories
                .FindIds(want,
                         [&](size_t i, std::string_view id, Tier tier) {
                           visited.push_back(i);
                           ids.emplace_back(id);
                           tiers.push_back(tier);
                           return Status::Ok();
                         })
                .ok());
    // Exactly the wanted rows FindRow finds, ascending, each once, with
    // FindRow's id and tier.
    std::vector<size_t> expected;
    std::vector<MemoryRef> found;
    for (size_t i = 0; i < want.size(); ++i) {
      auto one = memories.FindRow(want[i]);
      REQUIRE(one.ok());
      REQUIRE(one->has_value() == std::binary_search(stored.begin(), stored.end(), want[i]));
      if (!one->has_value()) continue;
      expected.push_back(i);
      found.push_back(**one);
    }
    REQUIRE(visited == expected);
    for (size_t j = 0; j < visited.size(); ++j) {
      CAPTURE(want[visited[j]]);
      CHECK(ids[j] == found[j].id);
      CHECK(tiers[j] == found[j].place.tier);
    }
  }
  // A visit's error ends the walk and is returned.
  int calls = 0;
  Status s = memories.FindIds({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, [&](size_t, std::string_view, Tier) {
    ++calls;
    return Status::Corruption("stop");
  });
  CHECK(s.code() == Code::kCorruption);
  CHECK(calls == 1);
}

TEST_CASE("InsertMany stores each row as given, in groups of every size, and FindMany finds what Find finds") {
  TempDir dir;
  std::unique_ptr<Db> db = NewMetaDb(dir);
  MemoriesTable memories(db.get());
  std::mt19937_64 rng(11);
  // Calls of every size around the statement's group of 16 rows, each row
  // hot or cold, with and without a payload and a kept state.
  struct Want {
    MemoriesTable::NewRow row;
    std::string id;
    std::optional<std::string> payload;
  };
  std::vector<Want> all;
  int64_t next_row = 1;
  for (size_t n : {0, 1, 2, 15, 16, 17, 31, 32, 33, 48, 100, 257}) {
    CAPTURE(n);
    std::vector<Want> call(n);
    for (Want& w : call) {
      w.id = "id-" + std::to_string(next_row) + std::string(rng() % 3, 'x');
      if (rng() % 2) w.payload = "{\"n\":" + std::to_string(rng() % 1000) + "}";
      MemoriesTable::NewRow& r = w.row;
      r.row_id = next_row++;
      r.place =
          rng() % 2 ? Place::Hot(int64_t(rng() % 100000)) : Place::Cold(1 + rng() % 5, rng() % 99999, rng() % 900);
      r.importance = double(rng() % 1001) / 1000;
      r.created_ms = 1000 + int64_t(rng() % 5000);
      if (rng() % 2) {
        r.last_access_ms = r.created_ms + int64_t(rng() % 100);
        r.access_count = int64_t(rng() % 50);
      }
    }
    std::vector<MemoriesTable::NewRow> rows;
    for (Want& w : call) {
      w.row.id = &w.id;
      w.row.payload = &w.payload;
      rows.push_back(w.row);
    }
    REQUIRE(memories.InsertMany(rows).ok());
    for (Want& w : call) all.push_back(std::move(w));
  }
  auto count = memories.Count();
  REQUIRE(count.ok());
  REQUIRE(*count == all.size());
  for (const Want& w : all) {
    CAPTURE(w.id);
    auto got = memories.Get(w.id);
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    const MemoryRow& m = **got;
    CHECK(m.ref.row_id == w.row.row_id);
    CHECK(m.ref.place == w.row.place);
    CHECK(m.stats.importance == w.row.importance);
    CHECK(m.stats.created_ms == w.row.created_ms);
    CHECK(m.stats.last_access_ms == (w.row.last_access_ms < 0 ? w.row.created_ms : w.row.last_access_ms));
    CHECK(m.stats.access_count == uint64_t(w.row.access_count));
    CHECK(m.payload == w.payload);
  }
  // An id already stored fails the call, in the middle of a group or alone.
  for (size_t at : {0, 7, 16, 20}) {
    CAPTURE(at);
    std::vector<std::string> ids(21);
    std::vector<MemoriesTable::NewRow> rows(21);
    for (size_t i = 0; i < rows.size(); ++i) {
      ids[i] = i == at ? all[i].id : "fresh-" + std::to_string(at) + "-" + std::to_string(i);
      rows[i].row_id = 100000 + int64_t(at * 100 + i);
      rows[i].id = &ids[i];
      rows[i].place = Place::Hot(int64_t(i));
    }
    REQUIRE(db->Exec("BEGIN").ok());
    const Status alone = memories.InsertMany({rows[at]});
    REQUIRE_FALSE(alone.ok());
    const Status s = memories.InsertMany(rows);
    CHECK_FALSE(s.ok());
    // The error a row gives alone (naming the one-row statement), not the
    // group's: the failing group is tried again row by row.
    CHECK(s.message() == alone.message());
    CHECK(db->in_transaction());  // the caller's, still open
    REQUIRE(db->Exec("ROLLBACK").ok());
  }
  count = memories.Count();
  REQUIRE(count.ok());
  CHECK(*count == all.size());

  // FindMany against Find: stored and absent ids, some asked twice, in
  // calls of every size around its group of 16. Its probe of the ids'
  // range: calls of absent ids only, between stored ones ("id-12a" sorts
  // between "id-12" and "id-12x"), or beside them all ("a-...", "z-..."), and
  // calls whose one stored id is the range's first or last. Its walk of
  // the index: ids of a window of numbers, stored and absent interleaved in
  // byte order ("id-12", "id-120", "id-12x"), with bytes past 0x7f (absent;
  // they sort after every ASCII byte), in runs long and short.
  for (int round = 0; round < 750; ++round) {
    CAPTURE(round);
    const int kind = round % 5;  // 0: mixed, 1: absent between, 2: absent outside, 3: one stored at an end, 4: a window
    std::vector<std::string> ids(rng() % (kind == 4 ? 300 : 70));
    const uint64_t window = rng() % 700, width = 1 + rng() % 60;
    for (std::string& id : ids) {
      const uint64_t r = rng() % 10;
      if (kind == 4) {
        id = "id-" + std::to_string(window + rng() % width) + std::string(rng() % 4, 'x');
        if (r == 0) id += "\xc3\xa9";
        if (r == 1) id += "\xff";
        continue;
      }
      if (kind == 1) {
        id = all[rng() % all.size()].id + "a";
        continue;
      }
      if (kind >= 2) {  // before every stored id, or after
        id = std::string(round % 8 >= 4 ? "z-" : "id-0") + std::to_string(rng() % 50);
        continue;
      }
      id = r < 6 ? all[rng() % all.size()].id : r < 8 ? "absent-" + std::to_string(rng() % 50) : "";
      if (r == 9 && !ids.empty()) id = ids[rng() % ids.size()];  // maybe asked before
    }
    if (kind == 3 && !ids.empty()) {
      // "id-0..." sorts before every stored id ("id-1..."), "z-..." after:
      // the smallest stored id is then the range's last, the largest its
      // first.
      std::string smallest = all[0].id, largest = all[0].id;
      for (const auto& w : all) smallest = std::min(smallest, w.id), largest = std::max(largest, w.id);
      ids[rng() % ids.size()] = round % 8 >= 4 ? largest : smallest;
    }
    CheckFindManyAgainstFind(memories, ids);
  }
}

// FindMany's walk of the id index against Find, over ids of the bytes that
// order differently as signed and unsigned chars or end a C string (NUL,
// 0x7f, 0x80, 0xc3, 0xff), 1 to 4 bytes, so that many are prefixes of
// others, stored and asked in every mix and density; and a damaged row
// whose id is a BLOB (after every text in the index, its bytes after every
// stored text id's): an id of its bytes asked as text is absent from both.
TEST_CASE("FindMany finds what Find finds for ids of every byte order, and never a damaged BLOB id") {
  TempDir dir;
  std::unique_ptr<Db> db = NewMetaDb(dir);
  MemoriesTable memories(db.get());
  std::mt19937_64 rng(12);
  const std::string alphabet("\0ab\x7f\x80\xc3\xff", 7);
  auto random_id = [&] {
    std::string id(1 + rng() % 4, 'a');
    for (char& c : id) c = alphabet[rng() % alphabet.size()];
    return id;
  };
  std::vector<std::string> stored;
  for (int64_t row = 1; row <= 1200; ++row) {
    std::string id = random_id();
    if (std::find(stored.begin(), stored.end(), id) != stored.end()) continue;
    REQUIRE(memories.Insert(MemoryRef{row, id, Place::Cold(1, row, 0)}, 0.5, 1000, std::nullopt).ok());
    stored.push_back(id);
  }
  REQUIRE(db->Exec("INSERT INTO memories(row_id, id, tier, shard_id, frame_offset, frame_index, importance, "
                   "created_ms, last_access_ms) VALUES(5000, X'ffffffffff', 1, 1, 0, 0, 0.5, 1, 1)")
              .ok());
  for (int round = 0; round < 400; ++round) {
    CAPTURE(round);
    std::vector<std::string> ids(1 + rng() % 200);
    for (std::string& id : ids) id = rng() % 3 ? random_id() : stored[rng() % stored.size()];
    if (round % 4 == 0) ids.push_back(std::string(5, '\xff'));  // the BLOB id's bytes
    CheckFindManyAgainstFind(memories, ids);
  }
}
