// aether update against a reference model: random replaces, merge patches
// (checked with an RFC 7396 merge written here from the RFC's pseudo-code)
// and importance changes, from the command line and from files, over both
// tiers, with unknown and repeated ids; vectors, tiers and access history
// must not move, the history must say exactly what changed, and a dry run
// must show what the change then does while leaving every byte as it was.
// Every kind of bad input is a located error that changes nothing.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <random>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

// RFC 7396, section 2.
json MergePatch(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      json member = target.contains(key) ? target[key] : json();
      target[key] = MergePatch(member, value);
    }
  }
  return target;
}

// A random JSON value: objects over a few keys (so patches meet existing
// members), arrays, strings, numbers, booleans; null only where allowed.
json RandomValue(std::mt19937_64& rng, int depth, bool allow_null) {
  static const char* const kKeys[] = {"a", "b", "c", "tag"};
  int kind = int(rng() % (depth > 0 ? 7 : 5));
  switch (kind) {
    case 0:
      return int64_t(rng() % 2001) - 1000;
    case 1:
      return "s" + std::to_string(rng() % 50) + (rng() % 4 ? "" : " \"quoted\" \xc3\xa9");
    case 2:
      return bool(rng() % 2);
    case 3:
      return allow_null ? json() : json(int64_t(rng() % 7));
    case 4:
      return json::array({int64_t(rng() % 9), "x"});
    default: {
      json o = json::object();
      int n = int(rng() % 4);
      for (int i = 0; i < n; ++i) o[kKeys[rng() % 4]] = RandomValue(rng, depth - 1, allow_null);
      return o;
    }
  }
}

struct Model {
  json payload;  // null: none
  double importance = 0.5;
};

// The history entry's detail an update of `m` by `change` must write.
json ExpectedDetail(const Model& before, const Model& after, const json& change) {
  json d = json::object();
  auto bytes = [](const json& p) { return p.is_null() ? json() : json(p.dump().size()); };
  if (change.contains("payload") || change.contains("merge"))
    d["payload"] = {{"op", change.contains("payload") ? "replace" : "merge"},
                    {"from_bytes", bytes(before.payload)},
                    {"to_bytes", bytes(after.payload)}};
  if (change.contains("importance")) d["importance"] = {{"from", before.importance}, {"to", after.importance}};
  return d;
}

std::map<std::string, json> GetJson(const std::string& store, const std::vector<std::string>& ids) {
  std::vector<std::string> args = {"get", store};
  args.insert(args.end(), ids.begin(), ids.end());
  std::map<std::string, json> out;
  for (const auto& line : Lines(Aether(args).out)) {
    json j = json::parse(line);
    out[j["id"].get<std::string>()] = j;
  }
  return out;
}

}  // namespace

