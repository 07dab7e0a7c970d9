// aether stats STORE [--format table|json|jsonl|prometheus] [--output FILE]
#include <fmt/format.h>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"

namespace aether::cli {
namespace {

// One line of output: key, value, and its Prometheus form.
struct Metric {
  const char* key;
  double value;
  const char* prom_name;  // nullptr: not exported
  const char* prom_labels;
  const char* help;
};

std::vector<Metric> Metrics(const StoreStats& s) {
  double ratio = s.cold_bytes > 0 ? double(s.cold_raw_bytes) / double(s.cold_bytes) : 0;
  return {
      {"format_version", double(s.format_version), "aether_format_version", "", "On-disk format version of the store."},
      {"dim", double(s.dim), "aether_dimension", "", "Vector dimension."},
      {"hot_memories", double(s.hot_count), "aether_memories", "tier=\"hot\"", "Memories stored, by tier."},
      {"cold_memories", double(s.cold_count), "aether_memories", "tier=\"cold\"", ""},
      {"hot_capacity", double(s.hot_capacity), "aether_hot_capacity", "", "Memories the hot tier may hold."},
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
      {"partitions", double(s.partitions), "aether_index_partitions", "",
       "Partitions of the current index generation."},
      {"partition_min", double(s.partition_min), "aether_index_partition_records", "stat=\"min\"",
       "Live records per partition: smallest, median, largest."},
      {"partition_median", double(s.partition_median), "aether_index_partition_records", "stat=\"median\"", ""},
      {"partition_max", double(s.partition_max), "aether_index_partition_records", "stat=\"max\"", ""},
      {"staging_records", double(s.staging_records), "aether_cold_staging_records", "",
       "Live cold records no index covers yet (scanned in full)."},
      {"staging_fraction", s.cold_count ? double(s.staging_records) / double(s.cold_count) : 0,
       "aether_cold_staging_ratio", "", "Fraction of cold memories in the staging shard."},
      {"garbage_fraction",
       s.cold_garbage_records + s.cold_count
           ? double(s.cold_garbage_records) / double(s.cold_garbage_records + s.cold_count)
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
      {"restore_queue_depth", double(s.restore_queue_depth), "aether_restore_queue_depth", "",
       "Entries in the restore queue."},
      {"temperature", s.temperature, "aether_temperature", "", "Scheduler temperature."},
  };
}

}  // namespace

Runner SetupStats(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format = "table";
    uint64_t recall = 0;
    uint64_t seed = 1;
    std::string output;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddFormatOption(app, &a->format, "table", {"prometheus"});
  app->add_option("--recall", a->recall, "Also measure recall@10 of the index on N sampled cold vectors");
  app->add_option("--seed", a->seed, "Seed for --recall sampling")->default_val(1);
  app->add_option("--output", a->output,
                  "Write to FILE atomically (temp file + rename), e.g. a node_exporter textfile");
  app->footer("Example: aether stats ./mem --format prometheus > /var/lib/node_exporter/aether.prom");
  return [a](const StoreOpener& opener) -> int {
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
    std::string out;
    if (a->format == "json" || a->format == "jsonl") {
      nlohmann::json j = {{"metric", MetricName(stats->metric)}, {"cold_codec", ColdCodecName(stats->codec)}};
      for (const auto& m : metrics) {
        if (m.value >= 0 && m.value == double(uint64_t(m.value)))
          j[m.key] = uint64_t(m.value);
        else
          j[m.key] = m.value;
      }
      out = j.dump() + "\n";
    } else if (a->format == "prometheus") {
      for (const auto& m : metrics) {
        if (*m.help) out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", m.prom_name, m.help, m.prom_name);
        if (*m.prom_labels)
          out += fmt::format("{}{{{}}} {}\n", m.prom_name, m.prom_labels, m.value);
        else
          out += fmt::format("{} {}\n", m.prom_name, m.value);
      }
    } else {
      out += fmt::format("{:<22} {}\n", "metric", MetricName(stats->metric));
      out += fmt::format("{:<22} {}\n", "cold_codec", ColdCodecName(stats->codec));
      for (const auto& m : metrics) out += fmt::format("{:<22} {}\n", m.key, m.value);
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
