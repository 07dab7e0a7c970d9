#include "meta/schema.h"

#include <doctest/doctest.h>

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
  for (const char* table : {"config", "memories", "hot_free", "shards", "migrations", "migration_items",
                            "restore_queue", "index_generations", "audit_log"}) {
    auto n =
        (*db)->QueryInt(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='") + table + "'");
    CHECK_MESSAGE(*n == 1, table);
  }
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
