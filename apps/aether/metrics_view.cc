#include "metrics_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace aether::cli {
namespace {

constexpr const char* kDuration = "aether_command_duration_seconds";

// The value of label `key` in a label set ("" when absent).
std::string LabelValue(const std::string& labels, const std::string& key) {
  for (const auto& [k, v] : ParseMetricLabels(labels))
    if (k == key) return v;
  return "";
}

// The label set without `key`.
std::string WithoutLabel(const std::string& labels, const std::string& key) {
  auto pairs = ParseMetricLabels(labels);
  pairs.erase(std::remove_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == key; }), pairs.end());
  return MetricLabels(pairs);
}

size_t BucketIndex(const std::string& le) {
  const size_t n = LatencyBucketsUs().size();
  for (size_t i = 0; i <= n; ++i)
    if (LatencyBucketLabel(i) == le) return i;
  return n + 1;  // not one of ours
}

void Merge(CommandSummary* into, const CommandSummary& c) {
  into->runs += c.runs;
  for (const auto& [code, n] : c.exit_codes) into->exit_codes[code] += n;
  into->buckets.resize(std::max(into->buckets.size(), c.buckets.size()));
  for (size_t i = 0; i < c.buckets.size(); ++i) into->buckets[i] += c.buckets[i];
  into->sum_us += c.sum_us;
}

}  // namespace

double CommandSummary::QuantileMs(double q) const {
  const double us = HistogramQuantileUs(buckets, q);
  return us < 0 ? -1 : us / 1000.0;
}

MetricsView::MetricsView(const MetricsReport& report) : since_ms_(report.since_ms), samples_(report.samples) {
  const size_t n = LatencyBucketsUs().size() + 1;
  for (const MetricSample& s : samples_) {
    if (s.name == "aether_commands_total") {
      CommandSummary& c = commands_[{LabelValue(s.labels, "command"), ""}];
      c.runs += uint64_t(s.value);
      c.exit_codes[std::atoi(LabelValue(s.labels, "exit_code").c_str())] += uint64_t(s.value);
    } else if (s.name == std::string(kDuration) + "_bucket" || s.name == std::string(kDuration) + "_sum") {
      CommandSummary& c = commands_[{LabelValue(s.labels, "command"), LabelValue(s.labels, "tiers")}];
      c.buckets.resize(n);
      if (s.name.back() == 'm') {
        c.sum_us += s.value;
      } else if (size_t i = BucketIndex(LabelValue(s.labels, "le")); i < n) {
        c.buckets[i] += uint64_t(s.value);
      }
    }
  }
  for (auto& [key, c] : commands_) {
    c.command = key.first;
    c.tiers = key.second;
  }
}

int64_t MetricsView::Sum(const std::string& name, const std::vector<std::string>& having) const {
  int64_t total = 0;
  for (const MetricSample& s : samples_) {
    if (s.name != name) continue;
    const std::string wrapped = "," + s.labels + ",";
    if (std::all_of(having.begin(), having.end(),
                    [&](const std::string& h) { return wrapped.find("," + h + ",") != std::string::npos; }))
      total += s.value;
  }
  return total;
}

double MetricsView::HotHitRate() const {
  const int64_t hot = Sum("aether_search_results_total", {"tier=\"hot\""});
  const int64_t all = Sum("aether_search_results_total");
  return all > 0 ? double(hot) / double(all) : -1;
}

CommandSummary MetricsView::Command(const std::string& command) const {
  CommandSummary out;
  out.command = command;
  for (const auto& [key, c] : commands_)
    if (key.first == command) Merge(&out, c);
  return out;
}

std::string MetricsView::Prometheus() const {
  std::string out;
  for (const MetricInfo& m : KnownMetrics()) {
    std::map<std::string, int64_t> counters;  // labels -> value
    struct Histogram {
      std::vector<int64_t> buckets;
      int64_t sum_us = 0;
    };
    std::map<std::string, Histogram> histograms;  // labels without le -> buckets
    const bool histogram = std::string(m.type) == "histogram";
    const size_t n = LatencyBucketsUs().size() + 1;
    for (const MetricSample& s : samples_) {
      if (!histogram && s.name == m.name) counters[s.labels] += s.value;
      if (histogram && s.name == std::string(m.name) + "_bucket") {
        Histogram& h = histograms[WithoutLabel(s.labels, "le")];
        h.buckets.resize(n);
        if (size_t i = BucketIndex(LabelValue(s.labels, "le")); i < n) h.buckets[i] += s.value;
      }
      if (histogram && s.name == std::string(m.name) + "_sum") {
        Histogram& h = histograms[s.labels];
        h.buckets.resize(n);
        h.sum_us += s.value;
      }
    }
    if (counters.empty() && histograms.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
    auto braces = [](const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; };
    for (const auto& [labels, v] : counters) out += fmt::format("{}{} {}\n", m.name, braces(labels), v);
    for (const auto& [labels, h] : histograms) {
      int64_t cumulative = 0;
      for (size_t i = 0; i < n; ++i) {
        cumulative += h.buckets[i];
        const std::string le = "le=\"" + LatencyBucketLabel(i) + "\"";
        out += fmt::format("{}_bucket{{{}}} {}\n", m.name, labels.empty() ? le : labels + "," + le, cumulative);
      }
      out += fmt::format("{}_sum{} {}\n", m.name, braces(labels), double(h.sum_us) / 1e6);
      out += fmt::format("{}_count{} {}\n", m.name, braces(labels), cumulative);
    }
  }
  return out;
}

bool ParseSince(const std::string& text, int64_t now_ms, int64_t* since_ms) {
  if (text == "all") {
    *since_ms = 0;
    return true;
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end() - 1, digit)) return false;
  const char unit = text.back();
  int64_t scale = 0;
  if (unit == 's') scale = 1000;
  if (unit == 'm') scale = 60000;
  if (unit == 'h') scale = 3600000;
  if (unit == 'd') scale = 86400000;
  if (scale == 0) {
    if (!digit(unit)) return false;
    *since_ms = std::strtoll(text.c_str(), nullptr, 10);
    return true;
  }
  if (text.size() < 2) return false;
  const int64_t n = std::strtoll(text.substr(0, text.size() - 1).c_str(), nullptr, 10);
  if (n > now_ms / scale) return false;  // before the epoch
  *since_ms = now_ms - n * scale;
  return true;
}

}  // namespace aether::cli