TEST_CASE("update: random replaces, merge patches and importances equal the reference; the rest stays") {
  for (int seed = 0; seed < SweepSize(3); ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(uint64_t(seed) * 7919 + 1);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = RandomMems(40, 4, 50 + uint64_t(seed));
    std::map<std::string, Model> model;
    std::string jsonl;
    for (size_t i = 0; i < mems.size(); ++i) {
      Model m;
      if (i % 3) m.payload = RandomValue(rng, 3, false);
      m.importance = double(rng() % 9) / 8;
      json rec = {{"id", mems[i].id}, {"vector", json::parse(VectorJson(mems[i].vec))}, {"importance", m.importance}};
      if (!m.payload.is_null()) rec["payload"] = m.payload;
      jsonl += rec.dump() + "\n";
      model[mems[i].id] = m;
    }
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "25"}, jsonl).exit_code == 0);
    REQUIRE(Aether({"descend", store, mems[1].id, mems[2].id}).exit_code == 0);
    // Accesses, some still in the access log when the updates come.
    for (int i = 0; i < 3; ++i)
      REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[size_t(i) * 5].vec), "-k", "3"}).exit_code == 0);
    const auto before = GetJson(store, Ids(mems));
    REQUIRE(before.size() == mems.size());

    std::map<std::string, std::vector<json>> details;  // expected history entries per id, in order
    for (int round = 0; round < 6; ++round) {
      CAPTURE(round);
      // A batch of changes: from a file (even rounds) or one change for a
      // few ids on the command line (odd rounds).
      std::vector<json> changes;
      std::vector<std::string> args = {"update", store};
      auto random_id = [&]() {
        return rng() % 8 ? mems[rng() % 12].id : "nope" + std::to_string(rng() % 3);  // repeats, unknowns
      };
      json change = json::object();
      auto random_change = [&]() {
        json c = json::object();
        int what = int(rng() % 6);
        if (what == 0 || what == 3) c["payload"] = RandomValue(rng, 3, true);
        if (what == 1 || what == 4 || what == 5) c["merge"] = RandomValue(rng, 3, true);
        if (what >= 2) c["importance"] = double(rng() % 9) / 8;
        return c;
      };
      std::string file;
      if (round % 2 == 0) {
        for (int i = 0; i < 10; ++i) {
          json c = random_change();
          c["id"] = random_id();
          changes.push_back(c);
          file += c.dump() + (i == 4 ? "\n\n" : "\n");  // a blank line is skipped
        }
        args.insert(args.end(), {"--file", "-"});
      } else {
        change = random_change();
        for (int i = 0; i < 3; ++i) {
          json c = change;
          c["id"] = random_id();
          changes.push_back(c);
          args.push_back(c["id"]);
        }
        if (change.contains("payload")) args.insert(args.end(), {"--payload", change["payload"].dump()});
        if (change.contains("merge")) args.insert(args.end(), {"--merge", change["merge"].dump()});
        if (change.contains("importance")) args.insert(args.end(), {"--importance", change["importance"].dump()});
      }
      // The reference, item by item.
      json want_after = json::array();
      json not_found = json::array();
      std::map<std::string, Model> next = model;
      for (const json& c : changes) {
        const std::string id = c["id"];
        if (!next.count(id)) {
          not_found.push_back(id);
          continue;
        }
        Model m = next[id];
        if (c.contains("payload")) m.payload = c["payload"];
        if (c.contains("merge")) m.payload = MergePatch(m.payload, c["merge"]);
        if (c.contains("importance")) m.importance = c["importance"].get<double>();
        details[id].push_back(ExpectedDetail(next[id], m, c));
        next[id] = m;
        want_after.push_back({{"id", id}, {"importance", m.importance}, {"payload", m.payload}});
      }
      // The dry run shows it and changes nothing.
      const auto bytes = DirectoryBytes(store);
      std::vector<std::string> dry = args;
      dry.insert(dry.end(), {"--dry-run", "--format", "json"});
      auto d = Aether(dry, file);
      CHECK(d.exit_code == (not_found.empty() ? 0 : 1));
      json dj = json::parse(d.out);
      CHECK(dj["would_update"] == want_after);
      CHECK(dj["not_found"] == not_found);
      CHECK(DirectoryBytes(store) == bytes);
      // The update.
      args.insert(args.end(), {"--format", "json"});
      auto r = Aether(args, file);
      CHECK(r.exit_code == (not_found.empty() ? 0 : 1));
      json rj = json::parse(r.out);
      CHECK(rj["updated"] == want_after.size());
      CHECK(rj["not_found"] == not_found);
      for (const auto& id : not_found) CHECK(r.err.find(id.get<std::string>()) != std::string::npos);
      model = next;
      // Every memory as the model says; vector, tier and access history as before.
      auto got = GetJson(store, Ids(mems));
      REQUIRE(got.size() == mems.size());
      for (const auto& mem : mems) {
        const json& g = got[mem.id];
        const json& b = before.at(mem.id);
        CAPTURE(mem.id);
        CHECK(g["payload"] == model[mem.id].payload);
        CHECK(g["importance"].get<double>() == model[mem.id].importance);
        for (const char* field : {"vector", "tier", "created_ms", "last_access_ms", "access_count"})
          CHECK(g[field] == b[field]);
      }
    }
    // The history: one "update" entry per applied change, saying what changed.
    std::map<std::string, std::vector<json>> logged;
    for (const auto& line : Lines(Aether({"history", store, "--format", "jsonl"}).out)) {
      json e = json::parse(line);
      if (e["kind"] == "update") logged[e["id"].get<std::string>()].push_back(e["detail"]);
    }
    CHECK(logged == details);
    CHECK(Aether({"verify", store}).exit_code == 0);
  }
}

