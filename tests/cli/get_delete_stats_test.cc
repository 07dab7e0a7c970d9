#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;

TEST_CASE("get prints stored records; a missing id exits 1 and the rest still print") {
  TempDir dir;
  std::string store = dir / "s";
  std::string in = R"({"id":"h","vector":[1,2],"payload":{"a":1},"importance":0.9})"
                   "\n"
                   R"({"id":"c","vector":[3,4]})"
                   "\n";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1"}, in, {"AETHER_NOW_MS=42"}).exit_code == 0);
  auto r = Aether({"get", store, "h", "nope", "c"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "aether: not found: nope\n");
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  // Created at 42 ms and read at the test clock, long after: never
  // accessed, surely cold.
  CHECK(lines[0] == R"({"access_count":0,"created_ms":42,"id":"h","importance":0.9,"last_access_ms":42,)"
                    R"("pattern":{"accesses":0,"confidence":1.0,"pattern":"cold"},)"
                    R"("payload":{"a":1},"tier":"hot","vector":[1.0,2.0]})");
  auto c = nlohmann::json::parse(lines[1]);
  CHECK(c["tier"] == "cold");
  CHECK(c["payload"].is_null());
  CHECK(c["importance"] == 0.5);
  CHECK(c["vector"] == nlohmann::json::array({3.0, 4.0}));
}

TEST_CASE("deleted memories vanish from both tiers; their space is counted as free or garbage") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(60, 5, 77);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "30"}, ToJsonl(mems)).exit_code == 0);
  auto del = Aether({"delete", store, "m3", "m45", "ghost", "--format", "json"});
  CHECK(del.exit_code == 1);
  CHECK(del.err.find("not found: ghost") != std::string::npos);
  CHECK(nlohmann::json::parse(del.out)["deleted"] == 2);
  for (size_t i : {3, 45}) {
    auto hits =
        ParseSearchOutput(Aether({"search", store, "--vector", VectorJson(mems[i].vec), "-k", "3", "--no-touch"}).out);
    for (const auto& h : hits[0]) CHECK(h.id != mems[i].id);
    std::vector<Mem> rest;
    for (const auto& m : mems)
      if (m.id != "m3" && m.id != "m45") rest.push_back(m);
    CHECK(SameTopK(hits[0], BruteForce(rest, mems[i].vec, 3, "l2")));
  }
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"] == 29);
  CHECK(stats["cold_memories"] == 29);
  CHECK(stats["cold_garbage_records"] == 1);
  CHECK(stats["cold_garbage_bytes"].get<uint64_t>() > 0);
  CHECK(Aether({"get", store, "m3"}).exit_code == 1);
  // The freed hot slot is reused: the file does not grow for the next memory.
  uint64_t hot_bytes = stats["hot_bytes"];
  REQUIRE(Aether({"ingest", "--create", store}, R"({"id":"new","vector":[1,1,1,1,1]})"
                                                "\n")
              .exit_code == 0);
  auto after = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(after["hot_bytes"] == hot_bytes);
  CHECK(after["hot_memories"] == 30);
  CHECK(nlohmann::json::parse(Lines(Aether({"get", store, "new"}).out)[0])["tier"] == "hot");
}

TEST_CASE("stats agree with what was ingested, in every format") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(250, 8, 1);
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "100", "--metric", "cosine"}, ToJsonl(mems)).exit_code ==
      0);
  auto j = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(j["hot_memories"] == 100);
  CHECK(j["cold_memories"] == 150);
  CHECK(j["hot_capacity"] == 100);
  CHECK(j["dim"] == 8);
  CHECK(j["metric"] == "cosine");
  CHECK(j["format_version"] == 6);
  CHECK(j["cold_raw_bytes"] == 150 * (8 + 4 * 8));
  CHECK(j["cold_bytes"].get<uint64_t>() == FileSize(store + "/cold/staging.shard"));
  CHECK(j["hot_bytes"].get<uint64_t>() == FileSize(store + "/hot.slots"));
  CHECK(j["pending_migrations"] == 0);
  auto prom = Aether({"stats", store, "--format", "prometheus"}).out;
  CHECK(prom.find("# TYPE aether_memories gauge\n") != std::string::npos);
  CHECK(prom.find("aether_memories{tier=\"hot\"} 100\n") != std::string::npos);
  CHECK(prom.find("aether_memories{tier=\"cold\"} 150\n") != std::string::npos);
  for (const auto& line : Lines(prom)) {
    if (line[0] == '#') continue;
    CHECK(line.rfind("aether_", 0) == 0);
  }
  auto table = Aether({"stats", store}).out;
  CHECK(table.find("hot_memories           100") != std::string::npos);
}

