// The warm tier (README "The warm tier"): memories in uncompressed float32
// frames of the cold tier's partitions, moved between adjacent tiers by descend --to and ascend --to,
// searched with the other two in one merged top-k, counted per tier by stats,
// kept warm by a rebuild and carried by export; maintain fills it with the
// hot tier's demotions and drains it past warm_capacity_bytes. Every check
// is against a model of the tiers the test keeps itself and a brute-force
// search.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDim = 8;

// The store's tiers and counts against the model; every memory's vector
// and payload as ingested; verify passes.
void AgreesWith(const std::string& store, const std::map<std::string, std::string>& model,
                const std::map<std::string, Stored>& data) {
  Verified(store);
  CHECK(Tiers(store) == model);
  std::vector<std::string> ids;
  for (const auto& [id, tier] : model) ids.push_back(id);
  CHECK(GetRecords(store, ids) == data);
  std::map<std::string, size_t> count;
  for (const auto& [id, tier] : model) ++count[tier];
  const json st = json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(st["hot_memories"] == count["hot"]);
  CHECK(st["warm_memories"] == count["warm"]);
  CHECK(st["cold_memories"] == count["cold"]);
  CHECK(st["warm_bytes"] == count["warm"] * (4 * kDim + 8));
}

// Each query's top k over `tier` ("all" or one tier) equals brute force
// over the model's memories of that tier.
void SearchesExactly(const std::string& store, const std::vector<Mem>& mems,
                     const std::map<std::string, std::string>& model, const std::string& tier) {
  std::vector<Mem> pool;
  for (const auto& m : mems)
    if (tier == "all" || model.at(m.id) == tier) pool.push_back(m);
  const auto qs = RandomMems(12, kDim, 99, "q");
  // Every partition probed and a wide re-rank: the result must be exact.
  auto r = Aether({"search", store, "--queries", "-", "-k", "10", "--nprobe", "1000", "--rerank", "100", "--tier", tier,
                   "--no-touch"},
                  QueriesJsonl(qs));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto hits = ParseSearchOutput(r.out);
  REQUIRE(hits.size() == qs.size());
  for (size_t q = 0; q < qs.size(); ++q) {
    CAPTURE(tier);
    CAPTURE(q);
    CHECK(SameTopK(hits[q], BruteForce(pool, qs[q].vec, 10, "l2")));
    for (const Hit& h : hits[q]) CHECK(h.tier == model.at(h.id));
  }
}

// JSONL of mems with importance i/100 for memory i: the eviction score
// orders them by index.
std::string WithImportance(const std::vector<Mem>& mems) {
  std::string lines;
  for (size_t i = 0; i < mems.size(); ++i)
    lines += "{\"id\":\"" + mems[i].id + "\",\"vector\":" + VectorJson(mems[i].vec) +
             ",\"importance\":" + std::to_string(double(i) / 100) + "}\n";
  return lines;
}

// config set KEY VALUE for each "KEY=VALUE".
void SetConfig(const std::string& store, const std::vector<std::string>& settings) {
  for (const std::string& s : settings)
    REQUIRE(Aether({"config", store, "set", s.substr(0, s.find('=')), s.substr(s.find('=') + 1)}).exit_code == 0);
}

std::vector<std::string> Args(std::vector<std::string> head, const std::vector<std::string>& ids) {
  head.insert(head.end(), ids.begin(), ids.end());
  return head;
}

}  // namespace

