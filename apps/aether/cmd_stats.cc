// aether stats STORE [--format table|json|jsonl|prometheus] [--output FILE] [--since WHEN]
// STORE may be s3://BUCKET/PREFIX: the newest snapshot, and the bucket cache's totals
// (a store whose cold tier is in a bucket shows its own cache's).
#include <fmt/format.h>

#include <numeric>

#include "aether/env.h"
#include "aether/replica.h"
#include "aether/store.h"
#include "cli.h"
#include "metrics_view.h"

namespace aether::cli {
namespace {

// One line of output: key, value, and its Prometheus form.
struct StatsMetric {
  const char* key;
  double value;
  const char* prom_name;  // nullptr: not exported
  const char* prom_labels;
  const char* help;
  bool counter = false;  // a running total (Prometheus type counter), else a gauge
};

std::vector<StatsMetric> Metrics(const StoreStats& s) {
  double ratio = s.cold_bytes > 0 ? double(s.cold_raw_bytes) / double(s.cold_bytes) : 0;
  return {
      {"format_version", double(s.format_version), "aether_format_version", "", "On-disk format version of the store."},
      {"dim", double(s.dim), "aether_dimension", "", "Vector dimension."},
      {"hot_memories", double(s.hot_count), "aether_memories", "tier=\"hot\"", "Memories stored, by tier."},
      {"warm_memories", double(s.warm_count), "aether_memories", "tier=\"warm\"", ""},
      {"cold_memories", double(s.cold_count), "aether_memories", "tier=\"cold\"", ""},
      {"warm_bytes", double(s.warm_bytes), "aether_warm_bytes", "",
       "Bytes of the warm tier's records (row id and float32 vector: 4 x dim + 8 each)."},
      {"warm_capacity_bytes", double(s.warm_capacity_bytes), "aether_warm_capacity_bytes", "",
       "Bytes the warm tier may hold (0: no warm tier for the policies)."},
      {"hot_capacity", double(s.hot_capacity), "aether_hot_capacity", "", "Memories the hot tier may hold."},
      {"pinned_memories", double(s.pinned), "aether_pinned_memories", "",
       "Memories pinned hot (aether pin); no policy descends them."},
      {"hot_slots", double(s.hot_slots), "aether_hot_slots", "", "Slots in the hot slot file, live or free."},
      {"hot_bytes", double(s.hot_bytes), "aether_hot_file_bytes", "", "Size of the hot slot file."},
      {"cold_bytes", double(s.cold_bytes), "aether_cold_file_bytes", "", "Size of all cold shard files."},
      {"cold_raw_bytes", double(s.cold_raw_bytes), "aether_cold_raw_bytes", "",
       "Uncompressed size of the records in the cold shards."},
      {"compression_ratio", ratio, "aether_cold_compression_ratio", "", "cold_raw_bytes / cold_file_bytes."},
      {"cold_garbage_records", double(s.cold_garbage_records), "aether_cold_garbage_records", "",
       "Dead records in cold shards, awaiting compaction."},
      {"cold_garbage_bytes", double(s.cold_garbage_bytes), "aether_cold_garbage_bytes", "",
       "Estimated bytes of dead cold records."},
      {"cold_remote_shards", double(s.cold_remote_shards), "aether_cold_remote_shards", "",
       "Cold shards kept in the store's bucket (init --cold-uri), not on the local disk."},
      {"cold_remote_bytes", double(s.cold_remote_bytes), "aether_cold_remote_bytes", "",
       "Committed bytes of the cold shards kept in the bucket."},
      {"partitions", double(s.partitions), "aether_index_partitions", "",
       "Partitions of the current index generation."},
      {"partition_min", double(s.partition_min), "aether_index_partition_records", "stat=\"min\"",
       "Live records per partition: smallest, median, largest."},
      {"partition_median", double(s.partition_median), "aether_index_partition_records", "stat=\"median\"", ""},
      {"partition_max", double(s.partition_max), "aether_index_partition_records", "stat=\"max\"", ""},
      {"staging_records", double(s.staging_records), "aether_cold_staging_records", "",
       "Live cold records no index covers yet (scanned in full)."},
      {"staging_fraction",
       s.cold_count + s.warm_count ? double(s.staging_records) / double(s.cold_count + s.warm_count) : 0,
       "aether_cold_staging_ratio", "", "Fraction of cold memories in the staging shard."},
      {"garbage_fraction",
       s.cold_garbage_records + (s.cold_count + s.warm_count)
           ? double(s.cold_garbage_records) / double(s.cold_garbage_records + (s.cold_count + s.warm_count))
           : 0,
       "aether_cold_garbage_ratio", "", "Fraction of cold records that are garbage."},
      {"default_nprobe", double(s.default_nprobe), "aether_index_default_nprobe", "",
       "Partitions a search probes by default (the calibrated nprobe when there is one)."},
      {"calibration_target", s.calibration.target, "aether_index_calibration_target", "",
       "Target recall@10 the default nprobe was calibrated for (0: not calibrated)."},
      {"calibrated_recall", s.calibration.recall, "aether_index_calibrated_recall", "",
       "recall@10 at the default nprobe, measured by rebuild-index on held-out stored vectors."},
      {"calibrated_std_error", s.calibration.std_error, "aether_index_calibrated_recall_std_error", "",
       "Standard error of calibrated_recall."},
      {"calibration_queries", double(s.calibration.queries), "aether_index_calibration_queries", "",
       "Held-out stored vectors the calibration measured with."},
      {"last_rebuild_seconds", double(s.last_rebuild_ms) / 1000.0, "aether_index_last_rebuild_timestamp_seconds", "",
       "Unix time of the last rebuild-index (0: never)."},
      {"index_generation", double(s.index_generation), "aether_index_generation", "",
       "Current index generation (0: no index)."},
      {"pending_migrations", double(s.pending_migrations), "aether_pending_migrations", "",
       "Migrations in the journal."},
      {"oldest_pending_seconds", double(s.oldest_pending_ms) / 1000.0,
       "aether_pending_migration_oldest_timestamp_seconds", "",
       "Unix time the oldest journaled migration was made (0: none pending)."},
      {"restore_queue_depth", double(s.restore_queue_depth), "aether_restore_queue_depth", "",
       "Entries in the restore queue."},
      {"temperature", s.temperature, "aether_temperature", "", "Scheduler temperature."},
      {"pressure", double(s.pressure), "aether_pressure_level", "",
       "Pressure level: 0 normal, 1 warning, 2 critical, 3 emergency (pressure_level, pressure_why say why)."},
      {"memory_available", s.memory_available, "aether_memory_available_ratio", "",
       "Share of memory available (the machine's, or the memory cgroup's when smaller), as pressure judges it "
       "(-1: unknown)."},
      {"disk_free", s.disk_free, "aether_disk_free_ratio", "",
       "Free share of the store's file system, as pressure judges it (-1: unknown)."},
      {"disk_free_bytes", s.disk_free_bytes, "aether_disk_free_bytes", "",
       "Free bytes of the store's file system, as pressure judges it (-1: unknown)."},
  };
}

std::string Ms(double ms) { return ms < 0 ? "-" : fmt::format("{:.3f}", ms); }

std::string Window(int64_t since_ms) {
  return since_ms == 0 ? "all" : fmt::format("since {} ms (whole minutes)", since_ms);
}

// The commands' metrics (aether/metrics.h) in the table form: counters,
// then one row per command (a search per tiers) with its latency quantiles.
std::string MetricsTable(const MetricsView& v) {
  std::string out = fmt::format("\n{:<22} {}\n", "window", Window(v.since_ms()));
  const double rate = v.HotHitRate();
  out += fmt::format("{:<22} {}\n", "hot_hit_rate", rate < 0 ? "-" : fmt::format("{:.4f}", rate));
  for (const MetricSample& s : v.samples())
    if (s.name != "aether_commands_total" && s.name.rfind("aether_command_duration_seconds", 0) != 0)
      out += fmt::format("{:<22} {}\n", s.name + (s.labels.empty() ? "" : "{" + s.labels + "}"), s.value);
  if (v.commands().empty()) return out;
  out += fmt::format("\n{:<22} {:>8} {:>8} {:>6} {:>10} {:>10} {:>10}\n", "command", "runs", "failed", "busy", "p50_ms",
                     "p95_ms", "p99_ms");
  auto row = [&](const CommandSummary& c, const std::string& name, bool counts) {
    uint64_t failed = 0;
    for (const auto& [code, n] : c.exit_codes)
      if (code != 0 && code != 1 && code != 3) failed += n;  // 1: a negative answer, 3: partial
    const uint64_t busy = c.exit_codes.count(75) ? c.exit_codes.at(75) : 0;
    out += fmt::format("{:<22} {:>8} {:>8} {:>6} {:>10} {:>10} {:>10}\n", name, counts ? std::to_string(c.runs) : "-",
                       counts ? std::to_string(failed) : "-", counts ? std::to_string(busy) : "-",
                       Ms(c.QuantileMs(0.5)), Ms(c.QuantileMs(0.95)), Ms(c.QuantileMs(0.99)));
  };
  for (const auto& [key, unused] : v.commands()) {
    if (!key.second.empty()) continue;  // a search's tiers: under its total
    row(v.Command(key.first), key.first, true);
    for (const auto& [k, t] : v.commands())
      if (k.first == key.first && !k.second.empty()) row(t, "  --tier " + k.second, false);
  }
  return out;
}

nlohmann::json LabelsJson(const std::string& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : ParseMetricLabels(labels)) j[k] = v;
  return j;
}

nlohmann::json MetricsJson(const MetricsView& v) {
  nlohmann::json j = {{"since_ms", v.since_ms()}};
  const double rate = v.HotHitRate();
  j["hot_hit_rate"] = rate < 0 ? nlohmann::json(nullptr) : nlohmann::json(rate);
  nlohmann::json counters = nlohmann::json::array();
  for (const MetricSample& s : v.samples())
    if (s.name.rfind("aether_command_duration_seconds", 0) != 0)
      counters.push_back({{"name", s.name}, {"labels", LabelsJson(s.labels)}, {"value", s.value}});
  j["counters"] = counters;
  nlohmann::json commands = nlohmann::json::array();
  auto quantile = [](const CommandSummary& c, double q) {
    const double ms = c.QuantileMs(q);
    return ms < 0 ? nlohmann::json(nullptr) : nlohmann::json(ms);
  };
  for (const auto& [key, c] : v.commands()) {
    if (!key.second.empty()) continue;
    const CommandSummary all = v.Command(key.first);
    nlohmann::json codes = nlohmann::json::object();
    for (const auto& [code, n] : all.exit_codes) codes[std::to_string(code)] = n;
    nlohmann::json row = {{"command", key.first},          {"runs", all.runs},
                          {"exit_codes", codes},           {"p50_ms", quantile(all, 0.5)},
                          {"p95_ms", quantile(all, 0.95)}, {"p99_ms", quantile(all, 0.99)}};
    nlohmann::json tiers = nlohmann::json::object();
    for (const auto& [k, t] : v.commands())
      if (k.first == key.first && !k.second.empty())
        tiers[k.second] = {{"count", std::accumulate(t.buckets.begin(), t.buckets.end(), uint64_t(0))},
                           {"p50_ms", quantile(t, 0.5)},
                           {"p95_ms", quantile(t, 0.95)},
                           {"p99_ms", quantile(t, 0.99)}};
    if (!tiers.empty()) row["tiers"] = tiers;
    commands.push_back(row);
  }
  j["commands"] = commands;
  return j;
}

// The bucket cache's running totals, over every process that read the
// bucket through it (this one's are added when it closes the store): a
// bucket search's cache, or a store's cold-cache/ (its cold tier's).
void AddBucketCacheMetrics(const std::string& cache_dir, std::vector<StatsMetric>* metrics) {
  // Totals that cannot be read are left out, not shown as zeros (a
  // scraper would take zeros for a counter reset).
  auto read = ReadBucketCacheTotals(cache_dir);
  if (!read.ok()) {
    Warn(read.status().message() + " (the cache's totals are left out)");
    return;
  }
  const BucketCacheTotals& t = *read;
  const double shards = double(t.shards_cached) + double(t.shards_fetched);
  const double hit_rate = shards > 0 ? double(t.shards_cached) / shards : 0;
  metrics->insert(
      metrics->end(),
      {{"cache_since_seconds", double(t.since_ms / 1000), "aether_bucket_cache_since_timestamp_seconds", "",
        "When the bucket cache's totals began, seconds since the epoch (0: none yet)."},
       {"cache_opens", double(t.opens), "aether_bucket_cache_opens_total", "",
        "Opens of the bucket's store through this cache (commands, and their opens again).", true},
       {"cache_shards_cached", double(t.shards_cached), "aether_bucket_cache_shards_total", "found=\"cache\"",
        "Cold shards opened, by where a command first found each.", true},
       {"cache_shards_fetched", double(t.shards_fetched), "aether_bucket_cache_shards_total", "found=\"bucket\"", "",
        true},
       {"cache_hit_rate", hit_rate, "aether_bucket_cache_hit_ratio", "",
        "Of the cold shards opened, the share found in the cache (0: none opened)."},
       {"cache_bytes_fetched", double(t.bytes_fetched), "aether_bucket_cache_fetched_bytes_total", "",
        "Bytes of cold shards fetched from the bucket.", true},
       {"cache_requests", double(t.requests), "aether_bucket_cache_requests_total", "",
        "GET requests for cold shards, retries included.", true},
       {"cache_evicted", double(t.evicted), "aether_bucket_cache_evicted_total", "",
        "Objects removed to keep the cache under its limit (--cache-bytes; a store's cold_cache_bytes).", true}});
}

}  // namespace

