// Pressure levels (README "Pressure levels"): normal, warning, critical and
// emergency, judged from five readings against thresholds in the store's
// config: the hot tier's fill, the system's available memory, the free
// space of the store's file system (a share and bytes) and the restore queue. The level is the
// highest any reading reaches; each reading that reaches it is a cause.
// Each level has a response (maintain, ingest): warning scales the
// temperature by pressure_scale; critical also places new memories cold and
// promotes nothing; emergency also descends a share of the hot tier each
// tick. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/params.h"

namespace aether {

enum class PressureLevel { kNormal = 0, kWarning = 1, kCritical = 2, kEmergency = 3 };

const char* PressureLevelName(PressureLevel level);

struct PressureReadings {
  uint64_t hot_memories = 0, hot_capacity = 0;
  std::optional<double> memory_available;  // MemAvailable / MemTotal; unset: unknown, not judged
  std::optional<double> disk_free;         // free share of the store's file system; unset: unknown
  std::optional<double> disk_free_bytes;   // its free bytes; unset: unknown
  uint64_t restore_queue = 0;
  // hot_memories / hot_capacity: 0 for an empty tier, +infinity for a
  // memory held with no capacity.
  double HotFill() const;
};

// One reading at the level it reaches, against that level's threshold.
struct PressureCause {
  std::string reading;  // hot_fill, memory_available, disk_free, disk_free_bytes, restore_queue
  PressureLevel level = PressureLevel::kNormal;
  double value = 0, threshold = 0;
  std::string Describe() const;  // e.g. "disk_free 0.031 < 0.05 (critical)"
};

struct PressureReport {
  PressureLevel level = PressureLevel::kNormal;
  PressureReadings readings;
  std::vector<PressureCause> causes;  // the readings at `level` (none when normal)
  // The causes, "; "-joined ("" when normal).
  std::string Why() const;
};

// The level the readings reach under p's pressure_* thresholds (a threshold
// of 0 is not judged; the restore queue is at most a warning, at
// pressure_queue_depth: a critical level would pause the promotions that
// drain it).
PressureReport JudgePressure(const PressureReadings& r, const PolicyParams& p);

}  // namespace aether
