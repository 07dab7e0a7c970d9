#include "policy/pressure.h"

#include <fmt/format.h>

#include <limits>

namespace aether {

const char* PressureLevelName(PressureLevel level) {
  switch (level) {
    case PressureLevel::kNormal:
      return "normal";
    case PressureLevel::kWarning:
      return "warning";
    case PressureLevel::kCritical:
      return "critical";
    case PressureLevel::kEmergency:
      return "emergency";
  }
  return "unknown";
}

double PressureReadings::HotFill() const {
  if (hot_capacity > 0) return double(hot_memories) / double(hot_capacity);
  return hot_memories > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

std::string PressureCause::Describe() const {
  const bool below = reading == "memory_available" || reading == "disk_free" || reading == "disk_free_bytes",
             count = reading == "restore_queue" || reading == "disk_free_bytes";
  return fmt::format("{} {} {} {} ({})", reading, count ? fmt::format("{:.0f}", value) : fmt::format("{:.6g}", value),
                     below ? "<" : (count ? ">=" : ">"),
                     count ? fmt::format("{:.0f}", threshold) : fmt::format("{:.6g}", threshold),
                     PressureLevelName(level));
}

std::string PressureReport::Why() const {
  std::string out;
  for (const PressureCause& c : causes) out += (out.empty() ? "" : "; ") + c.Describe();
  return out;
}

PressureReport JudgePressure(const PressureReadings& r, const PolicyParams& p) {
  PressureReport rep;
  rep.readings = r;
  std::vector<PressureCause> all;  // each reading at the highest level it reaches
  auto judge = [&](const char* reading, double value, const double(&thresholds)[3], bool below) {
    for (int l = 2; l >= 0; --l) {
      const double t = thresholds[l];
      if (t <= 0) continue;  // not judged
      if (below ? value < t : (std::string(reading) == "hot_fill" ? value > t : value >= t)) {
        all.push_back({reading, PressureLevel(l + 1), value, t});
        return;
      }
    }
  };
  judge("hot_fill", r.HotFill(), {p.pressure_hot_warning, p.pressure_hot_critical, p.pressure_hot_emergency}, false);
  if (r.memory_available)
    judge("memory_available", *r.memory_available,
          {p.pressure_memory_warning, p.pressure_memory_critical, p.pressure_memory_emergency}, true);
  if (r.disk_free)
    judge("disk_free", *r.disk_free, {p.pressure_disk_warning, p.pressure_disk_critical, p.pressure_disk_emergency},
          true);
  if (r.disk_free_bytes)
    judge("disk_free_bytes", *r.disk_free_bytes,
          {p.pressure_disk_bytes_warning, p.pressure_disk_bytes_critical, p.pressure_disk_bytes_emergency}, true);
  // The queue is at most a warning: a critical level pauses the promotions
  // that drain it.
  judge("restore_queue", double(r.restore_queue), {p.pressure_queue_depth, 0, 0}, false);
  for (const PressureCause& c : all) rep.level = std::max(rep.level, c.level);
  for (PressureCause& c : all)
    if (c.level == rep.level) rep.causes.push_back(std::move(c));
  return rep;
}

}  // namespace aether