Runner SetupStats(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format = "table";
    uint64_t recall = 0;
    uint64_t seed = 1;
    std::string output;
    std::string since = "all";
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddBucketArgs(app, &a->store);
  // stats reads the cache of the searches: it trims it only when told to
  // what size (a scrape must not shrink the searches' cache to a default).
  CLI::Option* cache_bytes = app->get_option("--cache-bytes");
  cache_bytes->description(
      "STORE s3://BUCKET/PREFIX: trim the cache to this size (stats trims none unless told; shards --recall "
      "fetches stay)");
  AddFormatOption(app, &a->format, "table", {"prometheus"});
  app->add_option("--recall", a->recall,
                  "Also measure recall@10 of the index on N sampled cold vectors (each held out of its own results)");
  app->add_option("--seed", a->seed, "Seed for --recall sampling")->default_val(1);
  app->add_option("--output", a->output,
                  "Write to FILE atomically (temp file + rename), e.g. a node_exporter textfile");
  app->add_option("--since", a->since,
                  "Count the commands' metrics from this time on: all (default), N followed by s, m, h or d "
                  "(back from now), or ms since the epoch; minutes for the last day, hours before it");
  app->footer("Example: aether stats ./mem --format prometheus > /var/lib/node_exporter/aether.prom");
  return [a, cache_bytes](const StoreOpener& opener) -> int {
    if (a->store.store.rfind("s3://", 0) != 0 && (!a->store.cache.dir.empty() || cache_bytes->count() > 0))
      return Fail(
          Status::InvalidArgument("--cache-dir and --cache-bytes are for a store in a bucket (STORE s3://...)"));
    if (cache_bytes->count() == 0) a->store.cache.max_bytes = UINT64_MAX;
    int64_t since_ms = 0;
    if (!ParseSince(a->since, Env::Default()->NowMs(), &since_ms))
      return Fail(Status::InvalidArgument("--since " + a->since +
                                          ": expected all, N followed by s, m, h or d, or ms since the epoch"));
    if (since_ms != 0 && a->format == "prometheus")
      return Fail(
          Status::InvalidArgument("--since does not apply to --format prometheus: its counters are totals "
                                  "(Prometheus takes rates over them)"));
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto stats = (*store)->Stats();
    if (!stats.ok()) return Fail(stats.status());
    auto metrics = Metrics(*stats);
    RecallReport recall;
    if (a->recall > 0) {
      auto r = (*store)->RecallCheck(a->recall, a->seed);
      if (!r.ok()) return Fail(r.status());
      recall = *r;
      metrics.push_back({"recall_at_10", recall.recall, "aether_index_recall_at_10", "",
                         "recall@10 of the indexed cold search at the default nprobe vs an exact cold scan."});
      metrics.push_back({"recall_queries", double(recall.queries), "aether_index_recall_queries", "",
                         "Sampled cold vectors used for recall_at_10."});
    }
    // A search's cache of a bucket's store, or the store's own cold tier's.
    if (a->store.store.rfind("s3://", 0) == 0)
      AddBucketCacheMetrics(g_bucket_cache_dir, &metrics);
    else if (!stats->cold_cache_dir.empty())
      AddBucketCacheMetrics(stats->cold_cache_dir, &metrics);
    auto report = (*store)->Metrics(since_ms);
    if (!report.ok()) return Fail(report.status());
    const MetricsView view(*report);
    std::string out;
    if (a->format == "json" || a->format == "jsonl") {
      nlohmann::json j = {{"metric", MetricName(stats->metric)}, {"cold_codec", ColdCodecName(stats->codec)}};
      if (!stats->cold_uri.empty()) j["cold_uri"] = stats->cold_uri;
      for (const auto& m : metrics) {
        if (m.value >= 0 && m.value == double(uint64_t(m.value)))
          j[m.key] = uint64_t(m.value);
        else
          j[m.key] = m.value;
      }
      j["pressure_level"] = stats->pressure_level;
      j["pressure_why"] = stats->pressure_why;
      j["metrics"] = MetricsJson(view);
      out = JsonText(j) + "\n";
    } else if (a->format == "prometheus") {
      for (const auto& m : metrics) {
        if (*m.help)
          out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.prom_name, m.help, m.prom_name,
                             m.counter ? "counter" : "gauge");
        if (*m.prom_labels)
          out += fmt::format("{}{{{}}} {}\n", m.prom_name, m.prom_labels, m.value);
        else
          out += fmt::format("{} {}\n", m.prom_name, m.value);
      }
      out += view.Prometheus();
    } else {
      out += fmt::format("{:<22} {}\n", "metric", MetricName(stats->metric));
      out += fmt::format("{:<22} {}\n", "cold_codec", ColdCodecName(stats->codec));
      if (!stats->cold_uri.empty()) out += fmt::format("{:<22} {}\n", "cold_uri", stats->cold_uri);
      for (const auto& m : metrics) out += fmt::format("{:<22} {}\n", m.key, m.value);
      out += fmt::format("{:<22} {}\n", "pressure_level", stats->pressure_level);
      if (!stats->pressure_why.empty()) out += fmt::format("{:<22} {}\n", "pressure_why", stats->pressure_why);
      out += MetricsTable(view);
    }
    if (a->output.empty()) {
      fmt::print("{}", out);
      return kExitOk;
    }
    // A scraper never reads a half-written file, and no link planted at a
    // predictable temporary name is followed (env.h).
    Status w = WriteFileAtomically(Env::Default(), a->output, out);
    return w.ok() ? kExitOk : Fail(w);
  };
}

}  // namespace aether::cli
