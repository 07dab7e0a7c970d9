// aether: the command-line tool. Shape of main:
//   1. make sure fds 0-2 are open (cron may close them), so no store file
//      can land on them;
//   2. set up the log (log.h: text or json, the trace id, the command's
//      name) from the command line and the environment, before anything
//      can fail, so that every line is in the form asked for;
//   3. build the CLI from the one table of subcommands below;
//   4. parse (usage errors exit 64, unknown commands suggest the closest);
//   5. run the chosen subcommand with a StoreOpener for the access its row
//      names (the only way it can open the store: lock, replay); it maps
//      its Status to an exit code.
#include <fmt/format.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#include <sys/mman.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"
#include "log.h"

using namespace aether::cli;

namespace {

const Command kCommands[] = {
    {"init", "Create an empty store", Access::kCreate, SetupInit},
    {"ingest", "Add memories from JSONL (file or -)", Access::kWrite, SetupIngest},
    {"search", "Top-k nearest memories over every tier", Access::kRead, SetupSearch},
    {"get", "Print memories by id as JSONL", Access::kRead, SetupGet},
    {"export", "Write memories as JSONL that ingest reads back (vectors bit-exact, payloads, metadata)", Access::kRead,
     SetupExport},
    {"list", "List memories' ids and metadata: filter by tier, importance, time, --where; sort; limit", Access::kRead,
     SetupList},
    {"update", "Change memories' payloads (replace or merge patch) and importance, keeping their history",
     Access::kWrite, SetupUpdate},
    {"delete", "Delete memories by id or --where filter (--purge: from every file, now)", Access::kWrite, SetupDelete},
    {"scrub", "Make deleted data leave the store's files now", Access::kWrite, SetupScrub},
    {"backup", "Copy a live store consistently (--incremental: link files unchanged since an earlier backup)",
     Access::kWrite, SetupBackup},
    {"publish", "Upload a consistent snapshot of the store to s3://BUCKET/PREFIX (objects, then a manifest)",
     Access::kWrite, SetupPublish},
    {"pull", "Make or refresh a read replica directory from the newest snapshot in s3://BUCKET/PREFIX", Access::kNone,
     SetupPull},
    {"stats", "Show store statistics (table, json, prometheus)", Access::kRead, SetupStats},
    {"check", "Health check for cron and monitoring: one line per threshold crossed (exit 1)", Access::kRead,
     SetupCheck},
    {"descend", "Move memories down: hot -> warm -> cold (ids, --all, --policy; --to)", Access::kWrite, SetupDescend},
    {"ascend", "Move memories up: cold -> warm -> hot (ids, --queued; --evict; --to)", Access::kWrite, SetupAscend},
    {"pin", "Keep memories hot whatever the policy (cold ones ascend first)", Access::kWrite, SetupPin},
    {"unpin", "Release pinned memories to the policy again", Access::kWrite, SetupUnpin},
    {"upgrade", "Convert a store an older aether made (schema, format version, codec) in place; --dry-run",
     Access::kWrite, SetupUpgrade},
    {"rebuild-index", "Train a new K-Means index over the cold tier and compact it", Access::kWrite, SetupRebuild},
    {"feedback", "Reward memories: importance = 0.8 * importance + 0.2 * reward", Access::kWrite, SetupFeedback},
    {"maintain", "One cron tick: decay, temperature, sampled moves, capacity, restores", Access::kWrite, SetupMaintain},
    {"config", "Get or set the model's parameters, or apply a preset", Access::kWrite, SetupConfig},
    {"history", "The audit log: moves, feedback, updates, deletes, config changes", Access::kRead, SetupHistory},
    {"recover", "Replay dangling migrations and report them", Access::kWrite, SetupRecover},
    {"verify", "Check every checksum and the metadata against the files", Access::kRead, SetupVerify},
    {"fault-points", "List the crash-test fault points (AETHER_FAULT)", Access::kNone, SetupFaultPoints},
};

// The exit for the exception in flight (called from a catch handler): an
// exception that escapes a command is a bug, reported as one (exit 70)
// rather than an abort. Out of memory says so.
int ExitForException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return LogError("out of memory", kExitInternal);
  } catch (const std::system_error& e) {
    // fmt::print throws when standard output refuses a write (a full disk,
    // a closed pipe): the command's output is lost, which is an I/O error.
    if (std::ferror(stdout) &&
        (e.code().category() == std::generic_category() || e.code().category() == std::system_category()))
      return LogError(fmt::format("standard output: {}", std::strerror(e.code().value())), kExitIOError);
    return LogError(fmt::format("internal error: {} (please report this)", e.what()), kExitInternal);
  } catch (const std::exception& e) {
    return LogError(fmt::format("internal error: {} (please report this)", e.what()), kExitInternal);
  } catch (...) {
    return LogError("internal error: unknown exception (please report this)", kExitInternal);
  }
}

