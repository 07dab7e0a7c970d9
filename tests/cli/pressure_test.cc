// Pressure levels end to end, the readings injected (AETHER_PRESSURE): what
// stats and check show at each level, and each level's response: warning
// scales the temperature, critical places new memories cold and promotes
// nothing, emergency descends the lowest eviction scores. Expected counts
// and ids come from the test's own model of the store, never from aether.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "test_util.h"

using namespace aether::test;

namespace {

nlohmann::json Json(const RunResult& r) { return nlohmann::json::parse(r.out); }

std::string Disk(double share) { return "AETHER_PRESSURE=memory=0.5,disk=" + std::to_string(share); }

// n memories m0..m(n-1) of dimension 4 with importance i / n (m0 the least).
std::string Ranked(size_t n) {
  std::string out;
  const auto mems = RandomMems(n, 4, 21);
  for (size_t i = 0; i < n; ++i)
    out += "{\"id\":\"" + mems[i].id + "\",\"vector\":" + VectorJson(mems[i].vec) +
           ",\"importance\":" + std::to_string(double(i) / double(n)) + "}\n";
  return out;
}

}  // namespace

TEST_CASE("pressure: stats and check show each level and why; check's threshold is its level") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(10, 4, 1))).exit_code == 0);
  struct Level {
    double disk;
    const char* name;
    int number;
  };
  for (const Level& l :
       {Level{0.5, "normal", 0}, Level{0.08, "warning", 1}, Level{0.03, "critical", 2}, Level{0.01, "emergency", 3}}) {
    CAPTURE(l.name);
    const auto stats = Json(Aether({"stats", store, "--format", "json"}, "", {Disk(l.disk)}));
    CHECK(stats["pressure_level"] == l.name);
    CHECK(stats["pressure"] == l.number);
    CHECK(stats["disk_free"].get<double>() == doctest::Approx(l.disk));
    CHECK(stats["memory_available"].get<double>() == doctest::Approx(0.5));
    const std::string why = stats["pressure_why"];
    CHECK((l.number == 0 ? why.empty() : why.rfind("disk_free ", 0) == 0));
    CHECK((l.number == 0 || why.find(std::string("(") + l.name + ")") != std::string::npos));
    const auto table = Aether({"stats", store}, "", {Disk(l.disk)});
    CHECK(table.out.find(std::string("pressure_level         ") + l.name + "\n") != std::string::npos);
    const auto prom = Aether({"stats", store, "--format", "prometheus"}, "", {Disk(l.disk)});
    CHECK(prom.out.find("\naether_pressure_level " + std::to_string(l.number) + "\n") != std::string::npos);
    // check: a problem from critical on (check_pressure_level 2, the default).
    const auto check = Aether({"check", store}, "", {Disk(l.disk)});
    CHECK(check.exit_code == (l.number >= 2 ? 1 : 0));
    CHECK((check.out.find("pressure " + std::string(l.name) + ": disk_free") != std::string::npos) == (l.number >= 2));
  }
  REQUIRE(Aether({"config", store, "set", "check_pressure_level", "1"}).exit_code == 0);
  CHECK(Aether({"check", store}, "", {Disk(0.08)}).exit_code == 1);
  CHECK(Aether({"check", store}, "", {Disk(0.5)}).exit_code == 0);
  REQUIRE(Aether({"config", store, "set", "check_pressure_level", "0"}).exit_code == 0);
  CHECK(Aether({"check", store}, "", {Disk(0.01)}).exit_code == 0);
  // A threshold set to 0 is not judged; memory judged like disk.
  REQUIRE(Aether({"config", store, "set", "pressure_disk_emergency", "0"}).exit_code == 0);
  CHECK(Json(Aether({"stats", store, "--format", "json"}, "", {Disk(0.01)}))["pressure_level"] == "critical");
  CHECK(Json(Aether({"stats", store, "--format", "json"}, "",
                    {"AETHER_PRESSURE=memory=0.03,disk=0.5"}))["pressure_why"] ==
        "memory_available 0.03 < 0.04 (emergency)");
  // A hot tier past its capacity is a reading too.
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "8"}).exit_code == 0);
  CHECK(Json(Aether({"stats", store, "--format", "json"}))["pressure_why"] == "hot_fill 1.25 > 1.1 (critical)");
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "100"}).exit_code == 0);
  // The free-bytes floors (off by default) judge the disk whatever its share.
  const std::string gb = "AETHER_PRESSURE=memory=0.5,disk=0.5,disk_bytes=500000000";
  auto floor = Json(Aether({"stats", store, "--format", "json"}, "", {gb}));
  CHECK(floor["pressure_level"] == "normal");
  CHECK(floor["disk_free_bytes"] == 500000000);
  REQUIRE(Aether({"config", store, "set", "pressure_disk_bytes_critical", "1000000000"}).exit_code == 0);
  floor = Json(Aether({"stats", store, "--format", "json"}, "", {gb}));
  CHECK(floor["pressure_why"] == "disk_free_bytes 500000000 < 1000000000 (critical)");
  auto extra = RandomMems(3, 4, 77);
  for (Mem& m : extra) m.id = "floor-" + m.id;
  const auto cold = Aether({"ingest", store}, ToJsonl(extra), {gb});
  REQUIRE(cold.exit_code == 0);
  CHECK(cold.err.find("pressure critical: disk_free_bytes 500000000 < 1000000000 (critical)") != std::string::npos);
  REQUIRE(Aether({"config", store, "set", "check_pressure_level", "2"}).exit_code == 0);
  const auto check = Aether({"check", store}, "", {gb});
  CHECK(check.exit_code == 1);
  CHECK(check.out.find("pressure critical: disk_free_bytes") != std::string::npos);
  // The floors keep their levels' order too: a warning floor under the critical one is refused.
  const auto inverted = Aether({"config", store, "set", "pressure_disk_bytes_warning", "1000"});
  CHECK(inverted.exit_code == 64);
  CHECK(inverted.err.find("pressure_disk_bytes_warning = 1000 would be at or below pressure_disk_bytes_critical") !=
        std::string::npos);
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("pressure: critical places new memories cold whatever room the hot tier has; normal, hot") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "100"}).exit_code == 0);
  const auto mems = RandomMems(30, 4, 2);
  const std::vector<Mem> first(mems.begin(), mems.begin() + 10), second(mems.begin() + 10, mems.begin() + 20),
      third(mems.begin() + 20, mems.end());
  auto first_run = Aether({"ingest", store}, ToJsonl(first), {Disk(0.5)});
  REQUIRE(first_run.exit_code == 0);
  CHECK(first_run.err.find("placed cold") == std::string::npos);
  auto refused = Aether({"ingest", store}, ToJsonl(second), {Disk(0.03)});
  REQUIRE(refused.exit_code == 0);
  // The reason on stderr: the level and the reading.
  CHECK(refused.err.find("pressure critical: disk_free 0.03 < 0.05") != std::string::npos);
  CHECK(refused.err.find("new memories were placed cold") != std::string::npos);
  auto warning = Aether({"ingest", store}, ToJsonl(third), {Disk(0.08)});  // warning: as normal
  REQUIRE(warning.exit_code == 0);
  CHECK(warning.err.find("placed cold") == std::string::npos);
  for (const Mem& m : mems) {
    CAPTURE(m.id);
    const auto got = nlohmann::json::parse(Lines(Aether({"get", store, m.id}).out).at(0));
    const bool critical = &m >= &mems[10] && &m < &mems[20];
    CHECK(got["tier"] == (critical ? "cold" : "hot"));
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("pressure: warning scales the temperature; critical promotes nothing; emergency descends a share") {
  TempDir dir;
  const std::string store = dir / "s";
  constexpr size_t kN = 40;
  REQUIRE(Aether({"init", store, "--dim", "4", "--hot-capacity", "30"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, Ranked(kN), {"AETHER_NOW_MS=1000"}).exit_code == 0);
  for (const char* kv : {"sample_rate=0", "restore_top_n=3", "restore_concurrency=100"}) {
    const std::string s = kv;
    REQUIRE(Aether({"config", store, "set", s.substr(0, s.find('=')), s.substr(s.find('=') + 1)}).exit_code == 0);
  }
  auto tick = [&](double disk, int64_t at_ms) {
    const auto r = Aether({"maintain", store, "--format", "json", "--moves", "--seed", "1"}, "",
                          {Disk(disk), "AETHER_NOW_MS=" + std::to_string(at_ms)});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return Json(r);
  };
  // Warning: the temperature rises by pressure_scale per tick (decay 0.95,
  // scale 1.5, one tick of tick_seconds 300).
  const auto calm = tick(0.5, 1000 + 300000);
  CHECK(calm["pressure"] == false);
  CHECK(calm["pressure_level"] == "normal");
  const double t0 = calm["temperature_after"];
  const auto warm = tick(0.08, 1000 + 600000);
  CHECK(warm["pressure"] == true);
  CHECK(warm["pressure_level"] == "warning");
  CHECK(warm["temperature_after"].get<double>() == doctest::Approx(t0 * 0.95 * 1.5));
  CHECK(warm["promotions_paused"] == false);
  // Critical: a search queues cold hits for restore; the tick keeps them queued.
  const auto mems = RandomMems(kN, 4, 21);
  std::set<std::string> cold;
  for (size_t i = 0; i < kN; ++i)
    if (nlohmann::json::parse(Lines(Aether({"get", store, mems[i].id}).out).at(0))["tier"] == "cold")
      cold.insert(mems[i].id);
  REQUIRE(cold.size() == kN - 30);
  for (const std::string& id : cold) {
    const size_t i = size_t(std::stoul(id.substr(1)));
    REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[i].vec), "-k", "1"}).exit_code == 0);
  }
  const auto held = tick(0.03, 1000 + 900000);
  CHECK(held["pressure_level"] == "critical");
  CHECK(held["promotions_paused"] == true);
  CHECK(held["restored"] == 0);
  CHECK(held["queue_depth_after"].get<uint64_t>() == cold.size());
  for (const auto& m : held["moves"]) CHECK(m["to"] != "hot");
  // A memory emergency: ceil(0.1 x hot) of the hot tier descends, the lowest
  // importance first (no accesses, one clock: the score's order), reason
  // "pressure"; still nothing promoted.
  std::vector<std::pair<double, std::string>> hot;
  for (size_t i = 0; i < kN; ++i)
    if (!cold.count(mems[i].id)) hot.emplace_back(double(i) / kN, mems[i].id);
  std::sort(hot.begin(), hot.end());
  const size_t share = size_t(std::ceil(0.1 * double(hot.size())));
  // A disk emergency descends nothing (a descend writes cold frames first).
  const auto full = tick(0.01, 1000 + 1200000);
  CHECK(full["pressure_level"] == "emergency");
  CHECK(full["descended_pressure"] == 0);
  CHECK(full["restored"] == 0);
  // Nor does one by the free-bytes floor.
  REQUIRE(Aether({"config", store, "set", "pressure_disk_bytes_emergency", "1000000"}).exit_code == 0);
  const auto floor = Json(Aether({"maintain", store, "--format", "json", "--moves", "--seed", "1"}, "",
                                 {"AETHER_PRESSURE=memory=0.5,disk=0.5,disk_bytes=4096", "AETHER_NOW_MS=1251000"}));
  CHECK(floor["pressure_level"] == "emergency");
  CHECK(floor["descended_pressure"] == 0);
  const auto dire = Json(Aether({"maintain", store, "--format", "json", "--moves", "--seed", "1"}, "",
                                {"AETHER_PRESSURE=memory=0.01,disk=0.5", "AETHER_NOW_MS=1301000"}));
  CHECK(dire["pressure_level"] == "emergency");
  CHECK(dire["descended_pressure"] == share);
  std::set<std::string> want, got;
  for (size_t i = 0; i < share; ++i) want.insert(hot[i].second);
  for (const auto& m : dire["moves"])
    if (m["reason"] == "pressure") got.insert(m["id"].get<std::string>());
  CHECK(got == want);
  for (const std::string& id : want)
    CHECK(nlohmann::json::parse(Lines(Aether({"get", store, id}).out).at(0))["tier"] == "cold");
  CHECK(dire["restored"] == 0);
  // Back to normal: the queue drains into the hot tier again.
  const auto after = tick(0.5, 1000 + 1800000);
  CHECK(after["promotions_paused"] == false);
  CHECK(after["restored"].get<uint64_t>() > 0);
  CHECK(Aether({"verify", store}).exit_code == 0);
}