TEST_CASE("warm tier: moves between adjacent tiers keep every memory; search merges the three tiers exactly") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(400, kDim, 5, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonlWithPayload(mems)).exit_code == 0);
  std::map<std::string, std::string> model;
  for (const auto& m : mems) model[m.id] = "hot";
  const auto data = GetRecords(store, Ids(mems));
  REQUIRE(data.size() == mems.size());
  auto ids = [&](size_t from, size_t to) {
    std::vector<std::string> out;
    for (size_t i = from; i < to; ++i) out.push_back(mems[i].id);
    return out;
  };
  auto move = [&](const std::vector<std::string>& args, const std::vector<std::string>& which, const char* to) {
    auto r = Aether(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    for (const auto& id : which) model[id] = to;
  };
  // Before an index (the staging shard): hot -> cold and hot -> warm.
  move(Args({"descend", store}, ids(0, 150)), ids(0, 150), "cold");
  move(Args({"descend", store, "--to", "warm"}, ids(150, 230)), ids(150, 230), "warm");
  AgreesWith(store, model, data);
  for (const char* tier : {"all", "hot", "warm", "cold"}) SearchesExactly(store, mems, model, tier);

  // A rebuild keeps each memory's tier, its records in frames of that tier.
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "6"}).exit_code == 0);
  AgreesWith(store, model, data);
  for (const char* tier : {"all", "hot", "warm", "cold"}) SearchesExactly(store, mems, model, tier);

  // Into the partitions: cold -> warm, warm -> cold, warm -> hot, hot ->
  // warm, and descend --to cold from both tiers above it at once.
  move(Args({"ascend", store, "--to", "warm"}, ids(0, 40)), ids(0, 40), "warm");
  move(Args({"descend", store}, ids(150, 170)), ids(150, 170), "cold");
  move(Args({"ascend", store}, ids(170, 190)), ids(170, 190), "hot");
  move(Args({"descend", store, "--to", "warm"}, ids(300, 340)), ids(300, 340), "warm");
  auto mixed = ids(190, 200);
  for (const auto& id : ids(340, 350)) mixed.push_back(id);
  move(Args({"descend", store}, mixed), mixed, "cold");
  AgreesWith(store, model, data);
  for (const char* tier : {"all", "hot", "warm", "cold"}) SearchesExactly(store, mems, model, tier);

  // A memory already at or past the target tier is left where it is and
  // reported ("already"), as for a move without --to.
  auto again = Aether({"descend", store, "--to", "warm", mems[0].id, mems[100].id, "--format", "json"});
  CHECK(again.exit_code == 0);
  CHECK(json::parse(again.out)["already"].size() == 2);  // warm and cold: not above warm
  auto up = Aether({"ascend", store, "--to", "warm", mems[0].id, mems[380].id, "--format", "json"});
  CHECK(up.exit_code == 0);
  CHECK(json::parse(up.out)["already"].size() == 2);  // warm, hot: not below warm
  AgreesWith(store, model, data);

  // The history names each move's tiers.
  bool seen = false;
  for (const auto& line : Lines(Aether({"history", store, mems[0].id}).out)) {
    const json e = json::parse(line);
    if (e["kind"] == "ascend" && e["detail"] == json({{"from", "cold"}, {"to", "warm"}})) seen = true;
  }
  CHECK(seen);

  // Export carries the tier; a copy ingested with --preserve-state has the
  // same memories in the same tiers; --tier warm exports the warm ones.
  size_t warm = 0;
  for (const auto& [id, tier] : model) warm += tier == "warm";
  CHECK(Lines(Aether({"export", store, "--tier", "warm"}).out).size() == warm);
  const std::string copy = dir / "copy";
  REQUIRE(Aether({"init", copy, "--dim", std::to_string(kDim), "--hot-capacity", "1000"}).exit_code == 0);
  auto in = Aether({"ingest", copy, "-", "--preserve-state", "--format", "json"}, Export(store));
  REQUIRE_MESSAGE(in.exit_code == 0, in.err);
  CHECK(json::parse(in.out)["warm"] == warm);
  AgreesWith(copy, model, data);
  SearchesExactly(copy, mems, model, "all");
}

TEST_CASE("warm tier: maintain demotes into it while warm_capacity_bytes is set and drains its lowest scores past it") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(60, kDim, 8, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, WithImportance(mems)).exit_code == 0);
  // Nothing but the capacities moves memories in these ticks (warm: 12
  // records of 4 x 8 + 8 bytes).
  SetConfig(store, {"sample_rate=0", "pattern_placement=0", "restore_concurrency=0", "hot_capacity=40",
                    "warm_capacity_bytes=480"});
  auto tick = Aether({"maintain", store, "--format", "json"});
  REQUIRE_MESSAGE(tick.exit_code == 0, tick.err);
  const json r = json::parse(tick.out);
  CHECK(r["demoted_to"] == "warm");
  CHECK(r["descended_capacity"] == 20);  // hot 60 -> 40: the 20 lowest to warm
  CHECK(r["descended_warm"] == 8);       // warm 20 -> 12: its 8 lowest to cold
  std::map<std::string, std::string> model;
  for (size_t i = 0; i < mems.size(); ++i) model[mems[i].id] = i < 8 ? "cold" : i < 20 ? "warm" : "hot";
  AgreesWith(store, model, GetRecords(store, Ids(mems)));
  SearchesExactly(store, mems, model, "all");

  // The warm tier off (under one byte is none, as stats shows it):
  // demotions go cold again and nothing is drained.
  REQUIRE(Aether({"config", store, "set", "warm_capacity_bytes", "0.9"}).exit_code == 0);
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["warm_capacity_bytes"] == 0);
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "35"}).exit_code == 0);
  const json off = json::parse(Aether({"maintain", store, "--format", "json"}).out);
  CHECK(off["demoted_to"] == "cold");
  CHECK(off["descended_capacity"] == 5);
  CHECK(off["descended_warm"] == 0);
  for (size_t i = 20; i < 25; ++i) model[mems[i].id] = "cold";
  AgreesWith(store, model, GetRecords(store, Ids(mems)));
}

