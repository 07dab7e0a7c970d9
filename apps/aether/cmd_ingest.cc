// aether ingest STORE [FILE|-]: JSONL records into the store, in batches that
// are each one crash-safe migration. Shape of the run:
//   read a line -> validate (file:line errors) -> resolve duplicates ->
//   append to the batch -> at --batch records, commit the batch.
// A bad line either stops the run (default: the lines before it are
// committed first) or, with --skip-invalid, is reported and skipped.
// From a regular file, lines are parsed on a second thread while the first
// writes (the same order, results and errors as reading a pipe).
// Binary input (.npy, .fvecs; --input-format) takes the same path with ids
// from a sidecar file (--ids) or generated (--id-prefix), and errors located
// by vector number and byte offset instead of line.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "aether/vector_file.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {
namespace {

struct IngestArgs {
  StoreArgs store;
  std::string input = "-";
  uint32_t dim = 0;
  std::string metric = "l2";
  uint64_t hot_capacity = StoreConfig().hot_capacity;
  std::string codec = ColdCodecName(StoreConfig().codec);
  size_t batch = 10000;
  std::string on_duplicate = "error";
  bool skip_invalid = false;
  std::string format;
  size_t max_line_bytes = kDefaultMaxLineBytes;
  std::string progress;
  std::string input_format;  // jsonl, npy, fvecs; empty: from the file name
  std::string ids;
  std::string id_prefix;
  bool create = false;          // --create: make the store if it does not exist
  bool ignore_unknown = false;  // JSONL: skip top-level fields ingest does not read
  bool preserve_state = false;  // JSONL: restore export's tier, times, access count, pin and history
  // The creation flags given on the command line: on an existing store
  // each must agree with what the store has.
  bool dim_given = false, metric_given = false, hot_capacity_given = false, codec_given = false;
};

// Without --create, ingest only adds to a store that exists.
Status NoStore(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return NotThere(path, Status::NotFound(fmt::format(
                              "{}: no such store; create it with 'aether init {} --dim N', or pass --create to ingest",
                              path, path)));
  if (std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec))
    return Status::NotFound(fmt::format(
        "{}: an empty directory, not an aether store; create one in it with 'aether init {} --dim N', or pass "
        "--create to ingest",
        path, path));
  return Status::NotFound(fmt::format("{}: not an aether store (no meta.db)", path));
}

// A creation flag that disagrees with the existing store is a usage error
// naming the stored value: the flags never change a store.
Status CheckCreationFlags(const IngestArgs& a, const StoreConfig& c) {
  auto differs = [&](const char* flag, const std::string& given, const std::string& stored, const char* what) {
    return Status::InvalidArgument(fmt::format(
        "{} {}: store {} already exists with {} {} (creation flags apply only to a new store{})", flag, given,
        a.store.store, what, stored,
        std::string(flag) == "--hot-capacity" ? "; change it with 'aether config STORE set hot_capacity N'" : ""));
  };
  if (a.dim_given && a.dim != c.dim) return differs("--dim", std::to_string(a.dim), std::to_string(c.dim), "dimension");
  if (a.metric_given && a.metric != MetricName(c.metric))
    return differs("--metric", a.metric, MetricName(c.metric), "metric");
  if (a.hot_capacity_given && a.hot_capacity != c.hot_capacity)
    return differs("--hot-capacity", std::to_string(a.hot_capacity), std::to_string(c.hot_capacity), "hot capacity");
  if (a.codec_given && a.codec != ColdCodecName(c.codec))
    return differs("--codec", a.codec, ColdCodecName(c.codec), "codec");
  return Status::Ok();
}

struct Totals {
  uint64_t lines = 0, ingested = 0, hot = 0, cold = 0, evicted = 0, skipped = 0, replaced = 0, invalid = 0;
  uint64_t unpinned = 0, pinned_cold = 0, warm = 0, evicted_warm = 0;
  std::string pressure_cold;  // the last batch's pressure that placed memories cold
};

struct ParsedLine;

