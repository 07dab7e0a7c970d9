// End-to-end: the real aether binary on temporary stores, checked against an
// independent brute-force reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "test_util.h"

using namespace aether::test;

namespace {

// Ingests mems into a new store and checks every query's top-k.
void CheckBruteForce(const std::string& metric, size_t n, uint32_t dim, uint64_t hot_capacity, size_t k,
                     size_t nq = 25) {
  TempDir dir;
  std::string store = dir / "store";
  auto mems = RandomMems(n, dim, 11);
  auto queries = RandomMems(nq, dim, 99, "q");
  WriteFile(dir / "mems.jsonl", ToJsonl(mems));
  WriteFile(dir / "q.jsonl", QueriesJsonl(queries));
  auto init = Aether({"init", store, "--dim", std::to_string(dim), "--metric", metric, "--hot-capacity",
                      std::to_string(hot_capacity)});
  REQUIRE(init.exit_code == 0);
  auto ing = Aether({"ingest", "--create", store, dir / "mems.jsonl", "--batch", "97"});
  REQUIRE_MESSAGE(ing.exit_code == 0, ing.err);
  auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", std::to_string(k), "--no-touch"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto results = ParseSearchOutput(r.out);
  REQUIRE(results.size() == queries.size());
  size_t hot_hits = 0, cold_hits = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    auto want = BruteForce(mems, queries[i].vec, k, metric);
    CHECK_MESSAGE(SameTopK(results[i], want), metric << " query " << i);
    for (const auto& h : results[i]) (h.tier == "hot" ? hot_hits : cold_hits)++;
  }
  if (hot_capacity < n) CHECK(cold_hits > 0);
  CHECK(hot_hits > 0);
}

}  // namespace

TEST_CASE("search over hot and cold returns the brute-force top-k for l2, cosine and ip") {
  for (const char* metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    CheckBruteForce(metric, 700, 16, 250, 10);
  }
}

TEST_CASE("20,000 x 64 with hot capacity 5,000: exact top-k across tiers") {
  CheckBruteForce("l2", 20000, 64, 5000, 10);
}

TEST_CASE("a batch whose hits cover most rows (600 queries x k 10 over 2,000 memories): exact top-k") {
  // 6,000 hits over 2,000 rows: search orders them by row by counting (a
  // small or sparse batch compares), before reading their ids in one walk.
  CheckBruteForce("l2", 2000, 16, 700, 10, 600);
}

TEST_CASE("the shipped sample: exact top-k, with payloads, from a file and from stdin") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, AETHER_TESTDATA "/sample.jsonl", "--hot-capacity", "100"}).exit_code ==
          0);
  std::vector<Mem> mems, queries;
  for (const auto& line : Lines(ReadFile(AETHER_TESTDATA "/sample.jsonl"))) {
    auto j = nlohmann::json::parse(line);
    mems.push_back({j["id"], j["vector"].get<std::vector<float>>()});
  }
  std::string qtext = ReadFile(AETHER_TESTDATA "/sample_queries.jsonl");
  for (const auto& line : Lines(qtext)) {
    auto j = nlohmann::json::parse(line);
    queries.push_back({j["id"], j["vector"].get<std::vector<float>>()});
  }
  auto from_file = Aether({"search", store, "--queries", AETHER_TESTDATA "/sample_queries.jsonl", "-k", "7",
                           "--no-touch", "--with-payload"});
  auto from_stdin = Aether({"search", store, "--queries", "-", "-k", "7", "--no-touch", "--with-payload"}, qtext);
  REQUIRE(from_file.exit_code == 0);
  CHECK(from_file.out == from_stdin.out);
  auto results = ParseSearchOutput(from_file.out);
  REQUIRE(results.size() == queries.size());
  for (size_t i = 0; i < queries.size(); ++i) CHECK(SameTopK(results[i], BruteForce(mems, queries[i].vec, 7, "l2")));
  auto first = nlohmann::json::parse(Lines(from_file.out)[0]);
  CHECK(first["query"] == "q00");
  CHECK(first["results"][0]["payload"].contains("room"));
}

