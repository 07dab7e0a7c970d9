// No command may act on the wrong store: with the store from AETHER_STORE or
// --store, an operand that names a store (or an id written as a path) is a
// usage error before anything opens a store; ingest creates a store only
// when asked (--create), and its creation flags never disagree silently with
// an existing store.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"

using namespace aether::test;

namespace {

// Runs aether in `cwd`, with AETHER_STORE=`env_store` when it is not empty.
RunResult AetherIn(const std::string& cwd, const std::string& env_store, const std::vector<std::string>& args,
                   const std::string& stdin_data = "") {
  std::vector<std::string> prefix = {"/usr/bin/env", "-u", "AETHER_STORE", "-C", cwd};
  if (!env_store.empty()) prefix.push_back("AETHER_STORE=" + env_store);
  return AetherVia(prefix, args, stdin_data);
}

}  // namespace

TEST_CASE("with the store from AETHER_STORE or --store, an operand that is a store or a path-like id changes nothing") {
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  for (const std::string& s : {a, b}) {
    REQUIRE(Aether({"ingest", "--create", s, "--hot-capacity", "1"}, ToJsonl(RandomMems(3, 2, 5))).exit_code == 0);
  }
  WriteFile(dir / "more.jsonl", ToJsonl(RandomMems(2, 2, 6, "n")));
  const auto a_before = DirectoryBytes(a), b_before = DirectoryBytes(b);
  const std::string dir_name = dir.path().substr(dir.path().rfind('/') + 1);

  // Every command with operands, as {args before the operand, args after}.
  struct Form {
    std::vector<std::string> before, after;
    bool id;  // the operand is a memory id (else a file)
  };
  const std::vector<Form> forms = {
      {{"get"}, {"m0"}, true},    {{"delete"}, {"m0"}, true},     {{"descend"}, {"m0"}, true},
      {{"ascend"}, {"m1"}, true}, {{"feedback"}, {"1"}, true},    {{"history"}, {}, true},
      {{"ingest"}, {}, false},    {{"config", "get"}, {}, false}, {{"update", "--importance", "0.5"}, {}, true},
  };
  // A store, however it is written; and ids that only look like paths.
  const std::vector<std::string> stores = {"b", "./b", b, "../" + dir_name + "/b", "b/"};
  const std::vector<std::string> paths = {"./nope", "/nope/x", "../x", "~/x", "x/", ".", ".."};
  int refused = 0, tried = 0;
  size_t point = 0;  // every (source, form, operand), counted for InSweep
  for (const std::string source : {"env", "--store", "--store=", "env --"}) {
    const bool from_env = source[0] == 'e';
    for (const Form& f : forms) {
      std::vector<std::string> operands = stores;
      if (f.id) operands.insert(operands.end(), paths.begin(), paths.end());
      for (const std::string& operand : operands) {
        if (!InSweep(point++)) continue;
        std::vector<std::string> args = f.before;
        if (source == "--store") args.insert(args.end(), {"--store", "a"});
        if (source == "--store=") args.push_back("--store=a");
        if (source == "env --") args.push_back("--");
        args.push_back(operand);
        args.insert(args.end(), f.after.begin(), f.after.end());
        const auto r = AetherIn(dir.path(), from_env ? "a" : "", args, ReadFile(dir / "more.jsonl"));
        const std::string what = (from_env ? "AETHER_STORE=a aether " : "aether ") + args[0] + " ... " + operand;
        CHECK_MESSAGE(r.exit_code == 64, what << ": " << r.err);
        CHECK_MESSAGE(r.err.find("this command's store is 'a' (from " +
                                 std::string(from_env ? "AETHER_STORE" : "--store") + ")") != std::string::npos,
                      what << ": " << r.err);
        CHECK_MESSAGE(r.err.find("'" + operand + "'") != std::string::npos, what << ": " << r.err);
        CHECK(r.out.empty());
        refused += r.exit_code == 64;
        ++tried;
      }
    }
  }
  CHECK(point == 4 * (7 * 12 + 2 * 5));
  CHECK(size_t(tried) == (ShortRun() ? (point + 2) / 3 : point));
  CHECK(refused == tried);
  CHECK(DirectoryBytes(a) == a_before);
  CHECK(DirectoryBytes(b) == b_before);

  // What is not a store stays an operand: an id with a slash inside, an
  // input file given as a path, and any operand when the store is the first
  // argument (the way to name an id that looks like a path).
  auto r = AetherIn(dir.path(), "a", {"get", "doc/1", "m0"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "aether: not found: doc/1\n");
  CHECK(nlohmann::json::parse(r.out)["id"] == "m0");
  r = AetherIn(dir.path(), "a", {"ingest", "./more.jsonl", "-q"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  // After "--" everything is an operand, "--store=x" included; an empty
  // AETHER_STORE is no store.
  r = AetherIn(dir.path(), "", {"get", "--", "a", "--store=m0"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "aether: not found: --store=m0\n");
  r = AetherIn(dir.path(), "a", {"get", "--", "--store=x", "m0"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "aether: not found: --store=x\n");
  CHECK(nlohmann::json::parse(r.out)["id"] == "m0");
  r = AetherVia({"/usr/bin/env", "-C", dir.path(), "AETHER_STORE="}, {"get", "a", "m0"});
  CHECK(r.exit_code == 0);
  r = AetherIn(dir.path(), "", {"delete", "a", "./b"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("aether: not found: ./b\n") == 0);
  CHECK(DirectoryBytes(b) == b_before);  // b untouched throughout
}

TEST_CASE("ingest creates a store only with --create; a creation flag that disagrees with the store is exit 64") {
  TempDir dir;
  const std::string store = dir / "mem";
  const std::string one = R"({"id":"a","vector":[1,2]})"
                          "\n";
  // A misspelt (missing) store: nothing is created.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"ingest", store},
                                               {"ingest", store, "--dim", "2"},
                                               {"ingest", store, "--id-prefix", "v", dir / "none.npy"}}) {
    auto r = Aether(args, one);
    CHECK(r.exit_code == 66);
    CHECK_MESSAGE(r.err == "aether: error: " + store + ": no such store; create it with 'aether init " + store +
                               " --dim N', or pass --create to ingest\n",
                  r.err);
    CHECK_FALSE(std::filesystem::exists(store));
  }
  // A directory that is not a store is not adopted without --create either.
  std::filesystem::create_directory(dir / "empty");
  auto r = Aether({"ingest", dir / "empty"}, one);
  CHECK(r.exit_code == 66);
  CHECK(r.err.find("an empty directory, not an aether store; create one in it with") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir / "empty"));

  // --create makes it with the flags, and is harmless once it exists.
  r = Aether({"ingest", "--create", store, "--metric", "cosine", "--hot-capacity", "5", "--codec", "sq8"}, one);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["dim"] == 2);
  CHECK(stats["metric"] == "cosine");
  CHECK(stats["hot_capacity"] == 5);
  CHECK(stats["cold_codec"] == "sq8");

  // Each creation flag, agreeing (accepted) and disagreeing (exit 64, the
  // stored value named, nothing ingested), with and without --create.
  struct Flag {
    std::string name, agrees, disagrees, stored_as;
  };
  const std::vector<Flag> flags = {{"--dim", "2", "3", "dimension 2"},
                                   {"--metric", "cosine", "l2", "metric cosine"},
                                   {"--hot-capacity", "5", "65536", "hot capacity 5"},
                                   {"--codec", "sq8", "zstd", "codec sq8"}};
  int n = 0;
  for (const Flag& f : flags) {
    for (const bool create : {false, true}) {
      const std::string id = "x" + std::to_string(n++);
      const std::string rec = R"({"id":")" + id + R"(","vector":[3,4]})" + "\n";
      std::vector<std::string> args = {"ingest", store, f.name, f.disagrees};
      if (create) args.push_back("--create");
      r = Aether(args, rec);
      CHECK_MESSAGE(r.exit_code == 64, f.name << ": " << r.err);
      CHECK_MESSAGE(r.err.find(f.name + " " + f.disagrees + ": store " + store + " already exists with " +
                               f.stored_as) != std::string::npos,
                    r.err);
      CHECK(Aether({"get", store, id}).exit_code == 1);
      args[3] = f.agrees;
      r = Aether(args, rec);
      CHECK_MESSAGE(r.exit_code == 0, f.name << " " << f.agrees << ": " << r.err);
      CHECK(Aether({"get", store, id}).exit_code == 0);
    }
  }
  stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"].get<int>() + stats["cold_memories"].get<int>() == 1 + n);

  // Binary input: the flag is checked against the store before the file.
  std::string fvecs;
  for (float v : {5.0f, 6.0f}) {
    const int32_t d = 2;
    if (fvecs.empty()) fvecs.append(reinterpret_cast<const char*>(&d), 4);
    fvecs.append(reinterpret_cast<const char*>(&v), 4);
  }
  WriteFile(dir / "v.fvecs", fvecs);
  r = Aether({"ingest", store, dir / "v.fvecs", "--id-prefix", "f", "--dim", "3"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("--dim 3: store " + store + " already exists with dimension 2") != std::string::npos);
  r = Aether({"ingest", dir / "new", dir / "v.fvecs", "--id-prefix", "f", "--dim", "3", "--create"});
  CHECK(r.exit_code == 65);  // a new store: the file disagrees with --dim
  CHECK(r.err.find("vectors have 2 values, --dim says 3") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "new"));
  r = Aether({"ingest", store, dir / "v.fvecs", "--id-prefix", "f", "--dim", "2"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);

  // What cannot become a store says so, without suggesting what would fail.
  WriteFile(dir / "file", "x");
  r = Aether({"ingest", dir / "file"}, one);
  CHECK(r.exit_code == 66);
  CHECK(r.err == "aether: error: " + (dir / "file") + ": not an aether store (no meta.db)\n");
}

TEST_CASE("ingest --create from two processes at once: both succeed, one store holds both inputs") {
  TempDir dir;
  auto mems = RandomMems(200, 4, 17);
  WriteFile(dir / "first.jsonl", ToJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 120)));
  WriteFile(dir / "second.jsonl", ToJsonl(std::vector<Mem>(mems.begin() + 80, mems.end())));
  for (int round = 0; round < 6; ++round) {
    const std::string store = dir / ("s" + std::to_string(round));
    int p1 = SpawnAether({"ingest", "--create", store, dir / "first.jsonl", "--on-duplicate", "skip", "--wait", "30"});
    int p2 = SpawnAether({"ingest", "--create", store, dir / "second.jsonl", "--on-duplicate", "skip", "--wait", "30"});
    CHECK(WaitAether(p1) == 0);
    CHECK(WaitAether(p2) == 0);
    CHECK(GetAll(store, Ids(mems)).size() == mems.size());
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
}

// A store under a linked directory (/home -> /data/home), or named by a
// link to its own directory, is the store the user named: every command
// works on it as on its real path (SQLite refuses a link anywhere on a
// path; aether resolves the directories and still never follows a link at
// meta.db itself).
TEST_CASE("a store under a linked directory or named by a link to it: every command answers as on the real path") {
  TempDir dir;
  namespace fs = std::filesystem;
  fs::create_directories(dir / "real-a");
  fs::create_directories(dir / "real-b");
  fs::create_directories(dir / "real-c");
  fs::create_symlink(dir / "real-b", dir / "linked");   // a linked parent
  fs::create_symlink(dir / "real-c/s", dir / "named");  // a link to the store itself
  const auto mems = RandomMems(400, 4, 71);
  const std::string queries = QueriesJsonl(RandomMems(5, 4, 72, "q"));
  auto run = [&](const std::string& store, const std::string& backups) {
    std::vector<std::string> out;
    auto ok = [&](const std::vector<std::string>& args, const std::string& in = "") {
      const RunResult r = Aether(args, in, {"AETHER_NOW_MS=1800000000000"});  // the same clock for both
      CHECK_MESSAGE(r.exit_code == 0, args[0] << ": " << r.err);
      return r.out;
    };
    const std::vector<std::string> search = {"search", store,      "--queries", "-",         "-k",
                                             "5",      "--nprobe", "4",         "--no-touch"};
    // Made at its real path: a store is never made through a link (73).
    const std::string real = store == dir / "named" ? dir / "real-c/s" : store;
    ok({"ingest", "--create", real, "--hot-capacity", "50", "-q"}, ToJsonl(mems));
    out.push_back(ok(search, queries));
    ok({"descend", store, "--all", "-q"});
    ok({"rebuild-index", store, "--partitions", "4", "-q"});
    out.push_back(ok(search, queries));
    out.push_back(ok({"get", store, mems[3].id}));
    ok({"delete", store, mems[4].id, "-q"});
    ok({"ascend", store, mems[5].id, "-q"});
    ok({"verify", store});
    ok({"backup", store, backups + "/full", "-q"});
    ok({"backup", store, backups + "/incr", "--incremental", backups + "/full", "-q"});
    ok({"verify", backups + "/incr"});
    out.push_back(ok({"export", store}));
    out.push_back(ok({"export", backups + "/incr"}));
    out.push_back(ok(search, queries));
    ok({"maintain", store, "-q"});  // (its choices are not compared)
    ok({"verify", store});
    return out;
  };
  const auto want = run(dir / "real-a/s", dir / "real-a");
  for (const std::string& store : {dir / "linked/s", dir / "named"}) {
    CAPTURE(store);
    const auto got = run(store, store == dir / "named" ? dir / "real-c" : dir / "linked");
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i] == want[i]);
    }
  }
  CHECK(fs::exists(dir / "real-b/s/meta.db"));
  CHECK(fs::exists(dir / "real-c/s/meta.db"));

  // meta.db itself a link (to a real store's): refused, that store unchanged.
  const std::string planted = dir / "planted";
  fs::copy(dir / "real-a/s", planted, fs::copy_options::recursive);
  fs::remove(planted + "/meta.db");
  fs::create_symlink(dir / "real-a/s/meta.db", planted + "/meta.db");
  const std::string before = ReadFile(dir / "real-a/s/meta.db");
  const RunResult r = Aether({"delete", planted, mems[6].id});
  CHECK(r.exit_code == 74);
  CHECK(r.err.find("meta.db") != std::string::npos);
  CHECK(ReadFile(dir / "real-a/s/meta.db") == before);
}

