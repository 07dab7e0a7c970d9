// aether search STORE (--vector JSON | --queries FILE|-) [--where EXPR]: top-k
// over the hot tier and the cold tier, one pass over the data for all
// queries; with --where, over the memories the filter matches.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "aether/vector_file.h"
#include "cli.h"

namespace aether::cli {
namespace {

struct SearchArgs {
  StoreArgs store;
  bool cache_bytes_given = false;
  std::string vector;
  std::string queries;
  std::string queries_format;  // jsonl, npy, fvecs; empty: from the file name
  uint32_t k = 10;
  uint32_t nprobe = 0;
  double recall = 0;
  bool recall_given = false;
  uint32_t threads = 0;
  uint32_t rerank = SearchOptions::kDefaultRerank;
  std::string tier = "all";
  bool no_touch = false;
  bool with_payload = false;
  bool explain = false;
  std::string where;
  std::string where_plan = "auto";
  std::string format;
  int64_t timeout_ms = -1;  // -1: the store's search_timeout_ms
};

// work(0 .. workers - 1), work(0) on this thread, the others each on a
// thread of its own, all done on return; work must not throw. A thread
// that cannot be had (a limit on threads, or no memory for one) leaves
// its share to this one.
void OnThreads(size_t workers, const std::function<void(size_t)>& work) {
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) try {
      pool.emplace_back(work, w);
    } catch (...) {
      work(w);
    }
  work(0);
  for (std::thread& t : pool) t.join();
}

// Parses lines[0, m) into (*out)[0, m) on up to `threads` threads, a
// contiguous share each (one for fewer than 256 lines a thread); the first
// line that does not parse, by index, and why ({m, Ok} when all do). An
// exception (std::bad_alloc) reaches the caller once every thread is done.
std::pair<size_t, Status> ParseLines(const std::vector<std::string>& lines, size_t m, uint32_t dim, Metric metric,
                                     size_t threads, std::vector<Query>* out) {
  const size_t workers = std::max<size_t>(1, std::min(threads, m / 256));
  std::vector<std::pair<size_t, Status>> first(workers, {m, Status::Ok()});
  std::vector<std::pair<size_t, std::exception_ptr>> thrown(workers, {m, nullptr});
  auto work = [&](size_t w) {
    size_t i = m * w / workers;
    try {
      for (; i < m * (w + 1) / workers; ++i) {
        (*out)[i] = Query();
        if (Status s = ParseQuery(lines[i], dim, metric, &(*out)[i]); !s.ok()) {
          first[w] = {i, s};
          return;
        }
      }
    } catch (...) {
      thrown[w] = {i, std::current_exception()};
    }
  };
  OnThreads(workers, work);
  // As in turn: an exception only where no line before it was bad.
  auto by_line = [](const auto& x, const auto& y) { return x.first < y.first; };
  const auto bad = *std::min_element(first.begin(), first.end(), by_line);
  const auto& threw = *std::min_element(thrown.begin(), thrown.end(), by_line);
  if (threw.second && threw.first < bad.first) std::rethrow_exception(threw.second);
  return bad;
}

Status ReadQueries(const SearchArgs& a, const StoreConfig& c, std::vector<std::string>* names,
                   std::vector<std::vector<float>>* vectors) {
  if (!a.vector.empty()) {
    std::vector<float> v;
    AETHER_RETURN_IF_ERROR(ParseVector(a.vector, c.dim, c.metric, &v).WithContext("--vector"));
    names->push_back("0");
    vectors->push_back(std::move(v));
    return Status::Ok();
  }
  const std::string format = VectorInputFormat(a.queries, a.queries_format);
  Input input;
  AETHER_RETURN_IF_ERROR(input.Open(a.queries, "query file"));
  const std::string& name = input.name();
  if (format != "jsonl") {  // named by their 0-based position, as JSONL queries without an id
    VectorFileReader reader(input.stream(), name, format == "npy" ? VectorFormat::kNpy : VectorFormat::kFvecs);
    AETHER_RETURN_IF_ERROR(reader.Open());
    if (reader.dim() != c.dim && reader.dim() != 0)  // 0: an empty .fvecs file, no queries
      return Status::BadInput(
          fmt::format("{}: the query vectors have dimension {}, the store {}", name, reader.dim(), c.dim));
    std::vector<float> all;
    // Room for the vectors the header announces (npy), so that the reads do
    // not copy what came before as it grows; at most 2^24 floats (64 MiB)
    // ahead of reading them (a header may lie).
    if (reader.declared_count() > 0)
      all.reserve(size_t(std::min<uint64_t>(uint64_t(reader.declared_count()) * c.dim, uint64_t(1) << 24)));
    for (size_t got = 1; got > 0;) AETHER_RETURN_IF_ERROR(reader.Read(4096, c.metric, &all, &got));
    names->reserve(all.size() / c.dim);
    vectors->reserve(all.size() / c.dim);
    for (size_t q = 0; q * c.dim < all.size(); ++q) {
      names->push_back(std::to_string(q));
      vectors->emplace_back(all.begin() + q * c.dim, all.begin() + (q + 1) * c.dim);
    }
    return Status::Ok();
  }
  // From a regular file, up to 8,192 lines (kParseBytes of text) at
  // a time, parsed on up to --threads threads (a contiguous share each);
  // from a pipe or a terminal, a line at a time (a bad line is reported as
  // it arrives, not once more lines came). The first bad line is the one
  // reported, as when they were parsed in turn, and a line too long or a
  // read error only after the lines before it.
  constexpr size_t kParseBytes = 16u << 20;
  const size_t block_lines = input.IsRegularFile() ? 8192 : 1;
  const size_t threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  LineReader reader(input.stream(), name);
  std::vector<std::string> lines(block_lines);
  std::vector<uint64_t> numbers(block_lines);
  std::vector<Query> parsed(block_lines);
  bool too_long = false, more = true;
  while (more) {
    size_t m = 0, bytes = 0;
    Status stop;  // what ended the reading (after these lines)
    while (m < block_lines && bytes < kParseBytes && (more = reader.Next(&lines[m], &too_long))) {
      if (too_long) {
        stop = Status::BadInput(fmt::format("{}:{}: {}", name, reader.line_number(), TooLongMessage(reader)));
        more = false;
        break;
      }
      if (IsBlank(lines[m])) continue;
      bytes += lines[m].size();
      numbers[m++] = reader.line_number();
    }
    if (stop.ok()) stop = reader.status();
    const auto [bad, why] = ParseLines(lines, m, c.dim, c.metric, threads, &parsed);
    if (bad < m) {
      Status s = why;
      if (numbers[bad] == 1 && a.queries_format.empty()) s = HintVectorFile(s, lines[bad], "--queries-format");
      return s.WithContext(fmt::format("{}:{}", name, numbers[bad]));
    }
    if (!stop.ok()) return stop;
    for (size_t i = 0; i < m; ++i) {
      names->push_back(parsed[i].id.empty() ? std::to_string(numbers[i] - 1) : std::move(parsed[i].id));
      vectors->push_back(std::move(parsed[i].vector));
      if (lines[i].capacity() > (1u << 20)) lines[i] = std::string();  // a long line's room not held on
    }
  }
  return Status::Ok();
}

// A hit's score parts; a memory whose state was not read shows the
// defaults (as a hit's inline parts did).
const SearchHit::Explain& ExplainOf(const SearchHit& h) {
  static const SearchHit::Explain kNone;
  return h.explain ? *h.explain : kNone;
}

nlohmann::json HitsJson(const std::string& name, const std::vector<SearchHit>& hits, bool payload, bool explain) {
  nlohmann::json results = nlohmann::json::array();
  for (const SearchHit& h : hits) {
    nlohmann::json r = {{"id", h.id}, {"distance", FloatJson(h.distance)}, {"tier", TierName(h.tier)}};
    if (payload) r["payload"] = h.payload_json.empty() ? nlohmann::json() : nlohmann::json::parse(h.payload_json);
    if (explain) {
      const SearchHit::Explain& e = ExplainOf(h);
      r["explain"] = {{"distance", FloatJson(h.distance)},
                      {"recency_hours", e.recency_hours},
                      {"access_count", e.access_count},
                      {"importance", e.importance},
                      {"score", e.score},
                      {"pattern", PatternJson(e.pattern)}};
    }
    results.push_back(std::move(r));
  }
  return {{"query", name}, {"results", std::move(results)}};
}

// One query's object as HitsJson's dump() prints it (keys in order, no
// spaces), appended to *out directly: without a payload or explanation a
// batch's output is mostly this, and building each object costs several
// times more than writing it. The strings and numbers are as the DOM prints
// them.
void AppendHitsLine(const std::string& name, const std::vector<SearchHit>& hits, bool partial, std::string* out) {
  // Room for the line, so that the text is not copied as it grows: a hit's
  // text is its id and about 48 bytes more.
  size_t room = 48 + name.size();
  for (const SearchHit& h : hits) room += 48 + h.id.size();
  if (out->capacity() < out->size() + room) out->reserve(std::max(out->size() + room, 2 * out->capacity()));
  *out += partial ? "{\"partial\":true,\"query\":" : "{\"query\":";
  AppendJsonString(name, out);
  *out += ",\"results\":[";
  for (size_t i = 0; i < hits.size(); ++i) {
    *out += i ? ",{\"distance\":" : "{\"distance\":";
    AppendFloatJson(hits[i].distance, out);
    *out += ",\"id\":";
    AppendJsonString(hits[i].id, out);
    *out += ",\"tier\":\"";
    *out += TierName(hits[i].tier);
    *out += "\"}";
  }
  *out += "]}";
}

// Writes the lines of queries [0, n) with append_line (which appends query
// q's line and its separator to a text) on up to `threads` threads, `block`
// queries at a time, each thread a contiguous share of the block into one
// text of its own; hands put those texts in order as the block is done (so
// a large batch's output is never held whole, and no line is copied
// again). An exception of append_line (a DOM's dump of invalid UTF-8)
// reaches the caller after put had every line before it.
template <typename AppendLine, typename Put>
void FormatLines(size_t n, size_t block, size_t threads, const AppendLine& append_line, const Put& put) {
  std::vector<std::string> texts;
  for (size_t b = 0; b < n; b += block) {
    const size_t m = std::min(block, n - b);
    const size_t workers = std::max<size_t>(1, std::min(threads, m / 256));  // a thread for 256 lines or more
    texts.resize(workers);
    std::vector<std::exception_ptr> failed(workers);  // per share: what stopped it
    auto work = [&](size_t w) {
      std::string& text = texts[w];
      text.clear();
      for (size_t i = m * w / workers; i < m * (w + 1) / workers; ++i) {
        const size_t before = text.size();
        try {
          append_line(b + i, &text);
        } catch (...) {
          text.resize(before);  // the lines before it, whole
          failed[w] = std::current_exception();
          return;
        }
      }
    };
    OnThreads(workers, work);
    // Shares in order: the first that failed is the last put.
    for (size_t w = 0; w < workers; ++w) {
      put(texts[w]);
      if (failed[w]) std::rethrow_exception(failed[w]);
    }
  }
}

void Print(const SearchArgs& a, const std::vector<std::string>& names,
           const std::vector<std::vector<SearchHit>>& results, const std::vector<uint8_t>& partial) {
  const bool plain = !a.with_payload && !a.explain;
  auto append_line = [&](size_t q, std::string* out) {
    if (plain) return AppendHitsLine(names[q], results[q], partial[q], out);
    nlohmann::json j = HitsJson(names[q], results[q], a.with_payload, a.explain);
    if (partial[q]) j["partial"] = true;
    *out += JsonText(j);
  };
  std::string format = a.format.empty() ? (StdoutIsTty() ? "table" : "jsonl") : a.format;
  if (format == "table") {
    fmt::print("{:<12} {:>4}  {:<24} {:>12}  {}{}\n", "query", "rank", "id", "distance", "tier",
               a.explain ? "  recency_h  accesses  importance     score" : "");
    for (size_t q = 0; q < results.size(); ++q)
      for (size_t i = 0; i < results[q].size(); ++i) {
        const SearchHit& h = results[q][i];
        const SearchHit::Explain& e = ExplainOf(h);
        std::string ex = a.explain ? fmt::format("  {:>9.3g} {:>9} {:>11.3g} {:>9.4g}", e.recency_hours, e.access_count,
                                                 e.importance, e.score)
                                   : "";
        fmt::print("{:<12} {:>4}  {:<24} {:>12.6g}  {}{}\n", Printable(names[q]), i + 1, Printable(h.id), h.distance,
                   TierName(h.tier), ex);
      }
    return;
  }
  const size_t threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  if (format == "json") {  // all or nothing, as one array
    std::string all = "[";
    FormatLines(
        results.size(), results.size(), threads,
        [&](size_t q, std::string* out) {
          if (q) *out += ',';
          append_line(q, out);
        },
        [&](const std::string& text) { all += text; });
    fmt::print("{}]\n", all);
    return;
  }
  // Blocks of 4,096 queries: about 2 MiB of text at k = 10.
  FormatLines(
      results.size(), 4096, threads,
      [&](size_t q, std::string* out) {
        append_line(q, out);
        *out += '\n';
      },
      [&](const std::string& text) { fmt::print("{}", text); });
}

// A store in a bucket that reads as damaged: the bucket's objects were
// checked when fetched, so the cache on local disk may be what is damaged.
// Not when the damage is the bucket's, found as it was read (an object or
// a manifest that is not what it should be): that message names it by its
// URI (the cache's own files are named by their local paths).
Status CacheHint(const SearchArgs& a, const Status& s) {
  if (s.code() != Code::kCorruption || a.store.store.rfind("s3://", 0) != 0 || g_bucket_cache_dir.empty() ||
      s.message().find("s3://") != std::string::npos)
    return s;
  return s.WithMessage(s.message() +
                       " (the bucket's objects are checked as they are fetched: if the bucket is sound, "
                       "the local cache may be damaged; remove " +
                       g_bucket_cache_dir + " and search again)");
}

// A failure to record the accesses says how to search without recording.
Status RecordingHint(const Status& s) {
  const std::string prefix = std::string(kRecordingAccessContext) + ": ";
  if (s.message().compare(0, prefix.size(), prefix) != 0) return s;
  return s.WithMessage(std::string(kRecordingAccessContext) +
                       " (use --no-touch for a read-only search): " + s.message().substr(prefix.size()));
}

int Run(const SearchArgs& a, const StoreOpener& opener) {
  // 0 is not a recall to aim for (it would mean "the default"); NaN passes
  // CLI11's range check.
  if (a.recall_given && !(a.recall > 0 && a.recall <= 1))
    return Fail(Status::InvalidArgument("--recall must be in (0, 1]"));
  if (a.vector.empty() == a.queries.empty())
    return Fail(Status::InvalidArgument("give exactly one of --vector or --queries"));
  if (!a.where.empty())  // a bad filter is a usage error before anything opens
    if (Status s = Store::CheckFilter(a.where); !s.ok()) return Fail(s);
  if (a.store.store.rfind("s3://", 0) != 0 && (!a.store.cache.dir.empty() || a.cache_bytes_given))
    return Fail(Status::InvalidArgument("--cache-dir and --cache-bytes are for a store in a bucket (STORE s3://...)"));
  auto store = opener.Open(a.store);
  if (!store.ok()) return Fail(CacheHint(a, store.status()));
  std::vector<std::string> names;
  std::vector<std::vector<float>> vectors;
  Status read = ReadQueries(a, (*store)->config(), &names, &vectors);
  if (!read.ok()) return Fail(read);

  SearchOptions so;
  so.k = a.k;
  so.nprobe = a.nprobe;
  so.recall = a.recall;
  so.threads = a.threads;
  so.rerank = a.rerank;
  g_metrics_tiers = a.tier;
  so.tiers = a.tier == "hot"    ? TierFilter::kHot
             : a.tier == "warm" ? TierFilter::kWarm
             : a.tier == "cold" ? TierFilter::kCold
                                : TierFilter::kAll;
  so.with_payload = a.with_payload;
  so.explain = a.explain;
  so.where = a.where;
  so.filter_plan = a.where_plan == "exact"  ? SearchOptions::FilterPlan::kExact
                   : a.where_plan == "scan" ? SearchOptions::FilterPlan::kScan
                                            : SearchOptions::FilterPlan::kAuto;
  // The library records the accesses (and queues restores) unless told not
  // to; a user who may only read the store is told once, after the results.
  // A store read from a bucket records nothing: its cache's replica is
  // replaced by the next manifest, and no writer would act on what it saw.
  const bool bucket = a.store.store.rfind("s3://", 0) == 0;
  const bool unwritable = !a.no_touch && !bucket && !(*store)->writable();
  so.record_access = !a.no_touch && !unwritable && !bucket;
  if (a.timeout_ms >= 0) so.timeout_ms = uint32_t(a.timeout_ms);  // else the store's search_timeout_ms
  std::vector<uint8_t> partial;
  so.partial = &partial;
  auto results = (*store)->Search(vectors, so);
  // A bucket search that failed may be mended by searching again:
  // - A shard object gone from the bucket: a publish --keep deleted the
  //   snapshot under this search once a newer one replaced it. The bucket
  //   is opened again and its newest snapshot searched (kReplacedRetries
  //   times at most). When the newest is the one that lacks the object, the
  //   bucket lost it: that is the error.
  // - Cached shards damaged on local disk (the cache is only a copy of the
  //   bucket): they are removed and fetched again, while each run finds
  //   more (a failed scan stops at its first damage). Every round removes
  //   one at least, and a fetched shard is checked, so the rounds end;
  //   kMaxHealRounds bounds them against a disk that keeps damaging what is
  //   written.
  constexpr int kMaxHealRounds = 1000;
  uint64_t healed = 0;
  const uint64_t first_sequence = g_bucket_sequence;
  int replaced = 0;
  std::string first_damage, first_gone;
  for (int round = 0; bucket && round < kMaxHealRounds && !results.ok(); ++round) {
    if (const std::string gone = g_bucket_missing ? g_bucket_missing() : ""; !gone.empty()) {
      if (replaced == kReplacedRetries) return Fail(BucketReplacedTooOften(a.store.store));
      const uint64_t was = g_bucket_sequence;
      const std::string was_replica = g_bucket_replica;
      const StoreConfig was_config = (*store)->config();
      store->reset();  // its snapshot's replica is then no longer read
      store = opener.Open(a.store);
      if (!store.ok()) return Fail(store.status());
      if (g_bucket_replica == was_replica) return Fail(BucketLostObject(a.store.store, was, "GET " + gone + ": 404"));
      // The queries were read for the snapshot before.
      const StoreConfig& now = (*store)->config();
      if (now.dim != was_config.dim || now.metric != was_config.metric)
        return Fail(Status::FailedPrecondition(fmt::format(
            "{}: manifest {} was replaced, while this search read it, by manifest {} of another dimension or "
            "metric (is another store publishing to this prefix?)",
            a.store.store, was, g_bucket_sequence)));
      if (first_gone.empty()) first_gone = gone;
      ++replaced;
    } else if (results.status().code() == Code::kCorruption && g_bucket_drop_damaged) {
      Result<uint64_t> dropped = g_bucket_drop_damaged();
      if (!dropped.ok() || *dropped == 0) break;
      if (healed == 0) first_damage = results.status().message();
      healed += *dropped;
    } else {
      break;
    }
    results = (*store)->Search(vectors, so);
  }
  if (healed > 0)
    Warn(fmt::format("{}: {} damaged cached shard{} removed from {} and fetched again (the first: {})", a.store.store,
                     healed, healed == 1 ? "" : "s", g_bucket_cache_dir, first_damage));
  if (replaced > 0 && results.ok())
    Info(
        fmt::format("{}: manifest {} was deleted while this search read it ({} is gone: publish --keep?); "
                    "searched manifest {}, the newest",
                    a.store.store, first_sequence, first_gone, g_bucket_sequence));
  if (!results.ok()) return Fail(CacheHint(a, RecordingHint(results.status())));
  if (unwritable)
    Warn("accesses not recorded: " + a.store.store + ": " + (*store)->why_not_writable() +
         " (--no-touch says so quietly)");
  Print(a, names, *results, partial);
  if (g_bucket_report && g_verbose) {
    store->reset();  // the last trim of the cache is done as the store closes: report it too
    Info(g_bucket_report());
  }
  const size_t cut = size_t(std::count(partial.begin(), partial.end(), 1));
  if (cut == 0) return kExitOk;
  Warn(
      fmt::format("{} of {} queries partial: the search deadline ({}) passed before their scan was done (their "
                  "results are the best of what was scanned)",
                  cut, partial.size(),
                  so.timeout_ms ? fmt::format("--timeout {}", *so.timeout_ms) : "the store's search_timeout_ms"));
  return kExitPartial;
}

}  // namespace

