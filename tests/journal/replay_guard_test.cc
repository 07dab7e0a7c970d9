// The journal-row mutation matrix (issue: "replay trusts journal rows").
//
// For every migration kind (ingest with replaces, descend, ascend, rebuild,
// maintain's staging move and partition rewrite) left dangling in every state (intent, written,
// committed; a rewrite also inside its cleanup) by a real
// process killed at a fault point, every column of its journal rows (the
// migration, each target, each item block: a byte of every field of its
// first item, and the block cut short) is set to boundary and
// stale values, with its checksum kept (a damaged row) or cleared (a row as
// an older aether wrote it, checked only against the committed state). Then,
// in process: the replay either acts (and the store ends in the state
// before or after the command, as the row's state says) or refuses with
// Corruption; a refused store is still readable and holds exactly the
// committed state, and `recover --discard-damaged` (OpenOptions) rolls it
// back to that state. Every outcome is compared bit for bit with stores
// made by running the same command without a fault, and `verify` must pass.
//
// Each row also runs as a store before format 4 journals it (ToRowLayout: a
// row per item in migration_items, whose first and last item's every column
// is mutated).
//
// AETHER_FULL_MATRIX=1 (scripts/journal-matrix) runs every value for every
// column; the default runs two per column (a boundary, and NULL or a stale
// value), which still covers every column of every row kind and state.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "aether/store.h"
#include "journal/journal.h"
#include "meta/sqlite_db.h"
#include "test_util.h"

using namespace aether;
using namespace aether::test;
namespace fs = std::filesystem;

namespace {

struct Memory {
  std::vector<float> vector;
  std::string payload;
  Tier tier;
  bool operator==(const Memory& o) const { return vector == o.vector && payload == o.payload && tier == o.tier; }
  bool SameData(const Memory& o) const { return vector == o.vector && payload == o.payload; }
};
using State = std::map<std::string, Memory>;

// Every memory among `ids`, read through the library (bit-exact vectors).
State Load(Store* store, const std::vector<std::string>& ids) {
  auto got = store->Get(ids);
  REQUIRE_MESSAGE(got.ok(), got.status().ToString());
  State out;
  for (const auto& r : *got)
    if (r) out[r->id] = {r->vector, r->payload_json, r->tier};
  return out;
}

void VerifyClean(Store* store, const std::string& what) {
  auto v = store->Verify();
  REQUIRE_MESSAGE(v.ok(), v.status().ToString());
  std::string problems;
  for (const auto& p : v->problems) problems += p + "; ";
  CHECK_MESSAGE(v->problems.empty(), what << ": " << problems);
}

// Runs sql on the DB; false when SQLite refuses it (a NOT NULL or key
// constraint: a value no damage short of a corrupt page can produce).
bool TryExec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc == SQLITE_OK;
}

void Exec(const std::string& db_path, const std::string& sql) { REQUIRE_MESSAGE(TryExec(db_path, sql), sql); }

// One journal cell: its table, a WHERE clause naming its row, the column, and
// its SQL value as text ("NULL" for NULL).
struct Cell {
  std::string table, where, column, value;
  bool is_text = false;
  bool is_blob = false;
  std::string blob;  // is_blob: the bytes
};

