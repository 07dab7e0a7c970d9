// aether ingest STORE [FILE|-]: JSONL records into the store, in batches that
// are each one crash-safe migration. Shape of the run:
//   read a line -> validate (file:line errors) -> resolve duplicates ->
//   append to the batch -> at --batch records, commit the batch.
// A bad line either stops the run (default: the lines before it are
// committed first) or, with --skip-invalid, is reported and skipped.
#include <chrono>
#include <fstream>
#include <iostream>
#include <unordered_map>

#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"
#include "aether/jsonl.h"

namespace aether::cli {
namespace {

struct Args {
  StoreArgs store;
  std::string input = "-";
  uint32_t dim = 0;
  std::string metric = "l2";
  uint64_t hot_capacity = StoreConfig().hot_capacity;
  size_t batch = 10000;
  std::string on_duplicate = "error";
  bool skip_invalid = false;
  std::string format;
  size_t max_line_bytes = kDefaultMaxLineBytes;
  std::string progress;
};

struct Totals {
  uint64_t lines = 0, ingested = 0, hot = 0, cold = 0, skipped = 0, replaced = 0, invalid = 0;
};

class Ingester {
 public:
  Ingester(const Args& a, LineReader* reader) : a_(a), reader_(reader), progress_("ingest", a.progress) {
    policy_ = a.on_duplicate == "skip"      ? DuplicatePolicy::kSkip
              : a.on_duplicate == "replace" ? DuplicatePolicy::kReplace
                                            : DuplicatePolicy::kError;
  }
  int Run();

 private:
  Status OpenOrCreate(uint32_t first_dim);
  Status Flush();
  // Handles one bad line; returns false when the run must stop.
  bool Reject(const Status& reason, Status* stop);
  Status Accept(Record rec);
  int Finish(const Status& stop);

