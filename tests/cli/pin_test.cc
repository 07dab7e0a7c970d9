// pin / unpin end to end: a pinned memory stays hot through every move a
// policy makes (descend --policy/--all/--where/--idle-longer-than, the
// capacity, the maintenance sample, an emergency, ingest's and ascend's
// evictions, the restore drain), a named descend refuses it, the pins never
// outnumber the hot capacity, and nothing but tiers changes.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

// The store's files but the WAL index (-shm: every writer's open rewrites it).
std::map<std::string, std::string> Files(const std::string& store) {
  auto files = DirectoryBytes(store);
  files.erase("/meta.db-shm");
  return files;
}

uint64_t HotCount(const std::map<std::string, std::string>& tiers) {
  uint64_t n = 0;
  for (const auto& [id, tier] : tiers) n += tier == "hot";
  return n;
}

}  // namespace

TEST_CASE("a pinned memory stays hot through every move a policy makes; only a named descend is refused") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(120, 4, 71);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40", "-q"},
                 ToJsonlWithPayload(std::vector<Mem>(mems.begin(), mems.begin() + 100)))
              .exit_code == 0);
  const auto before = GetRecords(store, Ids(mems));
  auto t0 = Tiers(store);
  REQUIRE(HotCount(t0) == 40);
  // Pin 12: some hot, some cold.
  std::vector<std::string> pins;
  size_t hot_pins = 0, cold_pins = 0;
  for (const auto& [id, tier] : t0)
    if (tier == "hot" ? hot_pins++ < 6 : cold_pins++ < 6) pins.push_back(id);
  REQUIRE(pins.size() == 12);
  const std::set<std::string> pinned(pins.begin(), pins.end());
  std::vector<std::string> args = {"pin", store, "--format", "json"};
  args.insert(args.end(), pins.begin(), pins.end());
  auto r = Aether(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json pr = json::parse(r.out);
  CHECK(pr["pinned"].size() == 12);
  CHECK(pr["ascended"] == 6);
  CHECK(pr["evicted"] == 6);  // the tier was full: as many descended
  for (const json& m : pr["moves"])
    if (m["to"] == "cold") CHECK(!pinned.count(m["id"].get<std::string>()));  // never one being pinned
  CHECK(Pinned(store) == pinned);
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["pinned_memories"] == 12);

  // The invariant after every step: each pinned memory hot, nothing but
  // tiers changed, the store verifies.
  auto holds = [&](const char* step) {
    INFO(step);
    auto t = Tiers(store);
    for (const std::string& id : pins) CHECK_MESSAGE(t[id] == "hot", id);
    CHECK(Pinned(store) == pinned);
    for (const auto& [id, rec] : GetRecords(store, Ids(mems)))
      if (before.count(id)) CHECK(rec == before.at(id));
    Verified(store);
    return t;
  };
  holds("pin");
  CHECK(Aether({"history", store, pins[0], "--format", "jsonl"}).out.find("\"kind\":\"pin\"") != std::string::npos);

  // A named descend refuses the pinned (exit 1), moves the rest.
  const std::string unpinned_hot = [&] {
    for (const auto& [id, tier] : Tiers(store))
      if (tier == "hot" && !pinned.count(id)) return id;
    return std::string();
  }();
  r = Aether({"descend", store, pins[0], unpinned_hot});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("pinned, kept hot: " + pins[0]) != std::string::npos);
  CHECK(Tiers(store)[unpinned_hot] == "cold");
  holds("named descend");

  // The policies.
  CHECK(Aether({"config", store, "set", "hot_capacity", "20", "-q"}).exit_code == 0);
  CHECK(Aether({"descend", store, "--policy", "-q"}).exit_code == 0);
  CHECK(HotCount(holds("descend --policy")) == 20);
  CHECK(Aether({"config", store, "set", "sample_rate", "1", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "sigmoid_k", "1000", "-q"}).exit_code == 0);
  CHECK(Aether({"config", store, "set", "idle_descend_hours", "0", "-q"}).exit_code == 0);
  // A month on, every hot memory's score is far below 0: each sampled one
  // descends (probability ~1) but the pinned.
  r = Aether({"maintain", store, "--seed", "5", "--format", "json"}, "", {"AETHER_NOW_MS=1900000000000"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(json::parse(r.out)["descended_sampled"] > 0);
  CHECK(HotCount(holds("maintain, everything sampled")) == 12);
  r = Aether({"maintain", store, "--seed", "6", "--format", "json"}, "", {"AETHER_PRESSURE=memory=0.01,disk=0.5"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(json::parse(r.out)["pressure_level"] == "emergency");
  holds("maintain under an emergency");
  // Ingest into a full tier evicts only the unpinned.
  REQUIRE(Aether({"ingest", store, "-q"}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 100, mems.end()), 100))
              .exit_code == 0);
  auto t = holds("ingest with evictions");
  CHECK(HotCount(t) <= 20);
  // ascend --evict takes room from the unpinned only; the restore drain too.
  std::vector<std::string> cold;
  for (const auto& [id, tier] : t)
    if (tier == "cold") cold.push_back(id);
  REQUIRE(cold.size() >= 8);
  CHECK(Aether({"ascend", store, cold[0], cold[1], cold[2], "--evict", "-q"}).exit_code == 0);
  holds("ascend --evict");
  CHECK(Aether({"ascend", store, cold[3], cold[4], "--enqueue", "-q"}).exit_code == 0);
  CHECK(Aether({"maintain", store, "--seed", "7", "-q"}).exit_code == 0);
  holds("restore drain");
  // Every selection: all but the pinned go; exit 0, the pinned named.
  r = Aether({"descend", store, "--all"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("12 pinned memories kept hot") != std::string::npos);
  t = holds("descend --all");
  CHECK(HotCount(t) == 12);
  CHECK(Aether({"descend", store, "--where", "importance >= 0", "-q"}).exit_code == 0);
  CHECK(Aether({"descend", store, "--idle-longer-than", "0s", "-q"}).exit_code == 0);
  CHECK(Aether({"descend", store, "--older-than", "0s", "-q"}).exit_code == 0);
  CHECK(HotCount(holds("descend by selection")) == 12);

  // Only the unpinned could make room: 12 pinned in a capacity of 12, so an
  // ascend has none, and says why.
  CHECK(Aether({"config", store, "set", "hot_capacity", "12", "-q"}).exit_code == 0);
  r = Aether({"ascend", store, cold[5], "--evict"});
  CHECK(r.exit_code == 69);
  CHECK(r.err.find("12 hold pinned memories") != std::string::npos);
  holds("ascend refused");

  // Unpinned, the policy moves them again.
  args = {"unpin", store};
  args.insert(args.end(), pins.begin(), pins.begin() + 4);
  CHECK(Aether(args).exit_code == 0);
  CHECK(Aether({"descend", store, "--all", "-q"}).exit_code == 0);
  t = Tiers(store);
  for (size_t i = 0; i < pins.size(); ++i) CHECK(t[pins[i]] == (i < 4 ? "cold" : "hot"));
  Verified(store);
  // The audit log has each unpin (and had each pin: above).
  CHECK(Aether({"history", store, pins[0], "--format", "jsonl"}).out.find("\"kind\":\"unpin\"") != std::string::npos);
}

TEST_CASE("pins never outnumber the hot capacity; a refused pin, a dry run and bad input change nothing") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(30, 4, 72);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "5", "-q"}, ToJsonl(mems)).exit_code == 0);
  auto files = Files(store);
  // Six pins in a capacity of five: refused whole (exit 69).
  auto r = Aether({"pin", store, "m0", "m1", "m2", "m3", "m4", "m5"});
  CHECK(r.exit_code == 69);
  CHECK(r.err.find("more than the hot capacity 5") != std::string::npos);
  // A dry run plans, changes nothing.
  r = Aether({"pin", store, "m20", "m21", "--dry-run", "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(json::parse(r.out)["moves"].size() == 4);  // two up, two evicted
  // No ids; an unknown option.
  CHECK(Aether({"pin", store}).exit_code == 64);
  CHECK(Aether({"unpin", store, "--sort", "x"}).exit_code == 64);
  CHECK(Aether({"pin", dir / "missing", "m1"}).exit_code == 66);
  CHECK(Files(store) == files);
  CHECK(Pinned(store).empty());

  // Unknown and repeated ids: reported, the rest pinned (exit 1).
  r = Aether({"pin", store, "m20", "nope", "m20", "m1"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("not found: nope") != std::string::npos);
  CHECK(Pinned(store) == std::set<std::string>{"m20", "m1"});
  r = Aether({"pin", store, "m20"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("already pinned: m20") != std::string::npos);
  // The capacity cannot drop below the pins.
  r = Aether({"config", store, "set", "hot_capacity", "1"});
  CHECK(r.exit_code == 69);
  CHECK(r.err.find("below the 2 pinned") != std::string::npos);
  CHECK(Aether({"config", store, "set", "hot_capacity", "2", "-q"}).exit_code == 0);
  r = Aether({"unpin", store, "m2", "m1"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("not pinned: m2") != std::string::npos);
  CHECK(Pinned(store) == std::set<std::string>{"m20"});
  // A replaced pinned memory passes its pin on, hot; a record that says
  // "pinned": false (--preserve-state) does not: said on stderr.
  const std::vector<Mem> m20(mems.begin() + 20, mems.begin() + 21);
  r = Aether({"ingest", store, "--on-duplicate", "replace"}, ToJsonl(m20));
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("pinned") == std::string::npos);
  CHECK(Pinned(store) == std::set<std::string>{"m20"});
  CHECK(Tiers(store)["m20"] == "hot");
  std::string unpin = ToJsonl(m20);
  unpin.insert(unpin.size() - 2, ",\"pinned\":false");
  r = Aether({"ingest", store, "--on-duplicate", "replace", "--preserve-state"}, unpin);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("replaced 1 pinned memory by records that say \"pinned\": false; the new one is not pinned") !=
        std::string::npos);
  CHECK(Pinned(store).empty());
  Verified(store);
}

TEST_CASE("a store an older aether made (no pinned column) reads with nothing pinned; the first writer adds it") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(20, 4, 73);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(mems)).exit_code == 0);
  SqlRows(store, "DROP INDEX memories_pinned");
  SqlRows(store, "ALTER TABLE memories DROP COLUMN pinned");
  REQUIRE(SqlRows(store, "SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'pinned'") ==
          std::vector<std::string>{"0"});
  // Readers: nothing pinned, nothing added.
  CHECK(Pinned(store).empty());
  CHECK(json::parse(Aether({"stats", store, "--format", "json"}).out)["pinned_memories"] == 0);
  CHECK(Aether({"get", store, "m1"}).exit_code == 0);
  REQUIRE(SqlRows(store, "SELECT COUNT(*) FROM pragma_table_info('memories') WHERE name = 'pinned'") ==
          std::vector<std::string>{"0"});
  // A writer adds the column (a schema step) and pins.
  CHECK(Aether({"pin", store, "m15", "-q"}).exit_code == 0);
  CHECK(Pinned(store) == std::set<std::string>{"m15"});
  CHECK(Tiers(store)["m15"] == "hot");
  Verified(store);
}

