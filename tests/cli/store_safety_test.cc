// No command may act on the wrong store: with the store from AETHER_STORE or
// --store, an operand that names a store (or an id written as a path) is a
// usage error before anything opens a store; ingest creates a store only
// when asked (--create), and its creation flags never disagree silently with
// an existing store.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

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
      {{"get"}, {"m0"}, true},     {{"delete"}, {"m0"}, true}, {{"descend"}, {"m0"}, true}, {{"ascend"}, {"m1"}, true},
      {{"feedback"}, {"1"}, true}, {{"history"}, {}, true},    {{"ingest"}, {}, false},
  };
  // A store, however it is written; and ids that only look like paths.
  const std::vector<std::string> stores = {"b", "./b", b, "../" + dir_name + "/b", "b/"};
  const std::vector<std::string> paths = {"./nope", "/nope/x", "../x", "~/x", "x/", ".", ".."};
  int refused = 0;
  for (const bool from_env : {true, false}) {
    for (const Form& f : forms) {
      std::vector<std::string> operands = stores;
      if (f.id) operands.insert(operands.end(), paths.begin(), paths.end());
      for (const std::string& operand : operands) {
        std::vector<std::string> args = f.before;
        if (!from_env) args.insert(args.end(), {"--store", "a"});
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
        ++refused;
      }
    }
  }
  CHECK(refused == 2 * (6 * 12 + 5));
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
  CHECK(r.err.find("not an aether store; create it with") != std::string::npos);
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
}
