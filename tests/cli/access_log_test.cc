// The access log (format-spec/access_log.md): a search that is not the
// store's writer appends its accesses there and the next writer folds them
// into meta.db. The reference is the hits the searches printed: after a
// fold, each memory's access_count is the number of times a touching search
// returned it, whatever ran concurrently, crashed or damaged the log.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"

using namespace aether::test;

namespace {

using Counts = std::map<std::string, uint64_t>;

// One touching search of `q`; adds its hits to *counts.
void Search(const std::string& store, const std::vector<Mem>& q, Counts* counts, std::mutex* mu = nullptr) {
  auto r = Aether({"search", store, "--queries", "-", "-k", "5"}, QueriesJsonl(q));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.empty());
  std::unique_ptr<std::lock_guard<std::mutex>> l;
  if (mu) l = std::make_unique<std::lock_guard<std::mutex>>(*mu);
  for (const auto& hits : ParseSearchOutput(r.out))
    for (const Hit& h : hits) ++(*counts)[h.id];
}

Counts AccessCounts(const std::string& store, const std::vector<Mem>& mems) {
  std::vector<std::string> args = {"get", store};
  for (const auto& m : mems) args.push_back(m.id);
  auto r = Aether(args);
  REQUIRE(r.exit_code == 0);
  Counts out;
  for (const auto& line : Lines(r.out)) {
    auto j = nlohmann::json::parse(line);
    if (j["access_count"].get<uint64_t>() > 0) out[j["id"]] = j["access_count"];
  }
  return out;
}

// SUM(access_count) in meta.db, read directly.
uint64_t DbAccessTotal(const std::string& store) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((store + "/meta.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(access_count), 0) FROM memories", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const uint64_t total = uint64_t(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return total;
}

struct Fixture {
  TempDir dir;
  std::string store = dir / "s";
  std::vector<Mem> mems = RandomMems(200, 5, 61);
  Fixture() {
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "120"}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(FileSize(store + "/access.log") == 24);  // a writer made it: a header
  }
  std::vector<Mem> Queries(uint64_t seed, size_t n = 3) { return RandomMems(n, 5, seed, "q"); }
};

}  // namespace

TEST_CASE("access log: concurrent touching searches are all counted once the next writer folds them") {
  Fixture f;
  Counts want;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) Search(f.store, f.Queries(uint64_t(100 + t * 10 + i)), &want, &mu);
    });
  for (auto& t : threads) t.join();
  CHECK(FileSize(f.store + "/access.log") > 24);
  // Readers see them at once (get adds what the log holds), though none
  // wrote meta.db; a writer folds them into it.
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(DbAccessTotal(f.store) == 0);
  REQUIRE(Aether({"recover", f.store}).exit_code == 0);  // a writer: folds
  uint64_t total = 0;
  for (const auto& [id, n] : want) total += n;
  CHECK(DbAccessTotal(f.store) == total);
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(FileSize(f.store + "/access.log") == 24);
  REQUIRE(Aether({"recover", f.store}).exit_code == 0);  // nothing twice
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(Aether({"verify", f.store}).exit_code == 0);
}

TEST_CASE("access log: a fold killed after its commit never applies a record twice") {
  Fixture f;
  Counts want;
  for (int i = 0; i < 4; ++i) Search(f.store, f.Queries(uint64_t(200 + i)), &want);
  // Killed between the fold's commit and the reset of the file.
  auto killed = Aether({"recover", f.store}, "", {"AETHER_FAULT=fold.after_commit"});
  CHECK(killed.exit_code == 137);
  // The commit happened: the log still holds the records, under an epoch
  // meta.db no longer names. Searches meanwhile drop theirs, with a notice.
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(FileSize(f.store + "/access.log") > 24);
  auto dropped = Aether({"search", f.store, "--queries", "-"}, QueriesJsonl(f.Queries(300)));
  CHECK(dropped.exit_code == 0);
  CHECK(dropped.err.find("access.log waits for a writer to reset it") != std::string::npos);
  REQUIRE(Aether({"recover", f.store}).exit_code == 0);
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(FileSize(f.store + "/access.log") == 24);
  Search(f.store, f.Queries(301), &want);  // recorded again
  REQUIRE(Aether({"recover", f.store}).exit_code == 0);
  CHECK(AccessCounts(f.store, f.mems) == want);
  CHECK(Aether({"verify", f.store}).exit_code == 0);
}

TEST_CASE("access log: torn and damaged records are skipped with a notice; every intact one is folded") {
  Fixture f;
  Counts first, second;
  Search(f.store, f.Queries(400), &first);
  const uint64_t end_first = FileSize(f.store + "/access.log");
  Search(f.store, f.Queries(401), &second);
  const uint64_t end_second = FileSize(f.store + "/access.log");
  Counts third;
  Search(f.store, f.Queries(402), &third);
  SUBCASE("a byte of the middle record flipped") {
    FlipByte(f.store + "/access.log", (end_first + end_second) / 2);
    auto r = Aether({"recover", f.store});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("torn or damaged records skipped (2 records folded)") != std::string::npos);
    Counts want = first;
    for (const auto& [id, n] : third) want[id] += n;
    CHECK(AccessCounts(f.store, f.mems) == want);
  }
  SUBCASE("the last record torn, then garbage appended") {
    TruncateFile(f.store + "/access.log", FileSize(f.store + "/access.log") - 7);
    WriteFile(f.store + "/junk", std::string(100, '\xAA'));
    REQUIRE(std::system(
                ("cat '" + f.store + "/junk' >> '" + f.store + "/access.log' && rm '" + f.store + "/junk'").c_str()) ==
            0);
    auto r = Aether({"recover", f.store});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("(2 records folded)") != std::string::npos);
    Counts want = first;
    for (const auto& [id, n] : second) want[id] += n;
    CHECK(AccessCounts(f.store, f.mems) == want);
  }
  SUBCASE("the header replaced: nothing is applied, the log starts over") {
    FlipByte(f.store + "/access.log", 20);  // the epoch
    REQUIRE(Aether({"recover", f.store}).exit_code == 0);
    CHECK(AccessCounts(f.store, f.mems).empty());
    CHECK(FileSize(f.store + "/access.log") == 24);
  }
  CHECK(Aether({"verify", f.store}).exit_code == 0);
}