std::vector<Cell> JournalCells(const std::string& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  std::vector<Cell> cells;
  // Every column of each row `select` returns; `keys` name the row.
  auto collect = [&](const std::string& table, const std::string& select, const std::vector<std::string>& keys) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, select.c_str(), -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string where;
      for (int c = 0; c < sqlite3_column_count(st); ++c)
        for (const auto& k : keys)
          if (k == sqlite3_column_name(st, c))
            where += (where.empty() ? "" : " AND ") + k + " = " + std::to_string(sqlite3_column_int64(st, c));
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        Cell cell{table, where, sqlite3_column_name(st, c), "NULL", false, false, {}};
        const int type = sqlite3_column_type(st, c);
        if (type == SQLITE_INTEGER) cell.value = std::to_string(sqlite3_column_int64(st, c));
        if (type == SQLITE_FLOAT) cell.value = std::to_string(sqlite3_column_double(st, c));
        if (type == SQLITE_TEXT) {
          cell.value = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
          cell.is_text = true;
        }
        if (type == SQLITE_BLOB) {
          cell.blob.assign(static_cast<const char*>(sqlite3_column_blob(st, c)), size_t(sqlite3_column_bytes(st, c)));
          cell.value = "blob";
          cell.is_blob = true;
        }
        cells.push_back(cell);
      }
    }
    sqlite3_finalize(st);
  };
  collect("migrations", "SELECT * FROM migrations", {"id"});
  collect("migration_targets", "SELECT * FROM migration_targets", {"migration_id", "shard_id"});
  collect("migration_items",
          "SELECT * FROM migration_items WHERE seq = 0 OR seq = (SELECT MAX(seq) FROM migration_items)",
          {"migration_id", "seq"});
  collect("migration_blocks", "SELECT * FROM migration_blocks", {"migration_id", "block"});
  sqlite3_close(db);
  return cells;
}

