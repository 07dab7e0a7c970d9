// The tunable parameters of the memory-dynamics model (README "Memory dynamics"), their
// defaults, valid ranges and presets. Values live in the store's config
// table; absent keys take the default. Stateless; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace aether {

struct ParamSpec {
  const char* key;
  double default_value;
  double min;
  double max;
  const char* help;
};

// Every parameter, in documentation order.
const std::vector<ParamSpec>& AllParams();
const ParamSpec* FindParam(const std::string& key);
// Preset name -> values it sets ("default" sets every default).
const std::map<std::string, std::map<std::string, double>>& Presets();

// The model's parameters, resolved.
struct PolicyParams {
  double alpha, beta, gamma, delta;
  double sigmoid_k;
  double min_temperature, max_temperature, decay_rate, pressure_scale, pressure_queue_depth;
  double sample_rate, max_candidates;
  double importance_decay;
  double restore_concurrency, restore_top_n;
  double backoff_base_ms, backoff_max_ms, max_retries;
  double history_retention_days;
  double tick_seconds;
  double restore_queue_max, hot_low_watermark, idle_descend_hours;
  double ingest_evict;
  double hot_compact_slack, cold_garbage_max;
  double metrics_keep_days;
  // aether check's thresholds (0, or 1 for a fraction: not checked)
  double check_window_s, check_pending_age_s, check_garbage_fraction, check_restore_queue_depth, check_search_p99_ms,
      check_failed_migrations, check_damage_found;
  // Pressure levels (policy/pressure.h): each reading's warning, critical and
  // emergency thresholds (0: not judged), and the emergency's descend share.
  double pressure_hot_warning, pressure_hot_critical, pressure_hot_emergency;
  double pressure_memory_warning, pressure_memory_critical, pressure_memory_emergency;
  double pressure_disk_warning, pressure_disk_critical, pressure_disk_emergency;
  double pressure_disk_bytes_warning, pressure_disk_bytes_critical, pressure_disk_bytes_emergency;
  double pressure_emergency_descend;
  double check_pressure_level;
  // Age policies and the capacity's enforcement (maintain).
  double max_hot_idle_hours, max_hot_age_hours, enforce_capacity;
  // Placement by access pattern (policy/placement.h).
  double pattern_placement, min_confidence, pattern_lead_seconds, burst_idle_minutes, decay_half_lives;
  // The warm tier's capacity in bytes (0: no warm tier for the policies).
  double warm_capacity_bytes;
};
// Builds PolicyParams from key -> value (missing keys: defaults).
PolicyParams ResolveParams(const std::map<std::string, double>& values);

// Feedback EMA: imp = 0.8 * imp + 0.2 * reward, clamped to [0, 1].
double FeedbackImportance(double importance, double reward);
// sigmoid(x, k) = 1 / (1 + exp(-k x)).
double Sigmoid(double x, double k);
// One tick of temperature: decay, floor, pressure scale, cap.
// `ticks` tick_seconds intervals of it (a fraction or several: the time since
// the last tick), so the model does not depend on how often it runs.
double NextTemperature(double t, bool pressure, const PolicyParams& p, double ticks = 1);

}  // namespace aether