// A link to a store moved to another store while a command runs through it
// (a cron job flipping mem-latest): the command's files all stay in the
// store it opened, resolved once; both stores stay whole.
TEST_CASE("a store link moved to another store mid-command: every file of the command stays in the store it opened") {
  TempDir dir;
  namespace fs = std::filesystem;
  const std::string a = dir / "a", b = dir / "b", cur = dir / "cur", fifo = dir / "in.fifo";
  REQUIRE(
      Aether({"ingest", "--create", a, "--hot-capacity", "100", "-q"}, ToJsonl(RandomMems(20, 4, 81, "a"))).exit_code ==
      0);
  REQUIRE(
      Aether({"ingest", "--create", b, "--hot-capacity", "100", "-q"}, ToJsonl(RandomMems(20, 4, 82, "b"))).exit_code ==
      0);
  const std::string b_before = Export(b);
  fs::create_symlink(a, cur);
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const auto mems = RandomMems(6, 4, 83, "p");
  const int pid = SpawnAether({"ingest", cur, fifo, "--batch", "1", "-q"});
  {
    std::ofstream in(fifo);  // opens once the ingest has opened its end
    in << ToJsonl({mems[0], mems[1], mems[2]}) << std::flush;
    // The first three committed (to a), then the link moves to b.
    for (int i = 0;
         i < 1000 && SqlRows(a, "SELECT COUNT(*) FROM memories WHERE id LIKE 'p%'") != std::vector<std::string>{"3"};
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(SqlRows(a, "SELECT COUNT(*) FROM memories WHERE id LIKE 'p%'") == std::vector<std::string>{"3"});
    fs::remove(cur);
    fs::create_symlink(b, cur);
    in << ToJsonl({mems[3], mems[4], mems[5]}) << std::flush;
  }
  CHECK(WaitAether(pid) == 0);
  Verified(a);
  Verified(b);
  CHECK(GetAll(a, Ids(mems)).size() == mems.size());  // all six in the store it opened
  CHECK(Export(b) == b_before);
}

namespace {

// 300 memories of 4 dimensions, 100 hot, the rest in 3 partitions.
void MakeIndexedStore(const std::string& store, uint64_t seed) {
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(RandomMems(300, 4, seed)))
              .exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "3", "-q"}).exit_code == 0);
}

}  // namespace

