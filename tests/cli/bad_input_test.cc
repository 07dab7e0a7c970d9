// Every bad input gets file:line, a reason and a distinct exit code, and
// what was committed before it stays.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "aether/jsonl.h"
#include "test_util.h"

using namespace aether::test;

namespace {

uint64_t Count(const std::string& store) {
  auto j = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  return j["hot_memories"].get<uint64_t>() + j["cold_memories"].get<uint64_t>();
}

struct BadCase {
  std::string name;
  std::string line;
  const char* reason;
};

}  // namespace

TEST_CASE("each bad line stops ingest with file:line and reason, keeping earlier lines") {
  const std::string good1 = R"({"id":"a","vector":[1,2,3]})";
  const std::string good2 = R"({"id":"b","vector":[4,5,6]})";
  const std::string good4 = R"({"id":"d","vector":[7,8,9]})";
  const std::vector<BadCase> cases = {
      {"malformed JSON", R"({"id":"c","vector":[1,2,3])", "malformed JSON"},
      {"NaN literal", R"({"id":"c","vector":[1,NaN,3]})", "malformed JSON"},
      {"infinite value", R"({"id":"c","vector":[1,1e999,3]})", "malformed JSON: number overflow parsing '1e999'"},
      {"missing id", R"({"vector":[1,2,3]})", "missing field \"id\""},
      {"missing vector", R"({"id":"c"})", "missing field \"vector\""},
      {"wrong dimension", R"({"id":"c","vector":[1,2]})", "vector has 2 values, store dimension is 3"},
      {"empty id", R"({"id":"","vector":[1,2,3]})", "id is empty"},
      {"over-long id", "{\"id\":\"" + std::string(2000, 'x') + "\",\"vector\":[1,2,3]}",
       "id is 2000 bytes, the limit is 1024"},
      {"invalid UTF-8", "{\"id\":\"c\xc3\x28\",\"vector\":[1,2,3]}", "invalid UTF-8"},
      {"line too long", "{\"id\":\"c\",\"vector\":[1,2,3],\"payload\":\"" + std::string(5000, 'p') + "\"}",
       "line is longer than 4000 bytes"},
      {"duplicate id", R"({"id":"a","vector":[1,2,3]})", "duplicate id 'a'"},
      {"importance out of range", R"({"id":"c","vector":[1,2,3],"importance":2})", "importance 2 is outside [0, 1]"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    std::string store = dir / "s";
    std::string file = dir / "in.jsonl";
    WriteFile(file, good1 + "\n" + good2 + "\n" + c.line + "\n" + good4 + "\n");
    REQUIRE(Aether({"init", store, "--dim", "3"}).exit_code == 0);
    auto r = Aether({"ingest", "--create", store, file, "--max-line-bytes", "4000"});
    CHECK(r.exit_code == 65);
    CHECK_MESSAGE(r.err.find("aether: error: " + file + ":3: " + c.reason) != std::string::npos, r.err);
    CHECK(r.err.find("ingested 2 memories") != std::string::npos);
    CHECK(Count(store) == 2);

    // Re-running with --skip-invalid: lines 1-2 are now duplicates and line 3
    // is bad; all three are reported and skipped, line 4 goes in.
    auto skip = Aether({"ingest", "--create", store, file, "--max-line-bytes", "4000", "--skip-invalid"});
    CHECK_MESSAGE(skip.exit_code == 0, skip.err);
    CHECK(skip.err.find(file + ":1: duplicate id 'a'") != std::string::npos);
    CHECK(skip.err.find(file + ":3: " + c.reason) != std::string::npos);
    CHECK(skip.err.find("(skipped)") != std::string::npos);
    CHECK(Count(store) == 3);  // a, b from before; d now
  }
}

TEST_CASE("duplicate ids: error by default, skip or replace on request") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, R"({"id":"x","vector":[1,1]})"
                                                "\n")
              .exit_code == 0);
  auto err = Aether({"ingest", "--create", store}, R"({"id":"x","vector":[2,2]})"
                                                   "\n");
  CHECK(err.exit_code == 65);
  CHECK(err.err.find("<stdin>:1: duplicate id 'x'") != std::string::npos);
  auto skip =
      Aether({"ingest", "--create", store, "--on-duplicate", "skip", "--format", "json"}, R"({"id":"x","vector":[2,2]})"
                                                                                          "\n");
  CHECK(skip.exit_code == 0);
  CHECK(nlohmann::json::parse(skip.out)["skipped_duplicates"] == 1);
  CHECK(GetAll(store, {"x"})["x"] == std::vector<float>{1, 1});
  auto rep = Aether({"ingest", "--create", store, "--on-duplicate", "replace"}, R"({"id":"x","vector":[3,3]})"
                                                                                "\n"
                                                                                R"({"id":"x","vector":[4,4]})"
                                                                                "\n");
  CHECK(rep.exit_code == 0);
  CHECK(GetAll(store, {"x"})["x"] == std::vector<float>{4, 4});
  CHECK(Count(store) == 1);
  auto hits = ParseSearchOutput(Aether({"search", store, "--vector", "[1,1]", "-k", "5", "--no-touch"}).out);
  REQUIRE(hits[0].size() == 1);
  CHECK(hits[0][0].distance == doctest::Approx(std::sqrt(18.0)));
}

