// Shared pieces of the aether command line: the subcommand table's types,
// exit codes, error printing and output formats. Every subcommand lives in
// its own cmd_<name>.cc and registers through one Setup function.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "aether/replica.h"
#include "aether/status.h"
#include "aether/store.h"

namespace aether::cli {

// Exit codes (README "Exit codes"); sysexits-style, frozen once released.
enum ExitCode : int {
  kExitOk = 0,
  kExitNegative = 1,       // a negative answer: an id was not found
  kExitPartial = 3,        // search: its --timeout cut a query's scan short (results printed)
  kExitUsage = 64,         // bad command line
  kExitBadInput = 65,      // malformed input data (file:line: reason)
  kExitNoInput = 66,       // input file or store does not exist
  kExitUnavailable = 69,   // the store's state forbids it now (e.g. hot tier full)
  kExitInternal = 70,      // a bug in aether, or out of memory
  kExitCantCreate = 73,    // init/ingest target exists and is not usable
  kExitIOError = 74,       // the OS failed a read, write or sync
  kExitNoPermission = 77,  // the OS refused for lack of permission (e.g. a read-only store)
  kExitBusy = 75,          // store locked by another process; retry later
  kExitNewerFormat = 78,   // store written by a newer aether
  kExitCorruption = 79,    // a checksum or invariant failed
};

// The one mapping from Status codes to exit codes.
int ExitCodeFor(const Status& s);
// Prints "aether: error: <message>" to stderr (log.h: or its JSON line) and
// returns its exit code.
int Fail(const Status& s);
// "aether: <message>" on stderr (or its JSON line), unless -q: Warn for what
// went wrong but did not stop the command (an id not found, a skipped line),
// Info for what it did (a summary, a dry run's plan).
void Warn(const std::string& message);
void Info(const std::string& message);

// What a command does to a store, as main's table says: nothing (kNone),
// makes a new one (kCreate), reads it (kRead: shared lock, a reader's
// replay) or writes it (kWrite: exclusive lock, full replay).
enum class Access { kNone, kCreate, kRead, kWrite };

struct StoreArgs;

// How a command opens its store: with the access of its row in main's table,
// the only way a command can open one (lock, replay; with --verbose it
// reports what the replay did; the library's notices are printed as
// warnings as they happen). Built by main.
class StoreOpener {
 public:
  explicit StoreOpener(Access access) : access_(access) {}
  // Opens for the table's access (kRead or kWrite; a command of another
  // access gets Internal). discard_damaged: recover --discard-damaged.
  Result<std::unique_ptr<Store>> Open(const StoreArgs& args, bool discard_damaged = false) const;
  // Opens for reading only: a writing command's forms that only read
  // (config without changes).
  Result<std::unique_ptr<Store>> OpenToRead(const StoreArgs& args) const;