// One read of binary input (.npy, .fvecs) with the ids of its vectors, as
// the reader leaves it for the writer: the records, then what ended it.
struct VectorChunk {
  std::vector<Record> records;
  std::vector<uint64_t> pos;  // each record's vector number, or its line in the ids file
  bool bad_vector = false;    // after the records, a bad vector used up an id (`read` says why)
  Status id_stop;             // after the records, the ids file failed, ran short or ran long
  Status read;                // the read's error, after the records
  bool broken = false;        // read: nothing after it can be read
};

class Ingester {
 public:
  // parallel: parse on a second thread (the input must be a regular file).
  Ingester(const IngestArgs& a, const StoreOpener& opener, LineReader* reader, bool parallel)
      : a_(a), opener_(opener), reader_(reader), parallel_(parallel), progress_("ingest", a.progress) {
    SetPolicy();
  }
  // parallel: read on a second thread (both inputs must be regular files).
  Ingester(const IngestArgs& a, const StoreOpener& opener, VectorFileReader* vectors, IdFileReader* ids, bool parallel)
      : a_(a), opener_(opener), parallel_(parallel), vectors_(vectors), ids_(ids), progress_("ingest", a.progress) {
    SetPolicy();
  }
  int Run();
  int RunBinary();

 private:
  void SetPolicy() {
    policy_ = a_.on_duplicate == "skip"      ? DuplicatePolicy::kSkip
              : a_.on_duplicate == "replace" ? DuplicatePolicy::kReplace
                                             : DuplicatePolicy::kError;
  }
  Status OpenOrCreate(uint32_t first_dim);
  Status Flush();
  // Handles one bad record (`located`: its error with file and place);
  // returns false when the run must stop.
  bool Reject(const Status& located, Status* stop);
  // "file:line" of a record, or "file: vector N" with generated ids.
  std::string Where(uint64_t pos) const {
    if (reader_) return fmt::format("{}:{}", reader_->name(), pos);
    if (ids_) return fmt::format("{}:{}", a_.ids, pos);
    return fmt::format("{}: vector {}", vectors_->name(), pos);
  }
  Status Accept(Record rec, uint64_t pos);
  bool Consume(ParsedLine& p, Status* stop, Status* fatal);
  bool ReadVectors(size_t max, VectorChunk* c);
  bool ConsumeVectors(VectorChunk& c, Status* stop, Status* fatal);
  int Finish(const Status& stop);

  const IngestArgs& a_;
  const StoreOpener& opener_;
  LineReader* reader_ = nullptr;
  bool parallel_ = false;
  VectorFileReader* vectors_ = nullptr;
  IdFileReader* ids_ = nullptr;
  std::vector<float> values_;  // ReadVectors' buffer (the reading thread's)
  DuplicatePolicy policy_;
  std::unique_ptr<Store> store_;
  StoreConfig config_;
  std::vector<Record> batch_;
  std::vector<uint64_t> batch_pos_;            // each record's line (JSONL, ids file) or vector number
  std::unordered_set<std::string> batch_ids_;  // the batch's distinct ids
  Status flush_stop_;                          // a duplicate of a stored id stopped the run at flush
  Totals t_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  Progress progress_;
};

Status Ingester::OpenOrCreate(uint32_t first_dim) {
  if (!Store::LooksLikeStore(a_.store.store)) {
    if (!a_.create) return NoStore(a_.store.store);
    StoreConfig c;
    c.dim = a_.dim ? a_.dim : first_dim;
    ParseMetric(a_.metric, &c.metric);
    c.hot_capacity = a_.hot_capacity;
    ParseColdCodec(a_.codec, &c.codec);
    // Another `ingest --create` may make it first: then this one adds to it
    // (its flags are checked against it below), as --create promises.
    if (Status created = Store::Create(a_.store.store, c); created.ok())
      Info(fmt::format("created store {} (dim {}, metric {}, hot capacity {})", a_.store.store, c.dim, a_.metric,
                       c.hot_capacity));
    else if (!Store::LooksLikeStore(a_.store.store))
      return created;
  }
  AETHER_ASSIGN_OR_RETURN(store_, opener_.Open(a_.store));
  config_ = store_->config();
  AETHER_RETURN_IF_ERROR(CheckCreationFlags(a_, config_));
  // Readers go on while this process waits for its input (a slow pipe).
  return store_->YieldToReaders();
}

