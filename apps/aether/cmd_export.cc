// aether export STORE: every memory as a JSONL record that ingest reads back
// (--preserve-state restores the state fields too; --ignore-unknown skips
// them), streamed (Store::Export).
#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "aether/store.h"
#include "cli.h"
#include "export_format.h"
#include "progress.h"

namespace aether::cli {
namespace {

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
      for (const MemoryRecord& r : batch) AppendRecord(r, /*with_vector=*/true, &out);
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
    std::string tier, where, progress, npy;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--tier", a->tier, "Only this tier (all: both)")->check(CLI::IsMember({"all", "hot", "cold"}));
  app->add_option("--where", a->where, "Only memories the filter expression matches (README \"Filters\")")
      ->check(NonEmpty());
  app->add_option("--npy", a->npy,
                  "Write PREFIX.npy (float32 vectors, one row per memory), PREFIX.ids (one id per line) and "
                  "PREFIX.meta.jsonl (each record without its vector), instead of JSONL on stdout")
      ->check(NonEmpty());
  AddProgressOptions(app, &a->progress);
  app->footer(
      "Example: aether export ./mem > mem.jsonl && aether ingest ./copy mem.jsonl --create --preserve-state\n"
      "Example: aether export ./mem --npy out/mem   # numpy.load(\"out/mem.npy\"); ingest out/mem.npy --ids "
      "out/mem.ids\n"
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
    if (!a->npy.empty()) {
      NpyExport npy(a->npy, (*store)->config().dim);
      Status done = npy.Create();
      if (done.ok()) done = (*store)->Export(o, [&](const MemoryRecord& r) { return npy.Add(r); });
      if (done.ok()) done = npy.Finish();
      progress.Finish();
      if (!done.ok()) return Fail(done);  // npy removes the files it made
      Warn(fmt::format("exported {} memories to {}, {} and {}", npy.rows(), npy.npy_path(), npy.ids_path(),
                       npy.meta_path()));
      return kExitOk;
    }
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
