// Pressure levels: every reading at every level's threshold (just inside,
// at, just past), thresholds of 0 not judged, the level as the highest any
// reading reaches and its causes; the AETHER_PRESSURE syntax; and the real
// readings against the system's own numbers.
#include "policy/pressure.h"

#include <doctest/doctest.h>
#include <sys/statvfs.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "env/env_vars.h"
#include "env/system_readings.h"
#include "test_util.h"

using namespace aether;

namespace {

// A reading with nothing under pressure: an empty hot tier, ample memory
// and disk, an empty queue.
PressureReadings Calm() {
  PressureReadings r;
  r.hot_capacity = 1000;
  r.memory_available = 0.9;
  r.disk_free = 0.9;
  return r;
}

// Sets one reading to v.
void Set(PressureReadings* r, const std::string& reading, double v) {
  if (reading == "hot_fill") r->hot_memories = uint64_t(std::llround(v * double(r->hot_capacity)));
  if (reading == "memory_available") r->memory_available = v;
  if (reading == "disk_free") r->disk_free = v;
  if (reading == "restore_queue") r->restore_queue = uint64_t(v);
}

}  // namespace

TEST_CASE("pressure: each reading reaches each level exactly past its threshold, and names itself") {
  const PolicyParams p = ResolveParams({});
  CHECK(JudgePressure(Calm(), p).level == PressureLevel::kNormal);
  CHECK(JudgePressure(Calm(), p).Why().empty());
  struct Case {
    const char* reading;
    double thresholds[3];
    bool below;   // pressure when the value falls below the threshold
    bool strict;  // above-thresholds: past it (>) rather than at it (>=)
    double step;
  };
  const Case cases[] = {
      {"hot_fill", {p.pressure_hot_warning, p.pressure_hot_critical, p.pressure_hot_emergency}, false, true, 0.001},
      {"memory_available",
       {p.pressure_memory_warning, p.pressure_memory_critical, p.pressure_memory_emergency},
       true,
       false,
       0.001},
      {"disk_free", {p.pressure_disk_warning, p.pressure_disk_critical, p.pressure_disk_emergency}, true, false, 0.001},
      {"restore_queue", {p.pressure_queue_depth, 0, 0}, false, false, 1},
  };
  for (const Case& c : cases)
    for (int l = 0; l < 3; ++l) {
      if (c.thresholds[l] <= 0) continue;
      CAPTURE(c.reading);
      CAPTURE(l);
      const double t = c.thresholds[l];
      const PressureLevel below_level = PressureLevel(l), at_level = PressureLevel(l + 1);
      PressureReadings inside = Calm(), at = Calm(), past = Calm();
      Set(&inside, c.reading, c.below ? t + c.step : t - c.step);
      Set(&at, c.reading, t);
      Set(&past, c.reading, c.below ? t - c.step : t + c.step);
      CHECK(JudgePressure(inside, p).level == below_level);
      CHECK(JudgePressure(at, p).level == (c.below || c.strict ? below_level : at_level));
      const PressureReport r = JudgePressure(past, p);
      CHECK(r.level == at_level);
      REQUIRE(r.causes.size() == 1);
      CHECK(r.causes[0].reading == c.reading);
      CHECK(r.causes[0].threshold == t);
      CHECK(r.Why().find(c.reading) == 0);
      CHECK(r.Why().find(PressureLevelName(at_level)) != std::string::npos);
      // A threshold of 0 is not judged: the reading falls to the level below.
      const char* keys[4][3] = {{"pressure_hot_warning", "pressure_hot_critical", "pressure_hot_emergency"},
                                {"pressure_memory_warning", "pressure_memory_critical", "pressure_memory_emergency"},
                                {"pressure_disk_warning", "pressure_disk_critical", "pressure_disk_emergency"},
                                {"pressure_queue_depth", "", ""}};
      std::map<std::string, double> values;
      values[keys[&c - cases][l]] = 0;
      const PolicyParams off = ResolveParams(values);
      CHECK(JudgePressure(past, off).level < at_level);
    }
}