// Commits the batch; the library applies the duplicate policy (ids already
// stored, or repeated in the input). --on-duplicate error makes a duplicate
// a bad line: the records before it are committed and the run stops at its
// line (DuplicatePolicy::kStop), or with --skip-invalid it is reported and
// skipped (kSkip). A stop is left in flush_stop_, already located; the
// returned Status is for store errors.
Status Ingester::Flush() {
  if (batch_.empty()) return Status::Ok();
  const bool dup_is_bad = policy_ == DuplicatePolicy::kError;
  const DuplicatePolicy policy = !dup_is_bad       ? policy_
                                 : a_.skip_invalid ? DuplicatePolicy::kSkip
                                                   : DuplicatePolicy::kStop;
  AETHER_ASSIGN_OR_RETURN(IngestBatchResult r, store_->IngestBatch(batch_, policy));
  auto duplicate = [&](size_t i) {
    return Status::BadInput(fmt::format("{}: duplicate id '{}' (already ingested; see --on-duplicate skip|replace)",
                                        Where(batch_pos_[i]), batch_[i].id));
  };
  Status stop;
  if (dup_is_bad) {
    for (size_t i : r.skipped_at) Reject(duplicate(i), &stop);  // --skip-invalid: each reported, skipped
    if (r.stopped_at < batch_.size()) {
      stop = duplicate(r.stopped_at);
      // The run ends at this record: count the input up to it, as if it
      // had stopped when reading it.
      t_.lines = reader_ || ids_ ? batch_pos_[r.stopped_at] : batch_pos_[r.stopped_at] + 1;
    }
  } else {
    t_.skipped += r.skipped;
  }
  t_.replaced += r.replaced;
  t_.hot += r.hot;
  t_.cold += r.cold;
  t_.warm += r.warm;
  t_.evicted += r.evicted;
  t_.evicted_warm += r.evicted_warm;
  t_.ingested += r.hot + r.warm + r.cold;
  t_.unpinned += r.unpinned;
  t_.pinned_cold += r.pinned_cold;
  if (!r.pressure_cold.empty()) t_.pressure_cold = r.pressure_cold;
  batch_.clear();
  batch_pos_.clear();
  batch_ids_.clear();
  progress_.Update(t_.ingested, 0);
  if (!stop.ok()) {
    flush_stop_ = stop;
    return Status::Ok();
  }
  return store_->YieldToReaders();
}

bool Ingester::Reject(const Status& located, Status* stop) {
  if (a_.skip_invalid) {
    ++t_.invalid;
    Warn(located.message() + " (skipped)");
    return true;
  }
  *stop = located;
  return false;
}

// Takes one valid record; duplicates (within the input or of stored
// memories) are the library's to resolve when the batch is flushed.
Status Ingester::Accept(Record rec, uint64_t pos) {
  batch_.push_back(std::move(rec));
  batch_pos_.push_back(pos);
  // --batch counts memories: a repeated id takes no room of its own (the
  // library resolves it within the batch), up to a bound on the lines held.
  batch_ids_.insert(batch_.back().id);
  if (batch_ids_.size() >= a_.batch || batch_.size() >= 4 * a_.batch) return Flush();
  return Status::Ok();
}

// One input line as the parser leaves it for the writer.
struct ParsedLine {
  enum Kind { kRecord, kBlank, kTooLong, kBad };
  std::string too_long;  // kTooLong: the message (says whether reading stopped)
  bool stops = false;    // kTooLong: reading stopped there, so it cannot be skipped
  uint64_t line = 0;
  Kind kind = kBlank;
  Record rec;
  Status status;  // kBad: why
};

