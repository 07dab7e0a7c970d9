// Metrics that survive one-shot processes (format-spec/metrics_log.md,
// README "Operating aether"). The library counts what a process does to a
// store (searches, ingests, migrations, restores, feedback) in process-wide
// counters; at its end, the process appends one record of them, with its
// own command, exit code and duration, to the store's metrics.log, without
// any store lock. The next writer folds the log into meta.db; `stats` adds
// what is not folded yet. A crash loses only the crashing process's record
// (a power cut may lose what was not yet synced with a later commit).
//
// A library user who wants its work counted calls TakeProcessMetrics and
// RecordMetrics itself (the CLI does, once per command).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aether/env.h"
#include "aether/status.h"

namespace aether {

// One counter value, or one histogram bucket or sum. `name` is the metric's
// Prometheus name (aether_..._total; a histogram's samples are
// NAME_bucket, one per bucket with its `le` label and a count of that
// bucket alone, and NAME_sum in microseconds); `labels` is the label set,
// k="v" pairs sorted by key and comma-separated, without braces.
struct MetricSample {
  std::string name;
  std::string labels;
  int64_t value = 0;
};

// What each metric is (the Prometheus TYPE and HELP); in documentation order.
struct MetricInfo {
  const char* name;
  const char* type;  // "counter" or "histogram"
  const char* help;
};
const std::vector<MetricInfo>& KnownMetrics();

// A label set from (key, value) pairs: sorted by key; a value is kept to
// printable ASCII without quotes or backslashes (others become '_').
std::string MetricLabels(std::vector<std::pair<std::string, std::string>> labels);
// Whether `labels` is a label set MetricLabels could have made, and `name`
// a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): what a record read back must hold.
bool ValidMetricLabels(const std::string& labels);
// The (key, value) pairs of a valid label set.
std::vector<std::pair<std::string, std::string>> ParseMetricLabels(const std::string& labels);
bool ValidMetricName(const std::string& name);

// Adds `delta` to this process's counter (thread-safe).
void CountMetric(const std::string& name, const std::string& labels = "", int64_t delta = 1);
// This process's counters so far, which are then reset.
std::vector<MetricSample> TakeProcessMetrics();
// The same, left as they are (a health check counts what its own open
// replayed).
std::vector<MetricSample> ProcessMetrics();

// The latency histograms' bucket upper bounds in microseconds, ascending;
// the last bucket (+Inf) is implied.
const std::vector<int64_t>& LatencyBucketsUs();
// The `le` label of bucket i (i == LatencyBucketsUs().size(): "+Inf").
std::string LatencyBucketLabel(size_t i);
// Adds one observation of `us` to histogram `name` (without _bucket) with
// `labels` (a set MetricLabels made, without `le`): +1 to its bucket, +us
// to its sum.
void ObserveLatency(std::vector<MetricSample>* samples, const std::string& name, const std::string& labels, int64_t us);
// The q-quantile (0 < q <= 1) of a histogram given each bucket's own count
// (LatencyBucketsUs order, then +Inf), in microseconds, as Prometheus's
// histogram_quantile computes it: the bucket holding rank q * count, linear
// within it from the previous bound (0 for the first); in the +Inf bucket,
// the largest finite bound. -1 when the histogram is empty.
double HistogramQuantileUs(const std::vector<uint64_t>& bucket_counts, double q);

// Store::Metrics's answer: the samples summed by (name, labels).
struct MetricsReport {
  int64_t since_ms = 0;  // the window's start as counted (a whole minute; 0: all time)
  std::vector<MetricSample> samples;
  uint64_t unfolded_records = 0;  // of them, records read from metrics.log
  uint64_t skipped_bytes = 0;     // torn or damaged bytes in metrics.log
};

// Microseconds since `start` (steady clock), or AETHER_DURATION_US when it
// is set: a test's injected clock for the latency histograms.
int64_t ElapsedUs(std::chrono::steady_clock::time_point start);

// Appends one record of `samples` at ts_ms to STORE_DIR/metrics.log (made
// if missing), under an exclusive flock of that file only: never the store
// lock. kNotFound when store_dir holds no meta.db; a log that is not a
// regular file is left alone (kFailedPrecondition).
Status RecordMetrics(Env* env, const std::string& store_dir, int64_t ts_ms, const std::vector<MetricSample>& samples);

}  // namespace aether
