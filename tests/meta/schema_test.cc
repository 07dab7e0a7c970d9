#include "meta/schema.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "meta/config_table.h"
#include "meta/sqlite_db.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

TEST_CASE("a new metadata DB holds every documented table and the config") {
  TempDir dir;
  auto db = Db::Open(dir / "meta.db", true, false);
  REQUIRE(db.ok());
  StoreConfig c;
  c.dim = 12;
  c.metric = Metric::kCosine;
  c.hot_capacity = 99;
  REQUIRE(CreateSchema(db->get(), c, 1, 1234).ok());
  // The tables are exactly those format-spec/metadata_db.md documents, one
  // "## name" heading (or "## a, b, c — ...") each.
  std::set<std::string> documented;
  for (const std::string& line :
       aether::test::Lines(aether::test::ReadFile(std::string(AETHER_TESTDATA) + "/../format-spec/metadata_db.md"))) {
    if (line.rfind("## ", 0) != 0) continue;
    std::string names = line.substr(3);
    for (const char* end : {" —", " ("})
      if (names.find(end) != std::string::npos) names = names.substr(0, names.find(end));
    for (size_t at = 0; at <= names.size();) {
      const size_t comma = std::min(names.find(", ", at), names.size());
      documented.insert(names.substr(at, comma - at));
      at = comma + 2;
    }
  }
  auto tables = (*db)->Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  REQUIRE(tables.ok());
  std::set<std::string> made;
  while (*tables->Step()) made.insert(tables->Text(0));
  CHECK(made == documented);
  CHECK(made.count("audit_traces") == 1);
  CHECK(*(*db)->QueryInt("PRAGMA synchronous") == 2);  // FULL
  uint32_t version = 0;
  auto loaded = LoadConfig(db->get(), 1, &version);
  REQUIRE(loaded.ok());
  CHECK(version == 1);
  CHECK(loaded->dim == 12);
  CHECK(loaded->metric == Metric::kCosine);
  CHECK(loaded->hot_capacity == 99);
  CHECK(*ConfigTable(db->get()).Require("created_ms") == "1234");
}

TEST_CASE("a DB from a newer format version is refused with a clear message") {
  TempDir dir;
  auto db = Db::Open(dir / "meta.db", true, false);
  StoreConfig c;
  c.dim = 3;
  REQUIRE(CreateSchema(db->get(), c, 1, 0).ok());
  REQUIRE(ConfigTable(db->get()).Set("format_version", "2").ok());
  uint32_t version = 0;
  auto loaded = LoadConfig(db->get(), 1, &version);
  CHECK(loaded.status().code() == Code::kNotSupported);
  CHECK(loaded.status().message().find("newer than this aether supports") != std::string::npos);
}

TEST_CASE("the DB is in WAL mode") {
  TempDir dir;
  auto db = Db::Open(dir / "meta.db", true, false);
  auto st = (*db)->Prepare("PRAGMA journal_mode");
  REQUIRE(st.ok());
  REQUIRE(*st->Step());
  CHECK(st->Text(0) == "wal");
}

namespace {

// The DB's indexes, by name.
std::set<std::string> Indexes(Db* db) {
  std::set<std::string> out;
  auto st = db->Prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL");
  REQUIRE(st.ok());
  for (;;) {
    auto row = st->Step();
    REQUIRE(row.ok());
    if (!*row) return out;
    out.insert(st->Text(0));
  }
}

// What SQLite's plan for `sql` says, every step joined.
std::string Plan(Db* db, const std::string& sql) {
  auto st = db->Prepare("EXPLAIN QUERY PLAN " + sql);
  REQUIRE(st.ok());
  std::string out;
  for (;;) {
    auto row = st->Step();
    REQUIRE(row.ok());
    if (!*row) return out;
    out += st->Text(3) + "; ";
  }
}

}  // namespace

TEST_CASE("memories_by_tier: a new DB never has it, an older DB's schema step drops it, queries by tier stay indexed") {
  TempDir dir;
  StoreConfig c;
  c.dim = 4;
  auto fresh = Db::Open(dir / "new.db", true, false);
  auto old = Db::Open(dir / "old.db", true, false);
  REQUIRE(fresh.ok());
  REQUIRE(old.ok());
  REQUIRE(CreateSchema(fresh->get(), c, 3, 1).ok());
  REQUIRE(CreateSchema(old->get(), c, 3, 1).ok());
  // As every store made before the step has it.
  REQUIRE((*old)->Exec("CREATE INDEX memories_by_tier ON memories(tier)").ok());
  const std::string step = "drop the memories_by_tier index (memories_by_slot serves its queries)";
  CHECK(PendingSchemaUpgrades(fresh->get())->empty());
  CHECK(*PendingSchemaUpgrades(old->get()) == std::vector<std::string>{step});
  CHECK(*UpgradeSchema(old->get()) == std::vector<std::string>{step});
  CHECK(PendingSchemaUpgrades(old->get())->empty());
  CHECK(Indexes(old->get()) == Indexes(fresh->get()));
  CHECK(Indexes(fresh->get()).count("memories_by_slot") == 1);
  CHECK(Indexes(fresh->get()).count("memories_by_tier") == 0);
  // Every statement that selects by tier alone searches memories_by_slot
  // (its first column), never the whole table, and sorts nothing.
  for (const char* sql :
       {"SELECT COUNT(*) FROM memories WHERE tier = 0", "SELECT row_id FROM memories WHERE tier = 1",
        "SELECT row_id, id, slot FROM memories WHERE tier = 0", "SELECT row_id, shard_id FROM memories WHERE tier = 1",
        "SELECT COALESCE(MAX(slot) + 1, 0) FROM memories WHERE tier = 0"}) {
    CAPTURE(sql);
    const std::string plan = Plan(fresh->get(), sql);
    CAPTURE(plan);
    CHECK(plan.find("memories_by_slot (tier=?") != std::string::npos);
    CHECK(plan.find("TEMP B-TREE") == std::string::npos);
  }
}