TEST_CASE("warm tier: an older store refuses it until upgrade; bad --to values are usage errors") {
  TempDir dir;
  const std::string store = dir / "s";
  fs::copy(std::string(AETHER_TESTDATA) + "/stores/v3-sq8/store", store, fs::copy_options::recursive);
  std::string id;
  for (const auto& [m, tier] : Tiers(store))
    if (tier == "hot") id = m;
  REQUIRE(!id.empty());
  const std::string before = Export(store);
  auto refused = Aether({"descend", store, "--to", "warm", id});
  CHECK(refused.exit_code == 69);
  CHECK(refused.err.find("format version 5") != std::string::npos);
  CHECK(refused.err.find("aether upgrade") != std::string::npos);
  CHECK(Export(store) == before);  // every memory where it was
  auto bad =
      Aether({"ingest", store, "-", "--preserve-state"},
             "{\"id\":\"w1\",\"vector\":" + VectorJson(std::vector<float>(kDim, 0.5f)) + ",\"tier\":\"warm\"}\n");
  CHECK(bad.exit_code == 69);
  CHECK(Aether({"config", store, "set", "warm_capacity_bytes", "100000"}).exit_code == 69);  // it would do nothing
  REQUIRE(Aether({"upgrade", store}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "warm_capacity_bytes", "100000"}).exit_code == 0);
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["format_version"] == 6);
  auto moved = Aether({"descend", store, "--to", "warm", id});
  CHECK_MESSAGE(moved.exit_code == 0, moved.err);
  CHECK(Tiers(store).at(id) == "warm");
  Verified(store);

  CHECK(Aether({"descend", store, "--to", "hot", id}).exit_code == 64);
  CHECK(Aether({"ascend", store, "--to", "cold", id}).exit_code == 64);
  auto queued = Aether({"ascend", store, "--to", "warm", "--queued"});
  CHECK(queued.exit_code == 64);
  CHECK(queued.err.find("--queued") != std::string::npos);
  auto tier =
      Aether({"ingest", store, "-", "--preserve-state"},
             "{\"id\":\"w2\",\"vector\":" + VectorJson(std::vector<float>(kDim, 0.5f)) + ",\"tier\":\"tepid\"}\n");
  CHECK(tier.exit_code == 65);
  CHECK(tier.err.find("\"warm\"") != std::string::npos);
}

