// Hostile input to every reader of JSON and files: nesting at and past the
// documented limit, for records, payloads, queries, --vector and feedback
// files. Each bad input gets FILE:LINE (or the option), the reason and its
// exit code; what was committed before it stays; nothing crashes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

std::string Nested(size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

const std::vector<size_t> kDepths = {1, 2, 64, 126, 127, 128, 129, 1000, 100000};
constexpr size_t kLimit = 128;  // kMaxJsonDepth: arrays and objects, the whole line

}  // namespace

TEST_CASE("nesting sweep: a record whose payload nests past the limit is a located error; earlier lines commit") {
  for (size_t depth : kDepths) {
    for (bool skip : {false, true}) {
      CAPTURE(depth);
      CAPTURE(skip);
      TempDir dir;
      const std::string store = dir / "s", input = dir / "in.jsonl";
      REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
      // The record object is one level; its payload `depth` more.
      WriteFile(input, "{\"id\":\"a\",\"vector\":[1,2]}\n{\"id\":\"b\",\"vector\":[1,2],\"payload\":" + Nested(depth) +
                           "}\n{\"id\":\"c\",\"vector\":[3,4]}\n");
      std::vector<std::string> args = {"ingest", "--create", store, input};
      if (skip) args.push_back("--skip-invalid");
      auto r = Aether(args);
      auto got = Aether({"get", store, "a", "b", "c"});
      const bool fits = depth + 1 <= kLimit;
      if (fits) {
        CHECK_MESSAGE(r.exit_code == 0, r.err);
        auto lines = Lines(got.out);
        REQUIRE(lines.size() == 3);
        CHECK(nlohmann::json::parse(lines[1])["payload"] == nlohmann::json::parse(Nested(depth)));
      } else {
        CHECK(r.exit_code == (skip ? 0 : 65));
        CHECK(r.err.find(input + ":2: arrays and objects nest deeper than 128 levels") != std::string::npos);
        CHECK(got.out.find("\"id\":\"a\"") != std::string::npos);  // committed before the bad line
        CHECK(got.out.find("\"id\":\"b\"") == std::string::npos);
        CHECK((got.out.find("\"id\":\"c\"") != std::string::npos) == skip);
      }
    }
  }
}

TEST_CASE("nesting sweep: queries, --vector and feedback files refuse deep nesting with their location") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, "{\"id\":\"a\",\"vector\":[1,2]}\n").exit_code == 0);
  for (size_t depth : kDepths) {
    CAPTURE(depth);
    const bool fits = depth + 1 <= kLimit;  // inside a {...} line
    // A vector nested deeper than an array of numbers is wrong at any depth:
    // within the limit it says why, past it the limit is the reason.
    WriteFile(dir / "q.jsonl", "{\"vector\":[1,2]}\n{\"vector\":" + Nested(depth) + "}\n");
    auto q = Aether({"search", store, "--queries", dir / "q.jsonl", "--no-touch"});
    CHECK(q.exit_code == 65);
    CHECK(q.err.find(dir / "q.jsonl:2: ") != std::string::npos);
    CHECK((q.err.find("nest deeper than 128") != std::string::npos) == !fits);

    if (depth < 50000) {  // one argument may not exceed 128 KiB (MAX_ARG_STRLEN)
      auto v = Aether({"search", store, "--vector", Nested(depth, "1, 2"), "--no-touch"});
      CHECK(v.exit_code == (depth == 1 ? 0 : 65));
      if (depth > kLimit) CHECK(v.err.find("--vector: arrays and objects nest deeper than 128") != std::string::npos);
    }

    WriteFile(dir / "f.jsonl", "{\"id\":\"a\",\"reward\":1}\n{\"id\":\"a\",\"reward\":" + Nested(depth) + "}\n");
    auto f = Aether({"feedback", store, "--file", dir / "f.jsonl"});
    CHECK(f.exit_code == 65);
    CHECK(f.err.find(dir / "f.jsonl:2: ") != std::string::npos);
    CHECK((f.err.find("nest deeper than 128") != std::string::npos) == !fits);
  }
}