TEST_CASE("update: every bad line or argument is a located error with its exit code; nothing changes") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(6, 3, 4);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonlWithPayload(mems)).exit_code == 0);
  REQUIRE(Aether({"recover", store}).exit_code == 0);  // the WAL in meta.db: nothing left for a writer to tidy
  const auto bytes = DirectoryBytes(store);
  std::string deep;
  for (int i = 0; i < 128; ++i) deep += "[";
  deep += std::string(128, ']');
  const std::vector<std::pair<std::string, std::string>> bad_lines = {
      {"{\"id\":\"m1\",\"payload\":", "malformed JSON"},
      {"[1,2]", "expected an object"},
      {"{\"payload\":{}}", "no \"id\""},
      {"{\"id\":\"\",\"importance\":0.1}", "non-empty string"},
      {"{\"id\":7,\"importance\":0.1}", "non-empty string"},
      {"{\"id\":\"m1\",\"payload\":{},\"merge\":{}}", "not both"},
      {"{\"id\":\"m1\"}", "nothing to change"},
      {"{\"id\":\"m1\",\"importance\":\"0.5\"}", "importance must be a number in [0, 1]"},
      {"{\"id\":\"m1\",\"importance\":1.5}", "importance must be a number in [0, 1]"},
      {"{\"id\":\"m1\",\"importance\":-0.1}", "importance must be a number in [0, 1]"},
      {"{\"id\":\"m1\",\"importance\":null}", "importance must be a number in [0, 1]"},
      {"{\"id\":\"m1\",\"vector\":[1,2,3],\"importance\":0.1}", "unknown field \"vector\""},
      {"{\"id\":\"m1\",\"payload\":" + deep + "}", "deeper than"},
      {"\xef\xbb\xbf{\"id\":\"m1\",\"importance\":0.1}", "byte order mark"},  // past the input's start
      {"{\"id\":\"m1\",\"payload\":\"\xff\"}", "invalid UTF-8"},
      {"{\"id\":\"m1\",\"id\":\"m2\",\"importance\":0.1}", "duplicate key \"id\""},
      {"{\"id\":\"m1\",\"payload\":{\"k\":1,\"k\":2}}", "duplicate key \"k\""},
      {"{\"id\":\"m1\",\"payload\":{},\"payload\":{}}", "duplicate key \"payload\""},
  };
  for (const auto& [bad_line, reason] : bad_lines) {
    const std::string& line = bad_line;
    CAPTURE(line);
    const std::string good = "{\"id\":\"m0\",\"importance\":0.25}\n{\"id\":\"m2\",\"merge\":{\"n\":null}}\n";
    WriteFile(dir / "changes.jsonl", good + line + "\n" + good);
    auto r = Aether({"update", store, "--file", dir / "changes.jsonl"});
    CHECK(r.exit_code == 65);
    CHECK(r.err.find(dir / "changes.jsonl:3:") != std::string::npos);
    CHECK(r.err.find(reason) != std::string::npos);
    CHECK(r.out.empty());
  }
  // Arguments.
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"m1", "--payload", "{bad"}, 65, "--payload: malformed JSON"},
      {{"m1", "--merge", ""}, 64, "empty"},
      {{"m1", "--merge", "{\"a\":"}, 65, "--merge: malformed JSON"},
      {{"m1", "--payload", deep}, 65, "--payload: "},
      {{"m1", "--merge", "{\"k\":1,\"k\":2}"}, 65, "--merge: duplicate key \"k\""},
      {{"m1", "--importance", "2"}, 65, "not a number in [0, 1]"},
      {{"m1", "--importance", "0.5x"}, 65, "not a number in [0, 1]"},
      {{"m1", "--importance", ""}, 64, "empty"},
      {{"m1", "--payload", "1", "--merge", "{}"}, 64, "excludes"},
      {{"m1"}, 64, "nothing to change"},
      {{"--importance", "0.5"}, 64, "give the ids"},
      {{"m1", "--file", "-", "--importance", "0.5"}, 64, "not both"},
      {{"--file", ""}, 64, "empty"},
      {{"--file", dir / "missing.jsonl"}, 66, "missing.jsonl"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"update", store};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CAPTURE(args);
    auto r = Aether(args, "{\"id\":\"m1\",\"importance\":0.1}\n");
    CHECK(r.exit_code == c.exit_code);
    CHECK_MESSAGE(r.err.find(c.says) != std::string::npos, c.says << " not in: " << r.err);
  }
  CHECK(DirectoryBytes(store) == bytes);
  // The deepest payload a store holds (127 levels) is taken, from the
  // command line and from a file; -0.0 is stored and logged as 0.
  const std::string deepest = deep.substr(1, 254);
  CHECK(Aether({"update", store, "m1", "--payload", deepest}).exit_code == 0);
  CHECK(Aether({"update", store, "--file", "-"}, "{\"id\":\"m2\",\"payload\":" + deepest + "}\n").exit_code == 0);
  CHECK(GetJson(store, {"m1", "m2"})["m2"]["payload"].dump() == deepest);
  CHECK(Aether({"update", store, "m3", "--importance", "-0.0"}).exit_code == 0);
  auto log = Lines(Aether({"history", store, "m3", "--format", "jsonl"}).out);
  REQUIRE(!log.empty());
  CHECK(json::parse(log.back())["detail"]["importance"]["to"].dump() == "0.0");
  CHECK(GetJson(store, {"m3"})["m3"]["importance"].dump() == "0.0");
  CHECK(Aether({"verify", store}).exit_code == 0);
  // A missing store is exit 66 and is not created.
  auto r = Aether({"update", dir / "nope", "m1", "--importance", "0.5"});
  CHECK(r.exit_code == 66);
  CHECK(!std::filesystem::exists(dir / "nope"));
  // --ignore-unknown takes export's lines: payload and importance restored.
  auto exported = Aether({"export", store}).out;
  REQUIRE(Aether({"update", store, "m1", "m2", "--payload", "null", "--importance", "0"}).exit_code == 0);
  auto before_restore = GetJson(store, {"m1"});
  CHECK(before_restore["m1"]["payload"].is_null());
  r = Aether({"update", store, "--file", "-", "--ignore-unknown"}, exported);
  CHECK(r.exit_code == 0);
  CHECK(Aether({"export", store}).out == exported);
}

TEST_CASE("update --dry-run only reads: it runs while another process holds meta.db's write lock") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonlWithPayload(RandomMems(3, 2, 8))).exit_code == 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto r = Aether({"update", store, "m1", "--importance", "0.25", "--dry-run", "--format", "json"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("\"importance\":0.25") != std::string::npos);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}