  const Args& a_;
  LineReader* reader_;
  DuplicatePolicy policy_;
  std::unique_ptr<Store> store_;
  StoreConfig config_;
  std::vector<Record> batch_;
  std::unordered_map<std::string, size_t> batch_ids_;
  Totals t_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  Progress progress_;
};

Status Ingester::OpenOrCreate(uint32_t first_dim) {
  if (!Store::LooksLikeStore(a_.store.store)) {
    StoreConfig c;
    c.dim = a_.dim ? a_.dim : first_dim;
    ParseMetric(a_.metric, &c.metric);
    c.hot_capacity = a_.hot_capacity;
    AETHER_RETURN_IF_ERROR(Store::Create(a_.store.store, c));
    Warn(fmt::format("created store {} (dim {}, metric {}, hot capacity {})", a_.store.store, c.dim,
                     a_.metric, c.hot_capacity));
  }
  AETHER_ASSIGN_OR_RETURN(store_, OpenStore(a_.store, AccessMode::kWrite));
  config_ = store_->config();
  // Readers go on while this process waits for its input (a slow pipe).
  return store_->YieldToReaders();
}

Status Ingester::Flush() {
  if (batch_.empty()) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(IngestBatchResult r, store_->IngestBatch(batch_, policy_));
  t_.hot += r.hot;
  t_.cold += r.cold;
  t_.ingested += r.hot + r.cold;
  batch_.clear();
  batch_ids_.clear();
  progress_.Update(t_.ingested, 0);
  return store_->YieldToReaders();
}

bool Ingester::Reject(const Status& reason, Status* stop) {
  Status located = reason.WithContext(fmt::format("{}:{}", reader_->name(), reader_->line_number()));
  if (a_.skip_invalid) {
    ++t_.invalid;
    Warn(located.message() + " (skipped)");
    return true;
  }
  *stop = located;
  return false;
}

Status Ingester::Accept(Record rec) {
  auto in_batch = batch_ids_.find(rec.id);
  bool exists = in_batch != batch_ids_.end();
  if (!exists) {
    AETHER_ASSIGN_OR_RETURN(exists, store_->Contains(rec.id));
  }
  if (exists) {
    if (policy_ == DuplicatePolicy::kError)
      return Status::BadInput("duplicate id '" + rec.id +
                              "' (already ingested; see --on-duplicate skip|replace)");
    if (policy_ == DuplicatePolicy::kSkip) {
      ++t_.skipped;
      return Status::Ok();
    }
    ++t_.replaced;
    if (in_batch != batch_ids_.end()) {
      batch_[in_batch->second] = std::move(rec);
      return Status::Ok();
    }
  }
  batch_ids_[rec.id] = batch_.size();
  batch_.push_back(std::move(rec));
  if (batch_.size() >= a_.batch) return Flush();
  return Status::Ok();
}

int Ingester::Run() {
  if (Store::LooksLikeStore(a_.store.store)) {
    Status opened = OpenOrCreate(0);
    if (!opened.ok()) return Fail(opened);
  }
  std::string line;
  bool too_long = false;
  Status stop;
  while (stop.ok() && reader_->Next(&line, &too_long)) {
    ++t_.lines;
    if (too_long) {
      if (!Reject(Status::BadInput(fmt::format("line is longer than {} bytes (see --max-line-bytes)",
                                               reader_->max_bytes())), &stop))
        break;
      continue;
    }
    if (IsBlank(line)) continue;
    Record rec;
    Status parsed = ParseRecord(line, store_ ? config_.dim : a_.dim,
                                store_ ? config_.metric : Metric::kL2, &rec);
    if (parsed.ok() && !store_) {
      Status opened = OpenOrCreate(static_cast<uint32_t>(rec.vector.size()));
      if (!opened.ok()) return Fail(opened);
      parsed = ParseRecord(line, config_.dim, config_.metric, &rec);  // metric rules now known
    }
    if (parsed.ok()) parsed = Accept(std::move(rec));
    if (!parsed.ok()) {
      if (parsed.code() != Code::kBadInput) return Finish(parsed);  // store errors are not skippable
      if (!Reject(parsed, &stop)) break;
    }
  }
  if (!store_ && stop.ok()) {
    // No valid record at all: the store must still open (or exist) to report.
    if (!Store::LooksLikeStore(a_.store.store) && a_.dim == 0)
      return Fail(Status::BadInput(reader_->name() + ": no records, and no --dim to create the store"));
    Status opened = OpenOrCreate(a_.dim);
    if (!opened.ok()) return Fail(opened);
  }
  Status flushed = store_ ? Flush() : Status::Ok();
  return Finish(flushed.ok() ? stop : flushed);
}

int Ingester::Finish(const Status& stop) {
  progress_.Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (a_.format != "table") {
    nlohmann::json j = {{"lines", t_.lines},     {"ingested", t_.ingested}, {"hot", t_.hot},
                        {"cold", t_.cold},       {"skipped_duplicates", t_.skipped},
                        {"replaced", t_.replaced}, {"invalid", t_.invalid},
                        {"seconds", secs},       {"ok", stop.ok()}};
    if (!stop.ok()) j["error"] = stop.message();
    fmt::print("{}\n", j.dump());
  }
  std::string summary = fmt::format(
      "ingested {} memories ({} hot, {} cold) from {} lines in {:.2f}s; {} duplicates skipped, "
      "{} replaced, {} invalid lines skipped",
      t_.ingested, t_.hot, t_.cold, t_.lines, secs, t_.skipped, t_.replaced, t_.invalid);
  if (stop.ok()) {
    Warn(summary);
    return kExitOk;
  }
  int code = Fail(stop);
  Warn("stopped; " + summary + " (all committed before the error)");
  return code;
}

}  // namespace

std::function<int()> SetupIngest(CLI::App* app) {
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("input", a->input, "JSONL file, or - for standard input")->default_str("-");
  app->add_option("--dim", a->dim, "Dimension when creating the store (default: first record's)")
      ->check(CLI::Range(1, 65536));
  app->add_option("--metric", a->metric, "Metric when creating the store")
      ->check(CLI::IsMember({"l2", "cosine", "ip"}))
      ->default_str("l2");
  app->add_option("--hot-capacity", a->hot_capacity, "Hot capacity when creating the store")
      ->default_val(StoreConfig().hot_capacity);
  app->add_option("--batch", a->batch, "Records per crash-safe batch")->default_val(10000)->check(CLI::Range(1, 10000000));
  app->add_option("--on-duplicate", a->on_duplicate, "An id already stored: error, skip or replace")
      ->check(CLI::IsMember({"error", "skip", "replace"}))
      ->default_str("error");
  app->add_flag("--skip-invalid", a->skip_invalid, "Report and skip bad lines instead of stopping");
  AddFormatOption(app, &a->format, "table");  // table: the summary on stderr only
  AddProgressOptions(app, &a->progress);
  app->add_option("--max-line-bytes", a->max_line_bytes, "Longest accepted input line")
      ->default_val(kDefaultMaxLineBytes);
  app->footer("Example: aether ingest ./mem memories.jsonl --batch 5000 --on-duplicate skip\n"
              "Record: {\"id\": \"m1\", \"vector\": [0.1, 0.2], \"payload\": {...}, \"importance\": 0.5}");
  return [a]() -> int {
    Input input;
    if (Status s = input.Open(a->input, "input file"); !s.ok()) return Fail(s);
    LineReader reader(input.stream(), input.name(), a->max_line_bytes);
    Ingester ingester(*a, &reader);
    return ingester.Run();
  };
}

}  // namespace aether::cli