TEST_CASE("a damaged pinned mark: verify names the memory; readers and writers read it as not pinned") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(
      Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(RandomMems(20, 4, 74))).exit_code ==
      0);
  for (const std::string bad : {"2", "0", "-1", "0.5", "'x'", "X'01'"}) {
    INFO(bad);
    SqlRows(store, "UPDATE memories SET pinned = " + bad + " WHERE id = 'm3'");
    auto v = Aether({"verify", store});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("memory 'm3'") != std::string::npos);
    CHECK(v.out.find("bad pinned mark") != std::string::npos);
    CHECK(v.out.find("leaked") == std::string::npos);  // the row's place still counts
    CHECK(Pinned(store).empty());
    CHECK(Aether({"descend", store, "m3", "-q"}).exit_code == 0);
    CHECK(Aether({"ascend", store, "m3", "-q"}).exit_code == 0);
    SqlRows(store, "UPDATE memories SET pinned = NULL WHERE id = 'm3'");
    Verified(store);
  }
}

TEST_CASE("a pin killed after its ascend and before its mark leaves the memories hot and unpinned; pin again marks") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(20, 4, 79);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "10", "-q"}, ToJsonl(mems)).exit_code == 0);
  auto tiers = Tiers(store);
  std::vector<std::string> cold;
  for (const auto& [id, tier] : tiers)
    if (tier == "cold" && cold.size() < 3) cold.push_back(id);
  REQUIRE(cold.size() == 3);
  std::vector<std::string> pin = {"pin", store};
  pin.insert(pin.end(), cold.begin(), cold.end());
  CHECK(Aether(pin, "", {"AETHER_FAULT=pin.before_mark"}).exit_code == 137);
  tiers = Tiers(store);
  for (const std::string& id : cold) CHECK(tiers[id] == "hot");  // ascended, committed
  CHECK(Pinned(store).empty());
  Verified(store);
  CHECK(Aether(pin).exit_code == 0);
  CHECK(Pinned(store) == std::set<std::string>(cold.begin(), cold.end()));
  Verified(store);
}