TEST_CASE("overflow past the hot capacity goes cold and is still found") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(50, 8, 5);
  REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "20"}).exit_code == 0);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"] == 20);
  CHECK(stats["cold_memories"] == 30);
  // Each memory is its own nearest neighbour, whichever tier holds it.
  for (size_t i : {0, 19, 20, 49}) {
    auto r = Aether({"search", store, "--vector", VectorJson(mems[i].vec), "-k", "1", "--no-touch"});
    auto hits = ParseSearchOutput(r.out);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0][0].id == mems[i].id);
    CHECK(hits[0][0].distance == doctest::Approx(0).epsilon(1e-6));
    CHECK(hits[0][0].tier == (i < 20 ? "hot" : "cold"));
  }
}

TEST_CASE("--tier restricts the search to one tier") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(120, 6, 8);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, ToJsonl(mems)).exit_code == 0);
  std::vector<Mem> hot(mems.begin(), mems.begin() + 40), cold(mems.begin() + 40, mems.end());
  auto q = RandomMems(1, 6, 1234, "q")[0];
  for (auto [tier, subset] : {std::pair{"hot", &hot}, std::pair{"cold", &cold}}) {
    auto r = Aether({"search", store, "--vector", VectorJson(q.vec), "-k", "5", "--tier", tier, "--no-touch"});
    auto hits = ParseSearchOutput(r.out);
    REQUIRE(hits.size() == 1);
    CHECK(SameTopK(hits[0], BruteForce(*subset, q.vec, 5, "l2")));
    for (const auto& h : hits[0]) CHECK(h.tier == tier);
  }
}

TEST_CASE("a store closed and reopened gives identical answers") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(400, 12, 3);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "150", "--batch", "64"}, ToJsonl(mems)).exit_code ==
          0);
  std::string q = QueriesJsonl(RandomMems(10, 12, 4, "q"));
  auto a = Aether({"search", store, "--queries", "-", "--no-touch"}, q);
  auto b = Aether({"search", store, "--queries", "-", "--no-touch"}, q);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out == b.out);
  CHECK(Lines(a.out).size() == 10);
}

TEST_CASE("search records accesses unless --no-touch") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(30, 4, 21);
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "10"}, ToJsonl(mems), {"AETHER_NOW_MS=1000"}).exit_code ==
      0);
  auto get = [&](const std::string& id) { return nlohmann::json::parse(Lines(Aether({"get", store, id}).out).at(0)); };
  CHECK(get("m25")["access_count"] == 0);
  CHECK(get("m25")["created_ms"] == 1000);
  REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[25].vec), "-k", "1", "--no-touch"}, "",
                 {"AETHER_NOW_MS=5000"})
              .exit_code == 0);
  CHECK(get("m25")["access_count"] == 0);
  REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[25].vec), "-k", "1"}, "", {"AETHER_NOW_MS=7000"})
              .exit_code == 0);
  CHECK(get("m25")["access_count"] == 1);
  CHECK(get("m25")["last_access_ms"] == 7000);
  CHECK(get("m24")["access_count"] == 0);
}

TEST_CASE("search output formats: json array and table") {
  TempDir dir;
  std::string store = dir / "s";
  auto mems = RandomMems(10, 3, 2);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
  auto j = Aether({"search", store, "--vector", "[0,0,0]", "-k", "2", "--format", "json", "--no-touch"});
  auto parsed = nlohmann::json::parse(j.out);
  CHECK(parsed.is_array());
  CHECK(parsed[0]["results"].size() == 2);
  auto t = Aether({"search", store, "--vector", "[0,0,0]", "-k", "2", "--format", "table", "--no-touch"});
  CHECK(t.out.rfind("query", 0) == 0);
  CHECK(Lines(t.out).size() == 3);
}