TEST_CASE("extreme values: the accepted range searches exactly under every metric; past it input is refused") {
  std::mt19937 rng(77);
  std::uniform_real_distribution<double> exponent(-15, 15);
  for (const char* metric : {"l2", "ip", "cosine"}) {
    CAPTURE(metric);
    TempDir dir;
    const std::string store = dir / "s";
    // Magnitudes over the whole accepted range, some at its edges.
    std::vector<Mem> mems;
    for (int i = 0; i < 120; ++i) {
      Mem m{"e" + std::to_string(i), std::vector<float>(6)};
      for (auto& x : m.vec) x = float((rng() & 1 ? 1 : -1) * std::pow(10.0, exponent(rng)));
      if (i % 10 == 0) m.vec[i % 6] = i % 20 ? 1e15f : -1e15f;
      mems.push_back(m);
    }
    REQUIRE(Aether({"init", store, "--dim", "6", "--metric", metric, "--hot-capacity", "60"}).exit_code == 0);
    auto r = Aether({"ingest", "--create", store}, ToJsonl(mems));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::vector<Mem> qs(mems.begin(), mems.begin() + 12);
    for (const std::string batch : {"single", "batch"}) {
      std::vector<std::vector<Hit>> hits;
      if (batch == "batch") {
        hits = ParseSearchOutput(
            Aether({"search", store, "--queries", "-", "-k", "5", "--no-touch"}, QueriesJsonl(qs)).out);
      } else {
        for (const auto& q : qs) {
          auto one =
              ParseSearchOutput(Aether({"search", store, "--vector", VectorJson(q.vec), "-k", "5", "--no-touch"}).out);
          REQUIRE(one.size() == 1);
          hits.push_back(one[0]);
        }
      }
      REQUIRE(hits.size() == qs.size());
      // Exact: each hit's distance is its own true distance rounded to
      // float32 (relative 1e-6, at every magnitude), and the i-th is the
      // true i-th smallest.
      for (size_t q = 0; q < qs.size(); ++q) {
        auto all = BruteForce(mems, qs[q].vec, mems.size(), metric);
        std::map<std::string, double> truth;
        for (const auto& [d, id] : all) truth[id] = d;
        REQUIRE(hits[q].size() == 5);
        for (size_t i = 0; i < 5; ++i) {
          const auto& h = hits[q][i];
          CAPTURE(i);
          CAPTURE(h.id);
          CHECK(std::isfinite(h.distance));
          // (1 - cos is exact to about 1e-16 in double, the reference's own floor.)
          CHECK(std::fabs(h.distance - all[i].first) <= 1e-6 * std::fabs(all[i].first) + 1e-14);
          CHECK(std::fabs(truth[h.id] - h.distance) <= 1e-6 * std::fabs(truth[h.id]) + 1e-14);
        }
      }
      auto raw = Aether({"search", store, "--vector", VectorJson(qs[0].vec), "--no-touch", "--format", "json"});
      CHECK(raw.out.find("null") == std::string::npos);
    }
  }
  // Past the range: a clear error naming the component, for each reader.
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "3", "--metric", "cosine"}).exit_code == 0);
  for (const std::string v : {"[1e16,0,0]", "[1.9e19,1,1]", "[-3e30,0,0]"}) {
    auto r = Aether({"ingest", "--create", store}, "{\"id\":\"a\",\"vector\":" + v + "}\n");
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("<stdin>:1: vector[0] = ") != std::string::npos);
    CHECK(r.err.find("is outside ±1e15") != std::string::npos);
    CHECK(Aether({"search", store, "--vector", v}).exit_code == 65);
  }
  auto tiny = Aether({"ingest", "--create", store}, "{\"id\":\"a\",\"vector\":[1e-30,0,0]}\n");
  CHECK(tiny.exit_code == 65);
  CHECK(tiny.err.find("too close to zero for a direction under metric cosine") != std::string::npos);
  CHECK(Aether({"search", store, "--vector", "[1e-30,0,0]"}).exit_code == 65);
}

