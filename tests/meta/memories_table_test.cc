#include "meta/memories_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "meta/schema.h"
#include "meta/sqlite_db.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

TEST_CASE("FindRows gives for every wanted row what FindRow gives, over dense, sparse and absent rows") {
  TempDir dir;
  auto db = Db::Open(dir / "meta.db", true, false);
  REQUIRE(db.ok());
  StoreConfig c;
  c.dim = 4;
  REQUIRE(CreateSchema(db->get(), c, 1, 0).ok());
  MemoriesTable memories(db->get());
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
    std::vector<std::optional<MemoryRef>> got;
    REQUIRE(memories.FindRows(want, &got).ok());
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      auto one = memories.FindRow(want[i]);
      REQUIRE(one.ok());
      CAPTURE(want[i]);
      REQUIRE(got[i].has_value() == one->has_value());
      REQUIRE(got[i].has_value() == std::binary_search(stored.begin(), stored.end(), want[i]));
      if (!got[i]) continue;
      CHECK(got[i]->row_id == want[i]);
      CHECK(got[i]->id == (*one)->id);
      CHECK(got[i]->place == (*one)->place);
    }
  }
}