TEST_CASE("--batch counts memories: a repeated id takes no room in the batch") {
  // With --batch 2, "y, y, x" is one batch of two memories {y, x}: x
  // replaces the stored hot x and frees its slot, which y (first in the
  // batch) takes; x goes cold. Had the repeated y filled the batch, y would
  // have gone cold alone and x hot.
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1"}, R"({"id":"x","vector":[1,1]})"
                                                                       "\n")
              .exit_code == 0);
  auto r = Aether({"ingest", "--create", store, "--batch", "2", "--on-duplicate", "replace", "--format", "json"},
                  R"({"id":"y","vector":[2,2]})"
                  "\n"
                  R"({"id":"y","vector":[3,3]})"
                  "\n"
                  R"({"id":"x","vector":[4,4]})"
                  "\n");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["replaced"] == 2);
  auto tier = [&](const char* id) {
    return nlohmann::json::parse(Lines(Aether({"get", store, id}).out)[0])["tier"].get<std::string>();
  };
  CHECK(tier("y") == "hot");
  CHECK(tier("x") == "cold");
  CHECK(GetAll(store, {"x", "y"})["y"] == std::vector<float>{3, 3});
}

TEST_CASE("store and file errors have distinct exit codes") {
  TempDir dir;
  std::string store = dir / "s";
  SUBCASE("missing store") {
    auto r = Aether({"search", store, "--vector", "[1]"});
    CHECK(r.exit_code == 66);
    CHECK(r.err.find("no such store") != std::string::npos);
  }
  SUBCASE("missing input file") {
    REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
    auto r = Aether({"ingest", "--create", store, dir / "nope.jsonl"});
    CHECK(r.exit_code == 66);
    CHECK(r.err.find("nope.jsonl: cannot open input file") != std::string::npos);
  }
  SUBCASE("init refuses a non-empty directory that is not a store") {
    WriteFile(dir / "junk", "x");
    auto r = Aether({"init", dir.path(), "--dim", "2"});
    CHECK(r.exit_code == 73);
    CHECK(r.err.find("not empty and is not an aether store") != std::string::npos);
    CHECK(ReadFile(dir / "junk") == "x");
  }
  SUBCASE("init into an empty directory works, twice does not") {
    REQUIRE(Aether({"init", dir.path(), "--dim", "2"}).exit_code == 0);
    auto again = Aether({"init", dir.path(), "--dim", "2"});
    CHECK(again.exit_code == 73);
    CHECK(again.err.find("already an aether store") != std::string::npos);
  }
  SUBCASE("usage errors") {
    CHECK(Aether({"serch", store}).exit_code == 64);
    CHECK(Aether({"serch", store}).err.find("did you mean 'search'?") != std::string::npos);
    CHECK(Aether({"init", store}).exit_code == 64);  // --dim missing
    CHECK(Aether({"init", store, "--dim", "0"}).exit_code == 64);
    REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
    CHECK(Aether({"search", store}).exit_code == 64);  // neither --vector nor --queries
    auto bad_q = Aether({"search", store, "--vector", "[1,2,3]"});
    CHECK(bad_q.exit_code == 65);
    CHECK(bad_q.err.find("--vector: vector has 3 values, store dimension is 2") != std::string::npos);
  }
  SUBCASE("a bad query line names the file and line") {
    REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
    auto r = Aether({"search", store, "--queries", "-"}, "{\"vector\":[1,2]}\n{\"vector\":[1]}\n");
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("<stdin>:2: vector has 1 values") != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("a store from a newer format version is refused by every command") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, R"({"id":"x","vector":[1,1]})"
                                                "\n")
              .exit_code == 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE config SET value='8' WHERE key='format_version'", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  for (std::vector<std::string> args : {std::vector<std::string>{"stats", store},
                                        {"search", store, "--vector", "[1,1]"},
                                        {"get", store, "x"},
                                        {"delete", store, "x"}}) {
    auto r = Aether(args);
    CHECK(r.exit_code == 78);
    CHECK(r.err.find("store format version 8 is newer than this aether supports (7)") != std::string::npos);
  }
}