TEST_CASE("a directory, a socket or an endless stream where a file is expected: a clear error, never a hang or abort") {
  TempDir dir;
  const std::string store = dir / "s", sub = dir / "subdir";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "2"}, ToJsonl(RandomMems(5, 2, 1))).exit_code == 0);
  fs::create_directories(sub);
  // A listening-less unix socket file, made by bind(2).
  const std::string sock = dir / "sock";
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    close(fd);
  }
  WriteFile(dir / "ok.jsonl", "{\"vector\":[1,2]}\n");
  WriteFile(dir / "ids.txt", "a\n");
  for (const std::string& bad : {sub, sock}) {
    CAPTURE(bad);
    const std::vector<std::vector<std::string>> commands = {
        {"ingest", "--create", store, bad},
        {"ingest", "--create", store, bad, "--input-format", "npy", "--id-prefix", "n"},
        {"ingest", "--create", store, bad, "--input-format", "fvecs", "--id-prefix", "n"},
        {"ingest", "--create", store, dir / "ok.jsonl", "--input-format", "npy", "--ids", bad},
        {"search", store, "--queries", bad},
        {"feedback", store, "--file", bad},
        {"descend", store, "--ids-from", bad},
        {"ascend", store, "--ids-from", bad},
    };
    for (const auto& cmd : commands) {
      CAPTURE(cmd[0]);
      auto r = Aether(cmd);
      CHECK(r.exit_code == 66);
      CHECK(r.err.find("aether: error: " + bad + ": is ") != std::string::npos);
    }
  }
  // stats --output onto a directory: nothing is written through or into it.
  auto out = Aether({"stats", store, "--output", sub});
  CHECK(out.exit_code == 74);
  CHECK(fs::is_empty(sub));
  // Streams are fine: a character device, and a FIFO fed by another process.
  CHECK(Aether({"ingest", "--create", store, "/dev/null"}).exit_code == 0);
  const std::string fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  pid_t writer = fork();
  if (writer == 0) {
    int fd = open(fifo.c_str(), O_WRONLY);
    const std::string rec = "{\"id\":\"fifo\",\"vector\":[5,5]}\n";
    (void)!write(fd, rec.data(), rec.size());
    _exit(0);
  }
  auto f = Aether({"ingest", "--create", store, fifo});
  waitpid(writer, nullptr, 0);
  CHECK_MESSAGE(f.exit_code == 0, f.err);
  CHECK(GetAll(store, {"fifo"}).size() == 1);

  // One 2-d vector as .fvecs: int32 2, then 1.0f, 2.0f.
  WriteFile(dir / "one.fvecs", std::string("\x02\0\0\0\0\0\x80\x3f\0\0\0\x40", 12));
  // /dev/zero: one endless line. Every reader stops at its limit and names
  // line 1 (ingest skips nothing it cannot find the end of).
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"ingest", "--create", store, "/dev/zero", "--max-line-bytes", "100000"},
           {"ingest", "--create", store, "/dev/zero", "--max-line-bytes", "100000", "--skip-invalid"},
           {"ingest", "--create", store, "/dev/zero"},  // the default limit, 64 MiB
           {"search", store, "--queries", "/dev/zero"},
           {"feedback", store, "--file", "/dev/zero"},
           {"descend", store, "--ids-from", "/dev/zero"},
           {"ingest", "--create", store, dir / "one.fvecs", "--ids", "/dev/zero"}}) {
    CAPTURE(cmd.back());
    auto r = Aether(cmd);
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("/dev/zero:1: ") != std::string::npos);
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
}

