// The hot tier's limits and policies beyond the score: capacity in bytes,
// the age policies of maintain (max_hot_idle_hours, max_hot_age_hours), and
// presets, `disabled` moving nothing between tiers. Each checked against
// the reference the memories' kept states give.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

constexpr int64_t kNow = 1800000000000;
constexpr int64_t kHour = 3600000;

uint64_t HotCount(const std::string& store) {
  uint64_t n = 0;
  for (const auto& [id, tier] : Tiers(store)) n += tier == "hot";
  return n;
}

json Maintain(const std::string& store, int64_t now, const std::vector<std::string>& env = {}) {
  std::vector<std::string> e = env;
  e.push_back("AETHER_NOW_MS=" + std::to_string(now));
  auto r = Aether({"maintain", store, "--seed", "9", "--moves", "--format", "json"}, "", e);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out);
}

void Set(const std::string& store, const std::string& key, const std::string& value) {
  auto r = Aether({"config", store, "set", key, value, "-q"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

}  // namespace

TEST_CASE("hot_capacity_bytes: the hot tier holds at most bytes / slot size memories, the smaller limit wins") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(60, 4, 81);  // a slot of dim 4: 16 + 4 x 4 = 32 bytes
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40", "-q"},
                 ToJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 30)))
              .exit_code == 0);
  REQUIRE(HotCount(store) == 30);
  const auto before = GetRecords(store, Ids(mems));
  Set(store, "sample_rate", "0");
  Set(store, "hot_capacity_bytes", "330");  // 10 slots and 10 bytes
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["hot_capacity"] == 10);
  json m = Maintain(store, kNow);
  CHECK(m["descended_capacity"] == 20);
  CHECK(m["hot_capacity"] == 10);
  CHECK(HotCount(store) == 10);
  // Ingest evicts within it; an ascend past it is refused.
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(std::vector<Mem>(mems.begin() + 30, mems.end()))).exit_code == 0);
  CHECK(HotCount(store) == 10);
  std::string cold;
  for (const auto& [id, tier] : Tiers(store))
    if (tier == "cold") cold = id;
  CHECK(Aether({"ascend", store, cold}).exit_code == 69);
  // A byte limit above the count: the count holds.
  Set(store, "hot_capacity_bytes", "1000000");
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["hot_capacity"] == 40);
  // The pins must fit the smaller limit.
  Set(store, "hot_capacity_bytes", "0");
  REQUIRE(Aether({"pin", store, "m0", "m1", "m2", "-q"}).exit_code == 0);
  auto r = Aether({"config", store, "set", "hot_capacity_bytes", "64"});
  CHECK(r.exit_code == 69);
  CHECK(r.err.find("would be 2 memories, below the 3 pinned") != std::string::npos);
  for (const std::string bad : {"-1", "abc", "1e16"})
    CHECK(Aether({"config", store, "set", "hot_capacity_bytes", bad}).exit_code == 64);
  for (const auto& [id, rec] : GetRecords(store, Ids(mems)))
    if (before.count(id)) CHECK(rec == before.at(id));
  Verified(store);
}

