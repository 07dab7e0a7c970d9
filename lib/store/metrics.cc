// Metrics across one-shot processes (aether/metrics.h,
// format-spec/metrics_log.md): this process's counters, the latency
// histograms, the append at a command's end, and a writer's fold of
// metrics.log into meta.db.
//
// FoldMetricsLog, under the exclusive store lock and an exclusive flock of
// metrics.log (appenders hold only the flock):
//   1. read the records from where the last fold stopped (the log's epoch
//      is the one meta.db names as folded last: from its end offset; any
//      other log: from its first record);
//   2. one transaction adds them to the metrics table by minute, rolls old
//      periods up, and names the log's epoch and end as folded last;
//   3. the file is reset to a header of a new random epoch (not synced).
// A crash before 2 folds the records next time; after 2 and before 3, the
// next fold starts at the recorded end.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

#include "env/env_vars.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/metrics_log.h"
#include "store/store_impl.h"

namespace aether {
namespace {

std::mutex g_mu;
MetricsTable::Sums* g_counts = nullptr;  // this process's counters, under g_mu

constexpr int64_t kMinuteMs = 60000;
constexpr int64_t kDayMs = 86400000;

bool LabelValueChar(char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; }
bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

// A random epoch, never 0 and never `other`.
uint64_t NewEpoch(Env* env, uint64_t other = 0) {
  uint64_t e = ((env->RandomSeed() << 32 ^ env->RandomSeed()) & 0x7fffffffffffffffull) | 1;
  return e == other ? e ^ 2 : e;
}

}  // namespace

const std::vector<MetricInfo>& KnownMetrics() {
  static const std::vector<MetricInfo> known = {
      {"aether_commands_total", "counter",
       "Commands run on the store, by command and exit code (75: busy, 79: damage found)."},
      {"aether_command_duration_seconds", "histogram",
       "Wall time of each command, process start to exit; a search's also by the tiers it searched."},
      {"aether_search_queries_total", "counter", "Queries searched."},
      {"aether_search_results_total", "counter",
       "Results returned, by the tier that held them (hot hit rate: hot / all)."},
      {"aether_search_partial_total", "counter", "Queries whose scan a deadline cut short."},
      {"aether_ingested_total", "counter", "Memories ingested (added or replaced)."},
      {"aether_migrations_total", "counter",
       "Journaled migrations by kind and outcome (committed, failed; rolled_back, rolled_forward, discarded by "
       "a later command's replay)."},
      {"aether_restores_total", "counter",
       "Restores of cold memories: queued (by searches and enqueue), done (ascended from the queue), dropped "
       "(retries exhausted or the queue over restore_queue_max)."},
      {"aether_feedback_total", "counter", "Feedback events applied."},
      {"aether_corruption_found_total", "counter", "Problems verify found."},
  };
  return known;
}

std::string MetricLabels(std::vector<std::pair<std::string, std::string>> labels) {
  std::sort(labels.begin(), labels.end());
  std::string out;
  for (auto& [k, v] : labels) {
    for (char& c : v)
      if (!LabelValueChar(c)) c = '_';
    if (!out.empty()) out += ',';
    out += k + "=\"" + v + "\"";
  }
  return out;
}

bool ValidMetricName(const std::string& name) {
  if (name.empty() || !(NameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return NameChar(c) || c == ':'; });
}

bool ValidMetricLabels(const std::string& labels) {
  size_t i = 0;
  std::string last;
  while (i < labels.size()) {
    if (i > 0 && labels[i++] != ',') return false;
    const size_t start = i;
    if (i >= labels.size() || !NameStart(labels[i])) return false;
    while (i < labels.size() && NameChar(labels[i])) ++i;
    std::string key = labels.substr(start, i - start);
    if (key <= last && !last.empty()) return false;  // sorted, each key once
    last = key;
    if (labels.compare(i, 2, "=\"") != 0) return false;
    i += 2;
    while (i < labels.size() && LabelValueChar(labels[i])) ++i;
    if (i >= labels.size() || labels[i++] != '"') return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> ParseMetricLabels(const std::string& labels) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t at = 0; at < labels.size();) {
    const size_t eq = labels.find("=\"", at);
    if (eq == std::string::npos) break;
    const size_t close = labels.find('"', eq + 2);
    if (close == std::string::npos) break;
    pairs.emplace_back(labels.substr(at, eq - at), labels.substr(eq + 2, close - eq - 2));
    at = close + 2;  // past the quote and the comma
  }
  return pairs;
}

void CountMetric(const std::string& name, const std::string& labels, int64_t delta) {
  std::lock_guard<std::mutex> l(g_mu);
  if (!g_counts) g_counts = new MetricsTable::Sums;  // never freed: counted until the process ends
  (*g_counts)[{name, labels}] += delta;
}

std::vector<MetricSample> ProcessMetrics() {
  std::lock_guard<std::mutex> l(g_mu);
  std::vector<MetricSample> out;
  if (g_counts)
    for (const auto& [key, value] : *g_counts) out.push_back({key.first, key.second, value});
  return out;
}

std::vector<MetricSample> TakeProcessMetrics() {
  std::lock_guard<std::mutex> l(g_mu);
  std::vector<MetricSample> out;
  if (!g_counts) return out;
  for (const auto& [key, value] : *g_counts) out.push_back({key.first, key.second, value});
  g_counts->clear();
  return out;
}

const std::vector<int64_t>& LatencyBucketsUs() {
  static const std::vector<int64_t> bounds = {1000,     2500,     5000,     10000,     25000,    50000,
                                              100000,   250000,   500000,   1000000,   2500000,  5000000,
                                              10000000, 30000000, 60000000, 300000000, 600000000};
  return bounds;
}

std::string LatencyBucketLabel(size_t i) {
  const auto& b = LatencyBucketsUs();
  return i < b.size() ? fmt::format("{}", double(b[i]) / 1e6) : "+Inf";
}

void ObserveLatency(std::vector<MetricSample>* samples, const std::string& name, const std::string& labels,
                    int64_t us) {
  const auto& b = LatencyBucketsUs();
  const size_t i = size_t(std::lower_bound(b.begin(), b.end(), us) - b.begin());  // le: us <= bound
  // The le label in its sorted place among the others.
  std::vector<std::pair<std::string, std::string>> pairs = ParseMetricLabels(labels);
  pairs.emplace_back("le", LatencyBucketLabel(i));
  samples->push_back({name + "_bucket", MetricLabels(pairs), 1});
  samples->push_back({name + "_sum", labels, us});
}

double HistogramQuantileUs(const std::vector<uint64_t>& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return -1;
  const auto& b = LatencyBucketsUs();
  const double rank = q * double(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (double(below + counts[i]) >= rank && counts[i] > 0) {
      if (i >= b.size()) return double(b.back());
      const double lo = i == 0 ? 0.0 : double(b[i - 1]);
      return lo + (double(b[i]) - lo) * (rank - double(below)) / double(counts[i]);
    }
    below += counts[i];
  }
  return double(b.back());
}

Status CreateMetricsLog(Env* env, const std::string& path) {
  return record_log::Reset(env, path, MetricsLog::kFormat, NewEpoch(env));
}

int64_t ElapsedUs(std::chrono::steady_clock::time_point start) {
  long injected = 0;
  if (const char* v = std::getenv("AETHER_DURATION_US"); v && env_vars::ParseDurationUs(v, &injected)) return injected;
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

Status RecordMetrics(Env* env, const std::string& store_dir, int64_t ts_ms, const std::vector<MetricSample>& samples) {
  if (!env) env = Env::Default();
  if (env->TypeOf(store_dir + "/" + layout::kDbFile) != FileType::kRegular)
    return Status::NotFound(store_dir + ": not a store; metrics not recorded");
  AETHER_ASSIGN_OR_RETURN(std::string record, MetricsLog::Encode({ts_ms, samples}));
  return MetricsLog::Append(env, store_dir + "/" + layout::kMetricsLog, record, NewEpoch(env), /*wait_seconds=*/5);
}

// The records of metrics.log not yet folded: those past the last fold's end
// in a log of its epoch, every record of any other log.
Status StoreImpl::UnfoldedMetrics(std::vector<MetricsRecord>* records, uint64_t* epoch, uint64_t* end,
                                  uint64_t* skipped) {
  const std::string path = Path(layout::kMetricsLog);
  AETHER_ASSIGN_OR_RETURN(int64_t prev_epoch, tables_->config.Integer("metrics_log_prev_epoch", 0));
  AETHER_ASSIGN_OR_RETURN(int64_t prev_end, tables_->config.Integer("metrics_log_prev_end", 0));
  AETHER_ASSIGN_OR_RETURN(*epoch, record_log::Epoch(env_, path, MetricsLog::kFormat));
  *end = 0;
  if (*epoch == 0) return Status::Ok();  // missing, or no header: nothing recorded
  const uint64_t from = *epoch == uint64_t(prev_epoch) ? std::max<uint64_t>(uint64_t(prev_end), record_log::kHeaderSize)
                                                       : record_log::kHeaderSize;
  AETHER_ASSIGN_OR_RETURN(*end, MetricsLog::Read(env_, path, from, records, skipped));
  return Status::Ok();
}

Status StoreImpl::FoldMetricsLog(uint64_t at_least) {
  if (!lock_->exclusive()) return Status::Internal("fold of the metrics log without the exclusive lock");
  const std::string path = Path(layout::kMetricsLog);
  const FileType type = env_->TypeOf(path);
  if (type == FileType::kMissing) return CreateMetricsLog(env_, path);  // a store an older aether made
  if (type != FileType::kRegular) return Status::Ok();                  // not ours: left alone, nothing recorded
  AETHER_ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(path));
  if (size < at_least || size == record_log::kHeaderSize) return Status::Ok();
  // Shorter than a header: no record in it (a fold cut short, or damage).
  if (size < record_log::kHeaderSize) return CreateMetricsLog(env_, path);
  AETHER_ASSIGN_OR_RETURN(bool has_table, tables_->metrics.Exists());
  if (!has_table) return Status::Ok();  // a read-only open of an older store: the next writer folds
  AETHER_ASSIGN_OR_RETURN(auto flock, env_->Lock(path, LockMode::kExclusive, /*wait_seconds=*/5));
  std::vector<MetricsRecord> records;
  uint64_t epoch = 0, end = 0, skipped = 0;
  AETHER_RETURN_IF_ERROR(UnfoldedMetrics(&records, &epoch, &end, &skipped));
  if (epoch == 0) {
    // No header this aether reads. A newer aether's log (our magic, another
    // version) is left alone; anything else is damage: started anew.
    std::string magic(8, '\0');
    AETHER_ASSIGN_OR_RETURN(auto f, env_->Open(path, OpenMode::kRead));
    if (size >= 8) AETHER_RETURN_IF_ERROR(f->Read(0, 8, magic.data()));
    if (magic == std::string(MetricsLog::kMagic, 8)) return Status::Ok();
    Notice(fmt::format("{}: no valid header; {} bytes dropped, the log started anew", layout::kMetricsLog, size));
    return CreateMetricsLog(env_, path);
  }
  AETHER_ASSIGN_OR_RETURN(int64_t prev_end, tables_->config.Integer("metrics_log_prev_end", 0));
  AETHER_ASSIGN_OR_RETURN(int64_t prev_epoch, tables_->config.Integer("metrics_log_prev_epoch", 0));
  if (records.empty() && skipped == 0 && end <= record_log::kHeaderSize) return Status::Ok();  // nothing recorded
  if (records.empty() && skipped == 0 && epoch == uint64_t(prev_epoch) && end == uint64_t(prev_end))
    return record_log::Reset(env_, path, MetricsLog::kFormat,
                             NewEpoch(env_, epoch));  // a fold cut short before its reset
  std::map<int64_t, MetricsTable::Sums> by_period;
  for (const MetricsRecord& r : records)
    for (const MetricSample& s : r.samples) by_period[r.ts_ms - r.ts_ms % kMinuteMs][{s.name, s.labels}] += s.value;
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  const int64_t now = env_->NowMs();
  // Unsynced, like the log itself (access.cc's fold says why that is safe).
  Db::Bookkeeping bookkeeping(db_.get());
  AETHER_RETURN_IF_ERROR(InUnsyncedTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(tables_->metrics.Add(by_period));
    AETHER_RETURN_IF_ERROR(tables_->metrics.RollUp(now - kDayMs, now - int64_t(p.metrics_keep_days * double(kDayMs))));
    AETHER_RETURN_IF_ERROR(tables_->config.Set("metrics_log_prev_epoch", std::to_string(int64_t(epoch))));
    return tables_->config.Set("metrics_log_prev_end", std::to_string(end));
  }));
  AETHER_FAULT_POINT("metrics_fold.after_commit");
  if (skipped > 0)
    Notice(fmt::format("{}: {} bytes of torn or damaged records skipped ({} records folded)", layout::kMetricsLog,
                       skipped, records.size()));
  return record_log::Reset(env_, path, MetricsLog::kFormat, NewEpoch(env_, epoch));
}

