#include "cli.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "aether/jsonl.h"
#include "log.h"

namespace aether::cli {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNoInput;
    case Code::kInvalidArgument:
      return kExitUsage;
    case Code::kBadInput:
      return kExitBadInput;
    case Code::kBusy:
      return kExitBusy;
    case Code::kCorruption:
      return kExitCorruption;
    case Code::kIOError:
      return kExitIOError;
    case Code::kNotSupported:
      return kExitNewerFormat;
    case Code::kAlreadyExists:
      return kExitCantCreate;
    case Code::kFailedPrecondition:
      return kExitUnavailable;
    case Code::kPermissionDenied:
      return kExitNoPermission;
    case Code::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

int Fail(const Status& s) { return LogError(s.message(), ExitCodeFor(s)); }

std::string JsonText(const nlohmann::json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

std::string Printable(const std::string& text, bool cell) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\\' && cell)
      out += "\\\\";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
             static_cast<unsigned char>(text[i + 1]) <= 0x9f)
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[++i]));
    else
      out += static_cast<char>(c);
  }
  return out;
}

bool g_quiet = false;
bool g_verbose = false;

void Warn(const std::string& message) { Log(LogLevel::kWarning, message); }
void Info(const std::string& message) { Log(LogLevel::kInfo, message); }

Status BucketCommandRefused(const std::string& uri) {
  return Status::InvalidArgument(
      uri +
      ": this command does not read a store in a bucket (search and stats do); `aether pull` "
      "makes a local replica every command can open, and `publish` writes the bucket");
}

Status LocalDirectoryOnly(const std::string& role, const std::string& path, const std::string& instead) {
  if (path.rfind("s3://", 0) != 0) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{} {}: this command writes a local directory, not a bucket ({})", role, path, instead));
}

namespace {

Result<std::unique_ptr<Store>> OpenBucketStore(const StoreArgs& args, const OpenOptions& o) {
  if (!args.bucket_ok) return BucketCommandRefused(args.store);
  g_bucket_cache_dir = args.cache.dir;
  AETHER_ASSIGN_OR_RETURN(OpenedBucket opened, OpenBucket(args.store, args.s3, args.cache, o));
  g_bucket_cache_dir = opened.cache_dir;
  // No metrics record: the cache's replica is no writer's store.
  g_metrics_store.clear();
  g_bucket_report = [uri = args.store, sequence = opened.sequence, refreshed = opened.refreshed,
                     pulled = opened.bytes_pulled, counters = opened.counters] {
    const BucketReadCounters c = counters();
    return fmt::format("{}: manifest {}{}; shards: {} from the cache, {} fetched ({} bytes, {} requests), {} evicted",
                       uri, sequence, refreshed ? fmt::format(" (new: {} bytes of metadata fetched)", pulled) : "",
                       c.shards_cached, c.shards_fetched, c.bytes_fetched, c.requests, c.evicted);
  };
  g_bucket_drop_damaged = opened.drop_damaged;
  g_bucket_missing = opened.missing;
  g_bucket_sequence = opened.sequence;
  g_bucket_replica = opened.replica_dir;
  return std::move(opened.store);
}

Result<std::unique_ptr<Store>> OpenStore(const StoreArgs& args, AccessMode mode, bool discard_damaged) {
  OpenOptions o;
  o.access = mode;
  o.wait_seconds = args.wait;
  o.discard_damaged_journal = discard_damaged;
  o.on_notice = [](const std::string& text) { Warn(text); };
  o.on_change_committed = [] { ++g_changes_committed; };
  o.trace_id = g_log.trace_id;
  o.s3 = args.s3;  // a store whose cold tier is in a bucket
  if (args.store.rfind("s3://", 0) == 0) return OpenBucketStore(args, o);
  auto opened = Store::Open(args.store, o);
  // Recorded only in a store this aether opened, or found busy.
  if (opened.ok() || opened.status().code() == Code::kBusy) g_metrics_store = args.store;
  AETHER_ASSIGN_OR_RETURN(auto store, std::move(opened));
  if (!store->deferred_recovery().ok())
    Warn("recovery deferred (" + store->deferred_recovery().message() +
         "); reading the committed state; the next writer will replay");
  if (g_verbose)
    for (const auto& r : store->replayed())
      Log(LogLevel::kInfo, fmt::format("recovered migration {} ({}, {} items, state {}): {}", r.migration_id, r.kind,
                                       r.items, r.from_state, r.action));
  return store;
}

}  // namespace