TEST_CASE("a format-version-1 store (no cold_codec key, plain zstd frames) still opens, reads and grows") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(300, 4, 9);
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "100", "--codec", "zstd"}).exit_code == 0);
  WriteFile(dir / "a.jsonl", ToJsonl(mems));
  REQUIRE(Aether({"ingest", "--create", store, dir / "a.jsonl"}).exit_code == 0);
  // Turn it into what version 1 wrote.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "UPDATE config SET value='1' WHERE key='format_version'; "
                       "DELETE FROM config WHERE key='cold_codec'",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto st = Aether({"stats", store, "--format", "json"});
  REQUIRE(st.exit_code == 0);
  auto j = nlohmann::json::parse(st.out);
  CHECK(j["format_version"] == 1);
  CHECK(j["cold_codec"] == "zstd");
  CHECK(GetAll(store, Ids(mems)).size() == mems.size());
  REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  CHECK(Aether({"verify", store}).exit_code == 0);
  auto got = GetAll(store, Ids(mems));
  for (const auto& m : mems) CHECK(got[m.id] == m.vec);
}

TEST_CASE("a command that cannot get the store lock fails as busy after --wait") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
  int fd = open((store + "/LOCK").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX) == 0);
  auto r = Aether({"stats", store, "--wait", "0.2"});
  CHECK(r.exit_code == 75);
  CHECK(r.err.find("store busy") != std::string::npos);
  CHECK(r.err.find("(waited 0.2s; see --wait)") != std::string::npos);  // not 0.200000s
  // Not a number of seconds: a usage error, before any wait.
  // Nor hexadecimal, a negative zero, or a wait too short to be anything
  // but none (once read as 16 s, "waited -0s", and 0).
  for (const std::string& bad :
       std::vector<std::string>{"nan", "-nan", "-1", "-inf", "abc", "", "0x10", "-0", "1e-400", "1.5s", " 1", ".", "1e",
                                "e3", "1e+", std::string(100000, '1') + "x"}) {
    CAPTURE(bad);
    const RunResult u = Aether({"stats", store, "--wait", bad});
    CHECK(u.exit_code == 64);
    CHECK(u.err.find("--wait") != std::string::npos);
  }
  // A wait past the clock's range (nanoseconds in 64 bits: about 292
  // years) or infinite waits until the lock is free, however long; it
  // used to overflow into a deadline already past (busy at once).
  for (const std::string forever : {"1e10", "inf", "1e300"}) {
    CAPTURE(forever);
    const int pid = SpawnAether({"stats", store, "--wait", forever});
    // Once it holds the lock file open (it is then trying the lock), it
    // must still be waiting a while later.
    auto has_lock_open = [&] {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
        if (std::filesystem::read_symlink(e.path(), ec) == std::filesystem::path(store + "/LOCK")) return true;
      return false;
    };
    for (int i = 0; i < 1000 && !has_lock_open(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int status = 0;
    CHECK(waitpid(pid, &status, WNOHANG) == 0);  // still waiting
    flock(fd, LOCK_UN);
    CHECK(WaitAether(pid) == 0);
    REQUIRE(flock(fd, LOCK_EX) == 0);
  }
  auto w = Aether({"ingest", "--create", store, "--wait", "0"}, R"({"id":"x","vector":[1,1]})"
                                                                "\n");
  CHECK(w.exit_code == 75);
  flock(fd, LOCK_UN);
  // A reader's shared lock lets other readers in but keeps writers out.
  REQUIRE(flock(fd, LOCK_SH) == 0);
  for (const std::string zero : {"0", "0.0", ".0", "0e12", "0E-3", "0.", "00"})
    CHECK(Aether({"stats", store, "--wait", zero}).exit_code == 0);
  CHECK(Aether({"delete", store, "x", "--wait", "0"}).exit_code == 75);
  close(fd);
  CHECK(Aether({"ingest", "--create", store}, R"({"id":"x","vector":[1,1]})"
                                              "\n")
            .exit_code == 0);
}

TEST_CASE("-q silences summaries but not errors; -v reports recovered migrations") {
  TempDir dir;
  std::string store = dir / "s";
  auto q = Aether({"-q", "ingest", "--create", store}, R"({"id":"x","vector":[1,1]})"
                                                       "\n");
  CHECK(q.exit_code == 0);
  CHECK(q.err.empty());
  auto err = Aether({"ingest", "--create", store, "-q"}, R"({"id":"x","vector":[1,1]})"
                                                         "\n");
  CHECK(err.exit_code == 65);
  CHECK(err.err.find("aether: error: <stdin>:1: duplicate id 'x'") == 0);
  CHECK(Aether({"ingest", "--create", store},
               R"({"id":"y","vector":[2,2]})"
               "\n",
               {"AETHER_FAULT=ingest.after_written"})
            .exit_code == 137);
  auto v = Aether({"-v", "stats", store});
  CHECK(v.exit_code == 0);
  CHECK(v.err == "aether: recovered migration 1 (ingest, 1 items, state written): rolled forward\n");
}

TEST_CASE("a query file: the first bad line in file order is the one reported, and queries are named by their line") {
  // Files of up to 17,000 queries with two bad lines anywhere (or none): the
  // error is the first bad line's, with nothing printed; without one, each
  // query without an id is named by its 0-based line, blank lines counted.
  // (Lines are parsed 8,192 at a time on both cores, each a share: bad
  // lines in one share, in two, in two blocks.)
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(20, 3, 1);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
  const std::vector<std::string> bad = {"{\"vector\":[1,2]}", "{\"vector\":[1,2,\"x\"]}", "not json",
                                        "{\"id\":7,\"vector\":[1,2,3]}"};
  const std::vector<std::string> reason = {"vector has 2 values, store dimension is 3", "vector[2] is not a number",
                                           "malformed JSON", "\"id\" must be a string"};
  std::mt19937_64 rng(3);
  for (size_t n : {size_t(5), size_t(2047), size_t(2049), size_t(5000), size_t(9000), size_t(17000)}) {
    for (int round = 0; round < 3; ++round) {
      CAPTURE(n);
      CAPTURE(round);
      std::vector<std::string> lines;
      for (size_t i = 0; i < n; ++i)
        lines.push_back(rng() % 50 == 0 ? "  " : "{\"vector\":[" + std::to_string(i % 7) + ",1,2]}");
      // Two bad lines, up to 3,000 apart; round 2 has none.
      size_t first = n;
      if (round < 2) {
        const size_t a = rng() % n, b = std::min(n - 1, a + 1 + rng() % 3000);
        lines[a] = bad[rng() % bad.size()];
        lines[b] = bad[rng() % bad.size()];
        first = a;
      }
      std::string text;
      for (const std::string& l : lines) text += l + "\n";
      WriteFile(dir / "q.jsonl", text);
      auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "1", "--no-touch"});
      if (first == n) {
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        const auto out = Lines(r.out);
        size_t at = 0;
        for (size_t i = 0; i < n; ++i) {
          if (lines[i] == "  ") continue;
          REQUIRE(at < out.size());
          CHECK(nlohmann::json::parse(out[at++])["query"] == std::to_string(i));  // its 0-based line
        }
        CHECK(at == out.size());
        continue;
      }
      CHECK(r.exit_code == 65);
      const size_t which = std::find(bad.begin(), bad.end(), lines[first]) - bad.begin();
      CHECK_MESSAGE(
          r.err.find((dir / "q.jsonl") + ":" + std::to_string(first + 1) + ": " + reason[which]) != std::string::npos,
          r.err);
      CHECK(r.out.empty());
    }
  }
}