 private:
  Access access_;
};

// What Setup returns: runs the command after parsing.
using Runner = std::function<int(const StoreOpener&)>;

// A subcommand's entry in main's table. Setup adds the subcommand's options
// to `app` and returns its runner.
struct Command {
  const char* name;
  const char* summary;
  Access access;
  std::function<Runner(CLI::App* app)> setup;
};

// Options most commands share.
// Where the store is: the first positional STORE, or --store DIR, or the
// AETHER_STORE environment variable. With --store or AETHER_STORE there is
// no positional STORE: every positional is an operand (an id, a file), so
// `AETHER_STORE=./mem aether get m1` works. --store wins over AETHER_STORE.
extern bool g_store_option;  // --store is on the command line (set by main)
bool StoreFromEnvironment();
void AddStoreLocation(CLI::App* app, std::string* store, const std::string& help);
// With the store from --store or AETHER_STORE, a positional operand that is
// a store directory, or an id that looks like a path (/x, ./x, ../x, ~/x,
// x/), was most likely meant as the store: InvalidArgument (exit 64) naming
// the store the command would have used, before anything opens it.
Status CheckStoreOperands(const CLI::App& sub);

struct StoreArgs {
  std::string store;
  double wait = 5.0;
  // A command that may read a store in a bucket (STORE s3://BUCKET/PREFIX;
  // AddBucketArgs): how to reach it and where its cache is.
  bool bucket_ok = false;
  S3Options s3;
  BucketCacheOptions cache;
};
void AddStoreArgs(CLI::App* app, StoreArgs* args);
// --endpoint, --region, --profile, --addressing.
void AddS3Options(CLI::App* app, S3Options* o);
// STORE may be s3://BUCKET/PREFIX (aether/replica.h, OpenBucket): the S3
// options, --cache-dir and --cache-bytes.
void AddBucketArgs(CLI::App* app, StoreArgs* args);
// After a command that read a store in a bucket: what its cache did (for
// --verbose and stats); empty otherwise.
extern std::function<std::string()> g_bucket_report;
// The store's OpenedBucket::drop_damaged, ::missing, ::sequence and
// ::replica_dir.
extern std::function<Result<uint64_t>()> g_bucket_drop_damaged;
extern std::function<std::string()> g_bucket_missing;
extern uint64_t g_bucket_sequence;
extern std::string g_bucket_replica;
extern std::string g_bucket_cache_dir;  // its cache directory
// kInvalidArgument: `uri` (s3://...) given as the store of a command that
// does not read one.
Status BucketCommandRefused(const std::string& uri);
// kInvalidArgument when `path`, a command's local directory operand (its
// `role`: "DEST", "DIR"), is an s3:// URI; `instead` says what does that.
Status LocalDirectoryOnly(const std::string& role, const std::string& path, const std::string& instead);
// Refuses an empty option value ("an empty value", exit 64): an unset shell
// variable must not silently mean "no bound" or "no file".
CLI::Validator NonEmpty();
// Appends the ids listed in a file (one per line, blank lines skipped; -
// for stdin): descend/ascend/delete --ids-from.
Status ReadIdsFrom(const std::string& path, std::vector<std::string>* ids);

// The command's metrics (aether/metrics.h): the store it named (set when it
// opens one, busy or not; empty: no store, nothing recorded) and, for a
// search, the tiers it searched (a label of its latency).
extern std::string g_metrics_store;
extern std::string g_metrics_tiers;
// Appends the command's record to its store's metrics.log: what the library
// counted, the command and its exit code, its duration since `start`.
// Never fails the command: a store this user may not write, or a log that
// is not a regular file, goes unrecorded (-v says why).
void RecordCommandMetrics(int exit_code, std::chrono::steady_clock::time_point start);

// Changes the command committed to its store (OpenOptions::
// on_change_committed); whether it said so itself (ingest's "stopped; ...
// committed"). A command that fails after some says they are kept
// (SayCommittedKept).
extern std::atomic<uint64_t> g_changes_committed;
extern bool g_said_committed;
void SayCommittedKept(int exit_code);
// The same written from parts, nothing allocated (no memory left).
void SayCommittedKeptWithoutMemory();

// Global flags (-q/--quiet, -v/--verbose), set by main.
extern bool g_quiet;
extern bool g_verbose;

// An input named on the command line: a file, or standard input for "-".
class Input {
 public:
  // `what` names the file in the error: "input file", "query file", ...
  Status Open(const std::string& path, const std::string& what);
  std::istream* stream() { return in_; }
  const std::string& name() const { return name_; }
  // True for a regular file (stdin included, when redirected from one).
  bool IsRegularFile() const;

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  std::unique_ptr<char[]> buffer_;  // file_'s; declared first, so it outlives the stream
  std::ifstream file_;
  std::istream* in_ = &std::cin;
  std::string name_ = "<stdin>";
};

// Output formats. Every command with data on stdout takes --format:
// table (aligned text for people), json (one JSON document) or jsonl (one
// JSON object per line; a one-object report is one line). `extra` adds a
// command's own formats (stats: prometheus).
void AddFormatOption(CLI::App* app, std::string* format, const std::string& default_format,
                     const std::vector<std::string>& extra = {});
// Rows of objects: json prints one array, jsonl one object per line, table
// aligned columns under a header (strings unquoted, null as "-", other
// values as JSON).
void PrintRows(const std::string& format, const std::vector<std::string>& columns, const nlohmann::json& rows);
// Planned moves as rows of id, from, to, reason, score (descend, ascend, pin).
nlohmann::json PlanJson(const std::vector<PlannedMove>& plan);
// An access pattern (README "Access patterns") as JSON: pattern,
// confidence, the pattern's own figure, next_expected_ms, accesses; a
// figure that is 0 is left out.
nlohmann::json PatternJson(const AccessPatternInfo& p);
// --progress / --no-progress; `mode` becomes "on", "off" or stays "auto"
// (a progress line only when stderr is a TTY).
void AddProgressOptions(CLI::App* app, std::string* mode);

// Text for a terminal: control characters (C0, DEL, and C1 as UTF-8
// U+0080..U+009F) become \n, \t, \r or \xHH / \u00HH, so no stored id or
// payload can move the cursor, clear the screen or hide a line. Table
// cells also escape the backslash (cell = true), so the result reads back
// unambiguously; messages on stderr do not, so paths stay as typed.
std::string Printable(const std::string& text, bool cell = true);

// The one way a command's JSON output is written (--format json, jsonl):
// compact, and a string that is not UTF-8 (a path's bytes: a directory
// may be named in any encoding) has each bad byte replaced by U+FFFD
// rather than stopping the command.
std::string JsonText(const nlohmann::json& j);

bool StdoutIsTty();
// A vector file's format: `given` when not empty, else npy for *.npy, fvecs
// for *.fvecs, else jsonl (ingest's input, search's queries).
std::string VectorInputFormat(const std::string& path, const std::string& given);
// For input read as JSONL that failed on its first line (`first_line`):
// when the bytes are a .npy file's (they start with its magic), `s` with a
// hint to `format_option` (--input-format, --queries-format), else `s`.
// The format follows the name (above), so `<(cat q.npy)` reads as JSONL.
Status HintVectorFile(Status s, const std::string& first_line, const char* format_option);
// A float as the shortest decimal that reads back to the same float.
nlohmann::json FloatJson(float f);
// What FloatJson(f).dump() and nlohmann::json(s).dump() print, appended to
// *out without building the DOM's values: the number by the DOM's own
// formatter, a string that needs no escape as it is.
void AppendFloatJson(float f, std::string* out);
void AppendJsonString(const std::string& s, std::string* out);
std::string ClosestName(const std::string& name, const std::vector<std::string>& names);

// Commands (cmd_*.cc).
Runner SetupInit(CLI::App* app);
Runner SetupIngest(CLI::App* app);
Runner SetupSearch(CLI::App* app);
Runner SetupGet(CLI::App* app);
Runner SetupList(CLI::App* app);
Runner SetupExport(CLI::App* app);
Runner SetupUpdate(CLI::App* app);
Runner SetupDelete(CLI::App* app);
Runner SetupScrub(CLI::App* app);
Runner SetupBackup(CLI::App* app);
Runner SetupPublish(CLI::App* app);
Runner SetupPull(CLI::App* app);
Runner SetupUpgrade(CLI::App* app);
nlohmann::json ScrubJson(const ScrubReport& r);
Runner SetupStats(CLI::App* app);
Runner SetupCheck(CLI::App* app);
Runner SetupRecover(CLI::App* app);
Runner SetupDescend(CLI::App* app);
Runner SetupAscend(CLI::App* app);
Runner SetupPin(CLI::App* app);
Runner SetupUnpin(CLI::App* app);
Runner SetupVerify(CLI::App* app);
Runner SetupRebuild(CLI::App* app);
// A recall calibration as JSON (null when there is none), for rebuild-index and stats.
nlohmann::json CalibrationJson(const RecallCalibration& c);
Runner SetupFeedback(CLI::App* app);
Runner SetupMaintain(CLI::App* app);
Runner SetupConfig(CLI::App* app);
Runner SetupHistory(CLI::App* app);
Runner SetupFaultPoints(CLI::App* app);

}  // namespace aether::cli