Result<MetricsReport> StoreImpl::Metrics(int64_t since_ms) {
  MetricsReport rep;
  rep.since_ms = since_ms > 0 ? since_ms - since_ms % kMinuteMs : 0;
  AETHER_ASSIGN_OR_RETURN(MetricsTable::Sums sums, tables_->metrics.SumSince(rep.since_ms));
  const std::string path = Path(layout::kMetricsLog);
  if (env_->TypeOf(path) == FileType::kRegular) {
    // Under a shared flock: a fold (which holds it exclusively) is not
    // half done, and no append is half written. A log this process cannot
    // read leaves the folded sums, with a notice.
    std::vector<MetricsRecord> records;
    Status read = [&]() -> Status {
      AETHER_ASSIGN_OR_RETURN(auto flock, env_->Lock(path, LockMode::kShared, /*wait_seconds=*/5));
      uint64_t epoch = 0, end = 0;
      return UnfoldedMetrics(&records, &epoch, &end, &rep.skipped_bytes);
    }();
    if (!read.ok()) Notice("metrics not yet folded left out: " + read.message());
    for (const MetricsRecord& r : records) {
      if (r.ts_ms - r.ts_ms % kMinuteMs < rep.since_ms) continue;
      ++rep.unfolded_records;
      for (const MetricSample& s : r.samples) sums[{s.name, s.labels}] += s.value;
    }
  }
  for (const auto& [key, value] : sums) rep.samples.push_back({key.first, key.second, value});
  return rep;
}

}  // namespace aether