TEST_CASE("max_hot_idle_hours and max_hot_age_hours: each tick descends exactly the idle and the old, pins excepted") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(80, 4, 82);
  std::map<std::string, std::pair<int64_t, int64_t>> made_accessed;
  std::string lines;
  for (size_t i = 0; i < mems.size(); ++i) {
    const int64_t created = kNow - int64_t(i) * 5 * kHour - 1000;  // 0 .. 395 h ago
    const int64_t accessed = std::min(kNow, created + int64_t((i * 37) % 80) * kHour);
    made_accessed[mems[i].id] = {created, accessed};
    lines += json({{"id", mems[i].id},
                   {"vector", mems[i].vec},
                   {"tier", "hot"},
                   {"created_ms", created},
                   {"last_access_ms", accessed},
                   {"access_count", 1}})
                 .dump() +
             "\n";
  }
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1000", "--preserve-state", "-"}, lines,
                 {"AETHER_NOW_MS=" + std::to_string(kNow)})
              .exit_code == 0);
  Set(store, "sample_rate", "0");
  REQUIRE(Aether({"pin", store, mems[79].id, "-q"}, "", {"AETHER_NOW_MS=" + std::to_string(kNow)}).exit_code == 0);
  // Nothing with both off (the default).
  CHECK(Maintain(store, kNow)["descended_age"] == 0);
  Set(store, "max_hot_idle_hours", "200");
  std::set<std::string> idle;
  for (const auto& [id, ma] : made_accessed)
    if (ma.second < kNow - 200 * kHour && id != mems[79].id) idle.insert(id);
  REQUIRE(idle.size() > 5);
  json m = Maintain(store, kNow);
  CHECK(m["descended_age"] == idle.size());
  std::set<std::string> moved;
  for (const json& mv : m["moves"]) {
    CHECK(mv["reason"] == "idle");
    moved.insert(mv["id"].get<std::string>());
  }
  CHECK(moved == idle);
  Set(store, "max_hot_idle_hours", "0");
  Set(store, "max_hot_age_hours", "150");
  std::set<std::string> old;
  for (const auto& [id, ma] : made_accessed)
    if (ma.first < kNow - 150 * kHour && id != mems[79].id && !idle.count(id)) old.insert(id);
  REQUIRE(old.size() > 5);
  m = Maintain(store, kNow + 1000);
  moved.clear();
  for (const json& mv : m["moves"]) {
    CHECK(mv["reason"] == "age");
    moved.insert(mv["id"].get<std::string>());
  }
  CHECK(moved == old);
  const auto tiers = Tiers(store);
  for (const auto& [id, tier] : tiers) CHECK(tier == ((idle.count(id) || old.count(id)) ? "cold" : "hot"));
  CHECK(tiers.at(mems[79].id) == "hot");  // the oldest, pinned
  Verified(store);
}

TEST_CASE("presets: disabled moves nothing between tiers unless asked; another preset after it undoes every key") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(60, 4, 83);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "20", "-q"},
                 ToJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 40)))
              .exit_code == 0);
  // disabled after aggressive (which turns the age policy on): every key
  // disabled sets has its own value.
  REQUIRE(Aether({"config", store, "preset", "aggressive", "-q"}).exit_code == 0);
  REQUIRE(Aether({"config", store, "preset", "disabled", "-q"}).exit_code == 0);
  auto get = [&](const std::string& key) { return Aether({"config", store, "get", key}).out; };
  for (const char* key : {"sample_rate", "max_candidates", "restore_top_n", "restore_concurrency", "max_hot_idle_hours",
                          "max_hot_age_hours", "enforce_capacity", "ingest_evict", "pressure_emergency_descend"})
    CHECK_MESSAGE(get(key) == "0\n", key);
  CHECK(get("importance_decay") == "1\n");
  const auto t0 = Tiers(store);
  // Normal pressure, the tier exactly full: an ingest (which would evict),
  // searches (which would queue restores) and ticks a month apart (which
  // would sample, restore and descend by age) move nothing.
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(std::vector<Mem>(mems.begin() + 40, mems.begin() + 50))).exit_code ==
          0);
  REQUIRE(Aether({"search", store, "--queries", "-", "-k", "10"}, QueriesJsonl(mems)).exit_code == 0);
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["restore_queue_depth"] == 0);
  for (int tick = 0; tick < 3; ++tick) CHECK(Maintain(store, kNow + tick * 720 * kHour)["pressure_level"] == "normal");
  auto t1 = Tiers(store);
  for (const auto& entry : t0) CHECK_MESSAGE(t1[entry.first] == entry.second, entry.first);
  for (size_t i = 40; i < 50; ++i) CHECK(t1[mems[i].id] == "cold");  // placed cold, nothing evicted
  // Over capacity and under an emergency: still nothing.
  Set(store, "hot_capacity", "10");
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonl(std::vector<Mem>(mems.begin() + 50, mems.end()))).exit_code == 0);
  for (int tick = 3; tick < 5; ++tick)
    Maintain(store, kNow + tick * 720 * kHour, {"AETHER_PRESSURE=memory=0.01,disk=0.5"});
  auto t2 = Tiers(store);
  for (const auto& entry : t1) CHECK_MESSAGE(t2[entry.first] == entry.second, entry.first);
  // Asked, it still moves.
  CHECK(Aether({"descend", store, "--policy", "-q"}).exit_code == 0);
  CHECK(HotCount(store) == 10);
  // Every move key the disabled preset set, another preset sets back.
  for (const std::string preset : {"aggressive", "conservative", "default"}) {
    INFO(preset);
    REQUIRE(Aether({"config", store, "preset", "disabled", "-q"}).exit_code == 0);
    REQUIRE(Aether({"config", store, "preset", preset, "-q"}).exit_code == 0);
    for (const char* key : {"sample_rate", "restore_top_n", "restore_concurrency", "enforce_capacity", "ingest_evict",
                            "pressure_emergency_descend"})
      CHECK_MESSAGE(get(key) != "0\n", key);
  }
  Verified(store);
}