TEST_CASE("every kernel variant and thread count gives the brute-force top-k") {
  // 3,000 hot vectors of an odd dimension (kernel tails), several hot blocks;
  // each forced SIMD variant (an unsupported one falls back to the best) and
  // 1 or 2 scan threads must agree with the reference.
  const uint32_t dim = 37;
  for (const char* metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    TempDir dir;
    std::string store = dir / "store";
    auto mems = RandomMems(3000, dim, 5);
    auto queries = RandomMems(12, dim, 77, "q");
    WriteFile(dir / "mems.jsonl", ToJsonl(mems));
    WriteFile(dir / "q.jsonl", QueriesJsonl(queries));
    REQUIRE(
        Aether({"init", store, "--dim", std::to_string(dim), "--metric", metric, "--hot-capacity", "3000"}).exit_code ==
        0);
    REQUIRE(Aether({"ingest", "--create", store, dir / "mems.jsonl"}).exit_code == 0);
    for (const char* isa : {"scalar", "avx2", "avx512"})
      for (const char* threads : {"1", "2"}) {
        CAPTURE(isa);
        CAPTURE(threads);
        auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "8", "--no-touch", "--threads", threads},
                        "", {std::string("AETHER_SIMD=") + isa});
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        auto results = ParseSearchOutput(r.out);
        REQUIRE(results.size() == queries.size());
        for (size_t i = 0; i < queries.size(); ++i)
          CHECK(SameTopK(results[i], BruteForce(mems, queries[i].vec, 8, metric)));
      }
  }
}

TEST_CASE("batch search skips freed, deleted, descended and replaced slots exactly") {
  // Large batches check hot liveness against the whole hot tier read at
  // once, small ones row by row: both must see only live memories, while
  // the slot file still holds the vectors of freed slots.
  const uint32_t dim = 16;
  TempDir dir;
  std::string store = dir / "store";
  auto mems = RandomMems(2000, dim, 21);
  WriteFile(dir / "mems.jsonl", ToJsonl(mems));
  REQUIRE(Aether({"init", store, "--dim", "16", "--hot-capacity", "2000"}).exit_code == 0);
  REQUIRE(Aether({"ingest", "--create", store, dir / "mems.jsonl"}).exit_code == 0);
  std::vector<std::string> del = {"delete", store}, desc = {"descend", store};
  for (size_t i = 0; i < 300; ++i) del.push_back(mems[i].id);
  for (size_t i = 300; i < 600; ++i) desc.push_back(mems[i].id);
  REQUIRE(Aether(del).exit_code == 0);
  REQUIRE(Aether(desc).exit_code == 0);
  auto replaced = RandomMems(100, dim, 22);
  for (size_t i = 0; i < replaced.size(); ++i) replaced[i].id = mems[600 + i].id;
  WriteFile(dir / "replace.jsonl", ToJsonl(replaced));
  REQUIRE(Aether({"ingest", "--create", store, dir / "replace.jsonl", "--on-duplicate", "replace"}).exit_code == 0);
  std::vector<Mem> live(mems.begin() + 300, mems.end());
  for (size_t i = 0; i < replaced.size(); ++i) live[300 + i].vec = replaced[i].vec;

  auto queries = RandomMems(40, dim, 23, "q");
  WriteFile(dir / "q.jsonl", QueriesJsonl(queries));
  for (const char* threads : {"1", "2"}) {
    CAPTURE(threads);
    auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "10", "--no-touch", "--threads", threads});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto results = ParseSearchOutput(r.out);
    REQUIRE(results.size() == queries.size());
    for (size_t i = 0; i < queries.size(); ++i) CHECK(SameTopK(results[i], BruteForce(live, queries[i].vec, 10, "l2")));
  }
  for (size_t i = 0; i < 3; ++i) {
    auto r = Aether({"search", store, "--vector", VectorJson(queries[i].vec), "-k", "10", "--no-touch"});
    REQUIRE(r.exit_code == 0);
    CHECK(SameTopK(ParseSearchOutput(r.out)[0], BruteForce(live, queries[i].vec, 10, "l2")));
  }
}