// Parses lines with what is known of the store: its dimension and metric,
// or before it exists --dim (else the first valid record's length) and
// --metric, which it will be created with.
class LineParser {
 public:
  // hint: the format followed from the name (HintVectorFile).
  LineParser(uint32_t dim, Metric metric, bool ignore_unknown, bool preserve_state, bool hint)
      : dim_(dim), metric_(metric), ignore_unknown_(ignore_unknown), preserve_state_(preserve_state), hint_(hint) {}
  void Parse(const std::string& text, const LineReader& reader, bool too_long, ParsedLine* out) {
    out->line = reader.line_number();
    out->status = Status::Ok();
    if (too_long) {
      out->kind = ParsedLine::kTooLong;
      out->too_long = TooLongMessage(reader);
      out->stops = reader.broken();
    } else if (IsBlank(text)) {
      out->kind = ParsedLine::kBlank;
    } else if (Status s = ParseRecord(text, dim_, metric_, &out->rec, ignore_unknown_, preserve_state_); !s.ok()) {
      out->kind = ParsedLine::kBad;
      out->status = hint_ && out->line == 1 ? HintVectorFile(s, text, "--input-format") : s;
    } else {
      out->kind = ParsedLine::kRecord;
      if (dim_ == 0) dim_ = uint32_t(out->rec.vector.size());
    }
  }

 private:
  uint32_t dim_;
  Metric metric_;
  bool ignore_unknown_, preserve_state_, hint_;
};

// Chunks of input made on a second thread, a bounded queue of them ahead of
// the writer, in input order. `make` fills one chunk and says whether more
// may follow. Only for regular files: a read there never waits on another
// process, so the thread always finishes promptly when told to stop. When
// no thread is to be had (a limit on them), Next makes each chunk itself.
template <class Chunk>
class Prefetcher {
 public:
  Prefetcher(std::function<bool(Chunk*)> make, size_t depth) : make_(std::move(make)), depth_(depth) {
    try {
      thread_ = std::thread([this] { Produce(); });
    } catch (const std::system_error&) {
      inline_ = true;
    }
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // The next chunk in input order; false at the end. What `make` threw
  // (out of memory) is thrown here, after the chunks made before it.
  bool Next(Chunk* chunk) {
    if (inline_) {  // as Produce hands them on: the last chunk too, then false
      if (done_) return false;
      *chunk = Chunk();
      done_ = !make_(chunk);
      return true;
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !queue_.empty() || done_; });
    if (queue_.empty() && thrown_) std::rethrow_exception(thrown_);
    if (queue_.empty()) return false;
    *chunk = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return true;
  }

 private:
  void Produce() {
    for (bool more = true; more;) {
      Chunk chunk;
      try {
        more = make_(&chunk);
      } catch (...) {
        std::lock_guard<std::mutex> l(mu_);
        thrown_ = std::current_exception();
        break;
      }
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return queue_.size() < depth_ || stop_; });
      if (stop_) break;
      queue_.push_back(std::move(chunk));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }

  std::function<bool(Chunk*)> make_;
  const size_t depth_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool stop_ = false, done_ = false;
  bool inline_ = false;  // no thread: Next makes the chunks
  std::exception_ptr thrown_;
};

// Takes one parsed line in input order; false when the run must stop (then
// *stop or flush_stop_ says why, or *fatal holds a store error).
bool Ingester::Consume(ParsedLine& p, Status* stop, Status* fatal) {
  ++t_.lines;
  switch (p.kind) {
    case ParsedLine::kBlank:
      return true;
    case ParsedLine::kTooLong: {
      Status located = Status::BadInput(p.too_long).WithContext(Where(p.line));
      if (p.stops) {  // nothing after it can be read: not skippable
        *stop = located;
        return false;
      }
      return Reject(located, stop);
    }
    case ParsedLine::kBad:
      return Reject(p.status.WithContext(Where(p.line)), stop);
    case ParsedLine::kRecord:
      break;
  }
  if (!store_) {
    if (Status opened = OpenOrCreate(static_cast<uint32_t>(p.rec.vector.size())); !opened.ok()) {
      *fatal = opened;
      return false;
    }
  }
  Status accepted = Accept(std::move(p.rec), p.line);
  if (!flush_stop_.ok()) return false;
  if (accepted.ok()) return true;
  if (accepted.code() != Code::kBadInput) {  // store errors are not skippable
    *fatal = accepted;
    return false;
  }
  return Reject(accepted.WithContext(Where(p.line)), stop);
}

