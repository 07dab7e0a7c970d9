// aether upgrade on the stores earlier aethers wrote (testdata/stores/, made
// by scripts/make-testdata-stores with each commit's own binary): every
// memory reads as that aether's `get` printed it, before and after; the
// dry run changes no byte; the upgrade leaves every frame in the new codec,
// the config and schema current, and verify clean; from and to every codec;
// killed at every step, the store reads as before and `upgrade` run again
// finishes.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct OldStore {
  const char* name;
  int version;           // its format version
  const char* codec;     // its cold codec
  const char* upgraded;  // the codec `upgrade` gives it
  int upgraded_version;  // and the format version
};

const OldStore kOldStores[] = {
    {"v1", 1, "zstd", "zstd-shuffle", 6},
    {"v2", 2, "zstd-shuffle", "zstd-shuffle", 6},
    {"v3-sq8", 3, "sq8", "sq8", 6},
};

const std::string kTestdata = AETHER_TESTDATA;

// Where the store's journal holds its items: "rows" (migration_items),
// "blocks" (migration_blocks), "both" or "empty".
std::string JournalLayout(const std::string& store) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  };
  const int64_t rows = count("SELECT COUNT(*) FROM migration_items");
  const int64_t blocks = count("SELECT COUNT(*) FROM migration_blocks");
  sqlite3_close(db);
  return rows && blocks ? "both" : rows ? "rows" : blocks ? "blocks" : "empty";
}

// A private copy of testdata/stores/NAME/store.
std::string CopyOf(const TempDir& dir, const std::string& name, const std::string& as = "s") {
  const std::string store = dir / as;
  fs::copy(kTestdata + "/stores/" + name + "/store", store, fs::copy_options::recursive);
  return store;
}