Result<std::unique_ptr<Store>> StoreOpener::Open(const StoreArgs& args, bool discard_damaged) const {
  if (access_ != Access::kRead && access_ != Access::kWrite)
    return Status::Internal("a command whose table row says it opens no store opened one");
  return OpenStore(args, access_ == Access::kWrite ? AccessMode::kWrite : AccessMode::kRead, discard_damaged);
}

Result<std::unique_ptr<Store>> StoreOpener::OpenToRead(const StoreArgs& args) const {
  if (access_ != Access::kRead && access_ != Access::kWrite)
    return Status::Internal("a command whose table row says it opens no store opened one");
  return OpenStore(args, AccessMode::kRead, false);
}

bool g_store_option = false;
std::atomic<uint64_t> g_changes_committed{0};
bool g_said_committed = false;

namespace {

constexpr char kKept[] = " had committed changes before the error; they are kept (the store is consistent)";

}  // namespace

// An error (not a finding, 1, nor partial results, 3) after changes were
// committed: the command's error alone would read as if nothing was done.
void SayCommittedKept(int exit_code) {
  // (A count would be of transactions: a move's batch takes several.)
  if (exit_code == kExitOk || exit_code == kExitNegative || exit_code == kExitPartial || g_changes_committed == 0 ||
      g_said_committed)
    return;
  try {
    Warn(g_log.command + kKept);
  } catch (const std::bad_alloc&) {
    SayCommittedKeptWithoutMemory();
  }
}

void SayCommittedKeptWithoutMemory() {
  if (g_changes_committed == 0 || g_said_committed || g_quiet) return;
  // A subcommand's name is plain ASCII: nothing to escape in either form.
  const char* const text[] = {"aether: ", g_log.command.c_str(), kKept, "\n"};
  const char* const json[] = {"{\"level\":\"warning\",\"message\":\"", g_log.command.c_str(), kKept, "\"}\n"};
  for (const char* part : g_log.json ? json : text)
    if (write(STDERR_FILENO, part, std::strlen(part)) < 0) break;
}
std::string g_metrics_store;
std::string g_metrics_tiers;

namespace {

void RecordCommandMetricsOrThrow(int exit_code, std::chrono::steady_clock::time_point start) {
  std::vector<MetricSample> samples = TakeProcessMetrics();
  samples.push_back({"aether_commands_total",
                     MetricLabels({{"command", g_log.command}, {"exit_code", std::to_string(exit_code)}}), 1});
  std::vector<std::pair<std::string, std::string>> labels = {{"command", g_log.command}};
  if (!g_metrics_tiers.empty()) labels.emplace_back("tiers", g_metrics_tiers);
  ObserveLatency(&samples, "aether_command_duration_seconds", MetricLabels(labels), ElapsedUs(start));
  Env* env = Env::Default();
  Status s = RecordMetrics(env, g_metrics_store, env->NowMs(), samples);
  if (!s.ok() && g_verbose) Log(LogLevel::kInfo, "metrics not recorded: " + s.message());
}

}  // namespace

void RecordCommandMetrics(int exit_code, std::chrono::steady_clock::time_point start) {
  if (g_metrics_store.empty()) return;
  // Best effort, as a failed write is: no memory for the record leaves the
  // command's outcome (its work done) as it was, and says nothing (a
  // message would need memory too).
  try {
    RecordCommandMetricsOrThrow(exit_code, start);
  } catch (const std::bad_alloc&) {
  }
}

bool StoreFromEnvironment() {
  const char* env = std::getenv("AETHER_STORE");
  return env && *env;
}

void AddStoreLocation(CLI::App* app, std::string* store, const std::string& help) {
  app->add_option("--store", *store, help + " (instead of the positional STORE)");
  if (g_store_option) return;
  if (StoreFromEnvironment()) {
    *store = std::getenv("AETHER_STORE");
    return;
  }
  app->add_option("store", *store, help + "; or --store, or AETHER_STORE")->required();
}

namespace {

// An operand written the way a store is: an absolute or explicitly relative
// path, or a directory path. Ids such as "doc/1" are not.
bool LooksLikePath(const std::string& s) {
  return s == "." || s == ".." || s.rfind("/", 0) == 0 || s.rfind("./", 0) == 0 || s.rfind("../", 0) == 0 ||
         s.rfind("~/", 0) == 0 || (s.size() > 1 && s.back() == '/');
}

// The option `name` names, or nullptr. (CLI11's get_option_no_throw is
// noexcept, yet allocates: out of memory there would end the process.)
const CLI::Option* FindOption(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* o : app.get_options())
    if (o->check_name(name)) return o;
  return nullptr;
}

}  // namespace