// The store as a format-3 store journals: each item a migration_items row
// (a store before format 4; an older aether wrote such rows too). The rows
// keep their kind, state, targets, items and trace id; only their ids may
// change.
void ToRowLayout(const std::string& store) {
  auto db = Db::Open(store + "/meta.db", /*create=*/false, /*reader=*/false);
  REQUIRE(db.ok());
  Journal journal(db->get());
  auto all = journal.All();
  REQUIRE(all.ok());
  std::vector<std::pair<Migration, std::vector<MigrationItem>>> rows;
  for (Migration m : *all) {
    auto items = journal.Items(&m);
    REQUIRE(items.ok());
    REQUIRE(m.items_damage.empty());
    rows.push_back({m, *items});
  }
  Status s = InTransaction(db->get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR((*db)->Exec("UPDATE config SET value = '3' WHERE key = 'format_version'"));
    for (auto& [m, items] : rows) {
      AETHER_RETURN_IF_ERROR(journal.Remove(m.id));
      const MigrationState state = m.state;
      AETHER_RETURN_IF_ERROR(journal.Insert(&m, items, Journal::ItemLayout::kRows));
      AETHER_RETURN_IF_ERROR(journal.SetState(m, state));
    }
    return Status::Ok();
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
}

std::string HexBlob(const std::string& bytes) {
  std::string out = "X'";
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out + "'";
}

// Where each field of an item block's first item starts (format-spec/
// journal.md, "Item blocks"): read here from the documented layout, not
// with the journal's own decoder.
std::vector<size_t> FirstItemFields(const std::string& b) {
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | uint8_t(b.at(at + size_t(i)));
    return size_t(v);
  };
  std::vector<size_t> at;
  const size_t end = 4 + u32(0);
  size_t p = 0;
  at.push_back(p);       // the item's length
  at.push_back(p += 4);  // row_id
  at.push_back(p += 8);  // the id's length
  at.push_back(p + 4);   // the id's first byte (when it has one)
  p += 4 + u32(p);
  for (int place = 0; place < 2; ++place)  // src, dst: tier, slot, shard, offset, index
    for (int f = 0; f < 5; ++f) {
      at.push_back(p);
      p += 8;
    }
  at.push_back(p);       // importance
  at.push_back(p += 8);  // has_payload
  at.push_back(p += 1);  // the payload's length
  at.push_back(p + 4);   // the payload's first byte
  p += 4 + u32(p);
  at.push_back(p);  // replaces_row_id
  p += 8;
  if (p < end) at.push_back(p);  // the kept state's flag
  std::vector<size_t> out;
  for (size_t a : at)
    if (a < end) out.push_back(a);
  return out;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The values a cell is set to: boundaries, off by one, NULL, and stale ones
// (a kind or a state another row could have).
std::vector<std::string> Mutations(const Cell& c, bool full) {
  std::vector<std::string> out;
  if (c.is_blob) {  // a bit of each field's first byte, then the block cut by a byte
    for (size_t at : FirstItemFields(c.blob)) {
      std::string b = c.blob;
      b[at] = char(uint8_t(b[at]) ^ 1);
      out.push_back(HexBlob(b));
    }
    out.push_back(HexBlob(c.blob.substr(0, c.blob.size() - 1)));
  } else if (c.is_text) {
    out = {"NULL", "''", "'x'"};
    if (c.column == "kind") out = {"NULL", "'descend'", "'rebuild'", "'ingest'", "'x'"};
    if (c.column == "id") out = {"'" + c.value + "x'", "''", "NULL"};
  } else if (c.column == "importance") {
    out = {"-1.0", "2.0", "0.25", "NULL"};
  } else if (c.column == "state") {
    out = {"1", "2", "3", "0", "4"};
  } else {
    const int64_t v = c.value == "NULL" ? 0 : std::stoll(c.value);
    out = {"0", "-1", std::to_string(v + 1), std::to_string(v - 1), "9223372036854775807", "NULL", "1"};
    if (c.column == "len_before" || c.column == "hot_slots_before") out.push_back("32");
  }
  std::vector<std::string> kept;
  for (const auto& v : out)
    if (v != c.value && v != Quote(c.value) && (c.value != "NULL" || v != "NULL")) kept.push_back(v);
  if (!full && kept.size() > 2) kept = {kept.front(), kept.back()};  // a boundary, and NULL or a stale value
  return kept;
}

struct Scenario {
  std::string kind, state;       // "ingest", ... / "after_intent", ...
  std::string pristine;          // the store with the dangling row
  State before, after;           // without a fault: before and after the command
  std::vector<std::string> ids;  // every id either state holds
};

// The base store: hot and cold memories with payloads, an index of 4
// partitions, free hot slots and cold garbage.
// For the cold compactions (unstage, rewrite): staging records beside
// garbage (memories sent again unchanged into a full hot tier with
// ingest_evict 0, twice: their partition copies and then their first staging
// copies become garbage), and a maintain that does nothing else (no sampled,
// capacity or restore moves) and compacts any shard holding garbage.
void MakeBase(const std::string& store, const std::string& kind, std::vector<Mem>* mems) {
  *mems = RandomMems(160, 8, 4242, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "60"}, ToJsonlWithPayload(*mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "90"}).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m1", "m2", "m150"}).exit_code == 0);
  if (kind != "rewrite" && kind != "unstage") return;
  REQUIRE(Aether({"config", store, "preset", "disabled"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "cold_garbage_max", "0.001"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "ingest_evict", "0"}).exit_code == 0);
  auto st = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  REQUIRE(Aether({"config", store, "set", "hot_capacity", std::to_string(st["hot_memories"].get<int>())}).exit_code ==
          0);
  const std::vector<Mem> again(mems->begin() + 100, mems->begin() + 110);  // cold ones
  for (int i = 0; i < 2; ++i)
    REQUIRE(
        Aether({"ingest", "--create", store, "--on-duplicate", "replace"}, ToJsonlWithPayload(again, 100)).exit_code ==
        0);
}

std::vector<std::string> CommandFor(const std::string& kind, const std::string& store, std::string* stdin_data) {
  if (kind == "ingest") {
    auto fresh = RandomMems(40, 8, 99, "n");
    fresh[0].id = "m3";    // replaces a hot memory
    fresh[1].id = "m120";  // replaces a cold one
    *stdin_data = ToJsonlWithPayload(fresh);
    return {"ingest", "--create", store, "--on-duplicate", "replace"};
  }
  if (kind == "descend") return {"descend", store, "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11"};
  if (kind == "ascend") return {"ascend", store, "m70", "m71", "m72", "m73", "m140", "m141", "m142"};
  if (kind == "rewrite" || kind == "unstage") return {"maintain", store, "--seed", "1"};
  return {"rebuild-index", store, "--partitions", "5"};
}