TEST_CASE("pressure thresholds must follow their levels; check_pressure_level must be a level") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "-q"}, ToJsonl(RandomMems(5, 4, 84))).exit_code == 0);
  const std::string config = Aether({"config", store, "get"}).out;
  // Out of order (the defaults: hot 1.0 / 1.1 / 1.5, memory 0.15 / 0.08 /
  // 0.04, disk 0.10 / 0.05 / 0.02): refused, exit 64, nothing set.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"pressure_hot_warning", "1.2"},
                                                                                   {"pressure_hot_critical", "1.0"},
                                                                                   {"pressure_hot_emergency", "1.1"},
                                                                                   {"pressure_memory_warning", "0.08"},
                                                                                   {"pressure_memory_critical", "0.03"},
                                                                                   {"pressure_disk_emergency", "0.05"},
                                                                                   {"pressure_disk_critical", "0.2"},
                                                                                   {"check_pressure_level", "1.5"}}) {
    const std::string shown = key + " = " + value;  // a plain local: doctest's INFO captures it (clang, C++17)
    INFO(shown);
    auto r = Aether({"config", store, "set", key, value});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find(key) != std::string::npos);
  }
  CHECK(Aether({"config", store, "get"}).out == config);
  auto r = Aether({"config", store, "set", "pressure_hot_warning", "1.2"});
  CHECK(r.err.find("pressure_hot_warning = 1.2 would be at or above pressure_hot_critical = 1.1") != std::string::npos);
  // In order, or a level turned off in between: accepted.
  CHECK(Aether({"config", store, "set", "pressure_hot_critical", "0", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "pressure_hot_warning", "1.2", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "pressure_disk_critical", "0.07", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "check_pressure_level", "3", "-q"}).exit_code == 0);
  // Thresholds an older aether stored out of order: other keys and presets
  // still set, and the order is mended a key at a time.
  SqlRows(store,
          "INSERT OR REPLACE INTO config VALUES ('pressure_disk_warning', '0.01'), ('pressure_disk_critical', '0.02'), "
          "('pressure_disk_emergency', '0.03')");
  CHECK(Aether({"config", store, "set", "sample_rate", "0.2", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "preset", "conservative", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "pressure_disk_warning", "0.2", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "pressure_disk_critical", "0.1", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "pressure_disk_emergency", "0.5"}).exit_code == 64);  // a new inversion
  CHECK(Aether({"config", store, "set", "pressure_disk_emergency", "0.05", "-q"}).exit_code == 0);
}

TEST_CASE("ingest under critical pressure says so on stderr, also when the tier is full and it would have evicted") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(30, 4, 85);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"},
                 ToJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 10)))
              .exit_code == 0);
  auto r = Aether({"ingest", store}, ToJsonl(std::vector<Mem>(mems.begin() + 10, mems.begin() + 20)),
                  {"AETHER_PRESSURE=memory=0.5,disk=0.03"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("pressure critical: disk_free 0.03 < 0.05 (critical) -- new memories were placed cold") !=
        std::string::npos);
  // With ingest_evict 0 a full tier places cold anyway: pressure changed nothing, so nothing is said.
  Set(store, "ingest_evict", "0");
  r = Aether({"ingest", store}, ToJsonl(std::vector<Mem>(mems.begin() + 20, mems.end())),
             {"AETHER_PRESSURE=memory=0.5,disk=0.03"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("placed cold") == std::string::npos);
  CHECK(HotCount(store) == 10);
}