// A store's own file replaced by a FIFO (or any non-regular file): opening
// a FIFO for reading waits for a writer, so every reader of that file hung
// for ever (search, verify, get, export; every command at a lock file; a
// reader who may not write at meta.db, which SQLite opens read-only).
// Each command now stops with a clear error naming it, or answers when it
// does not need that file; a timeout would say 124 here. With the file put
// back, nothing was lost.
TEST_CASE("a store's file replaced by a FIFO: every command a clear error or its answer, never a hang") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(300, 4, 83);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
  REQUIRE(Aether({"search", store, "--vector", "[1,2,3,4]"}).exit_code == 0);  // an access.log
  REQUIRE(Aether({"verify", store}).exit_code == 0);
  const std::string want = Aether({"export", store}).out;
  const std::vector<std::string> files = {"hot.slots",
                                          "cold/staging.shard",
                                          "cold/g000001/p000000.shard",
                                          "index/g000001.centroids",
                                          "access.log",
                                          "metrics.log",
                                          "RESERVE",
                                          "LOCK",
                                          "WRITER",
                                          "GATE",
                                          "meta.db",
                                          "meta.db-wal",
                                          "meta.db-shm"};
  const std::vector<std::vector<std::string>> commands = {
      {"stats", store},
      {"search", store, "--vector", "[1,2,3,4]", "-k", "300"},
      {"get", store, "m1", "m299"},
      {"verify", store},
      {"export", store},
      {"ingest", store, "--on-duplicate", "skip", "-q"},
      {"maintain", store, "-q"},
      {"descend", store, "m1", "-q"},
  };
  for (const std::string& f : files) {
    CAPTURE(f);
    const std::string path = store + "/" + f;
    // meta.db's -wal and -shm may be gone after the last close: a FIFO
    // where none was.
    const bool had = fs::is_regular_file(path);
    REQUIRE((had || f != "meta.db"));
    if (had) fs::rename(path, dir / "kept");
    REQUIRE(mkfifo(path.c_str(), 0644) == 0);
    for (const auto& c : commands) {
      CAPTURE(c[0]);
      const RunResult r = AetherVia({"/usr/bin/timeout", "20"}, c, ToJsonl({mems[0]}));
      CHECK(r.exit_code != 124);  // a hang
      CHECK(r.exit_code != 70);
      if (r.exit_code != 0 && r.exit_code != 1)
        CHECK_MESSAGE(r.err.find("aether: error: ") != std::string::npos, r.err);
    }
    fs::remove(path);
    if (had) fs::rename(dir / "kept", path);
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
  // Every memory is still there (a descend may have moved one).
  auto ids = [](const std::string& jsonl) {
    std::vector<std::string> out;
    for (const std::string& line : Lines(jsonl)) out.push_back(nlohmann::json::parse(line)["id"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(ids(Aether({"export", store}).out) == ids(want));
}

TEST_CASE("one rule for records and queries: duplicate keys, unknown fields and byte order marks") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, "{\"id\":\"a\",\"vector\":[1,2]}\n").exit_code == 0);
  const std::string bom = "\xEF\xBB\xBF";
  struct Case {
    std::string name, record, query, reason;
  };
  const std::vector<Case> cases = {
      {"duplicate key", "{\"id\":\"b\",\"id\":\"c\",\"vector\":[1,2]}", "{\"vector\":[1,2],\"vector\":[3,4]}",
       "duplicate key"},
      {"duplicate key in a payload", "{\"id\":\"b\",\"vector\":[1,2],\"payload\":{\"x\":1,\"x\":2}}",
       "{\"id\":\"q\",\"vector\":[1,2],\"id\":\"r\"}", "duplicate key"},
      {"unknown field", "{\"id\":\"b\",\"vector\":[1,2],\"colour\":1}", "{\"vector\":[1,2],\"colour\":1}",
       "unknown field \"colour\""},
      {"byte order mark after the start", bom + "{\"id\":\"b\",\"vector\":[1,2]}", bom + "{\"vector\":[1,2]}",
       "a UTF-8 byte order mark may only start the input"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto in = Aether({"ingest", "--create", store}, "{\"id\":\"z\",\"vector\":[0,1]}\n" + c.record + "\n");
    CHECK(in.exit_code == 65);
    CHECK(in.err.find("<stdin>:2: " + c.reason) != std::string::npos);
    auto q = Aether({"search", store, "--queries", "-", "--no-touch"}, "{\"vector\":[0,1]}\n" + c.query + "\n");
    CHECK(q.exit_code == 65);
    CHECK(q.err.find("<stdin>:2: " + c.reason) != std::string::npos);
    Aether({"delete", store, "z"});
  }
  // At the start of the input a BOM is accepted by every reader.
  CHECK(Aether({"ingest", "--create", store}, bom + "{\"id\":\"b\",\"vector\":[1,2]}\n").exit_code == 0);
  CHECK(Aether({"search", store, "--queries", "-", "--no-touch"}, bom + "{\"vector\":[1,2]}\n").exit_code == 0);
  CHECK(Aether({"feedback", store, "--file", "-"}, bom + "{\"id\":\"b\",\"reward\":1}\n").exit_code == 0);
  // A .npy cut short says so.
  WriteFile(dir / "short.npy", "\x93NUM");
  auto npy = Aether({"ingest", "--create", store, dir / "short.npy", "--id-prefix", "n"});
  CHECK(npy.exit_code == 65);
  CHECK(npy.err.find("truncated: 4 bytes") != std::string::npos);
}

TEST_CASE("table output and messages escape control characters in ids and payloads") {
  TempDir dir;
  const std::string store = dir / "s";
  // Ids with a tab, an escape sequence, a newline, NUL, DEL, a C1 CSI and a
  // backslash; a payload with the same.
  const std::vector<std::pair<std::string, std::string>> ids = {{"a\\tb", "a\tb"},
                                                                {"esc\\u001b[31mred", "esc\x1b[31mred"},
                                                                {"nl\\nx", "nl\nx"},
                                                                {"nul\\u0000z", std::string("nul\0z", 5)},
                                                                {"del\\u007f", "del\x7f"},
                                                                {"csi\\u009b2J",
                                                                 "csi\xc2\x9b"
                                                                 "2J"},
                                                                {"back\\\\slash", "back\\slash"}};
  std::string jsonl;
  for (size_t i = 0; i < ids.size(); ++i)
    jsonl += "{\"id\":\"" + ids[i].first + "\",\"vector\":[" + std::to_string(i) +
             ",1],\"payload\":{\"t\":\"\\u001b[2J\\u009b\"}}\n";
  REQUIRE(Aether({"ingest", "--create", store}, jsonl).exit_code == 0);
  auto raw_control = [](const std::string& s) {
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
      if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
          static_cast<unsigned char>(s[i + 1]) <= 0x9f)
        return true;
    }
    return false;
  };
  std::vector<std::string> get = {"get", store, "--format", "table"}, descend = {"descend", store, "--dry-run"};
  for (const auto& [json, raw] : ids) {
    get.push_back(raw);
    descend.push_back(raw);
  }
  get.push_back("missing\x1b[1m");
  const std::vector<std::vector<std::string>> commands = {
      get,
      descend,
      {"search", store, "--vector", "[3,1]", "--format", "table", "-k", "7", "--no-touch"},
      {"history", store, "--format", "table"},
      {"delete", store, "gone\x1b]0;title\x07"},
  };
  for (const auto& cmd : commands) {
    CAPTURE(cmd[0]);
    auto r = Aether(cmd);
    CHECK_MESSAGE(!raw_control(r.out), r.out);
    CHECK_MESSAGE(!raw_control(r.err), r.err);
  }
  auto g = Aether(get);
  CHECK(g.out.find("a\\tb") != std::string::npos);
  CHECK(g.out.find("esc\\x1b[31mred") != std::string::npos);
  // (An id with a NUL cannot be named on a command line; a search shows it.)
  auto s = Aether({"search", store, "--vector", "[3,1]", "--format", "table", "-k", "7", "--no-touch"});
  CHECK(s.out.find("nul\\x00z") != std::string::npos);
  CHECK(g.out.find("csi\\u009b2J") != std::string::npos);
  CHECK(g.out.find("back\\\\slash") != std::string::npos);
  CHECK(g.err.find("not found: missing\\x1b[1m") != std::string::npos);
  // JSON output is JSON: the same ids round-trip exactly.
  auto j = Aether({"get", store, "nl\nx", "--format", "jsonl"});
  CHECK(nlohmann::json::parse(j.out)["id"] == "nl\nx");
}

