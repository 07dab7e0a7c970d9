// aether export STORE: every memory as a JSONL record that ingest reads back
// (--preserve-state restores the state fields too; --ignore-unknown skips
// them), streamed (Store::Export).
#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {
namespace {

// Appends one record's JSONL line to `line`.
void AppendRecord(const MemoryRecord& r, fmt::memory_buffer* line) {
  fmt::format_to(std::back_inserter(*line), "{{\"id\":{},\"vector\":[", nlohmann::json(r.id).dump());
  for (size_t i = 0; i < r.vector.size(); ++i) {
    float f = r.vector[i];
    // As get: a value that is not finite (only data stored before inputs
    // were range-checked can hold one) saturates; JSON has none.
    if (!std::isfinite(f)) f = std::signbit(f) && !std::isnan(f) ? -FLT_MAX : FLT_MAX;
    char text[40];
    text[0] = ',';
    // The shortest decimal that reads back to the same float (Ryu; three
    // times faster than fmt's, which was most of an export's time).
    char* end = std::to_chars(text + 1, text + sizeof text, f).ptr;
    if (ShortestDecimalMisreads(f)) {
      end = std::to_chars(text + 1, text + sizeof text, double(f)).ptr;
    } else if (end - text == 3 && text[1] == '-' && text[2] == '0') {
      end = std::copy_n("-0.0", 4, text + 1);  // "-0" is an integer, which reads as +0
    }
    line->append(text + (i == 0), end);
  }
  fmt::format_to(std::back_inserter(*line),
                 "],\"payload\":{},\"importance\":{},\"tier\":\"{}\",\"created_ms\":{},\"last_access_ms\":{},"
                 "\"access_count\":{}}}\n",
                 r.payload_json.empty() ? "null" : r.payload_json, r.importance, TierName(r.tier), r.created_ms,
                 r.last_access_ms, r.access_count);
}

// Formats and writes batches of records on a second thread while the store
// reads the next batch (formatting the decimals is about half an export's
// time). The first write error stops everything and is what Add and Finish
// return; nothing is written after it.
class BatchWriter {
 public:
  BatchWriter() : thread_([this] { Run(); }) {}
  ~BatchWriter() { Stop(); }

  Status Add(const MemoryRecord& r) {
    filling_.push_back(r);
    if (filling_.size() >= kBatch) return Hand();
    return Status::Ok();
  }
  // Writes what is left and flushes standard output.
  Status Finish() {
    Status s = Hand();
    Stop();
    if (s.ok()) s = Error();
    if (std::fflush(stdout) != 0 && s.ok())
      s = Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
    return s;
  }

 private:
  static constexpr size_t kBatch = 512;

  Status Error() {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }
  // Gives the filled batch to the writer thread once it took the last one.
  Status Hand() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !has_pending_ || !error_.ok(); });
    if (!error_.ok()) return error_;
    if (filling_.empty()) return Status::Ok();
    pending_.swap(filling_);
    filling_.clear();
    has_pending_ = true;
    cv_.notify_all();
    return Status::Ok();
  }
  void Stop() {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !has_pending_ || !error_.ok(); });
      done_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    std::vector<MemoryRecord> batch;
    fmt::memory_buffer out;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return has_pending_ || done_; });
        if (!has_pending_) return;
        batch.swap(pending_);
      }
      out.clear();
      for (const MemoryRecord& r : batch) AppendRecord(r, &out);
      const bool wrote = std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
      std::lock_guard<std::mutex> l(mu_);
      if (!wrote) error_ = Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
      has_pending_ = false;
      cv_.notify_all();
      if (!wrote) return;
    }
  }

  std::vector<MemoryRecord> filling_, pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool has_pending_ = false, done_ = false;
  Status error_;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace

Runner SetupExport(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string tier, where, progress;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--tier", a->tier, "Only this tier (all: both)")->check(CLI::IsMember({"all", "hot", "cold"}));
  app->add_option("--where", a->where, "Only memories the filter expression matches (README \"Filters\")")
      ->check(NonEmpty());
  AddProgressOptions(app, &a->progress);
  app->footer(
      "Example: aether export ./mem > mem.jsonl && aether ingest ./copy mem.jsonl --create --preserve-state\n"
      "Record: {\"id\", \"vector\", \"payload\", \"importance\", \"tier\", \"created_ms\", \"last_access_ms\", "
      "\"access_count\"}");
  return [a](const StoreOpener& opener) -> int {
    ExportOptions o;
    o.where = a->where;
    if (a->tier == "hot" || a->tier == "cold") o.tier = a->tier == "hot" ? Tier::kHot : Tier::kCold;
    if (!a->where.empty())  // a bad filter is a usage error before anything opens
      if (Status s = Store::CheckFilter(a->where); !s.ok()) return Fail(s);
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    uint64_t exported = 0;
    Progress progress("export", a->progress);
    o.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
    BatchWriter writer;
    Status done = (*store)->Export(o, [&](const MemoryRecord& r) -> Status {
      ++exported;
      return writer.Add(r);
    });
    Status written = writer.Finish();
    progress.Finish();
    if (done.ok()) done = written;
    if (!done.ok()) return Fail(done);
    Warn(fmt::format("exported {} memories", exported));
    return kExitOk;
  };
}

}  // namespace aether::cli