TEST_CASE("get output loads back with ingest --ignore-unknown: ids, vectors, payloads and importance as stored") {
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  auto mems = RandomMems(40, 7, 91);
  std::string in;
  for (size_t i = 0; i < mems.size(); ++i)
    in += R"({"id":")" + mems[i].id + R"(","vector":)" + VectorJson(mems[i].vec) + R"(,"payload":{"i":)" +
          std::to_string(i) + R"(,"s":"x\u00e9"},"importance":)" + std::to_string(double(i) / 64) + "}\n";
  REQUIRE(Aether({"ingest", "--create", a, "--hot-capacity", "15"}, in).exit_code == 0);
  std::vector<std::string> args = {"get", a};
  for (const auto& m : mems) args.push_back(m.id);
  const auto got = Aether(args);
  REQUIRE(got.exit_code == 0);
  // Strict by default: the first extra field is named.
  auto r = Aether({"ingest", "--create", b}, got.out);
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("<stdin>:1: unknown field \"access_count\"") != std::string::npos);
  r = Aether({"ingest", "--create", b, "--ignore-unknown"}, got.out);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  args[1] = b;
  const auto again = Aether(args);
  REQUIRE(again.exit_code == 0);
  const auto want = Lines(got.out), have = Lines(again.out);
  REQUIRE(want.size() == have.size());
  for (size_t i = 0; i < want.size(); ++i) {
    auto w = nlohmann::json::parse(want[i]), h = nlohmann::json::parse(have[i]);
    for (const char* key : {"id", "vector", "payload", "importance"}) CHECK_MESSAGE(w[key] == h[key], key);
  }
  CHECK(GetRecords(a, Ids(mems)) == GetRecords(b, Ids(mems)));  // vectors bit for bit
  // The option is for JSONL: npy has no fields.
  r = Aether({"ingest", b, dir / "x.npy", "--id-prefix", "v", "--ignore-unknown"});
  CHECK(r.exit_code == 64);
  CHECK(r.err == "aether: error: --ignore-unknown is for JSONL input; npy and fvecs have no fields\n");
}

TEST_CASE("delete --ids-from and --dry-run: the dry run names exactly what the delete then does, and changes nothing") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(80, 3, 5);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m79"}).exit_code == 0);  // a RESERVE file and a WAL to keep as they are
  auto files = [&] {                                         // the store's bytes, SQLite's shared-memory index aside
    auto out = DirectoryBytes(store);
    for (auto it = out.begin(); it != out.end();)
      it = it->first.find("-shm") != std::string::npos ? out.erase(it) : ++it;
    return out;
  };
  std::mt19937 rng(3);
  std::set<std::string> live;
  for (const auto& m : mems) live.insert(m.id);
  live.erase("m79");
  for (int round = 0; round < 6; ++round) {
    // Positional ids, a file and stdin, with ids not stored and repeated.
    std::vector<std::string> pos, file, in;
    for (int i = 0; i < 6; ++i) {
      pos.push_back(mems[rng() % mems.size()].id);
      file.push_back(mems[rng() % mems.size()].id);
      in.push_back(rng() % 4 ? mems[rng() % mems.size()].id : "ghost" + std::to_string(i));
    }
    std::string file_text, in_text;
    for (const auto& id : file) file_text += id + "\n\n";
    for (const auto& id : in) in_text += id + "\n";
    WriteFile(dir / "ids.txt", file_text);
    // The reference: in argument order (positional, then the file), an id
    // is deleted the first time it is live, else not found.
    std::vector<std::string> all = pos, want_deleted, want_missing;
    const bool from_stdin = round % 2;
    for (const auto& id : from_stdin ? in : file) all.push_back(id);
    std::set<std::string> after = live;
    for (const auto& id : all) {
      if (after.erase(id))
        want_deleted.push_back(id);
      else
        want_missing.push_back(id);
    }
    std::vector<std::string> args = {"delete",   store, "--ids-from", from_stdin ? "-" : dir / "ids.txt",
                                     "--format", "json"};
    args.insert(args.begin() + 2, pos.begin(), pos.end());
    // Accesses in the access log: a writer would fold them.
    REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[round].vec), "-k", "3"}).exit_code == 0);
    const auto before = files();
    auto dry_args = args;
    dry_args.push_back("--dry-run");
    auto dry = Aether(dry_args, from_stdin ? in_text : "");
    CHECK(dry.exit_code == (want_missing.empty() ? 0 : 1));
    auto plan = nlohmann::json::parse(dry.out);
    CHECK(plan["would_delete"] == want_deleted);
    CHECK(plan["not_found"] == want_missing);
    CHECK(files() == before);
    auto real = Aether(args, from_stdin ? in_text : "");
    CHECK(real.exit_code == dry.exit_code);
    auto done = nlohmann::json::parse(real.out);
    CHECK(done["deleted"] == want_deleted.size());
    CHECK(done["not_found"] == want_missing);
    live = after;
    CHECK(GetAll(store, Ids(mems)).size() == live.size());
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
  auto r = Aether({"delete", store});
  CHECK(r.exit_code == 64);
  CHECK(r.err == "aether: error: give the ids to delete, --ids-from FILE or --where EXPR\n");
  CHECK(Aether({"delete", store, "--ids-from", dir / "none.txt"}).exit_code == 66);
  for (const char* cmd : {"delete", "descend", "ascend"}) {
    r = Aether({cmd, store, "--ids-from", ""});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("--ids-from: an empty value") != std::string::npos);
  }
}