Runner SetupSearch(CLI::App* app) {
  auto a = std::make_shared<SearchArgs>();
  AddStoreArgs(app, &a->store);
  AddBucketArgs(app, &a->store);
  app->add_option("--vector", a->vector, "One query as a JSON array, e.g. '[0.1, 0.2]'");
  app->add_option("--queries", a->queries,
                  "JSONL queries ({\"id\"?, \"vector\"}), a .npy or .fvecs file of vectors, or - for stdin");
  app->add_option("--queries-format", a->queries_format,
                  "Query file format (default: npy for *.npy, fvecs for *.fvecs, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "npy", "fvecs"}))
      ->needs("--queries");
  app->add_option("-k", a->k, "Results per query")->default_val(10)->check(CLI::Range(1, 100000));
  auto* nprobe =
      app->add_option("--nprobe", a->nprobe, "Cold partitions to scan per query (default: the store's, see stats)")
          ->check(CLI::Range(uint64_t(1), uint64_t(UINT32_MAX)));
  auto* recall = app->add_option("--recall", a->recall,
                                 "Probe as many cold partitions as the index's calibration says reach this recall@10 "
                                 "(rebuild-index --target-recall measures it)")
                     ->check(CLI::Range(0.0, 1.0))
                     ->excludes(nprobe);
  app->add_option("--threads", a->threads, "Scan threads (default: one per core)")->check(CLI::Range(1, 256));
  app->add_option("--rerank", a->rerank,
                  "float16/sq8 stores: re-rank this many times k approximate cold candidates per query at full "
                  "precision")
      ->default_val(SearchOptions::kDefaultRerank)
      ->check(CLI::Range(1, 10000));
  app->add_option("--tier", a->tier, "Tiers to search")
      ->check(CLI::IsMember({"all", "hot", "warm", "cold"}))
      ->default_str("all");
  app->add_option("--where", a->where,
                  "Only memories the filter expression matches (README \"Filters\"); each query still gets k "
                  "when k match, e.g. 'payload.room == \"kitchen\"'")
      ->check(NonEmpty());
  app->add_option("--where-plan", a->where_plan,
                  "How --where runs: exact (rank the matching vectors alone), scan (the usual scan, skipping the "
                  "rest) or auto (the cheaper by estimate; README \"Filtered search\")")
      ->check(CLI::IsMember({"auto", "exact", "scan"}))
      ->default_str("auto")
      ->needs("--where");
  app->add_option("--timeout", a->timeout_ms,
                  "Milliseconds the scan may take; past them it scans no further partition and the queries it "
                  "cut short are marked \"partial\" (exit 3). 0: none (default: the store's search_timeout_ms)")
      ->check(CLI::Range(int64_t(0), int64_t(3600000)));
  app->add_flag("--no-touch", a->no_touch, "Do not record accesses (read-only search)");
  app->add_flag("--with-payload", a->with_payload, "Include each result's payload");
  app->add_flag(
      "--explain", a->explain,
      "Show each result's score parts: distance, recency, accesses, importance, eviction score, access pattern");
  AddFormatOption(app, &a->format, "");  // empty: table on a TTY, else jsonl
  app->get_option("--format")
      ->description("Output format: table (default on a TTY), json or jsonl (default otherwise)");
  app->footer("Example: aether search ./mem --vector '[0.1, 0.2, 0.3]' -k 5 --with-payload");
  return [a, recall, app](const StoreOpener& opener) {
    a->recall_given = recall->count() > 0;
    a->cache_bytes_given = app->get_option("--cache-bytes")->count() > 0;
    return Run(*a, opener);
  };
}

}  // namespace aether::cli