TEST_CASE("environment variables: each is checked; a bad value is exit 64 naming it, before any store is touched") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, "{\"id\":\"a\",\"vector\":[1,2]}\n").exit_code == 0);
  const std::string before = ReadFile(store + "/meta.db");
  struct Case {
    std::string var;
    std::vector<std::string> bad, good;
  };
  const std::vector<Case> cases = {
      {"AETHER_NOW_MS", {"abc", "12x", "-5", "99999999999999999999999", "1.5", " 7"}, {"0", "1700000000000"}},
      {"AETHER_FAULT",
       {"nope", "ingest.after_intent:0", "ingest.after_intent:x", "ingest.after_intent:"},
       {"descend.after_sync", "descend.after_sync:3"}},
      {"AETHER_PAUSE",
       {"descend.after_sync", "descend.after_sync:0", "descend.after_sync:60001", "x:5"},
       {"descend.after_sync:1"}},
      {"AETHER_PAUSE_FILE", {dir / "paused"}, {}},  // only with AETHER_PAUSE
      {"AETHER_FAIL_IO",
       {"write", "write:0", "fsync:1", "write:1x", "write:+", "nodirsync", "dirsync:1"},
       {"write:1000", "dbsync:5+", "nodirsync:1+"}},
      {"AETHER_SIMD", {"sse", "AVX2", "avx-512"}, {"scalar", "avx2", "avx512"}},
      {"AETHER_TRACE_IO", {"/nonexistent-dir/trace", dir / "s"}, {dir / "trace.log"}},
      {"AETHER_SCAN_DELAY_MS", {"0", "60001", "-1", "5ms"}, {"1"}},
  };
  for (const auto& c : cases) {
    for (const auto& v : c.bad) {
      CAPTURE(c.var);
      CAPTURE(v);
      for (const std::vector<std::string>& cmd :
           {std::vector<std::string>{"stats", store}, std::vector<std::string>{"fault-points"}}) {
        auto r = Aether(cmd, "", {c.var + "=" + v});
        CHECK(r.exit_code == 64);
        CHECK(r.err.find("aether: error: " + c.var + "=" + v + ": ") != std::string::npos);
      }
    }
    for (const auto& v : c.good) {
      CAPTURE(c.var);
      CAPTURE(v);
      auto r = Aether({"stats", store}, "", {c.var + "=" + v});
      CHECK_MESSAGE(r.exit_code == 0, r.err);
    }
  }
  CHECK(ReadFile(store + "/meta.db") == before);
}

