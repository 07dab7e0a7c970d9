// What `stats` and `check` make of the metrics commands recorded
// (aether/metrics.h): per command (and a search's tiers) its runs, exit
// codes and latency quantiles; counter sums; the hot hit rate; the
// Prometheus text of the counters and histograms.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "aether/metrics.h"
#include "aether/status.h"

namespace aether::cli {

struct CommandSummary {
  std::string command, tiers;  // tiers: a search's --tier (empty for other commands)
  uint64_t runs = 0;
  std::map<int, uint64_t> exit_codes;
  std::vector<uint64_t> buckets;  // LatencyBucketsUs order, then +Inf
  int64_t sum_us = 0;
  // In ms; -1 with no observation.
  double QuantileMs(double q) const;
};

class MetricsView {
 public:
  explicit MetricsView(const MetricsReport& report);
  int64_t since_ms() const { return since_ms_; }
  // The sum of `name`'s samples whose labels include each of `having`
  // (k="v" strings).
  int64_t Sum(const std::string& name, const std::vector<std::string>& having = {}) const;
  // hot / (hot + cold) results; -1 with no result.
  double HotHitRate() const;
  // By (command, tiers).
  const std::map<std::pair<std::string, std::string>, CommandSummary>& commands() const { return commands_; }
  // All of a command's runs merged (a search's tiers together).
  CommandSummary Command(const std::string& command) const;
  const std::vector<MetricSample>& samples() const { return samples_; }
  // HELP, TYPE and samples of every known counter and histogram (cumulative
  // buckets, _sum in seconds, _count), in KnownMetrics order.
  std::string Prometheus() const;

 private:
  int64_t since_ms_;
  std::vector<MetricSample> samples_;
  std::map<std::pair<std::string, std::string>, CommandSummary> commands_;
};

// "all", N followed by s, m, h or d (a span back from now), or ms since the
// epoch; false when the text is none of them.
bool ParseSince(const std::string& text, int64_t now_ms, int64_t* since_ms);

}  // namespace aether::cli