std::vector<std::string> SortedLines(const std::string& text) {
  auto lines = Lines(text);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Every memory the store holds is the one that aether's `get` printed
// (expected.jsonl): vector bit-exact, payload, importance, times, count, tier.
void HoldsWhatTheOldAetherWrote(const std::string& store, const std::string& name) {
  std::map<std::string, json> want;
  for (const auto& line : Lines(ReadFile(kTestdata + "/stores/" + name + "/expected.jsonl"))) {
    auto j = json::parse(line);
    want[j["id"]] = j;
  }
  REQUIRE(want.size() > 300);
  size_t seen = 0;
  for (const auto& line : Lines(Export(store))) {
    auto got = json::parse(line);
    CAPTURE(line);
    REQUIRE(want.count(got["id"]));
    const json& w = want[got["id"]];
    ++seen;
    CHECK(got["vector"].get<std::vector<float>>() == w["vector"].get<std::vector<float>>());
    for (const char* field : {"payload", "importance", "created_ms", "last_access_ms", "access_count", "tier"})
      CHECK_MESSAGE(got[field] == w[field], field);
  }
  CHECK(seen == want.size());
}

json Upgrade(const std::string& store, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> cmd = {"upgrade", store, "--format", "json"};
  cmd.insert(cmd.end(), extra.begin(), extra.end());
  auto r = Aether(cmd);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The bytes of every file but SQLite's shared-memory index (a reader may
// write its read marks there) and an empty WAL (opening the DB makes one).
std::map<std::string, std::string> StoreBytes(const std::string& store) {
  auto files = DirectoryBytes(store);
  for (auto it = files.begin(); it != files.end();)
    it = EndsWith(it->first, "-shm") || (EndsWith(it->first, "-wal") && it->second.empty()) ? files.erase(it)
                                                                                            : std::next(it);
  return files;
}

// Exact top-5 of a few queries against brute force over the exported vectors.
void SearchesExactly(const std::string& store) {
  std::vector<Mem> mems;
  for (const auto& line : Lines(Export(store))) {
    auto j = json::parse(line);
    mems.push_back({j["id"], j["vector"].get<std::vector<float>>()});
  }
  auto queries = RandomMems(4, 8, 99, "q");
  auto hits = ParseSearchOutput(
      Aether({"search", store, "--queries", "-", "-k", "5", "--nprobe", "64", "--no-touch"}, QueriesJsonl(queries))
          .out);
  REQUIRE(hits.size() == queries.size());
  for (size_t i = 0; i < queries.size(); ++i) CHECK(SameTopK(hits[i], BruteForce(mems, queries[i].vec, 5, "l2")));
}

}  // namespace

TEST_CASE("upgrade converts every stored earlier version in place; the dry run changes no byte") {
  for (const auto& old : kOldStores) {
    const std::string name = old.name;
    CAPTURE(name);
    TempDir dir;
    const std::string store = CopyOf(dir, old.name);
    // This aether reads the old store as it is, its history too (no
    // trace_id column yet: its entries have none).
    HoldsWhatTheOldAetherWrote(store, old.name);
    const auto history = Lines(Aether({"history", store}).out);
    for (const auto& line : history) CHECK(json::parse(line)["trace_id"].is_null());
    CHECK(Aether({"history", store, "--trace-id", "t1"}).out.empty());
    const auto before = SortedLines(Export(store));
    const auto stats = json::parse(Aether({"stats", store, "--format", "json"}).out);
    CHECK(stats["format_version"] == old.version);

    const auto bytes = StoreBytes(store);
    const json plan = Upgrade(store, {"--dry-run"});
    CHECK(StoreBytes(store) == bytes);
    CHECK(plan["dry_run"] == true);
    CHECK(plan["format_version_before"] == old.version);
    CHECK(plan["format_version"] == old.upgraded_version);
    CHECK(plan["codec_before"] == old.codec);
    CHECK(plan["codec"] == old.upgraded);
    CHECK(plan["frames"].get<int>() > 0);
    // Only the plain-zstd frames of version 1 are in another codec.
    CHECK(plan["frames_to_rewrite"] == (old.version == 1 ? plan["frames"] : json(0)));
    CHECK(!plan["schema_steps"].empty());  // each predates a column, table or index
    CHECK(plan["up_to_date"] == false);

    const json done = Upgrade(store);
    CHECK(done["schema_steps"] == plan["schema_steps"]);
    CHECK(done["format_version"] == old.upgraded_version);
    CHECK(done["codec"] == old.upgraded);
    CHECK(done["rewritten"] == (old.version == 1));
    CHECK(done["frames_to_rewrite"] == plan["frames_to_rewrite"]);
    Verified(store);
    CHECK(SortedLines(Export(store)) == before);
    HoldsWhatTheOldAetherWrote(store, old.name);
    SearchesExactly(store);
    const auto after = json::parse(Aether({"stats", store, "--format", "json"}).out);
    CHECK(after["format_version"] == old.upgraded_version);
    CHECK(after["cold_codec"] == old.upgraded);

    // Now current: nothing to do, nothing changes.
    const auto current = StoreBytes(store);
    const json again = Upgrade(store);
    CHECK(again["up_to_date"] == true);
    CHECK(again["frames_to_rewrite"] == 0);
    CHECK(StoreBytes(store) == current);
    // The old entries stay as they were; a new one has its command's trace id,
    // by number now that the store is at version 4.
    CHECK(Lines(Aether({"history", store}).out) == history);
    const std::string first = json::parse(Lines(Export(store)).at(0))["id"];
    REQUIRE(Aether({"feedback", store, first, "1", "--trace-id", "t1"}).exit_code == 0);
    const auto traced = Lines(Aether({"history", store, "--trace-id", "t1"}).out);
    REQUIRE(traced.size() == 1);
    CHECK(json::parse(traced[0])["id"] == first);
    CHECK(SqlRows(store, "SELECT a.trace_id, t.trace_id FROM audit_log a JOIN audit_traces t ON t.trace = a.trace") ==
          std::vector<std::string>{"NULL|t1"});
    // And it takes new memories like any store.
    auto more = RandomMems(30, 8, 7, "new");
    REQUIRE(Aether({"ingest", store}, ToJsonl(more)).exit_code == 0);
    Verified(store);
    CHECK(Lines(Export(store)).size() == before.size() + more.size());
  }
}

// A store of version 1-3 that this aether writes without upgrading may still
// be read by the older aether that made it: its new entries keep their trace
// id as text, which that aether reads; at version 4 they name it by number.
TEST_CASE("history entries written into an earlier version's store keep their trace id as text") {
  for (const auto& old : kOldStores) {
    const std::string name = old.name;
    CAPTURE(name);
    TempDir dir;
    const std::string store = CopyOf(dir, old.name);
    const std::string first = json::parse(Lines(Export(store)).at(0))["id"];
    REQUIRE(Aether({"feedback", store, first, "1", "--trace-id", "t-old"}).exit_code == 0);
    REQUIRE(Aether({"descend", store, "--all", "--trace-id", "t-move"}).exit_code == 0);
    CHECK(SqlRows(store, "SELECT COUNT(*) FROM audit_log WHERE trace IS NOT NULL")[0] == "0");
    CHECK(SqlRows(store, "SELECT COUNT(*) FROM audit_traces")[0] == "0");
    const auto fed = Lines(Aether({"history", store, "--trace-id", "t-old"}).out);
    REQUIRE(fed.size() == 1);
    CHECK(json::parse(fed[0])["id"] == first);
    const auto moved = Lines(Aether({"history", store, "--trace-id", "t-move"}).out);
    CHECK(!moved.empty());
    CHECK(SqlRows(store, "SELECT COUNT(*) FROM audit_log WHERE trace_id = 't-move'")[0] ==
          std::to_string(moved.size()));
    Verified(store);
  }
}

TEST_CASE("upgrade --codec: from every stored earlier version to every codec") {
  for (const auto& old : kOldStores)
    for (const char* codec : {"zstd", "zstd-shuffle", "float16", "sq8", "float32"}) {
      const std::string name = old.name;
      CAPTURE(name);
      const std::string codec_name = codec;
      CAPTURE(codec_name);
      TempDir dir;
      const std::string store = CopyOf(dir, old.name);
      const auto before = SortedLines(Export(store));
      const json done = Upgrade(store, {"--codec", codec});
      // Version 6, or 7 for float32 (the least that holds the codec).
      CHECK(done["format_version"] == (codec_name == "float32" ? 7 : 6));
      CHECK(done["codec"] == codec);
      CHECK(done["rewritten"] == (std::string(codec) != old.codec));
      CHECK(Upgrade(store, {"--dry-run"})["up_to_date"] == true);
      Verified(store);
      CHECK(SortedLines(Export(store)) == before);
      SearchesExactly(store);
    }
}

TEST_CASE("upgrade killed at every step: the store reads as before, and upgrade run again finishes") {
  const std::vector<std::string> points = {"upgrade.after_config", "rebuild.after_intent",  "rebuild.mid_write",
                                           "rebuild.after_sync",   "rebuild.after_written", "rebuild.after_commit",
                                           "rebuild.mid_cleanup",  "upgrade.after_rewrite"};
  int killed = 0, trials = 0;
  for (const auto& old : kOldStores)
    for (const auto& point : points) {
      const std::string name = old.name;
      CAPTURE(name);
      CAPTURE(point);
      TempDir dir;
      const std::string store = CopyOf(dir, old.name);
      const auto before = SortedLines(Export(store));
      // v1 upgrades as it is; the others change codec, so that each rewrites.
      std::vector<std::string> cmd = {"upgrade", store};
      if (old.version > 1) cmd.insert(cmd.end(), {"--codec", old.version == 3 ? "zstd" : "float16"});
      auto r = Aether(cmd, "", {"AETHER_FAULT=" + point});
      CHECK_MESSAGE((r.exit_code == 137 || r.exit_code == 0), r.err);
      killed += r.exit_code == 137;
      ++trials;
      Verified(store);  // its open replays what the kill left
      CHECK(SortedLines(Export(store)) == before);
      auto again = Aether(cmd);
      CHECK_MESSAGE(again.exit_code == 0, again.err);
      CHECK(Upgrade(store, {"--dry-run"})["up_to_date"] == true);
      Verified(store);
      CHECK(SortedLines(Export(store)) == before);
    }
  CHECK(killed == trials);
}

TEST_CASE("upgrade refuses what it cannot upgrade, with distinct exit codes and nothing changed") {
  TempDir dir;
  auto r = Aether({"upgrade", dir / "nothing"});
  CHECK(r.exit_code == 66);
  r = Aether({"upgrade", dir.path(), "--codec", "lz4"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("lz4") != std::string::npos);
  // A store a newer aether wrote: refused, untouched.
  const std::string store = CopyOf(dir, "v2");
  REQUIRE(Aether({"config", store, "get"}).exit_code == 0);  // the writer's open brings the schema up to date first
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE config SET value = '8' WHERE key = 'format_version'", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  const auto bytes = StoreBytes(store);
  r = Aether({"upgrade", store});
  CHECK(r.exit_code == 78);
  CHECK(r.err.find("format version 8 is newer") != std::string::npos);
  CHECK(Aether({"upgrade", store, "--dry-run"}).exit_code == 78);
  CHECK(StoreBytes(store) == bytes);
}

TEST_CASE("upgrade: old-codec frames of only deleted records are emptied; what a killed process left is reported") {
  for (const auto& old : kOldStores) {
    const std::string name = old.name;
    CAPTURE(name);
    TempDir dir;
    // Every cold memory deleted: the old frames hold garbage alone, which
    // no rebuild rewrites.
    const std::string store = CopyOf(dir, old.name);
    REQUIRE(Aether({"delete", store, "--where", "tier == \"cold\""}).exit_code == 0);
    const auto before = SortedLines(Export(store));
    const char* codec = old.version == 1 ? "zstd-shuffle" : "float16";
    const json plan = Upgrade(store, {"--dry-run", "--codec", codec});
    CHECK(plan["frames_to_rewrite"].get<int>() > 0);
    const json done = Upgrade(store, {"--codec", codec});
    CHECK(done["rewritten"] == true);
    CHECK(done["garbage_dropped"] == plan["records_to_rewrite"]);
    CHECK(done["rebuild"] == nullptr);  // nothing live to rewrite: no new generation
    CHECK(Upgrade(store, {"--dry-run"})["up_to_date"] == true);
    Verified(store);
    CHECK(SortedLines(Export(store)) == before);

    // An ingest killed after its data, before its commit: the dry run's
    // open replays it (as every command's does) and says so.
    const std::string killed = CopyOf(dir, old.name, "k");
    CHECK(Aether({"ingest", killed}, ToJsonl(RandomMems(5, 8, 3, "late")), {"AETHER_FAULT=ingest.after_written"})
              .exit_code == 137);
    // (The ingest's own open made the schema steps.) A store before format
    // 4 journals a row per item, which an older aether replays; one of 4,
    // item blocks.
    CHECK(JournalLayout(killed) == "rows");
    {
      const std::string fresh = dir / "fresh";
      REQUIRE(Aether({"init", fresh, "--dim", "8"}).exit_code == 0);
      CHECK(Aether({"ingest", fresh}, ToJsonl(RandomMems(5, 8, 3, "late")), {"AETHER_FAULT=ingest.after_written"})
                .exit_code == 137);
      CHECK(JournalLayout(fresh) == "blocks");
      CHECK(Aether({"verify", fresh}).exit_code == 0);  // replays it
      CHECK(JournalLayout(fresh) == "empty");
    }
    const json replayed = Upgrade(killed, {"--dry-run"});
    CHECK(replayed["replayed_at_open"] == 1);
    CHECK(replayed["schema_changed_at_open"] == 0);
    CHECK(replayed["schema_steps"].empty());
    CHECK(replayed["up_to_date"] == false);  // every stored version is below 4
    auto table = Aether({"upgrade", killed, "--dry-run"});
    CHECK(table.out.find("only the open changed") == std::string::npos);  // the replay was the first open's
    CHECK(Upgrade(killed)["replayed_at_open"] == 0);
    Verified(killed);
    // Upgraded (to 5), it journals item blocks.
    CHECK(Aether({"ingest", killed}, ToJsonl(RandomMems(5, 8, 4, "later")), {"AETHER_FAULT=ingest.after_written"})
              .exit_code == 137);
    CHECK(JournalLayout(killed) == "blocks");
    CHECK(Aether({"verify", killed}).exit_code == 0);
    CHECK(JournalLayout(killed) == "empty");
    // So does a codec change by rebuild-index, whatever the codec.
    const std::string recoded = CopyOf(dir, old.name, "r");
    auto rc =
        Aether({"rebuild-index", recoded, "--codec", old.version == 1 ? "zstd-shuffle" : "zstd", "--partitions", "3"});
    REQUIRE_MESSAGE(rc.exit_code == 0, rc.err);
    CHECK(Upgrade(recoded, {"--dry-run"})["format_version_before"] == 6);

    // The same, where the replay needs a schema step (as a migration an
    // older aether left would): the dry run says its open made it.
    const std::string older = CopyOf(dir, old.name, "o");
    CHECK(Aether({"ingest", older}, ToJsonl(RandomMems(5, 8, 3, "late")), {"AETHER_FAULT=ingest.after_written"})
              .exit_code == 137);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((older + "/meta.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DROP INDEX memories_by_slot", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    table = Aether({"upgrade", older, "--dry-run"});
    CHECK(table.out.find("only the open changed the store") != std::string::npos);
    CHECK(table.out.find("replayed: 1 migration a killed process left") != std::string::npos);
    CHECK(table.out.find("schema: add the memories_by_slot index (done at open)") != std::string::npos);
  }
}