TEST_CASE("a query file: a line too long is reported after the bad lines before it, before those after it") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(20, 3, 1))).exit_code == 0);
  const std::string good = "{\"vector\":[1,1,2]}\n",
                    too_long = std::string(aether::kDefaultMaxLineBytes + 1, ' ') + "\n";
  for (const size_t at : {size_t(3), size_t(8193), size_t(9000)}) {  // in the first block, the second's first line
    CAPTURE(at);
    for (const bool bad_before : {true, false}) {
      CAPTURE(bad_before);
      std::string text;
      for (size_t line = 1; line < 12000; ++line) {
        if (line == at)
          text += too_long;
        else if (line == (bad_before ? at - 2 : at + 2))
          text += "{\"vector\":[1,2]}\n";
        else
          text += good;
      }
      WriteFile(dir / "q.jsonl", text);
      auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "1", "--no-touch"});
      CHECK(r.exit_code == 65);
      CHECK(r.out.empty());
      const std::string where = (dir / "q.jsonl") + ":" + std::to_string(bad_before ? at - 2 : at) + ": ";
      CHECK_MESSAGE(r.err.find(where + (bad_before ? "vector has 2 values" : "line")) != std::string::npos, r.err);
    }
  }
}

TEST_CASE("queries from a pipe: a bad line is reported as it arrives, while the pipe stays open") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(20, 3, 1))).exit_code == 0);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const int pid = SpawnAetherReading({"search", store, "--queries", "-", "--no-touch"}, fds[0], dir / "err");
  close(fds[0]);
  const std::string text = "{\"vector\":[1,2,3]}\n{\"vector\":[1]}\n";
  REQUIRE(write(fds[1], text.data(), text.size()) == ssize_t(text.size()));
  // The write end stays open: the search must end on line 2 by itself
  // (a minute is the bound on a hang, not on speed).
  int status = 0, waited = 0;
  for (int i = 0; i < 600 && (waited = waitpid(pid, &status, WNOHANG)) == 0; ++i) usleep(100000);
  if (waited == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(fds[1]);
  CHECK(waited == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 65));
  const std::string err = ReadFile(dir / "err");
  CHECK_MESSAGE(err.find(":2: vector has 1 values, store dimension is 3") != std::string::npos, err);
}