TEST_CASE("ingest from a file (parsed on a second thread) and from a pipe give the same result and messages") {
  // Over 4 chunks of 1,024 lines (the parse queue's depth), with blank,
  // malformed, over-long and duplicate lines at chosen places, each mode of
  // stopping and skipping: same exit code, same stderr (timings aside), same
  // memories.
  auto mems = RandomMems(6000, 8, 31);
  std::vector<std::string> lines;
  for (const auto& l : Lines(ToJsonl(mems))) lines.push_back(l);
  lines[10] = "";
  lines[1500] = "{\"id\":\"bad\",\"vector\":[1,2]}";                          // wrong dimension
  lines[3000] = std::string(300, 'x');                                        // over --max-line-bytes 200
  lines[4500] = ToJsonl({mems[7]}).substr(0, ToJsonl({mems[7]}).size() - 1);  // duplicate of line 8
  lines[5999] = "{\"id\":";
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  auto strip_time = [](std::string s) { return std::regex_replace(s, std::regex("in [0-9.]+s"), "in Ts"); };
  for (std::vector<std::string> extra : {std::vector<std::string>{},
                                         {"--skip-invalid"},
                                         {"--skip-invalid", "--on-duplicate", "skip"},
                                         {"--on-duplicate", "replace", "--skip-invalid"}}) {
    CAPTURE(extra.size());
    TempDir dir;
    WriteFile(dir / "in.jsonl", text);
    std::vector<std::string> base = {"--batch", "700", "--max-line-bytes", "200", "--dim", "8"};
    base.insert(base.end(), extra.begin(), extra.end());
    std::vector<std::string> from_file = {"ingest", "--create", dir / "a", dir / "in.jsonl"};
    from_file.insert(from_file.end(), base.begin(), base.end());
    std::vector<std::string> from_pipe = {"ingest", "--create", dir / "b", "-"};
    from_pipe.insert(from_pipe.end(), base.begin(), base.end());
    auto a = Aether(from_file);
    auto b = Aether(from_pipe, text);
    CHECK(a.exit_code == b.exit_code);
    std::string ea = std::regex_replace(strip_time(a.err), std::regex(dir / "in.jsonl"), "<stdin>");
    ea = std::regex_replace(ea, std::regex(dir / "a"), "STORE");
    std::string eb = std::regex_replace(strip_time(b.err), std::regex(dir / "b"), "STORE");
    CHECK(ea == eb);
    auto ga = GetAll(dir / "a", Ids(mems)), gb = GetAll(dir / "b", Ids(mems));
    CHECK(ga.size() == gb.size());
    CHECK(ga == gb);
    CHECK(ga.size() > 1000);
  }
}

TEST_CASE("with the hot tier full, new memories go hot and the lowest eviction scores descend (ingest_evict)") {
  for (bool evict : {true, false}) {
    CAPTURE(evict);
    TempDir dir;
    std::string store = dir / "s";
    auto mems = RandomMems(13, 4, 77);
    // m0..m9 fill the hot tier; their importance (hence their eviction
    // score: same age, no accesses) is a permutation, so the reference
    // victims are the three least important.
    const double importance[10] = {0.9, 0.2, 0.7, 0.1, 0.8, 0.6, 0.3, 0.95, 0.5, 0.4};
    std::string first;
    for (size_t i = 0; i < 10; ++i)
      first += "{\"id\":\"" + mems[i].id + "\",\"vector\":" + VectorJson(mems[i].vec) +
               ",\"importance\":" + std::to_string(importance[i]) + "}\n";
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10"}, first, {"AETHER_NOW_MS=1000"}).exit_code ==
            0);
    if (!evict) REQUIRE(Aether({"config", store, "set", "ingest_evict", "0"}).exit_code == 0);
    auto r = Aether({"ingest", "--create", store, "--format", "json"}, ToJsonl({mems[10], mems[11], mems[12]}),
                    {"AETHER_NOW_MS=2000"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["evicted"] == (evict ? 3 : 0));
    std::set<std::string> hot;
    for (const auto& line :
         Lines(Aether({"get", store, "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12"})
                   .out)) {
      auto g = nlohmann::json::parse(line);
      if (g["tier"] == "hot") hot.insert(g["id"]);
    }
    const std::set<std::string> want_evict = {"m0", "m2", "m4", "m5", "m7", "m8", "m9", "m10", "m11", "m12"};
    const std::set<std::string> want_cold = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"};
    CHECK(hot == (evict ? want_evict : want_cold));
    CHECK(Aether({"verify", store}).exit_code == 0);
    auto q = RandomMems(4, 4, 78, "q");
    auto hits =
        ParseSearchOutput(Aether({"search", store, "--queries", "-", "-k", "5", "--no-touch"}, QueriesJsonl(q)).out);
    REQUIRE(hits.size() == q.size());
    for (size_t i = 0; i < q.size(); ++i) CHECK(SameTopK(hits[i], BruteForce(mems, q[i].vec, 5, "l2")));
    if (evict) {  // each victim's move is in its history
      auto h = Lines(Aether({"history", store, "m3"}).out);
      REQUIRE(h.size() == 1);
      CHECK(nlohmann::json::parse(h[0])["detail"]["to"] == "cold");
    }
  }
}