int Ingester::Run() {
  Metric metric = Metric::kL2;
  ParseMetric(a_.metric, &metric);
  LineParser parser(a_.dim, metric, a_.ignore_unknown, a_.preserve_state, a_.input_format.empty());
  if (Store::LooksLikeStore(a_.store.store)) {
    Status opened = OpenOrCreate(0);
    if (!opened.ok()) return Fail(opened);
    parser = LineParser(config_.dim, config_.metric, a_.ignore_unknown, a_.preserve_state, a_.input_format.empty());
  }
  Status stop, fatal;
  if (parallel_) {
    // Parsing on the second thread, chunks of 1,024 lines or 1 MiB of text,
    // up to a batch ahead (16,384 lines at most; 4 chunks at least), so that
    // it goes on while the writer commits a batch: with 4 chunks of 1,024
    // lines it stopped 4,096 lines into the next batch and the two took
    // turns. A chunk's records take about what its text took, or twice for
    // vectors of one-digit numbers.
    const size_t depth = std::max<size_t>(4, std::min<size_t>(a_.batch, 16384) / 1024 + 1);
    std::string text;
    bool too_long = false;
    Prefetcher<std::vector<ParsedLine>> source(
        [&](std::vector<ParsedLine>* chunk) {
          for (size_t bytes = 0; chunk->size() < 1024 && bytes < (1u << 20); bytes += text.size()) {
            if (!reader_->Next(&text, &too_long)) return false;
            chunk->emplace_back();
            parser.Parse(text, *reader_, too_long, &chunk->back());
          }
          return true;
        },
        depth);
    std::vector<ParsedLine> chunk;
    bool go = true;
    while (go && source.Next(&chunk))
      for (ParsedLine& p : chunk)
        if (!(go = Consume(p, &stop, &fatal))) break;
  } else {
    std::string text;
    bool too_long = false;
    ParsedLine p;
    while (reader_->Next(&text, &too_long)) {
      parser.Parse(text, *reader_, too_long, &p);
      if (!Consume(p, &stop, &fatal)) break;
    }
  }
  if (fatal.ok() && stop.ok() && !reader_->status().ok() && store_) {
    // A read error ends the input like a bad line: what was read before it
    // is committed (a duplicate among it, being earlier, is what is reported).
    Status flushed = Flush();
    return Finish(!flushed.ok() ? flushed : !flush_stop_.ok() ? flush_stop_ : reader_->status());
  }
  if (fatal.ok() && stop.ok() && !reader_->status().ok()) fatal = reader_->status();  // a read error
  if (!fatal.ok()) return store_ ? Finish(fatal) : Fail(fatal);
  if (!store_ && stop.ok()) {
    // No valid record at all: the store must still open (or exist) to report.
    if (!Store::LooksLikeStore(a_.store.store) && a_.dim == 0)
      return Fail(Status::BadInput(reader_->name() + ": no records, and no --dim to create the store"));
    Status opened = OpenOrCreate(a_.dim);
    if (!opened.ok()) return Fail(opened);
  }
  Status flushed = store_ ? Flush() : Status::Ok();
  return Finish(!flushed.ok() ? flushed : !flush_stop_.ok() ? flush_stop_ : stop);
}

int Ingester::RunBinary() {
  Status stop = vectors_->Open();
  // An empty .fvecs file has no vector to tell its dimension (dim() is 0):
  // like an empty JSONL file, it ingests nothing into an existing store or
  // one --dim creates.
  const bool empty = vectors_->dim() == 0;
  // An existing store is opened first: a creation flag that disagrees with
  // it is a usage error naming the stored value, whatever the file holds.
  if (stop.ok() && Store::LooksLikeStore(a_.store.store)) stop = OpenOrCreate(vectors_->dim());
  if (stop.ok() && !store_ && empty && a_.dim == 0)
    stop = Status::BadInput(vectors_->name() + ": no vectors, and no --dim to create the store");
  if (stop.ok() && !store_ && !empty && a_.dim != 0 && a_.dim != vectors_->dim())
    stop = Status::BadInput(
        fmt::format("{}: vectors have {} values, --dim says {}", vectors_->name(), vectors_->dim(), a_.dim));
  if (!stop.ok()) return Fail(stop);
  if (!store_)
    if (Status opened = OpenOrCreate(vectors_->dim()); !opened.ok()) return Fail(opened);
  if (!empty && config_.dim != vectors_->dim())
    return Fail(Status::BadInput(fmt::format("{}: vectors have {} values, store dimension is {}", vectors_->name(),
                                             vectors_->dim(), config_.dim)));
  // Chunks of at most 4 MiB of vectors (and --batch), two read ahead on a
  // second thread when both files are regular files.
  const size_t max = std::min<size_t>({a_.batch, 65536, std::max<size_t>(1, (4u << 20) / (4ull * config_.dim))});
  Status fatal;
  if (parallel_) {
    Prefetcher<VectorChunk> source([&](VectorChunk* c) { return ReadVectors(max, c); }, 2);
    VectorChunk c;
    while (source.Next(&c))
      if (!ConsumeVectors(c, &stop, &fatal)) break;
  } else {
    for (bool more = true; more;) {
      VectorChunk c;
      more = ReadVectors(max, &c);
      if (!ConsumeVectors(c, &stop, &fatal)) break;
    }
  }
  if (!fatal.ok()) return Finish(fatal);  // a store error: nothing more is written
  Status flushed = Flush();
  return Finish(!flushed.ok() ? flushed : !flush_stop_.ok() ? flush_stop_ : stop);
}

