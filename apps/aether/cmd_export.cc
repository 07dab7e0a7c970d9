// aether export STORE: every memory as a JSONL record that ingest reads back
// (--preserve-state restores the state fields too; --ignore-unknown skips
// them), streamed (Store::Export).
#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "aether/store.h"
#include "cli.h"
#include "export_format.h"
#include "progress.h"

namespace aether::cli {
namespace {

// Formats and writes batches of records on two threads while the store reads
// the next batch (formatting the decimals is about half an export's CPU time,
// more than one core gives it). Each batch has a sequence number and is
// written only after the one before it, so the output is in the store's
// order. The first write error stops everything and is what Add and Finish
// return; nothing is written after it. With fewer threads to be had (a limit
// on them), fewer format; with none, Add and Finish format and write each
// batch themselves.
class BatchWriter {
 public:
  BatchWriter() {
    // A thread that cannot be started (no thread or no memory to be had)
    // leaves the formatting to those that were, or to the reading thread.
    for (int i = 0; i < kThreads; ++i) try {
        threads_.emplace_back([this] { Run(); });
      } catch (...) {
        break;
      }
  }
  ~BatchWriter() { Stop(); }

  Status Add(const MemoryRecord& r) {
    // Assigning over a used record keeps its buffers: no allocation per record.
    if (filled_ < filling_.size()) {
      filling_[filled_] = r;
    } else {
      filling_.push_back(r);
    }
    if (++filled_ >= kBatch) return Hand();
    return Status::Ok();
  }
  // Writes what is left and flushes standard output. What a formatter
  // threw (out of memory) and Hand did not rethrow yet is thrown here, on
  // the caller's thread, once every formatter stopped.
  Status Finish() {
    Status s = Hand();
    Stop();
    if (thrown_) std::rethrow_exception(thrown_);
    if (s.ok()) s = Error();
    if (std::fflush(stdout) != 0 && s.ok())
      s = Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
    return s;
  }

 private:
  static constexpr size_t kBatch = 512;
  static constexpr int kThreads = 2;
  static constexpr size_t kMaxQueued = 2;  // batches read ahead of the formatters

  struct Batch {
    uint64_t seq = 0;
    std::vector<MemoryRecord> records;
    size_t size = 0;
  };

  // Whether the formatters stop: a write failed or a formatter threw (mu_ held).
  bool Stopped() const { return !error_.ok() || thrown_ != nullptr; }
  Status Error() {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }
  // The first n records as export's lines.
  static void Format(const std::vector<MemoryRecord>& records, size_t n, fmt::memory_buffer* out) {
    for (size_t i = 0; i < n; ++i) AppendRecord(records[i], /*with_vector=*/true, out);
  }
  static Status Write(const fmt::memory_buffer& out) {
    if (std::fwrite(out.data(), 1, out.size(), stdout) == out.size()) return Status::Ok();
    return Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
  }
  // Queues the filled batch for the formatters once there is room.
  Status Hand() {
    if (threads_.empty()) {  // no formatter: this thread writes it
      if (!error_.ok() || filled_ == 0) return error_;
      fmt::memory_buffer out;
      Format(filling_, filled_, &out);
      filled_ = 0;
      error_ = Write(out);
      return error_;
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return queued_.size() < kMaxQueued || Stopped(); });
    if (thrown_) std::rethrow_exception(thrown_);  // a formatter's, on this thread
    if (!error_.ok()) return error_;
    if (filled_ == 0) return Status::Ok();
    queued_.push_back(Batch{next_seq_, std::move(filling_), filled_});
    ++next_seq_;  // only once queued: Stop waits for every numbered batch
    filling_.clear();
    if (!spare_.empty()) {  // a written batch's records, to be assigned over
      filling_ = std::move(spare_.back());
      spare_.pop_back();
    }
    filled_ = 0;
    cv_.notify_all();
    return Status::Ok();
  }
  void Stop() {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return (queued_.empty() && next_written_ == next_seq_) || Stopped(); });
      done_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
  }
  // A formatter thread. What it throws (out of memory), escaping the
  // thread, would end the process: it is kept and rethrown on the reading
  // thread (Hand, Finish), and the reader and the other formatter stop.
  void Run() {
    try {
      FormatBatches();
    } catch (...) {
      std::lock_guard<std::mutex> l(mu_);
      if (!thrown_) thrown_ = std::current_exception();  // nothing allocated here
      cv_.notify_all();
    }
  }
  void FormatBatches() {
    fmt::memory_buffer out;
    for (;;) {
      Batch batch;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !queued_.empty() || done_ || Stopped(); });
        if (queued_.empty() || Stopped()) return;
        batch = std::move(queued_.front());
        queued_.pop_front();
        cv_.notify_all();
      }
      out.clear();
      Format(batch.records, batch.size, &out);
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return next_written_ == batch.seq || Stopped(); });
      if (Stopped()) return;
      // Only the batch whose turn it is writes; the others wait above.
      l.unlock();
      Status wrote = Write(out);
      l.lock();
      const bool failed = !wrote.ok();
      if (failed && error_.ok()) error_ = std::move(wrote);
      ++next_written_;
      spare_.push_back(std::move(batch.records));
      cv_.notify_all();
      if (failed) return;
    }
  }

  std::vector<MemoryRecord> filling_;  // the reading thread's alone
  size_t filled_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queued_;
  std::vector<std::vector<MemoryRecord>> spare_;
  uint64_t next_seq_ = 0, next_written_ = 0;
  bool done_ = false;
  Status error_;
  std::exception_ptr thrown_;         // a formatter's exception, rethrown by Hand or Finish
  std::vector<std::thread> threads_;  // last: they start once the rest is built
};

}  // namespace

Runner SetupExport(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string tier, where, progress, npy;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--tier", a->tier, "Only this tier (all: every one)")
      ->check(CLI::IsMember({"all", "hot", "warm", "cold"}));
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
    if (Tier t; ParseTier(a->tier, &t)) o.tier = t;
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
      Info(fmt::format("exported {} memories to {}, {} and {}", npy.rows(), npy.npy_path(), npy.ids_path(),
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
    Info(fmt::format("exported {} memories", exported));
    return kExitOk;
  };
}

}  // namespace aether::cli