Scenario MakeScenario(const TempDir& dir, const std::string& kind, const std::string& state) {
  Scenario sc{kind, state, dir / (kind + "-" + state), {}, {}, {}};
  const std::string base = dir / ("base-" + kind + "-" + state), done = dir / ("done-" + kind + "-" + state);
  std::vector<Mem> mems;
  MakeBase(base, kind, &mems);
  fs::copy(base, sc.pristine, fs::copy_options::recursive);
  fs::copy(base, done, fs::copy_options::recursive);
  std::string in;
  REQUIRE(Aether(CommandFor(kind, done, &in), in).exit_code == 0);
  auto r = Aether(CommandFor(kind, sc.pristine, &in), in, {"AETHER_FAULT=" + kind + "." + state});
  REQUIRE_MESSAGE(r.exit_code == 137, r.err);
  for (const auto& m : mems) sc.ids.push_back(m.id);
  for (int i = 0; i < 40; ++i) sc.ids.push_back("n" + std::to_string(i));
  sc.before = Load(OpenStoreOrFail(base, AccessMode::kRead).get(), sc.ids);
  sc.after = Load(OpenStoreOrFail(done, AccessMode::kRead).get(), sc.ids);
  if (kind == "ingest" || kind == "descend" || kind == "ascend")
    REQUIRE(sc.before != sc.after);  // the others change no memory's tier
  return sc;
}

struct Tally {
  int trials = 0, refused = 0, replayed = 0, legacy = 0;
};

// One mutated store: replay, then the checks described at the top.
void Trial(const Scenario& sc, const TempDir& dir, const Cell& cell, const std::string& value, bool legacy,
           Tally* tally) {
  CAPTURE(sc.kind);
  CAPTURE(sc.state);
  CAPTURE(cell.table);
  CAPTURE(cell.where);
  CAPTURE(cell.column);
  CAPTURE(value);
  CAPTURE(legacy);
  const std::string store = dir / "trial";
  fs::remove_all(store);
  fs::copy(sc.pristine, store, fs::copy_options::recursive);
  std::string sql = "UPDATE " + cell.table + " SET " + cell.column + " = " + value + " WHERE " + cell.where + ";";
  if (legacy) sql += "UPDATE migrations SET crc = NULL;";
  if (!TryExec(store + "/meta.db", "BEGIN;" + sql + "COMMIT;")) return;
  ++tally->trials;
  tally->legacy += legacy;
  // What committed metadata says: the command's effect is visible only once
  // its row is committed.
  const bool was_committed = sc.state == "after_commit" || sc.state == "mid_cleanup";
  const State& committed = was_committed ? sc.after : sc.before;

  OpenOptions w;
  w.access = AccessMode::kWrite;
  w.wait_seconds = 0;
  auto opened = Store::Open(store, w);
  if (opened.ok()) {
    ++tally->replayed;
    State got = Load(opened->get(), sc.ids);
    VerifyClean(opened->get(), "after replay");
    if (sc.state == "after_intent")
      CHECK(got == sc.before);
    else if (was_committed)
      CHECK(got == sc.after);
    else if (!legacy)
      CHECK(got == sc.after);
    if (legacy) {
      // A row without a checksum can carry a wrong new id or payload into a
      // roll forward (nothing but a checksum could tell); what it may never
      // do is lose a memory the committed state holds, or change one the
      // command does not itself replace.
      for (const auto& entry : sc.before) {
        const std::string& id = entry.first;
        const auto& m = entry.second;
        auto it = got.find(id);
        CHECK_MESSAGE(it != got.end(), "memory '" << id << "' lost");
        if (it != got.end() && sc.after.count(id) && sc.after.at(id).SameData(m))
          CHECK_MESSAGE(it->second.SameData(m), "memory '" << id << "' changed");
      }
    }
    return;
  }
  ++tally->refused;
  REQUIRE_MESSAGE(opened.status().code() == Code::kCorruption, opened.status().ToString());
  CHECK(opened.status().message().find("--discard-damaged") != std::string::npos);
  {
    auto reader = OpenStoreOrFail(store, AccessMode::kRead);  // readable: the committed state, as it is
    CHECK(!reader->deferred_recovery().ok());
    CHECK(Load(reader.get(), sc.ids) == committed);
  }
  auto fixed = OpenStoreOrFail(store, AccessMode::kWrite, nullptr, /*discard_damaged=*/true);
  REQUIRE(fixed->replayed().size() == 1);
  CHECK(fixed->replayed()[0].action.rfind("discarded", 0) == 0);
  CHECK(Load(fixed.get(), sc.ids) == committed);
  VerifyClean(fixed.get(), "after discard");
}

}  // namespace