// Reads up to `max` vectors with their ids (from --ids, or generated); false
// when nothing may follow: the end (where the ids file must end too), a
// failing or short ids file, or a read error that stops the run.
bool Ingester::ReadVectors(size_t max, VectorChunk* c) {
  values_.clear();
  size_t got = 0;
  const uint64_t first = vectors_->count();
  c->read = vectors_->Read(max, config_.metric, &values_, &got);
  // Each vector read (and a bad one skipped) takes its id, in file order.
  const uint64_t consumed = vectors_->count() - first;
  for (uint64_t i = 0; i < consumed; ++i) {
    Record rec;
    if (ids_) {
      auto more = ids_->Next(&rec.id);
      if (!more.ok()) {
        c->id_stop = more.status();
        return false;
      }
      if (!*more) {
        c->id_stop = Status::BadInput(
            fmt::format("{}: has only {} ids, {} has more vectors", a_.ids, ids_->line_number(), vectors_->name()));
        return false;
      }
    } else {
      rec.id = a_.id_prefix + std::to_string(first + i);
    }
    if (i >= got) {  // the bad vector: its id is used up, the error follows
      c->bad_vector = true;
      break;
    }
    rec.vector.assign(values_.begin() + i * config_.dim, values_.begin() + (i + 1) * config_.dim);
    c->pos.push_back(ids_ ? ids_->line_number() : first + i);
    c->records.push_back(std::move(rec));
  }
  c->broken = vectors_->broken();
  if (!c->read.ok()) return !c->broken && a_.skip_invalid;
  if (got > 0) return true;
  if (ids_) {  // the end of the vectors
    auto more = ids_->MoreIds();
    if (!more.ok())
      c->id_stop = more.status();
    else if (*more)
      c->id_stop = Status::BadInput(fmt::format("{}:{}: more ids than the {} vectors in {}", a_.ids,
                                                ids_->line_number(), vectors_->count(), vectors_->name()));
  }
  return false;
}

// Takes one chunk in input order; false when the run must stop (then *stop
// or flush_stop_ says why, or *fatal holds a store error).
bool Ingester::ConsumeVectors(VectorChunk& c, Status* stop, Status* fatal) {
  for (size_t i = 0; i < c.records.size(); ++i) {
    ++t_.lines;
    Status accepted = Accept(std::move(c.records[i]), c.pos[i]);
    if (!flush_stop_.ok()) return false;
    if (!accepted.ok()) {
      if (accepted.code() != Code::kBadInput) {
        *fatal = accepted;
        return false;
      }
      if (!Reject(accepted.WithContext(Where(c.pos[i])), stop)) return false;
    }
  }
  if (c.bad_vector) ++t_.lines;
  if (!c.id_stop.ok()) {
    *stop = c.id_stop;
    return false;
  }
  if (c.read.ok()) return true;
  if (c.broken || !Reject(c.read, stop)) {
    *stop = c.read;
    return false;
  }
  return true;
}