// Runs a command.
int RunGuarded(const Runner& run, Access access) {
  try {
    return run(StoreOpener(access));
  } catch (...) {
    return ExitForException();
  }
}

// Says so (the failed write's errno, 0 when unknown): exit 74.
int StdoutFailed(int err) {
  return LogError(fmt::format("standard output: {}", err ? std::strerror(err) : "a write failed"), kExitIOError);
}

// What a command printed must reach standard output: a write that failed
// there (a full disk under a redirection, a closed pipe) makes a command
// that succeeded (0), reported a finding (1) or partial results (3) exit 74
// saying so, never a silent success with its output lost. A command that
// failed keeps its own code. (A closed descriptor 1 is /dev/null by now: nothing fails.)
// `flush`: flush what is still buffered first, else judge the writes so far.
int OutputDelivered(int code, bool flush) {
  errno = 0;
  const bool failed = (flush && std::fflush(stdout) != 0) || std::ferror(stdout);
  if (!failed || (code != kExitOk && code != 1 && code != kExitPartial)) return code;
  // errno is the flush's, else that of the flush before a message (Log); a
  // write that failed elsewhere (and set the error flag) left none known.
  return StdoutFailed(errno ? errno : StdoutErrno());
}

// The same for --help and --version, which CLI11 prints through std::cout
// (its own buffer, stdio's sync off): their text too must have arrived.
int PrintHelp(const CLI::App& app, const CLI::Error& e) {
  errno = 0;
  const int code = app.exit(e);
  if (std::cout.flush()) return code;
  return StdoutFailed(errno);  // the failed write's (nothing wrote after it)
}

// The global options that take a value (they may precede the command).
bool IsValuedGlobal(const char* arg) {
  return std::strcmp(arg, "--log-format") == 0 || std::strcmp(arg, "--trace-id") == 0;
}

// The trace id without --trace-id: AETHER_TRACE_ID, else a random one.
std::string g_default_trace_id;

// Sets g_log from the command line (--log-format, --trace-id: they win) and
// the environment (AETHER_LOG_FORMAT, AETHER_TRACE_ID), before CLI11 parses,
// so that a bad environment or command line is reported in the form asked
// for. The scan is a guess (`history --trace-id` is history's filter, and an
// operand may look like an option); main sets both again once CLI11 has
// parsed. The variables are checked whatever the command line says, as
// every AETHER_* variable is.
aether::Status SetUpLog(int argc, char** argv) {
  std::optional<std::string> format, trace_id;
  bool operand_seen = false;  // the command is the first operand, if any is
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string arg = argv[i];
    for (auto [name, value] : {std::pair{"--log-format", &format}, std::pair{"--trace-id", &trace_id}}) {
      const std::string eq = std::string(name) + "=";
      if (arg == name && i + 1 < argc) *value = argv[i + 1];
      if (arg.rfind(eq, 0) == 0) *value = arg.substr(eq.size());
    }
    if (!operand_seen && arg[0] != '-' && (i == 1 || !IsValuedGlobal(argv[i - 1]))) {
      operand_seen = true;
      for (const Command& c : kCommands)
        if (arg == c.name) g_log.command = c.name;
    }
  }
  const char* env_format = std::getenv("AETHER_LOG_FORMAT");
  const bool env_format_ok = !env_format || !*env_format || ParseLogFormat(env_format, &g_log.json);
  if (format) ParseLogFormat(*format, &g_log.json);  // a bad value is CLI11's to report
  const char* env_trace = std::getenv("AETHER_TRACE_ID");
  const bool env_trace_set = env_trace && *env_trace;
  g_default_trace_id = env_trace_set && aether::ValidTraceId(env_trace) ? env_trace : NewTraceId();
  g_log.trace_id = trace_id && CheckTraceId(*trace_id, "--trace-id").ok() ? *trace_id : g_default_trace_id;
  if (!env_format_ok)
    return aether::Status::InvalidArgument(fmt::format(
        "AETHER_LOG_FORMAT={}: expected text or json (see man aether, ENVIRONMENT)", Printable(env_format, false)));
  if (env_trace_set) return CheckTraceId(env_trace, "AETHER_TRACE_ID");
  return aether::Status::Ok();
}