TEST_CASE("pressure: the level is the highest any reading reaches; every reading at it is a cause") {
  const PolicyParams p = ResolveParams({});
  PressureReadings r = Calm();
  r.memory_available = 0.10;  // warning
  r.disk_free = 0.01;         // emergency
  r.restore_queue = 20000;    // a warning (the queue is never more)
  PressureReport rep = JudgePressure(r, p);
  CHECK(rep.level == PressureLevel::kEmergency);
  REQUIRE(rep.causes.size() == 1);
  CHECK(rep.causes[0].reading == "disk_free");
  r.memory_available = 0.01;  // emergency too
  rep = JudgePressure(r, p);
  REQUIRE(rep.causes.size() == 2);
  CHECK(rep.Why() == "memory_available 0.01 < 0.04 (emergency); disk_free 0.01 < 0.02 (emergency)");
  // Unknown readings are not judged.
  r.memory_available.reset();
  r.disk_free.reset();
  CHECK(JudgePressure(r, p).level == PressureLevel::kWarning);
  CHECK(JudgePressure(r, p).Why() == "restore_queue 20000 >= 100 (warning)");
  // A hot tier with no capacity: empty is calm, one memory is past any fill.
  PressureReadings none = Calm();
  none.hot_capacity = 0;
  CHECK(JudgePressure(none, p).level == PressureLevel::kNormal);
  none.hot_memories = 1;
  CHECK(none.HotFill() == std::numeric_limits<double>::infinity());
  CHECK(JudgePressure(none, p).level == PressureLevel::kEmergency);
}

TEST_CASE("AETHER_PRESSURE: memory=F and/or disk=F in [0, 1] or unknown; anything else refused") {
  env_vars::PressureOverride o;
  REQUIRE(env_vars::ParsePressure("memory=0.5,disk=0.25", &o));
  CHECK(*o.memory == 0.5);
  CHECK(*o.disk == 0.25);
  REQUIRE(env_vars::ParsePressure("disk=unknown", &o));
  CHECK(!o.memory.has_value());
  CHECK(*o.disk == -1.0);
  REQUIRE(env_vars::ParsePressure("memory=0", &o));
  REQUIRE(env_vars::ParsePressure("memory=1", &o));
  for (const char* bad : {"", "memory", "memory=", "memory=1.5", "memory=-0.1", "memory=nan", "memory=0.5,",
                          ",disk=0.5", "memory=0.5,memory=0.4", "cpu=0.5", "memory=0.5;disk=0.5", "disk=0.5x"}) {
    CAPTURE(bad);
    CHECK(!env_vars::ParsePressure(bad, &o));
  }
}

TEST_CASE("the system's readings: the disk share is statvfs's, memory a share in (0, 1]; injection replaces them") {
  aether::test::TempDir dir;
  const std::string saved = std::getenv("AETHER_PRESSURE") ? std::getenv("AETHER_PRESSURE") : "";
  unsetenv("AETHER_PRESSURE");
  struct statvfs s;
  REQUIRE(statvfs(dir.path().c_str(), &s) == 0);
  const SystemReadings real = ReadSystem(dir.path());
  REQUIRE(real.disk_free.has_value());
  CHECK(*real.disk_free == doctest::Approx(double(s.f_bavail) / double(s.f_blocks)).epsilon(0.01));
  REQUIRE(real.memory_available.has_value());
  CHECK(*real.memory_available > 0);
  CHECK(*real.memory_available <= 1);
  setenv("AETHER_PRESSURE", "disk=0.125,memory=unknown", 1);
  const SystemReadings injected = ReadSystem(dir.path());
  CHECK(*injected.disk_free == 0.125);
  CHECK(!injected.memory_available.has_value());
  setenv("AETHER_PRESSURE", "disk=0.25", 1);
  CHECK(*ReadSystem(dir.path()).disk_free == 0.25);
  CHECK(ReadSystem(dir.path()).memory_available.has_value());  // the real one
  if (saved.empty())
    unsetenv("AETHER_PRESSURE");
  else
    setenv("AETHER_PRESSURE", saved.c_str(), 1);
}