Status CheckStoreOperands(const CLI::App& sub) {
  const CLI::Option* store_option = FindOption(sub, "--store");
  if (!store_option) return Status::Ok();  // a command without a store
  // A store in a bucket, before any command takes it for a directory name.
  if (!FindOption(sub, "--cache-dir")) {
    // The store the command will open: --store, else STORE, else AETHER_STORE.
    const CLI::Option* positional = FindOption(sub, "store");
    std::string s;
    if (store_option->count() > 0)
      s = store_option->results().back();
    else if (positional && positional->count() > 0)
      s = positional->results().back();
    else if (StoreFromEnvironment())
      s = std::getenv("AETHER_STORE");
    if (s.rfind("s3://", 0) == 0) return BucketCommandRefused(s);
  }
  const bool from_option = store_option->count() > 0;
  if (!from_option && (g_store_option || !StoreFromEnvironment())) return Status::Ok();  // a positional STORE
  const std::string store = from_option ? store_option->results().back() : std::getenv("AETHER_STORE");
  const std::string source = from_option ? "--store" : "AETHER_STORE";
  for (const CLI::Option* o : sub.get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    const std::string name = o->get_name();
    const bool is_id = name == "id" || name == "ids";
    for (const std::string& operand : o->results()) {
      const bool is_store = Store::LooksLikeStore(operand);
      if (!is_store && !(is_id && LooksLikePath(operand))) continue;
      const std::string remedy = is_store
                                     ? fmt::format("to act on '{}', give it as the store{}", operand,
                                                   from_option ? " with --store" : " (--store, or unset AETHER_STORE)")
                                     : fmt::format("if it is an id, {} and give the store as the first argument",
                                                   from_option ? "drop --store" : "unset AETHER_STORE");
      return Status::InvalidArgument(
          fmt::format("'{}' {}, but this command's store is '{}' (from {}), so it would be taken as {}; {}", operand,
                      is_store ? "is a store" : "looks like a store path", store, source,
                      is_id ? "a memory id" : "the " + name, remedy));
    }
  }
  return Status::Ok();
}

// Appends the ids listed in a file (one per line; - for stdin).
Status ReadIdsFrom(const std::string& path, std::vector<std::string>* ids) {
  Input input;
  AETHER_RETURN_IF_ERROR(input.Open(path, "id file"));
  LineReader reader(input.stream(), input.name(), kMaxIdBytes);
  std::string line;
  bool too_long = false;
  while (reader.Next(&line, &too_long)) {
    if (too_long)
      return Status::BadInput(
          fmt::format("{}:{}: an id is at most {} bytes", input.name(), reader.line_number(), kMaxIdBytes));
    if (!line.empty()) ids->push_back(line);
  }
  return reader.status();
}

CLI::Validator NonEmpty() {
  return CLI::Validator([](std::string& v) { return v.empty() ? std::string("an empty value") : std::string(); },
                        "VALUE");
}

// A number of seconds, 0 or more, in decimal (1.5, 2e3), or inf: no
// limit. CLI11's NonNegativeNumber lets NaN through, and strtod alone
// takes hexadecimal (0x10), -0 and an exponent too small to be anything
// but 0 (1e-400).
CLI::Validator NonNegativeSeconds() {
  return CLI::Validator(
      [](std::string& v) {
        std::string lower = v;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower == "inf" || lower == "infinity") return std::string();
        // DIGITS[.DIGITS][e[+-]DIGITS], or .DIGITS: a digit at least before
        // the exponent, digits after it.
        size_t i = 0, digits = 0, nonzero = 0;
        auto run = [&](size_t* count) {
          for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i) {
            ++*count;
            if (count == &digits && v[i] != '0') ++nonzero;
          }
        };
        run(&digits);
        if (i < v.size() && v[i] == '.') {
          ++i;
          run(&digits);
        }
        size_t exponent = 1;
        if (digits > 0 && i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
          ++i;
          if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
          exponent = 0;
          run(&exponent);
        }
        const double d = digits > 0 && exponent > 0 && i == v.size() ? std::strtod(v.c_str(), nullptr) : -1;
        if (d > 0 || (d == 0 && nonzero == 0)) return std::string();
        return "a number of seconds (decimal, 0 or more, or inf) is needed; not " + v;
      },
      "SECONDS");
}