// A store's own file replaced by a link to another store's (same dimension,
// same layout): no reader serves the other store's vectors under this
// store's ids. Export and search fail naming the link, verify reports
// it, and the other store is unchanged. Each kind of file in turn.
TEST_CASE("a store's file replaced by a link to another store's: readers refuse it, verify names it") {
  TempDir dir;
  namespace fs = std::filesystem;
  const std::string other = dir / "other";
  MakeIndexedStore(other, 91);
  const std::string other_export = Export(other);
  for (const std::string file : {"hot.slots", "cold/g000001/p000000.shard", "index/g000001.centroids"}) {
    CAPTURE(file);
    const std::string store = dir / ("s-" + std::to_string(std::hash<std::string>()(file) % 1000));
    MakeIndexedStore(store, 92);
    fs::remove(store + "/" + file);
    fs::create_symlink(other + "/" + file, store + "/" + file);
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"export", store}, {"search", store, "--vector", "[1,2,3,4]", "--nprobe", "3", "--no-touch"}}) {
      CAPTURE(args[0]);
      if (args[0] == "export" && file.rfind("index/", 0) == 0) continue;  // export reads no centroids
      const RunResult r = Aether(args);
      CHECK(r.exit_code == 74);
      CHECK_MESSAGE(r.err.find(file + ": open: is a symbolic link") != std::string::npos, r.err);
    }
    const RunResult v = Aether({"verify", store});
    CHECK(v.exit_code != 0);
    CHECK_MESSAGE((v.out + v.err).find(file) != std::string::npos, v.out << v.err);
    CHECK(Export(other) == other_export);
  }
}