TEST_CASE("ingest in many batches places every memory as a reference model of the hot capacity says") {
  // Duplicates within a batch and of stored memories (replaced), records
  // kept cold, a hot tier that fills and frees: after each command, every
  // id's tier is the model's. ingest_evict 0, so placement is by capacity
  // alone: the first records of a batch's plan take the free room.
  const uint64_t capacity = 12;
  const size_t pool = 25;
  for (size_t batch : {1, 4, 7, 100}) {
    CAPTURE(batch);
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "3", "--hot-capacity", std::to_string(capacity)}).exit_code == 0);
    REQUIRE(Aether({"config", store, "set", "ingest_evict", "0"}).exit_code == 0);
    std::map<std::string, std::string> model;  // id -> "hot" | "cold"
    std::mt19937_64 rng(batch);
    for (int command = 0; command < 3; ++command) {
      CAPTURE(command);
      struct Rec {
        std::string id;
        bool cold;
      };
      std::vector<Rec> recs;
      std::string input;
      for (int i = 0; i < 40; ++i) {
        Rec r{"m" + std::to_string(rng() % pool), rng() % 5 == 0};
        input += "{\"id\":\"" + r.id + "\",\"vector\":[" + std::to_string(rng() % 100) + ",1,2]" +
                 (r.cold ? ",\"tier\":\"cold\"" : "") + "}\n";
        recs.push_back(r);
      }
      // The model, batch by batch: a batch ends at `batch` distinct ids or
      // 4 * batch records (the ingester's cut).
      for (size_t b = 0, e = 0; b < recs.size(); b = e) {
        std::set<std::string> distinct;
        while (e < recs.size() && distinct.size() < batch && e - b < 4 * batch) distinct.insert(recs[e++].id);
        struct Planned {
          Rec rec;
          bool replaces_hot;
        };
        std::vector<Planned> plan;
        std::map<std::string, size_t> in_batch;
        for (size_t i = b; i < e; ++i) {
          const Rec& r = recs[i];
          if (auto earlier = in_batch.find(r.id); earlier != in_batch.end()) {
            plan[earlier->second].rec = r;
            continue;
          }
          in_batch[r.id] = plan.size();
          auto stored = model.find(r.id);
          plan.push_back({r, stored != model.end() && stored->second == "hot"});
        }
        std::stable_partition(plan.begin(), plan.end(), [](const Planned& p) { return !p.rec.cold; });
        const size_t may_be_hot = size_t(std::count_if(plan.begin(), plan.end(), [](auto& p) { return !p.rec.cold; }));
        const size_t hot = size_t(std::count_if(model.begin(), model.end(), [](auto& m) { return m.second == "hot"; }));
        const size_t freed = size_t(std::count_if(plan.begin(), plan.end(), [](auto& p) { return p.replaces_hot; }));
        const size_t room = capacity > hot - freed ? capacity - (hot - freed) : 0;
        const size_t n_hot = std::min(room, may_be_hot);
        for (size_t i = 0; i < plan.size(); ++i) model[plan[i].rec.id] = i < n_hot ? "hot" : "cold";
      }
      auto r = Aether(
          {"ingest", store, "--preserve-state", "--on-duplicate", "replace", "--batch", std::to_string(batch)}, input);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      std::vector<std::string> args = {"get", store};
      for (const auto& m : model) args.push_back(m.first);
      std::map<std::string, std::string> got;
      for (const auto& line : Lines(Aether(args).out)) {
        auto g = nlohmann::json::parse(line);
        got[g["id"]] = g["tier"];
      }
      std::string differ;
      for (const auto& m : model)
        if (got[m.first] != m.second) differ += " " + m.first + ": " + got[m.first] + " (model " + m.second + ")";
      CHECK_MESSAGE(got == model, differ);
      REQUIRE(Aether({"verify", store}).exit_code == 0);
      // Between commands, a delete frees hot slots the next one counts.
      REQUIRE(Aether({"delete", store, model.begin()->first}).exit_code == 0);
      model.erase(model.begin());
    }
  }
}