TEST_CASE("journal rows: every field of every kind and state, damaged or stale, never costs a committed memory" *
          doctest::test_suite("sweep")) {
  const bool full = std::getenv("AETHER_FULL_MATRIX") != nullptr;
  TempDir dir(/*in_memory=*/true);
  Tally tally;
  // A short run (the sanitizer build, after the whole matrix ran) takes one
  // trial of each cell, a different one from cell to cell.
  size_t cell_no = 0;
  for (const std::string kind : {"ingest", "descend", "ascend", "rebuild", "unstage", "rewrite"}) {
    for (const std::string state : {"after_intent", "after_written", "after_commit", "mid_cleanup"}) {
      if (state == "mid_cleanup" && kind != "rewrite") continue;
      Scenario blocks = MakeScenario(dir, kind, state);
      Scenario rows = blocks;
      rows.pristine += "-rows";
      fs::copy(blocks.pristine, rows.pristine, fs::copy_options::recursive);
      ToRowLayout(rows.pristine);
      for (const Scenario& sc : {blocks, rows}) {
        const auto cells = JournalCells(sc.pristine + "/meta.db");
        REQUIRE(!cells.empty());
        for (const Cell& cell : cells) {
          std::vector<std::pair<std::string, bool>> trials;  // value, legacy
          for (const std::string& value : Mutations(cell, full))
            for (bool legacy : {false, true})
              if (!legacy || cell.column != "crc") trials.emplace_back(value, legacy);
          const size_t pick = cell_no++ % std::max<size_t>(trials.size(), 1);
          for (size_t t = 0; t < trials.size(); ++t)
            if (!ShortRun() || t == pick) Trial(sc, dir, cell, trials[t].first, trials[t].second, &tally);
        }
      }
    }
  }
  MESSAGE("journal mutation matrix: " << tally.trials << " mutated rows (" << tally.legacy << " without a checksum), "
                                      << tally.refused << " refused as damaged, " << tally.replayed
                                      << " replayed; 0 committed memories lost");
  CHECK(tally.refused > tally.trials / 2);
}

TEST_CASE("regression: an ingest intent row with hot_slots_before = 0 no longer empties the hot tier") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(50, 4, 7);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
  auto before = GetAll(store, Ids(mems));
  // What the issue did by hand: a row as an older aether would write it (no
  // checksum), claiming the hot file was empty before it.
  Exec(store + "/meta.db",
       "INSERT INTO migrations(kind, state, created_ms, hot_slots_before, generation, old_generation) "
       "VALUES('ingest', 1, 0, 0, 0, 0)");
  auto r = Aether({"recover", store});
  CHECK(r.exit_code == 79);
  CHECK(r.err.find("committed memories use 50") != std::string::npos);
  CHECK(GetAll(store, Ids(mems)) == before);  // readers read on
  CHECK(Aether({"verify", store}).exit_code == 1);
  auto fixed = Aether({"recover", store, "--discard-damaged"});
  CHECK_MESSAGE(fixed.exit_code == 0, fixed.err);
  CHECK(Aether({"verify", store}).exit_code == 0);
  CHECK(GetAll(store, Ids(mems)) == before);
}