#ifdef __GLIBC__
// A one-shot process keeps the memory it frees for its next allocation
// instead of handing it back, and backs its heap with transparent huge
// pages where the kernel offers them on request (THP "madvise", Debian's
// default). The first touch of every fresh 4 KiB page is a fault, about
// 3 us a page on the virtual machines we measured: a 10,000-query batch
// touched 56 MB in 14,000 faults; with 2 MiB pages, about 1,500 faults and
// 0.68x the wall time (README "Performance").
//
// The main thread's blocks up to 32 MiB (glibc's largest threshold: a
// larger value is refused) come from the heap (worker threads have arenas
// of their own, not advised), which is trimmed only past 1 GiB free. The
// heap is grown once by 256 MiB of address space (nothing is touched, so
// no memory is used), and that growth is advised for huge pages past its
// first 2-4 MiB, so that a small command's few allocations still take 4
// KiB pages. Growth past it, and blocks of over 32 MiB, take ordinary pages.
// Where the heap does not grow (an address-space limit, or an allocator
// that does not use it, as under AddressSanitizer), nothing is advised.
void TuneHeap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
  const auto before = reinterpret_cast<uintptr_t>(sbrk(0));
  void* volatile probe = malloc(1 << 20);  // grows the heap by the pad unless its top had room
  const auto after = reinterpret_cast<uintptr_t>(sbrk(0));
  free(probe);  // (volatile: a compiler may drop an unused malloc and free)
  mallopt(M_TOP_PAD, 16 << 20);
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (before == static_cast<uintptr_t>(-1) || after == static_cast<uintptr_t>(-1)) return;
  // Only the range the heap just grew by: one anonymous mapping of ours.
  const uintptr_t from = (before + 2 * kHuge) & ~(kHuge - 1);
  if (after > from) madvise(reinterpret_cast<void*>(from), after - from, MADV_HUGEPAGE);  // advice only
}
#else
void TuneHeap() {}
#endif

// An exception that reaches a noexcept function ends the process through
// std::terminate. One that is out of memory can: nlohmann::json's
// destructor allocates (it flattens nested values onto a vector of its
// own), and so do some of CLI11's noexcept lookups. That is reported as
// every other allocation that fails, "out of memory" (exit 70), written
// without allocating; what the store committed stays, and its journal
// finishes the rest at the next command. Any other exception there is a bug:
// the default handler aborts (a core dump to debug it).
std::terminate_handler g_default_terminate = nullptr;

// (_exit skips the cleanup a scope would do: a temporary init, backup or
// export made stays, as after a kill; the store itself is whole.)
[[noreturn]] void OnTerminate() {
  static std::atomic<bool> entered{false};
  if (entered.exchange(true)) std::abort();  // terminated again in here (rethrow found no memory)
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::bad_alloc&) {
      static const char kText[] = "aether: error: out of memory\n";
      static const char kJson[] = "{\"level\":\"error\",\"message\":\"out of memory\",\"exit_code\":70}\n";
      if (g_log.json)
        (void)!write(STDERR_FILENO, kJson, sizeof kJson - 1);
      else
        (void)!write(STDERR_FILENO, kText, sizeof kText - 1);
      SayCommittedKeptWithoutMemory();
      _exit(kExitInternal);
    } catch (...) {
    }
  }
  if (g_default_terminate) g_default_terminate();
  std::abort();
}

}  // namespace