TEST_CASE("warm tier: every policy's demotion goes warm while it is on; the age policies take hot memories only") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(50, kDim, 11, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, WithImportance(mems)).exit_code == 0);
  std::map<std::string, std::string> model;
  for (const auto& m : mems) model[m.id] = "hot";
  // Ingest's evictions (ingest_evict): the batch past the capacity sent the
  // ten lowest scores cold, with the warm tier off.
  for (auto [id, tier] : Tiers(store)) CHECK((tier == "hot" || tier == "cold"));
  SetConfig(store, {"sample_rate=0", "pattern_placement=0", "restore_concurrency=0", "warm_capacity_bytes=100000"});
  model = Tiers(store);
  const auto data = GetRecords(store, Ids(mems));

  // With it on: an ingest past the capacity evicts warm.
  const auto more = RandomMems(5, kDim, 12, "n");
  auto in = Aether({"ingest", store, "-", "--format", "json"}, ToJsonl(more));
  REQUIRE_MESSAGE(in.exit_code == 0, in.err);
  CHECK(json::parse(in.out)["evicted"] == 5);
  size_t warm = 0;
  for (auto [id, tier] : Tiers(store)) warm += tier == "warm";
  CHECK(warm == 5);

  // descend --policy: the hot excess, warm.
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "35"}).exit_code == 0);
  auto policy = Aether({"descend", store, "--policy", "--format", "json"});
  REQUIRE_MESSAGE(policy.exit_code == 0, policy.err);
  warm = 0;
  for (auto [id, tier] : Tiers(store)) warm += tier == "warm";
  CHECK(warm == 10);

  // The age policies: every hot memory is idle past a day two days on;
  // they go warm, and the warm ones stay warm (no age policy takes them).
  REQUIRE(Aether({"config", store, "set", "max_hot_idle_hours", "24"}).exit_code == 0);
  const auto before = Tiers(store);
  auto tick = Aether({"maintain", store, "--format", "json"}, "", {"AETHER_NOW_MS=" + std::to_string(4102444800000)});
  REQUIRE_MESSAGE(tick.exit_code == 0, tick.err);
  const json r = json::parse(tick.out);
  CHECK(r["demoted_to"] == "warm");
  CHECK(r["descended_age"] == 35);
  for (const auto& entry : Tiers(store)) {
    const std::string& id = entry.first;
    CAPTURE(id);
    CHECK(entry.second == (before.at(id) == "hot" ? "warm" : before.at(id)));
  }
  Verified(store);
  CHECK(GetRecords(store, Ids(mems)) == data);
}

TEST_CASE("warm tier: verify names a warm row in a frame that is not warm, and a frame of both tiers") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(40, kDim, 21, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(mems)).exit_code == 0);
  std::vector<std::string> ids;
  for (size_t i = 0; i < 20; ++i) ids.push_back(mems[i].id);
  REQUIRE(Aether(Args({"descend", store}, ids)).exit_code == 0);  // cold: zstd-shuffle frames
  Verified(store);
  // A cold row marked warm: its frame is not codec 3.
  SqlRows(store, "UPDATE memories SET tier = 2 WHERE id = '" + mems[0].id + "'");
  auto v = Aether({"verify", store});
  CHECK(v.exit_code != 0);
  CHECK(v.out.find("holds warm memories in codec 1") != std::string::npos);

  // A store whose cold codec is sq8: a cold row marked warm shares its
  // frame with cold ones.
  const std::string q = dir / "q";
  REQUIRE(Aether({"init", q, "--dim", std::to_string(kDim), "--codec", "sq8"}).exit_code == 0);
  REQUIRE(Aether({"ingest", q, "-"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether(Args({"descend", q}, ids)).exit_code == 0);
  Verified(q);
  SqlRows(q, "UPDATE memories SET tier = 2 WHERE id = '" + mems[0].id + "'");
  v = Aether({"verify", q});
  CHECK(v.exit_code != 0);
  CHECK(v.out.find("both the warm and the cold tier") != std::string::npos);
}

TEST_CASE("warm tier: upgrade --codec and a filtered search keep it apart from the cold tier") {
  TempDir dir;
  const std::string store = dir / "s";
  const auto mems = RandomMems(300, kDim, 31, "m");
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonlWithPayload(mems)).exit_code == 0);
  std::map<std::string, std::string> model;
  std::vector<std::string> cold, warm;
  for (size_t i = 0; i < mems.size(); ++i) {
    model[mems[i].id] = i < 100 ? "cold" : i < 200 ? "warm" : "hot";
    (i < 100 ? cold : warm).push_back(mems[i].id);
  }
  warm.resize(100);
  REQUIRE(Aether(Args({"descend", store}, cold)).exit_code == 0);
  REQUIRE(Aether(Args({"descend", store, "--to", "warm"}, warm)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "4"}).exit_code == 0);
  const auto data = GetRecords(store, Ids(mems));
  // A codec change rewrites the cold frames; the warm ones stay float32 (verify
  // checks each frame's codec against its tier), also when the cold ones are
  // float32 too (codec 4 both: only the memories' rows tell the tiers apart).
  for (const char* codec : {"float16", "float32", "zstd"}) {
    auto up = Aether({"upgrade", store, "--codec", codec, "--format", "json"});
    REQUIRE_MESSAGE(up.exit_code == 0, up.err);
    CHECK(json::parse(up.out)["rewritten"] == true);
    CHECK(json::parse(Aether({"upgrade", store, "--dry-run", "--format", "json"}).out)["up_to_date"] == true);
    AgreesWith(store, model, data);
  }
  // --tier cold and --tier warm with a filter: each tier's own matches.
  const auto qs = RandomMems(5, kDim, 32, "q");
  for (const char* tier : {"cold", "warm"}) {
    auto r = Aether(
        {"search", store, "--queries", "-", "-k", "5", "--tier", tier, "--where", "payload.n < 150", "--no-touch"},
        QueriesJsonl(qs));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::vector<Mem> pool;
    for (size_t i = 0; i < 150; ++i)
      if (model[mems[i].id] == tier) pool.push_back(mems[i]);
    const auto hits = ParseSearchOutput(r.out);
    for (size_t q = 0; q < qs.size(); ++q) CHECK(SameTopK(hits[q], BruteForce(pool, qs[q].vec, 5, "l2")));
  }
}

