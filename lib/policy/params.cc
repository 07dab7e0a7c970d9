#include "policy/params.h"

#include <algorithm>
#include <cmath>

namespace aether {

namespace {

// aether check's thresholds (README "Operating aether").
std::vector<ParamSpec> CheckParams() {
  return {
      {"check_window_s", 3600, 1, 1e9,
       "the span of recent history aether check judges (failed migrations, damage, P99) unless --since"},
      {"check_pending_age_s", 600, 0, 1e9,
       "aether check: a journaled migration older than this is a problem (0: not checked)"},
      {"check_garbage_fraction", 0.5, 0, 1,
       "aether check: a share of dead cold records above this is a problem (1: not checked)"},
      {"check_restore_queue_depth", 5000, 0, 1e12,
       "aether check: a restore queue deeper than this is a problem (0: not checked)"},
      {"check_search_p99_ms", 1000, 0, 1e9,
       "aether check: a search P99 over this many ms in the window is a problem (0: not checked)"},
      {"check_failed_migrations", 1, 0, 1e12,
       "aether check: this many failed or rolled-back migrations in the window are a problem (0: not checked)"},
      {"check_pressure_level", 2, 0, 3,
       "aether check: pressure at or above this level (1 warning, 2 critical, 3 emergency) is a problem (0: not "
       "checked)"},
      {"check_damage_found", 1, 0, 1e12,
       "aether check: this many commands that found damage (exit 79) or verify problems in the window are a "
       "problem (0: not checked)"},
  };
}

}  // namespace

const std::vector<ParamSpec>& AllParams() {
  static const std::vector<ParamSpec> specs = [] {
    std::vector<ParamSpec> all = {
        {"alpha", 1.0, 0, 1e6, "eviction score weight of recency (per hour since last access)"},
        {"beta", 1.0, 0, 1e6, "eviction score weight of ln(1 + access count)"},
        {"gamma", 1.0, 0, 1e6, "eviction score weight of importance"},
        {"delta", 0.0, 0, 1e6, "eviction score weight of cold cost"},
        {"sigmoid_k", 1.0, 1e-6, 1e3, "steepness k of the move probability sigmoid(score, k)"},
        {"min_temperature", 0.05, 0, 1, "temperature floor"},
        {"max_temperature", 4.0, 0, 1e3, "temperature cap"},
        {"decay_rate", 0.95, 0, 1, "temperature multiplier per tick_seconds"},
        {"pressure_scale", 1.5, 1, 100, "temperature multiplier per tick_seconds under pressure"},
        {"pressure_queue_depth", 100, 0, 1e12,
         "restore-queue depth at which pressure is a warning (the queue is never more than a warning; 0: not "
         "judged)"},
        {"pressure_hot_warning", 1.0, 0, 1e6,
         "hot tier fill (memories / hot_capacity) above which pressure is a warning (0: not judged)"},
        {"pressure_hot_critical", 1.1, 0, 1e6, "hot tier fill above which pressure is critical (0: not judged)"},
        {"pressure_hot_emergency", 1.5, 0, 1e6, "hot tier fill above which pressure is an emergency (0: not judged)"},
        {"pressure_memory_warning", 0.15, 0, 1,
         "share of the system's memory available (MemAvailable / MemTotal) below which pressure is a warning "
         "(0: not judged)"},
        {"pressure_memory_critical", 0.08, 0, 1,
         "available memory share below which pressure is critical (0: not judged)"},
        {"pressure_memory_emergency", 0.04, 0, 1,
         "available memory share below which pressure is an emergency (0: not judged)"},
        {"pressure_disk_warning", 0.10, 0, 1,
         "free share of the store's file system below which pressure is a warning (0: not judged)"},
        {"pressure_disk_critical", 0.05, 0, 1, "free disk share below which pressure is critical (0: not judged)"},
        {"pressure_disk_emergency", 0.02, 0, 1, "free disk share below which pressure is an emergency (0: not judged)"},
        {"pressure_disk_bytes_warning", 0, 0, 1e18,
         "free bytes of the store's file system below which pressure is a warning, whatever the share (0: not "
         "judged)"},
        {"pressure_disk_bytes_critical", 0, 0, 1e18,
         "free disk bytes below which pressure is critical (0: not judged)"},
        {"pressure_disk_bytes_emergency", 0, 0, 1e18,
         "free disk bytes below which pressure is an emergency (0: not judged)"},
        {"pressure_emergency_descend", 0.1, 0, 1,
         "share of the hot tier maintain descends (lowest eviction scores first) each tick under emergency pressure"},
        {"sample_rate", 0.1, 0, 1, "share of memories sampled as candidates per tick"},
        {"max_candidates", 1000, 0, 1e9, "candidates per tick at most"},
        {"importance_decay", 0.99, 0, 1, "importance multiplier per tick_seconds"},
        {"restore_concurrency", 100, 0, 1e9, "restore-queue entries drained per tick at most"},
        {"restore_top_n", 3, 0, 1e4, "cold results per query a search queues for restore"},
        {"backoff_base_ms", 60000, 1, 1e12, "first restore retry delay"},
        {"backoff_max_ms", 3600000, 1, 1e12, "longest restore retry delay"},
        {"max_retries", 5, 1, 1e6, "failed restore attempts before an entry is dropped"},
        {"hot_capacity", 65536, 0, 1e12, "memories the hot tier may hold"},
        {"hot_capacity_bytes", 0, 0, 1e15,
         "bytes of live hot slots the hot tier may hold (a memory's slot: 4 x dim + 16 bytes; hot.slots also keeps "
         "its header and up to hot_compact_slack free slots); with both set the smaller limit holds (0: no byte "
         "limit)"},
        {"warm_capacity_bytes", 0, 0, 1e15,
         "bytes of warm records the warm tier may hold (a record: 4 x dim + 8 bytes, its row id and float32 "
         "vector); while it is set, maintain's and ingest's demotions go warm, and each maintain tick descends the "
         "lowest eviction scores of the warm tier past it to cold (0: no warm tier for the policies: demotions go "
         "cold and nothing is drained; descend --to warm still places memories there)"},
        {"cold_local_bytes", 1073741824, 0, 1e18,
         "a store whose cold tier is in a bucket (init --cold-uri): committed bytes of cold shards kept on the "
         "local disk; past them each writing command sends the least recently written shards to the bucket "
         "(0: none kept)"},
        {"cold_cache_bytes", 1073741824, 0, 1e18,
         "a store whose cold tier is in a bucket: bytes of shards fetched from it kept in cold-cache/, least "
         "recently opened out first (a search's own shards stay while it runs)"},
        {"history_retention_days", 90, 0, 36500,
         "audit log entries older than this are pruned by maintain and scrub (0: kept forever)"},
        {"tick_seconds", 300, 1, 1e9,
         "the interval decay_rate, importance_decay and pressure_scale are stated for: a tick applies them for "
         "the time since the last tick"},
        {"restore_queue_max", 10000, 0, 1e12,
         "restore-queue entries kept at most; past it the lowest priorities are dropped"},
        {"hot_low_watermark", 0.8, 0, 1,
         "share of the hot capacity under which maintain descends no sampled memory idle less than idle_descend_hours"},
        {"idle_descend_hours", 168, 0, 1e9,
         "idle time past which a sampled hot memory may descend under the watermark"},
        {"max_hot_idle_hours", 0, 0, 1e9,
         "each maintain tick descends the hot memories not accessed for longer than this many hours, pinned ones "
         "excepted (0: off)"},
        {"max_hot_age_hours", 0, 0, 1e9,
         "each maintain tick descends the hot memories made longer ago than this many hours, pinned ones excepted "
         "(0: off)"},
        {"enforce_capacity", 1, 0, 1,
         "1: each maintain tick descends the lowest eviction scores past the hot capacity; 0: it does not (ingest "
         "and ascend still keep within it)"},
        {"pattern_placement", 1, 0, 1,
         "1: maintain places memories by their access pattern first (periodic ones up before their next access, "
         "bursty ones hot through a burst and down after, decaying and cold ones down); 0: by the eviction score "
         "alone"},
        {"min_confidence", 0.7, 0, 1,
         "a pattern read with less confidence than this decides nothing: the eviction score does"},
        {"pattern_lead_seconds", 900, 0, 1e9,
         "a periodic memory is promoted (or kept hot) when its next expected access is at most this far ahead; at "
         "least one maintain interval, or the access comes before the tick that would promote it"},
        {"burst_idle_minutes", 30, 0, 1e9,
         "a bursty memory's burst runs while its last access is at most this old: hot until then, demoted after"},
        {"decay_half_lives", 3, 0, 1e6,
         "a decaying memory is demoted once this many of its half-lives have passed since it was made"},
        {"ingest_evict", 1, 0, 1,
         "1: with the hot tier full, new memories go hot and the lowest eviction scores descend to make room "
         "(in the same migration); 0: new memories go cold"},
        {"hot_compact_slack", 256, 0, 1e12,
         "free hot slots maintain leaves in hot.slots; past this many it compacts the file to its live slots"},
        {"cold_garbage_max", 0.25, 0, 1,
         "share of dead cold records past which maintain rewrites the indexed cold tier without them (1: never)"},
        {"search_timeout_ms", 0, 0, 3600000,
         "a search's deadline in ms when search --timeout is not given: past it no further partition is scanned "
         "and the queries cut short are marked partial (0: none)"},
        {"metrics_keep_days", 90, 2, 36500,
         "metrics are kept per minute for a day, then per hour; past this many days they only count in the totals"},
    };
    for (ParamSpec& p : CheckParams()) all.push_back(p);
    return all;
  }();
  return specs;
}

const ParamSpec* FindParam(const std::string& key) {
  for (const auto& p : AllParams())
    if (key == p.key) return &p;
  return nullptr;
}

const std::map<std::string, std::map<std::string, double>>& Presets() {
  static const std::map<std::string, std::map<std::string, double>> presets = [] {
    std::map<std::string, std::map<std::string, double>> m;
    for (const auto& p : AllParams())
      if (std::string(p.key) != "hot_capacity" && std::string(p.key) != "hot_capacity_bytes" &&
          std::string(p.key) != "warm_capacity_bytes" && std::string(p.key) != "cold_local_bytes" &&
          std::string(p.key) != "cold_cache_bytes")
        m["default"][p.key] = p.default_value;
    // Each preset sets every key that decides whether and how much
    // memories move, so one preset after another leaves no mix.
    m["aggressive"] = {{"sample_rate", 0.5},          {"max_candidates", 10000},  {"sigmoid_k", 2.0},
                       {"decay_rate", 0.9},           {"restore_top_n", 10},      {"restore_concurrency", 1000},
                       {"importance_decay", 0.97},    {"min_temperature", 0.2},   {"max_hot_idle_hours", 72},
                       {"max_hot_age_hours", 0},      {"enforce_capacity", 1},    {"ingest_evict", 1},
                       {"pattern_placement", 1},      {"min_confidence", 0.6},    {"pressure_emergency_descend", 0.2},
                       {"pattern_lead_seconds", 900}, {"burst_idle_minutes", 30}, {"decay_half_lives", 3}};
    m["conservative"] = {
        {"sample_rate", 0.02},         {"max_candidates", 100},    {"sigmoid_k", 0.5},
        {"decay_rate", 0.98},          {"restore_top_n", 1},       {"restore_concurrency", 10},
        {"importance_decay", 0.995},   {"min_temperature", 0.01},  {"max_hot_idle_hours", 0},
        {"max_hot_age_hours", 0},      {"enforce_capacity", 1},    {"ingest_evict", 1},
        {"pattern_placement", 1},      {"min_confidence", 0.85},   {"pressure_emergency_descend", 0.05},
        {"pattern_lead_seconds", 900}, {"burst_idle_minutes", 30}, {"decay_half_lives", 3}};
    // Nothing moves between tiers unless a command names it: no sample, no
    // restores, no capacity or pressure descends, no age policy, no
    // placement by pattern, and ingest places past the capacity cold
    // instead of evicting.
    m["disabled"] = {{"sample_rate", 0},       {"max_candidates", 0},
                     {"restore_top_n", 0},     {"restore_concurrency", 0},
                     {"importance_decay", 1},  {"max_hot_idle_hours", 0},
                     {"max_hot_age_hours", 0}, {"enforce_capacity", 0},
                     {"ingest_evict", 0},      {"pressure_emergency_descend", 0},
                     {"pattern_placement", 0}};
    return m;
  }();
  return presets;
}

PolicyParams ResolveParams(const std::map<std::string, double>& v) {
  auto get = [&](const char* key) {
    auto it = v.find(key);
    return it != v.end() ? it->second : FindParam(key)->default_value;
  };
  return PolicyParams{get("alpha"),
                      get("beta"),
                      get("gamma"),
                      get("delta"),
                      get("sigmoid_k"),
                      get("min_temperature"),
                      get("max_temperature"),
                      get("decay_rate"),
                      get("pressure_scale"),
                      get("pressure_queue_depth"),
                      get("sample_rate"),
                      get("max_candidates"),
                      get("importance_decay"),
                      get("restore_concurrency"),
                      get("restore_top_n"),
                      get("backoff_base_ms"),
                      get("backoff_max_ms"),
                      get("max_retries"),
                      get("history_retention_days"),
                      get("tick_seconds"),
                      get("restore_queue_max"),
                      get("hot_low_watermark"),
                      get("idle_descend_hours"),
                      get("ingest_evict"),
                      get("hot_compact_slack"),
                      get("cold_garbage_max"),
                      get("metrics_keep_days"),
                      get("check_window_s"),
                      get("check_pending_age_s"),
                      get("check_garbage_fraction"),
                      get("check_restore_queue_depth"),
                      get("check_search_p99_ms"),
                      get("check_failed_migrations"),
                      get("check_damage_found"),
                      get("pressure_hot_warning"),
                      get("pressure_hot_critical"),
                      get("pressure_hot_emergency"),
                      get("pressure_memory_warning"),
                      get("pressure_memory_critical"),
                      get("pressure_memory_emergency"),
                      get("pressure_disk_warning"),
                      get("pressure_disk_critical"),
                      get("pressure_disk_emergency"),
                      get("pressure_disk_bytes_warning"),
                      get("pressure_disk_bytes_critical"),
                      get("pressure_disk_bytes_emergency"),
                      get("pressure_emergency_descend"),
                      get("check_pressure_level"),
                      get("max_hot_idle_hours"),
                      get("max_hot_age_hours"),
                      get("enforce_capacity"),
                      get("pattern_placement"),
                      get("min_confidence"),
                      get("pattern_lead_seconds"),
                      get("burst_idle_minutes"),
                      get("decay_half_lives"),
                      get("warm_capacity_bytes")};
}

double FeedbackImportance(double importance, double reward) {
  return std::clamp(0.8 * importance + 0.2 * reward, 0.0, 1.0);
}

double Sigmoid(double x, double k) { return 1.0 / (1.0 + std::exp(-k * x)); }

double NextTemperature(double t, bool pressure, const PolicyParams& p, double ticks) {
  t = std::max(p.min_temperature, t * std::pow(p.decay_rate, ticks));
  if (pressure) t *= std::pow(p.pressure_scale, ticks);
  return std::min(p.max_temperature, t);
}

}  // namespace aether