// A directory of the store (cold/, index/, a generation directory of cold/)
// replaced by a link into another store: aether writes, cuts and deletes
// files under those, so through the link a descend appended to the other
// store's staging shard (which that store's next open then cut back) and a
// rebuild made and removed generations among the other store's. Every
// command, reader or writer, now refuses such a store before it opens a
// file (69, naming the link); the other store's files stay byte for byte.
// A link to a directory of the store's own (a generation moved to another
// disk) still serves.
TEST_CASE("a store's directory linked into another store: every command refuses it (69); that store unchanged") {
  TempDir dir;
  namespace fs = std::filesystem;
  const std::string other = dir / "other", base = dir / "base";
  MakeIndexedStore(other, 93);
  MakeIndexedStore(base, 94);
  REQUIRE(Aether({"ingest", other, "-q"}, ToJsonl(RandomMems(50, 4, 95, "staged"))).exit_code == 0);
  const std::string query = "[1,2,3,4]";
  const RunResult want = Aether({"search", base, "--vector", query, "--nprobe", "3", "--no-touch"});
  REQUIRE(want.exit_code == 0);
  struct Case {
    std::string link, target;  // in the store; in the other store
    bool cold_moved;           // the store's cold/ itself a link to a directory elsewhere
  };
  int n = 0;
  for (const Case& c :
       {Case{"cold", "cold", false}, Case{"index", "index", false}, Case{"cold/g000001", "cold/g000001", false},
        Case{"cold/g000002", "cold/g000001", false}, Case{"cold/g000003", "index", false},
        Case{"index", "cold/g000001", false}, Case{"cold", "", false}, Case{"cold/g000001", "cold/g000001", true}}) {
    CAPTURE(c.link);
    CAPTURE(c.target);
    CAPTURE(c.cold_moved);
    const std::string store = dir / ("s" + std::to_string(++n));
    fs::copy(base, store, fs::copy_options::recursive);
    if (c.cold_moved) {  // cold/ moved whole to another disk, linked back (its own: fine)
      fs::rename(store + "/cold", dir / ("disk2-" + std::to_string(n)));
      fs::create_directory_symlink(dir / ("disk2-" + std::to_string(n)), store + "/cold");
    }
    fs::remove_all(store + "/" + c.link);
    fs::create_directory_symlink(c.target.empty() ? other : other + "/" + c.target, store + "/" + c.link);
    const auto store_bytes = DirectoryBytes(store);
    const auto other_bytes = DirectoryBytes(other);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"stats", store},
                                               {"search", store, "--vector", query, "--nprobe", "3"},
                                               {"export", store},
                                               {"verify", store},
                                               {"ingest", store, "-q"},
                                               {"descend", store, "--all"},
                                               {"rebuild-index", store, "--partitions", "2"},
                                               {"maintain", store},
                                               {"recover", store}}) {
      CAPTURE(args[0]);
      const RunResult r = Aether(args, args[0] == "ingest" ? ToJsonl(RandomMems(5, 4, 96, "new")) : "");
      CHECK(r.exit_code == 69);
      CHECK_MESSAGE(r.err.find(fs::canonical(store).string() + "/" + c.link + ": a link into another store (" +
                               fs::canonical(other).string() + ")") != std::string::npos,
                    r.err);
    }
    CHECK(DirectoryBytes(other) == other_bytes);
    CHECK(DirectoryBytes(store) == store_bytes);
    CHECK(Aether({"verify", other}).exit_code == 0);
  }
  // A generation directory moved out of the store and linked back, even
  // into a directory beside some other tool's meta.db: served, written.
  fs::create_directories(dir / "tool/gens");
  WriteFile(dir / "tool/meta.db", "not a store's");
  const std::string moved = dir / "tool/gens/g1";
  fs::rename(base + "/cold/g000001", moved);
  fs::create_directory_symlink(moved, base + "/cold/g000001");
  const RunResult got = Aether({"search", base, "--vector", query, "--nprobe", "3", "--no-touch"});
  CHECK_MESSAGE(got.exit_code == 0, got.err);
  CHECK(got.out == want.out);
  const RunResult down = Aether({"descend", base, "--all"});
  CHECK_MESSAGE(down.exit_code == 0, down.err);
  CHECK(Aether({"verify", base}).exit_code == 0);
}