void AddStoreArgs(CLI::App* app, StoreArgs* args) {
  AddStoreLocation(app, &args->store, "Store directory");
  app->add_option("--wait", args->wait, "Seconds to wait for the store lock before failing as busy (inf: no limit)")
      ->default_val(5.0)
      ->check(NonNegativeSeconds());
}

std::function<std::string()> g_bucket_report;
std::function<Result<uint64_t>()> g_bucket_drop_damaged;
std::function<std::string()> g_bucket_missing;
uint64_t g_bucket_sequence = 0;
std::string g_bucket_replica;
std::string g_bucket_cache_dir;

void AddS3Options(CLI::App* app, S3Options* o) {
  app->add_option("--endpoint", o->endpoint,
                  "S3 endpoint, scheme://host[:port] (default: AWS_ENDPOINT_URL, the profile's endpoint_url, AWS)");
  app->add_option("--region", o->region, "Region (default: AWS_REGION, the profile's region, us-east-1)");
  app->add_option("--profile", o->profile, "A profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE)");
  app->add_option("--addressing", o->addressing,
                  "path (ENDPOINT/BUCKET/KEY) or virtual (BUCKET.HOST/KEY); default: virtual on AWS, else path")
      ->check(CLI::IsMember({"path", "virtual"}));
}

void AddBucketArgs(CLI::App* app, StoreArgs* args) {
  args->bucket_ok = true;
  AddS3Options(app, &args->s3);
  app->add_option("--cache-dir", args->cache.dir,
                  "STORE s3://BUCKET/PREFIX: the local cache (default: ~/.cache/aether/s3/BUCKET-HASH)")
      ->check(NonEmpty())
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.rfind("s3://", 0) == 0 ? std::string("the cache is a directory on this machine, not a bucket")
                                            : std::string();
          },
          "DIR"));
  app->add_option("--cache-bytes", args->cache.max_bytes,
                  "STORE s3://BUCKET/PREFIX: cold shards kept in the cache, least recently used out first")
      ->default_val(args->cache.max_bytes)
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 50));
}

Status Input::Open(const std::string& path, const std::string& what) {
  if (path == "-") return Status::Ok();
  // A file, a FIFO (<(cmd)) or a character device (/dev/stdin) is a stream
  // aether can read; a directory, a socket or a block device is not.
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::NotFound(path + ": is a directory, not a file (" + what + ")");
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
      return Status::NotFound(path + ": is not a file, FIFO or character device (" + what + ")");
  }
  // A buffer of 1 MiB, not the stream's 8 KiB: a .npy file is read a row
  // at a time, and each refill was a read(2) (a 100,000-vector file took
  // 6,250 of them). Set before the open, as libstdc++ requires.
  buffer_.reset(new char[kBufferBytes]);
  file_.rdbuf()->pubsetbuf(buffer_.get(), kBufferBytes);
  file_.open(path, std::ios::binary);
  if (!file_) return Status::NotFound(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  in_ = &file_;
  name_ = path;
  return Status::Ok();
}

bool Input::IsRegularFile() const {
  struct stat st;
  int rc = in_ == &std::cin ? fstat(STDIN_FILENO, &st) : stat(name_.c_str(), &st);
  return rc == 0 && S_ISREG(st.st_mode);
}

void AddFormatOption(CLI::App* app, std::string* format, const std::string& default_format,
                     const std::vector<std::string>& extra) {
  std::vector<std::string> names = {"table", "json", "jsonl"};
  names.insert(names.end(), extra.begin(), extra.end());
  std::string help;
  for (const auto& n : names) help += (help.empty() ? "" : ", ") + n;
  *format = default_format;
  app->add_option("--format", *format, "Output format: " + help)
      ->check(CLI::IsMember(names))
      ->default_str(default_format);
}

namespace {
std::string Cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return Printable(v.get<std::string>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == std::floor(d) && std::fabs(d) < 1e15) return fmt::format("{}", int64_t(d));
    return fmt::format("{:.6g}", d);
  }
  return Printable(JsonText(v), false);  // JSON escapes C0 controls and the backslash; not C1 ones
}
}  // namespace