static int Main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  g_default_terminate = std::set_terminate(OnTerminate);
  aether::ReserveStandardFds();
  aether::IgnoreFileSizeSignal();
  TuneHeap();
  if (aether::Status log = SetUpLog(argc, argv); !log.ok()) return Fail(log);
  // Every AETHER_* variable is checked before anything reads one.
  if (aether::Status env = aether::CheckEnvironment(); !env.ok()) return Fail(env);
  // std::cin reads input (ingest, search --queries, ids): unsynchronized
  // with C stdio it is buffered instead of read a character at a time.
  // Nothing here reads stdin through C stdio.
  std::ios::sync_with_stdio(false);
  CLI::App app{"aether: a tiered memory store for agent and embodied AI"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.add_flag("-q,--quiet", g_quiet, "Only errors on stderr (no summaries)");
  app.add_flag("-v,--verbose", g_verbose, "Also report recovered migrations");
  std::string log_format = g_log.json ? "json" : "text", trace_id;
  app.add_option("--log-format", log_format,
                 "stderr as text lines (default) or json: one JSON object per line (or AETHER_LOG_FORMAT)")
      ->check(CLI::IsMember({"text", "json"}));
  CLI::Option* trace_option =
      app.add_option("--trace-id", trace_id,
                     "This command's trace id: on its history entries, journaled moves and log lines "
                     "(or AETHER_TRACE_ID; default: 32 random hex digits)");
  app.footer(
      "Every command takes the store as its first argument (or --store DIR, or AETHER_STORE)\n"
      "and --help with an example. Output: data on stdout (--format table|json|jsonl),\n"
      "diagnostics on stderr. Exit codes: 0 ok, 1 negative answer, 3 partial search, 64 usage,\n"
      "65 bad input, 66 no such file or store, 69 unavailable, 70 internal, 73 cannot create,\n"
      "74 I/O error, 75 busy (retry later), 77 permission denied, 78 newer format,\n"
      "79 corruption (man aether).\n\n"
      "Example: aether ingest ./mem memories.jsonl --create && aether search ./mem --vector '[0.1, 0.2]' -k 5");
  app.set_version_flag("--version", fmt::format("aether {} (store format {})", "0.1.0", aether::Store::kFormatVersion));
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i)  // after "--" only operands
    if (std::strcmp(argv[i], "--store") == 0 || std::strncmp(argv[i], "--store=", 8) == 0) g_store_option = true;
  std::vector<std::string> names;
  struct Parsed {
    CLI::App* app;
    Runner run;
    Access access;
  };
  std::vector<Parsed> runners;
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runners.push_back({sub, c.setup(sub), c.access});
    names.push_back(c.name);
  }

  int first = 1;
  while (first < argc && argv[first][0] == '-' && std::strcmp(argv[first], "--help") != 0 &&
         std::strcmp(argv[first], "--version") != 0)
    first += IsValuedGlobal(argv[first]) ? 2 : 1;
  if (first < argc && argv[first][0] != '-' && std::find(names.begin(), names.end(), argv[first]) == names.end()) {
    std::string near = ClosestName(argv[first], names);
    return LogError(fmt::format("unknown command '{}'{}", argv[first],
                                near.empty() ? "; see aether --help" : "; did you mean '" + near + "'?"),
                    kExitUsage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return PrintHelp(app, e);
  } catch (const CLI::CallForAllHelp& e) {
    return PrintHelp(app, e);
  } catch (const CLI::CallForVersion& e) {
    return PrintHelp(app, e);
  } catch (const CLI::ParseError& e) {
    std::string hint;
    if (dynamic_cast<const CLI::ExtrasError*>(&e) && StoreFromEnvironment() && !g_store_option)
      hint = " (AETHER_STORE is set, so the store is not given as an argument)";
    std::string command;
    for (const Parsed& r : runners)
      if (r.app->parsed()) command = " " + r.app->get_name();
    return LogError(fmt::format("{}{}; see 'aether{} --help'", e.what(), hint, command), kExitUsage);
  }
  ParseLogFormat(log_format, &g_log.json);
  // The global --trace-id, not history's filter of the same name.
  g_log.trace_id = g_default_trace_id;
  if (trace_option->count() > 0) {
    if (aether::Status s = CheckTraceId(trace_id, "--trace-id"); !s.ok()) return Fail(s);
    g_log.trace_id = trace_id;
  }
  for (const Parsed& r : runners) {
    if (!r.app->parsed()) continue;
    g_log.command = r.app->get_name();
    if (aether::Status operands = CheckStoreOperands(*r.app); !operands.ok()) return Fail(operands);
    // A write to standard output that failed already counts in the metrics;
    // the last flush comes after them, as it did at exit (a reader that went
    // away, `| head`, ends the process there with SIGPIPE, its run counted).
    const int code = OutputDelivered(RunGuarded(r.run, r.access), /*flush=*/false);
    RecordCommandMetrics(code, start);
    const int final_code = OutputDelivered(code, /*flush=*/true);
    SayCommittedKept(final_code);
    return final_code;
  }
  return kExitUsage;
}

// What escapes Main (an allocation that fails while the command line is
// parsed, before RunGuarded) ends the process as RunGuarded ends a command,
// not by an abort.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (...) {
    try {
      return ExitForException();
    } catch (...) {  // no memory to format the message: Log writes it bare
      return LogError("out of memory", kExitInternal);
    }
  }
}