// A directory may be named in any encoding: a store (and a backup) whose
// path is not UTF-8 works with every command, and each --format json
// output is valid JSON, the bad byte shown as U+FFFD (backup's "dest"
// stopped the command with an internal error, 70).
TEST_CASE("a store whose path is not UTF-8: every command works and its --format json output parses") {
  TempDir dir;
  const std::string store = dir / "s\xff", copy = dir / "b\xfe";
  REQUIRE(Aether({"ingest", "--create", store, "--format", "json"}, ToJsonl(RandomMems(60, 4, 81))).exit_code == 0);
  const std::vector<std::vector<std::string>> commands = {
      {"stats", store},
      {"get", store, "m1"},
      {"list", store},
      {"history", store},
      {"verify", store},
      {"check", store},
      {"descend", store, "--all"},
      {"rebuild-index", store, "--partitions", "4"},
      {"ascend", store, "m1"},
      {"maintain", store},
      {"feedback", store, "m1", "1"},
      {"pin", store, "m2"},
      {"unpin", store, "m2"},
      {"delete", store, "m3"},
      {"recover", store},
      {"upgrade", store},
      {"scrub", store},
      {"config", store, "get"},
      {"backup", store, copy},
      {"verify", copy},
  };
  for (std::vector<std::string> c : commands) {
    CAPTURE(c[0]);
    c.insert(c.end(), {"--format", "json"});
    const RunResult r = Aether(c);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    REQUIRE_FALSE(r.out.empty());
    const auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    CHECK_MESSAGE(!j.is_discarded(), r.out);
    if (c[0] == "backup") CHECK(j["dest"] == dir / "b" + "\xEF\xBF\xBD");  // U+FFFD
  }
  const RunResult found = Aether({"search", store, "--vector", "[1,2,3,4]", "--no-touch"});
  CHECK(found.exit_code == 0);
  CHECK(ParseSearchOutput(found.out).size() == 1);
}