int Ingester::Finish(const Status& stop) {
  progress_.Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (a_.format != "table") {
    nlohmann::json j = {{"lines", t_.lines},
                        {"ingested", t_.ingested},
                        {"hot", t_.hot},
                        {"warm", t_.warm},
                        {"cold", t_.cold},
                        {"evicted", t_.evicted},
                        {"evicted_warm", t_.evicted_warm},
                        {"skipped_duplicates", t_.skipped},
                        {"replaced", t_.replaced},
                        {"invalid", t_.invalid},
                        {"seconds", secs},
                        {"ok", stop.ok()}};
    if (!stop.ok()) j["error"] = stop.message();
    fmt::print("{}\n", JsonText(j));
  }
  const std::string evicted =
      t_.evicted ? fmt::format("; {} older hot memories descended to make room{}", t_.evicted,
                               t_.evicted_warm == t_.evicted ? " (to the warm tier)"
                               : t_.evicted_warm             ? fmt::format(" ({} to the warm tier)", t_.evicted_warm)
                                                             : std::string())
                 : "";
  std::string summary = fmt::format(
      "ingested {} memories ({} hot, {}{} cold{}) from {} {} in {:.2f}s; {} duplicates skipped, "
      "{} replaced, {} invalid {} skipped",
      t_.ingested, t_.hot, t_.warm ? fmt::format("{} warm, ", t_.warm) : std::string(), t_.cold, evicted, t_.lines,
      vectors_ ? "vectors" : "lines", secs, t_.skipped, t_.replaced, t_.invalid, vectors_ ? "vectors" : "lines");
  if (!t_.pressure_cold.empty())
    Warn("pressure " + t_.pressure_cold + " -- new memories were placed cold (Pressure levels in the README)");
  if (t_.unpinned)
    Warn(fmt::format("replaced {} pinned {} by records that say \"pinned\": false; the new {} not pinned", t_.unpinned,
                     t_.unpinned == 1 ? "memory" : "memories", t_.unpinned == 1 ? "one is" : "ones are"));
  if (t_.pinned_cold)
    Warn(fmt::format("{} pinned {} placed cold (no room in the hot tier, or pressure); aether pin ascends {}",
                     t_.pinned_cold, t_.pinned_cold == 1 ? "memory was" : "memories were",
                     t_.pinned_cold == 1 ? "it" : "them"));
  if (stop.ok()) {
    Info(summary);
    return kExitOk;
  }
  int code = Fail(stop);
  Warn("stopped; " + summary + " (all committed before the error)");
  g_said_committed = true;
  return code;
}

}  // namespace

