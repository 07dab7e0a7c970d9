// Pressure levels: every reading at every level's threshold (just inside,
// at, just past), thresholds of 0 not judged, the level as the highest any
// reading reaches and its causes; the AETHER_PRESSURE syntax; and the real
// readings against the system's own numbers.
#include "policy/pressure.h"

#include <doctest/doctest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
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
  r.disk_free_bytes = 1e12;
  return r;
}

// Sets one reading to v.
void Set(PressureReadings* r, const std::string& reading, double v) {
  if (reading == "hot_fill") r->hot_memories = uint64_t(std::llround(v * double(r->hot_capacity)));
  if (reading == "memory_available") r->memory_available = v;
  if (reading == "disk_free") r->disk_free = v;
  if (reading == "disk_free_bytes") r->disk_free_bytes = v;
  if (reading == "restore_queue") r->restore_queue = uint64_t(v);
}

}  // namespace

TEST_CASE("pressure: each reading reaches each level exactly past its threshold, and names itself") {
  // The free-bytes floors are off by default: judged here at 1 GB, 500 MB, 100 MB.
  const std::map<std::string, double> floors = {{"pressure_disk_bytes_warning", 1e9},
                                                {"pressure_disk_bytes_critical", 5e8},
                                                {"pressure_disk_bytes_emergency", 1e8}};
  CHECK(ResolveParams({}).pressure_disk_bytes_critical == 0);
  const PolicyParams p = ResolveParams(floors);
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
      {"disk_free_bytes",
       {p.pressure_disk_bytes_warning, p.pressure_disk_bytes_critical, p.pressure_disk_bytes_emergency},
       true,
       false,
       1},
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
      const char* keys[5][3] = {
          {"pressure_hot_warning", "pressure_hot_critical", "pressure_hot_emergency"},
          {"pressure_memory_warning", "pressure_memory_critical", "pressure_memory_emergency"},
          {"pressure_disk_warning", "pressure_disk_critical", "pressure_disk_emergency"},
          {"pressure_disk_bytes_warning", "pressure_disk_bytes_critical", "pressure_disk_bytes_emergency"},
          {"pressure_queue_depth", "", ""}};
      std::map<std::string, double> values = floors;
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
  r.disk_free_bytes.reset();
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

TEST_CASE("AETHER_PRESSURE: memory=F, disk=F in [0, 1], disk_bytes=N whole, or unknown; anything else refused") {
  env_vars::PressureOverride o;
  REQUIRE(env_vars::ParsePressure("memory=0.5,disk=0.25", &o));
  CHECK(*o.memory == 0.5);
  CHECK(*o.disk == 0.25);
  REQUIRE(env_vars::ParsePressure("disk=unknown", &o));
  CHECK(!o.memory.has_value());
  CHECK(*o.disk == -1.0);
  REQUIRE(env_vars::ParsePressure("memory=0", &o));
  REQUIRE(env_vars::ParsePressure("memory=1", &o));
  REQUIRE(env_vars::ParsePressure("disk_bytes=123456789012,disk=0.5", &o));
  CHECK(*o.disk_bytes == 123456789012.0);
  REQUIRE(env_vars::ParsePressure("disk_bytes=unknown", &o));
  CHECK(*o.disk_bytes == -1.0);
  for (const char* bad :
       {"", "memory", "memory=", "memory=1.5", "memory=-0.1", "memory=nan", "memory=0.5,", ",disk=0.5",
        "memory=0.5,memory=0.4", "cpu=0.5", "memory=0.5;disk=0.5", "disk=0.5x", "disk_bytes=-1", "disk_bytes=1.5",
        "disk_bytes=1e19", "disk_bytes=", "disk_bytes=7,disk_bytes=8"}) {
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
  REQUIRE(real.disk_free_bytes.has_value());
  CHECK(*real.disk_free_bytes == doctest::Approx(double(s.f_bavail) * double(s.f_frsize)).epsilon(0.01));
  REQUIRE(real.memory_available.has_value());
  CHECK(*real.memory_available > 0);
  CHECK(*real.memory_available <= 1);
  setenv("AETHER_PRESSURE", "disk=0.125,memory=unknown", 1);
  const SystemReadings injected = ReadSystem(dir.path());
  CHECK(*injected.disk_free == 0.125);
  CHECK(!injected.memory_available.has_value());
  CHECK(injected.disk_free_bytes.has_value());  // not named: the real one
  setenv("AETHER_PRESSURE", "disk=0.25,disk_bytes=4096", 1);
  CHECK(*ReadSystem(dir.path()).disk_free == 0.25);
  CHECK(*ReadSystem(dir.path()).disk_free_bytes == 4096);
  CHECK(ReadSystem(dir.path()).memory_available.has_value());  // the real one
  if (saved.empty())
    unsetenv("AETHER_PRESSURE");
  else
    setenv("AETHER_PRESSURE", saved.c_str(), 1);
}

TEST_CASE("cgroup memory: the headroom under the tightest limit, v1 and v2, containers, no limit and junk") {
  aether::test::TempDir dir;
  const std::string root = dir / "cg";
  auto put = [&](const std::string& rel, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(root + rel).parent_path());
    aether::test::WriteFile(root + rel, text);
  };
  // v2: (limit - (current - inactive_file)) / limit.
  put("/app/job/memory.max", "1000\n");
  put("/app/job/memory.current", "600\n");
  put("/app/job/memory.stat", "anon 400\nfile 200\ninactive_file 100\nactive_file 100\n");
  CHECK(*CgroupMemoryAvailable("0::/app/job\n", root) == doctest::Approx(0.5));
  CHECK(CgroupMemoryLimit("0::/app/job\n", root) == 1000u);
  // The tightest level wins wherever it is: an ancestor tighter than the
  // leaf, then looser (read after the leaf: not "the last one read").
  put("/app/memory.max", "2000\n");
  put("/app/memory.current", "1900\n");
  put("/memory.max", "max\n");
  CHECK(*CgroupMemoryAvailable("0::/app/job\n", root) == doctest::Approx(0.05));
  CHECK(CgroupMemoryLimit("0::/app/job\n", root) == 1000u);  // the tightest limit, not the tightest headroom
  put("/app/memory.max", "900\n");
  CHECK(CgroupMemoryLimit("0::/app/job\n", root) == 900u);
  put("/app/memory.max", "2000\n");
  put("/app/memory.current", "200\n");
  put("/app/job/memory.current", "1000\n");  // the leaf at its limit, less 100 inactive
  CHECK(*CgroupMemoryAvailable("0::/app/job\n", root) == doctest::Approx(0.1));
  // A level whose usage does not read is skipped (its limit still limits).
  std::filesystem::remove(root + "/app/job/memory.current");
  CHECK(*CgroupMemoryAvailable("0::/app/job\n", root) == doctest::Approx(0.9));
  CHECK(CgroupMemoryLimit("0::/app/job\n", root) == 1000u);
  // No limit anywhere: unset (the machine's share alone is judged).
  put("/app/job/memory.max", "max\n");
  put("/app/memory.max", "max");
  CHECK(!CgroupMemoryAvailable("0::/app/job\n", root).has_value());
  CHECK(!CgroupMemoryLimit("0::/app/job\n", root).has_value());
  // A container: its cgroup's path is not under the mount, whose root is
  // its cgroup. A path above the namespace's root reads nothing, even
  // where a directory of that name exists.
  put("/memory.max", "4000\n");
  put("/memory.current", "1000\n");
  CHECK(*CgroupMemoryAvailable("0::/not/here\n", root) == doctest::Approx(0.75));
  CHECK(CgroupMemoryLimit("0::/not/here\n", root) == 4000u);
  put("/../sibling/memory.max", "10\n");
  put("/../sibling/memory.current", "10\n");
  for (const char* above : {"0::/..\n", "0::/../sibling\n", "0::/a/../../sibling\n"}) {
    CAPTURE(above);
    CHECK(!CgroupMemoryAvailable(above, root).has_value());
    CHECK(!CgroupMemoryLimit(above, root).has_value());
  }
  // Over the limit: 0, never negative; a limit of 0: 0.
  put("/memory.current", "9000\n");
  CHECK(*CgroupMemoryAvailable("0::/\n", root) == 0.0);
  put("/memory.max", "0\n");
  CHECK(*CgroupMemoryAvailable("0::/\n", root) == 0.0);
  CHECK(CgroupMemoryLimit("0::/\n", root) == 0u);
  put("/memory.max", "max\n");
  // v1: each level's limit against its usage (descendants included), less
  // total_inactive_file; "memory" among several controllers on its line.
  put("/memory/a/b/memory.limit_in_bytes", "4096\n");
  put("/memory/a/b/memory.usage_in_bytes", "3072\n");
  put("/memory/a/b/memory.stat", "cache 5\ninactive_file 7\ntotal_inactive_file 1024\n");
  const std::string hybrid = "12:pids:/\n4:cpu,memory:/a/b\n1:name=systemd:/\n0::/\n";
  CHECK(*CgroupMemoryAvailable(hybrid, root) == doctest::Approx(0.5));
  // A parent whose limit its other children use up: its headroom is ours.
  put("/memory/a/memory.limit_in_bytes", "8192\n");
  put("/memory/a/memory.usage_in_bytes", "7168\n");
  CHECK(*CgroupMemoryAvailable(hybrid, root) == doctest::Approx(0.125));
  CHECK(CgroupMemoryLimit(hybrid, root) == 4096u);
  // v1's "unlimited" (2^63 rounded down to a page) is no limit.
  put("/memory/a/memory.limit_in_bytes", "9223372036854771712\n");
  put("/memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
  CHECK(!CgroupMemoryAvailable(hybrid, root).has_value());
  CHECK(!CgroupMemoryLimit(hybrid, root).has_value());
  // Both versions limit: the tighter, whichever it is.
  put("/memory.max", "4000\n");
  put("/memory.current", "3000\n");                    // v2: 0.25
  put("/memory/a/b/memory.limit_in_bytes", "4096\n");  // v1: 0.5
  CHECK(*CgroupMemoryAvailable(hybrid, root) == doctest::Approx(0.25));
  put("/memory.current", "1000\n");  // v2: 0.75
  CHECK(*CgroupMemoryAvailable(hybrid, root) == doctest::Approx(0.5));
  CHECK(CgroupMemoryLimit(hybrid, root) == 4000u);  // v2's 4000 below v1's 4096
  // Junk: unreadable numbers, missing files, malformed lines: unset, no throw.
  put("/memory.max", "lots\n");
  put("/memory/a/b/memory.limit_in_bytes", "-5\n");
  CHECK(!CgroupMemoryAvailable(hybrid, root).has_value());
  CHECK(!CgroupMemoryLimit(hybrid, root).has_value());
  for (const char* text : {"", "\n\n", "garbage", "0:", "0::", "4:memory", "4:memory:", "0::relative/path\n"}) {
    CAPTURE(text);
    CHECK_NOTHROW(CgroupMemoryAvailable(text, root));
    CHECK_NOTHROW(CgroupMemoryLimit(text, root));
  }
  CHECK(!CgroupMemoryAvailable("0::/\n", root + "/absent").has_value());
  // The real system: a share in [0, 1] when a limit applies; the reading
  // pressure judges is no more than the machine's share nor the cgroup's.
  const std::optional<double> real = CgroupMemoryAvailable("0::/\n", "/sys/fs/cgroup");
  CHECK((!real || (*real >= 0 && *real <= 1)));
  // The limit this process has: at most the machine's memory.
  const std::optional<uint64_t> limit = MemoryLimitBytes();
  REQUIRE(limit.has_value());
  CHECK(*limit <= uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)));
  CHECK(*limit > 0);
}