// A name as long as a file name may be (255 bytes, NAME_MAX) given for
// what a command makes: the store, a backup, an export's files, stats'
// output file. Each is first built under a name of aether's own beside it
// (a hidden sibling, a temporary), which must fit too: that name shortens
// the user's (its first bytes, cut at a character, and a hash of the whole)
// instead of failing with "File name too long" (74) on a name the file
// system takes. In ASCII and in two-byte characters; names that differ
// only in their last bytes stay apart.
TEST_CASE("names as long as a file name may be: every command that makes one works, never 'File name too long'") {
  TempDir dir;
  const auto mems = RandomMems(300, 4, 83);
  for (const std::string& unit : {std::string("a"), std::string("\xC3\xA9")}) {  // 'a', U+00E9
    CAPTURE(unit.size());
    auto name = [&](const std::string& head, size_t bytes) {  // head, then `unit` up to `bytes` bytes
      std::string n = head;
      while (n.size() + unit.size() <= bytes) n += unit;
      return n;
    };
    const std::string store = dir / name("s", 255), twin = dir / (name("s", 254) + "t"), copy = dir / name("b", 255),
                      prefix = dir / name("e", 244), report = dir / name("r", 255);
    REQUIRE(fs::path(store).filename().string().size() >= 254);
    const RunResult made = Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems));
    REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    REQUIRE(Aether({"init", twin, "--dim", "4", "-q"}).exit_code == 0);  // the same first 254 bytes
    CHECK(Aether({"rebuild-index", store, "--partitions", "4", "-q"}).exit_code == 0);
    const RunResult b = Aether({"backup", store, copy, "-q"});
    CHECK_MESSAGE(b.exit_code == 0, b.err);
    CHECK(Aether({"verify", copy}).exit_code == 0);
    const RunResult e = Aether({"export", store, "--npy", prefix, "-q"});
    CHECK_MESSAGE(e.exit_code == 0, e.err);
    CHECK(fs::file_size(prefix + ".npy") == 128 + mems.size() * 4 * sizeof(float));
    CHECK(Lines(ReadFile(prefix + ".ids")).size() == mems.size());
    const RunResult s = Aether({"stats", store, "--output", report, "--format", "json"});
    CHECK_MESSAGE(s.exit_code == 0, s.err);
    CHECK(nlohmann::json::parse(ReadFile(report))["hot_memories"] == 100);
    CHECK(Aether({"stats", twin, "--format", "json"}).out.find("\"hot_memories\":0") != std::string::npos);
    // Nothing of aether's own is left beside them.
    for (const auto& entry : fs::directory_iterator(dir.path()))
      CHECK_MESSAGE(entry.path().filename().string().find(".aether-") == std::string::npos, entry.path());
    for (const std::string& p : {store, twin, copy, report, prefix + ".npy", prefix + ".ids", prefix + ".meta.jsonl"})
      fs::remove_all(p);
  }
}