TEST_CASE(
    "regression: a dangling index-build row with a damaged partition count (-1, no checksum) is replayed within "
    "bounds") {
  // The replay named every partition the count said (4 billion names: out
  // of memory); it now lists the generation's directory.
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(200, 4, 9);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10"}, ToJsonl(mems)).exit_code == 0);
  auto before = GetAll(store, Ids(mems));
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}, "", {"AETHER_FAULT=rebuild.after_sync"}).exit_code ==
          137);
  Exec(store + "/meta.db", "UPDATE migrations SET partitions = -1, crc = NULL WHERE kind = 'rebuild'");
  auto r = Aether({"recover", store});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(GetAll(store, Ids(mems)) == before);
  CHECK(Aether({"verify", store}).exit_code == 0);
  // The rolled-back generation's files are gone, and only they.
  CHECK(!fs::exists(store + "/cold/g000001"));
  CHECK(!fs::exists(store + "/index/g000001.centroids"));
  CHECK(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  CHECK(GetAll(store, Ids(mems)) == before);
}

// A meta.db restored from a copy taken while a partition rewrite was
// journaled, after the rewrite committed and removed the old file: the new
// file is the partition's only copy. An intent (which can only roll back,
// deleting it) is refused; a written row rolls forward from it.
TEST_CASE("regression: a stale rewrite row (meta.db restored from before the commit) never deletes the new file") {
  for (const std::string state : {"after_intent", "after_written"}) {
    CAPTURE(state);
    TempDir dir;
    const std::string store = dir / "s", backup = dir / "backup";
    std::vector<Mem> mems;
    MakeBase(store, "plain", &mems);  // garbage in one partition only (m150)
    REQUIRE(Aether({"config", store, "preset", "disabled"}).exit_code == 0);
    REQUIRE(Aether({"config", store, "set", "cold_garbage_max", "0.001"}).exit_code == 0);
    std::vector<std::string> ids;
    for (const auto& m : mems) ids.push_back(m.id);
    const auto stored = GetRecords(store, ids);
    REQUIRE(Aether({"maintain", store, "--seed", "1"}, "", {"AETHER_FAULT=rewrite." + state}).exit_code == 137);
    fs::create_directories(backup);
    for (const char* f : {"meta.db", "meta.db-wal"})
      if (fs::exists(store + "/" + f)) fs::copy_file(store + "/" + f, backup + "/" + f);
    REQUIRE(Aether({"recover", store}).exit_code == 0);  // rolls back, or forward and cleans up
    REQUIRE(Aether({"maintain", store, "--seed", "1"}).exit_code == 0);
    std::vector<std::string> rewritten;
    for (const auto& e : fs::recursive_directory_iterator(store + "/cold"))
      if (e.path().filename().string().find(".r") != std::string::npos) rewritten.push_back(e.path().string());
    REQUIRE(!rewritten.empty());
    fs::remove(store + "/meta.db-shm");
    fs::remove(store + "/meta.db-wal");
    for (const char* f : {"meta.db", "meta.db-wal"})
      if (fs::exists(backup + "/" + f))
        fs::copy_file(backup + "/" + f, store + "/" + f, fs::copy_options::overwrite_existing);
    auto r = Aether({"recover", store});
    if (state == "after_intent") {
      CHECK(r.exit_code == 79);
      CHECK(r.err.find("does not hold") != std::string::npos);
      for (const auto& path : rewritten) CHECK_MESSAGE(fs::exists(path), path);
    } else {
      // Rolled forward: the partition's records are read from the new file.
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      CHECK(Aether({"verify", store}).exit_code == 0);
      CHECK(GetRecords(store, ids) == stored);
    }
  }
}