Runner SetupIngest(CLI::App* app) {
  auto a = std::make_shared<IngestArgs>();
  AddStoreArgs(app, &a->store);
  app->add_option("input", a->input, "JSONL, .npy or .fvecs file, or - for standard input")->default_str("-");
  app->add_option("--input-format", a->input_format,
                  "Input format (default: npy for *.npy, fvecs for *.fvecs, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "npy", "fvecs"}));
  app->add_option("--ids", a->ids, "npy/fvecs: a text file with one id per line, in vector order");
  CLI::Option* prefix_opt =
      app->add_option("--id-prefix", a->id_prefix, "npy/fvecs: ids are PREFIX + the vector's 0-based index");
  app->add_flag("--create", a->create,
                "Create the store if it does not exist (with the flags below; on an existing store they must agree)");
  CLI::Option* dim_opt = app->add_option("--dim", a->dim, "Dimension when creating the store (default: first record's)")
                             ->check(CLI::Range(1, 65536));
  CLI::Option* metric_opt = app->add_option("--metric", a->metric, "Metric when creating the store")
                                ->check(CLI::IsMember({"l2", "cosine", "ip"}))
                                ->default_str("l2");
  CLI::Option* capacity_opt = app->add_option("--hot-capacity", a->hot_capacity, "Hot capacity when creating the store")
                                  ->default_val(StoreConfig().hot_capacity);
  CLI::Option* codec_opt = app->add_option("--codec", a->codec, "Cold codec when creating the store (see init --help)")
                               ->check(CLI::IsMember(ColdCodecNames()))
                               ->default_str(ColdCodecName(StoreConfig().codec));
  app->add_option("--batch", a->batch, "Records per crash-safe batch")
      ->default_val(10000)
      ->check(CLI::Range(1, 10000000));
  app->add_option("--on-duplicate", a->on_duplicate, "An id already stored: error, skip or replace")
      ->check(CLI::IsMember({"error", "skip", "replace"}))
      ->default_str("error");
  app->add_flag("--skip-invalid", a->skip_invalid, "Report and skip bad lines instead of stopping");
  app->add_flag("--ignore-unknown", a->ignore_unknown,
                "JSONL: skip top-level fields other than id, vector, payload, importance (and, with "
                "--preserve-state, export's state fields) (default: an error)");
  app->add_flag("--preserve-state", a->preserve_state,
                "JSONL: restore what export wrote of each memory's state: tier, created_ms, last_access_ms, "
                "access_count, pinned, access_history (default: new memories, placed by the hot capacity)");
  AddFormatOption(app, &a->format, "table");  // table: the summary on stderr only
  AddProgressOptions(app, &a->progress);
  app->add_option("--max-line-bytes", a->max_line_bytes, "Longest accepted input line")
      ->default_val(kDefaultMaxLineBytes);
  app->footer(
      "Example: aether ingest ./mem memories.jsonl --create --batch 5000 --on-duplicate skip\n"
      "Record: {\"id\": \"m1\", \"vector\": [0.1, 0.2], \"payload\": {...}, \"importance\": 0.5}");
  return [a, prefix_opt, dim_opt, metric_opt, capacity_opt, codec_opt](const StoreOpener& opener) -> int {
    a->dim_given = dim_opt->count() > 0;
    a->metric_given = metric_opt->count() > 0;
    a->hot_capacity_given = capacity_opt->count() > 0;
    a->codec_given = codec_opt->count() > 0;
    // A misspelt path must not become a new store: creating one is asked for.
    if (!a->create && !Store::LooksLikeStore(a->store.store)) return Fail(NoStore(a->store.store));
    const std::string format = VectorInputFormat(a->input, a->input_format);
    const bool prefix_given = prefix_opt->count() > 0;
    if (format == "jsonl" && (!a->ids.empty() || prefix_given))
      return Fail(Status::InvalidArgument(
          fmt::format("--ids and --id-prefix are for npy/fvecs input; JSONL records carry their "
                      "ids{}",
                      a->input_format.empty() ? " (the input is read as JSONL: its name does "
                                                "not end in .npy or .fvecs; --input-format "
                                                "npy or fvecs says otherwise)"
                                              : "")));
    if (format != "jsonl" && a->ignore_unknown)
      return Fail(Status::InvalidArgument("--ignore-unknown is for JSONL input; npy and fvecs have no fields"));
    if (format != "jsonl" && a->preserve_state)
      return Fail(Status::InvalidArgument("--preserve-state is for JSONL input; npy and fvecs have no fields"));
    if (format != "jsonl" && a->ids.empty() == !prefix_given)
      return Fail(Status::InvalidArgument(
          fmt::format("{} input needs exactly one of --ids FILE or --id-prefix PREFIX", format)));
    if (format != "jsonl" && a->input == "-" && a->ids == "-")
      return Fail(Status::InvalidArgument("the vectors and the ids cannot both come from standard input"));
    Input input;
    if (Status s = input.Open(a->input, "input file"); !s.ok()) return Fail(s);
    if (format != "jsonl") {
      VectorFileReader vectors(input.stream(), input.name(),
                               format == "npy" ? VectorFormat::kNpy : VectorFormat::kFvecs);
      Input id_input;
      std::optional<IdFileReader> ids;
      if (!a->ids.empty()) {
        if (Status s = id_input.Open(a->ids, "ids file"); !s.ok()) return Fail(s);
        ids.emplace(id_input.stream(), id_input.name());
      }
      Ingester ingester(*a, opener, &vectors, ids ? &*ids : nullptr,
                        input.IsRegularFile() && (!ids || id_input.IsRegularFile()));
      return ingester.RunBinary();
    }
    // --skip-invalid skips a too-long line if it ends within the limit again.
    LineReader reader(input.stream(), input.name(), a->max_line_bytes, a->skip_invalid ? a->max_line_bytes : 0);
    Ingester ingester(*a, opener, &reader, input.IsRegularFile());
    return ingester.Run();
  };
}

}  // namespace aether::cli