nlohmann::json PatternJson(const AccessPatternInfo& p) {
  nlohmann::json j = {{"pattern", p.pattern}, {"confidence", std::round(p.confidence * 1000) / 1000}};
  const std::pair<const char*, double> figures[] = {{"period_s", std::round(p.period_s * 10) / 10},
                                                    {"burst_size", std::round(p.burst_size * 10) / 10},
                                                    {"half_life_s", std::round(p.half_life_s * 10) / 10},
                                                    {"rate_per_hour", std::round(p.rate_per_hour * 1e4) / 1e4}};
  for (const auto& f : figures)
    if (f.second > 0) j[f.first] = f.second;
  if (p.next_expected_ms > 0) j["next_expected_ms"] = p.next_expected_ms;
  j["accesses"] = p.accesses;
  // What maintain would do: nothing to show for a memory never accessed
  // (no history to read).
  if (p.accesses > 0) j["placement"] = {{"action", p.placement}, {"reason", p.placement_reason}};
  return j;
}

nlohmann::json PlanJson(const std::vector<PlannedMove>& plan) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& p : plan)
    arr.push_back(
        {{"id", p.id}, {"from", TierName(p.from)}, {"to", TierName(p.to)}, {"reason", p.reason}, {"score", p.score}});
  return arr;
}

void PrintRows(const std::string& format, const std::vector<std::string>& columns, const nlohmann::json& rows) {
  if (format == "json") {
    fmt::print("{}\n", JsonText(rows));
    return;
  }
  if (format == "jsonl") {
    for (const auto& r : rows) fmt::print("{}\n", JsonText(r));
    return;
  }
  if (rows.empty()) return;  // no header over nothing
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width;
  for (const auto& c : columns) width.push_back(c.size());
  for (const auto& r : rows) {
    auto& line = cells.emplace_back();
    for (size_t i = 0; i < columns.size(); ++i) {
      line.push_back(r.contains(columns[i]) ? Cell(r[columns[i]]) : "-");
      width[i] = std::max(width[i], line.back().size());
    }
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(width[i] - line[i].size() + 2, ' ');
    }
    fmt::print("{}\n", out);
  };
  print_line(columns);
  for (const auto& line : cells) print_line(line);
}

void AddProgressOptions(CLI::App* app, std::string* mode) {
  *mode = "auto";
  app->add_flag_callback(
      "--progress", [mode] { *mode = "on"; }, "Show a progress line on stderr even when it is not a TTY");
  app->add_flag_callback(
      "--no-progress", [mode] { *mode = "off"; }, "Never show a progress line");
}

bool StdoutIsTty() { return isatty(1) == 1; }

std::string VectorInputFormat(const std::string& path, const std::string& given) {
  auto ends_with = [&](const std::string& x) {
    return path.size() >= x.size() && path.compare(path.size() - x.size(), x.size(), x) == 0;
  };
  return !given.empty() ? given : ends_with(".npy") ? "npy" : ends_with(".fvecs") ? "fvecs" : "jsonl";
}

Status HintVectorFile(Status s, const std::string& first_line, const char* format_option) {
  if (first_line.rfind("\x93NUMPY", 0) != 0) return s;
  return s.WithMessage(fmt::format(
      "{} (these bytes are a .npy file's, read as JSONL because the name does not end in .npy: {} npy reads them)",
      s.message(), format_option));
}

namespace {

// FloatJson's number.
double FloatJsonValue(float f) {
  // JSON has no infinity or NaN: a value that is not finite (possible only
  // for data stored before inputs were range-checked) saturates, never null.
  if (!std::isfinite(f)) f = std::signbit(f) && !std::isnan(f) ? -FLT_MAX : FLT_MAX;
  return ShortestDecimalValue(f);
}

}  // namespace

nlohmann::json FloatJson(float f) { return FloatJsonValue(f); }

void AppendFloatJson(float f, std::string* out) {
  char text[64];  // the DOM serializer's number buffer
  out->append(text, nlohmann::detail::to_chars(text, text + sizeof text, FloatJsonValue(f)));
}

void AppendJsonString(const std::string& s, std::string* out) {
  if (std::any_of(s.begin(), s.end(), [](char c) { return c < 0x20 || c > 0x7e || c == '"' || c == '\\'; })) {
    *out += nlohmann::json(s).dump();  // escapes, and refuses invalid UTF-8, as the DOM does
    return;
  }
  *out += '"';
  *out += s;
  *out += '"';
}

std::string ClosestName(const std::string& name, const std::vector<std::string>& names) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = 3;  // suggest only close names
  for (const auto& n : names) {
    size_t d = distance(name, n);
    if (d < best_d) best_d = d, best = n;
  }
  return best;
}

}  // namespace aether::cli