TEST_CASE("search's json and jsonl output is byte for byte the JSON DOM's, for ids and names of every kind") {
  // Lines without payloads or explanations are written directly; each must
  // be what the DOM prints for the same object (its keys in order, its
  // escapes, its numbers), as lines with an explanation still are.
  TempDir dir;
  const std::string store = dir / "s";
  std::vector<std::string> ids = {"plain",
                                  "quote\"d",
                                  "back\\slash",
                                  "tab\tnew\nline",
                                  "\x01\x1f\x7f",
                                  "caf\xC3\xA9",
                                  "\xF0\x9F\x98\x80 emoji",
                                  "sep\xE2\x80\xA8",
                                  "/slash/",
                                  "{}[],:"};
  for (int c = 1; c < 0x20; ++c) ids.push_back("ctl" + std::string(1, char(c)));
  std::string records, queries;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const std::string& id : ids) {
    std::vector<float> v = {u(rng), u(rng), u(rng)};
    // Distances far from 1, both ways (printed with exponents, or not).
    if (id == "plain") v = {1e-30f, 3e14f, 0};
    if (id == "/slash/") v = {1e-7f, 0, 0};
    if (id == "{}[],:") v = {3e-6f, 1e-6f, 0};
    if (id == "caf\xC3\xA9") v = {9e14f, -9e14f, 1e15f};
    records += nlohmann::json{{"id", id}, {"vector", v}}.dump() + "\n";
    queries += nlohmann::json{{"id", "q " + id}, {"vector", v}}.dump() + "\n";
  }
  queries += "{\"vector\":[0,0,0]}\n";                                                    // a query without an id
  REQUIRE(Aether({"init", store, "--dim", "3", "--hot-capacity", "12"}).exit_code == 0);  // hits in both tiers
  auto ing = Aether({"ingest", store}, records);
  REQUIRE_MESSAGE(ing.exit_code == 0, ing.err);
  WriteFile(dir / "q.jsonl", queries);
  for (const std::string k : {"1", "7", "50"}) {
    CAPTURE(k);
    auto plain = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", k, "--no-touch", "--format", "jsonl"});
    REQUIRE_MESSAGE(plain.exit_code == 0, plain.err);
    auto explained = Aether(
        {"search", store, "--queries", dir / "q.jsonl", "-k", k, "--no-touch", "--format", "jsonl", "--explain"});
    REQUIRE(explained.exit_code == 0);
    const auto lines = Lines(plain.out), dom_lines = Lines(explained.out);
    REQUIRE(lines.size() == ids.size() + 1);
    REQUIRE(dom_lines.size() == lines.size());
    std::set<std::string> seen;
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto j = nlohmann::json::parse(lines[i]);
      CHECK(j.dump() == lines[i]);
      // The same hits as the DOM path's, less the explanations.
      auto dom = nlohmann::json::parse(dom_lines[i]);
      for (auto& r : dom["results"]) r.erase("explain");
      CHECK(dom.dump() == lines[i]);
      for (const auto& r : j["results"]) seen.insert(r["id"].get<std::string>());
    }
    if (k == "50") {
      CHECK(seen == std::set<std::string>(ids.begin(), ids.end()));
      CHECK(plain.out.find("\"tier\":\"hot\"") != std::string::npos);
      CHECK(plain.out.find("\"tier\":\"cold\"") != std::string::npos);
    }
    auto array = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", k, "--no-touch", "--format", "json"});
    REQUIRE(array.exit_code == 0);
    std::string joined = "[";
    for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "," : "") + lines[i];
    CHECK(array.out == joined + "]\n");
    CHECK(nlohmann::json::parse(array.out).dump() + "\n" == array.out);
  }
  // A query the deadline cut short says so in the same form.
  auto partial =
      Aether({"search", store, "--queries", dir / "q.jsonl", "--no-touch", "--timeout", "1", "--threads", "1"}, "",
             {"AETHER_SCAN_DELAY_MS=20"});  // two parts (hot, cold): the second is past the deadline
  REQUIRE_MESSAGE(partial.exit_code == 3, partial.err);
  bool any = false;
  for (const std::string& line : Lines(partial.out)) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j.dump() == line);
    any = any || j.contains("partial");
  }
  CHECK(any);
}