TEST_CASE("warm tier: cold compaction keeps every memory in its tier, killed at any of its steps or not") {
  std::vector<std::string> points = {""};
  for (const char* kind : {"unstage", "rewrite"})
    for (const char* step : {"after_intent", "mid_write", "after_write", "after_sync", "after_written", "after_commit"})
      points.push_back(std::string(kind) + "." + step);
  points.push_back("rewrite.mid_cleanup");
  const auto mems = RandomMems(200, kDim, 41, "m");
  const auto late = RandomMems(10, kDim, 42, "n");
  for (size_t p = 0; p < points.size(); ++p) {
    if (!InSweep(p)) continue;
    CAPTURE(points[p]);
    TempDir dir;
    const std::string store = dir / "s";
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000"}, ToJsonl(mems)).exit_code == 0);
    std::vector<std::string> cold, warm, up, up_warm;
    for (size_t i = 0; i < 180; ++i) (i < 120 ? cold : warm).push_back(mems[i].id);
    for (size_t i = 0; i < 10; ++i) up.push_back(mems[i].id), up_warm.push_back(mems[10 + i].id);
    REQUIRE(Aether(Args({"descend", store}, cold)).exit_code == 0);
    REQUIRE(Aether(Args({"descend", store, "--to", "warm"}, warm)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    // Garbage beside live records of both tiers in the partitions.
    REQUIRE(Aether(Args({"ascend", store}, up)).exit_code == 0);
    REQUIRE(Aether(Args({"ascend", store, "--to", "warm"}, up_warm)).exit_code == 0);
    // Staging records of both tiers beside garbage: new memories placed cold
    // and warm by --preserve-state, twice (the first copies then garbage).
    std::string lines;
    for (size_t i = 0; i < late.size(); ++i)
      lines += "{\"id\":\"" + late[i].id + "\",\"vector\":" + VectorJson(late[i].vec) + ",\"tier\":\"" +
               (i % 2 ? "warm" : "cold") + "\"}\n";
    for (int i = 0; i < 2; ++i)
      REQUIRE(Aether({"ingest", store, "-", "--preserve-state", "--on-duplicate", "replace"}, lines).exit_code == 0);
    SetConfig(store, {"sample_rate=0", "pattern_placement=0", "restore_concurrency=0", "cold_garbage_max=0.01"});
    std::vector<std::string> all = Ids(mems);
    for (const auto& m : late) all.push_back(m.id);
    const auto tiers = Tiers(store);
    const auto data = GetRecords(store, all);
    std::vector<std::string> env;
    if (!points[p].empty()) env.push_back("AETHER_FAULT=" + points[p]);
    auto tick = Aether({"maintain", store, "--format", "json"}, "", env);
    if (points[p].empty()) {
      REQUIRE_MESSAGE(tick.exit_code == 0, tick.err);
      const json r = json::parse(tick.out);
      CHECK(r["unstaged"].get<int>() > 0);
      CHECK(r["partitions_rewritten"].get<int>() > 0);
    } else {
      CHECK_MESSAGE(tick.exit_code == 137, "fault point not reached: " << tick.err);
    }
    REQUIRE(Aether({"recover", store}).exit_code == 0);
    Verified(store);
    CHECK(Tiers(store) == tiers);
    CHECK(GetRecords(store, all) == data);
  }
}