TEST_CASE("a search line that cannot be printed stops the output after every line before it") {
  // An id that is not UTF-8 (possible through ingest --id-prefix) cannot be
  // written as JSON: the search fails there (internal error, exit 70), and
  // the lines before it, across the blocks the lines are formatted in and
  // the threads' shares of a block, are all out, in order, and none after
  // it: the bad line in the first and in the second thread's share of the
  // first block of 4,096 queries, and of the second block. As one JSON
  // array (--format json), nothing is printed.
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, "{\"id\":\"a\",\"vector\":[0,0]}\n").exit_code == 0);
  // One vector at (1000, 0) in .npy: format 1.0, <f4, shape (1, 2).
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
  header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";  // the data 64-byte aligned
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
  const float v[2] = {1000, 0};
  npy.append(reinterpret_cast<const char*>(v), sizeof v);
  WriteFile(dir / "bad.npy", npy);
  auto ing = Aether({"ingest", store, dir / "bad.npy", "--id-prefix", "\xff"});
  REQUIRE_MESSAGE(ing.exit_code == 0, ing.err);
  // With 600 lines after it: the shares of 2 threads in a block of n lines
  // are [0, n / 2) and [n / 2, n).
  for (int bad : {500, 3000, 4500, 4096 + 600}) {
    CAPTURE(bad);
    std::string queries;
    for (int i = 0; i < bad; ++i) queries += "{\"vector\":[0,0]}\n";
    queries += "{\"vector\":[1000,0]}\n";
    for (int i = 0; i < 600; ++i) queries += "{\"vector\":[0,0]}\n";
    WriteFile(dir / "q.jsonl", queries);
    auto r = Aether({"search", store, "--queries", dir / "q.jsonl", "-k", "1", "--no-touch", "--threads", "2"});
    CHECK(r.exit_code == 70);
    CHECK(r.err.find("invalid UTF-8") != std::string::npos);
    const auto lines = Lines(r.out);
    REQUIRE(lines.size() == size_t(bad));
    for (size_t i = 0; i < lines.size(); ++i)
      REQUIRE(lines[i] == "{\"query\":\"" + std::to_string(i) +
                              "\",\"results\":[{\"distance\":0.0,\"id\":\"a\",\"tier\":\"hot\"}]}");
    auto array = Aether(
        {"search", store, "--queries", dir / "q.jsonl", "-k", "1", "--no-touch", "--threads", "2", "--format", "json"});
    CHECK(array.exit_code == 70);
    CHECK(array.err.find("invalid UTF-8") != std::string::npos);
    CHECK(array.out.empty());
  }
}
