// aether: the command-line tool. Shape of main:
//   1. make sure fds 0-2 are open (cron may close them), so no store file
//      can land on them;
//   2. build the CLI from the one table of subcommands below;
//   3. parse (usage errors exit 64, unknown commands suggest the closest);
//   4. run the chosen subcommand with a StoreOpener for the access its row
//      names (the only way it can open the store: lock, replay); it maps
//      its Status to an exit code.
#include <fmt/format.h>

#include <cstring>
#include <iostream>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"

using namespace aether::cli;

namespace {

const Command kCommands[] = {
    {"init", "Create an empty store", Access::kCreate, SetupInit},
    {"ingest", "Add memories from JSONL (file or -)", Access::kWrite, SetupIngest},
    {"search", "Top-k nearest memories over both tiers", Access::kRead, SetupSearch},
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
    {"stats", "Show store statistics (table, json, prometheus)", Access::kRead, SetupStats},
    {"descend", "Move memories hot -> cold (ids, --all, --policy)", Access::kWrite, SetupDescend},
    {"ascend", "Move memories cold -> hot (ids, --queued; --evict)", Access::kWrite, SetupAscend},
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

// Runs a command; an exception that escapes it is a bug, reported as one
// (exit 70) rather than an abort. Out of memory says so.
int RunGuarded(const Runner& run, Access access) {
  try {
    return run(StoreOpener(access));
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "aether: error: out of memory\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "aether: internal error: {} (please report this)\n", e.what());
  } catch (...) {
    fmt::print(stderr, "aether: internal error: unknown exception (please report this)\n");
  }
  return kExitInternal;
}

}  // namespace

int main(int argc, char** argv) {
  aether::ReserveStandardFds();
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
    ++first;
  if (first < argc && argv[first][0] != '-' && std::find(names.begin(), names.end(), argv[first]) == names.end()) {
    std::string near = ClosestName(argv[first], names);
    fmt::print(stderr, "aether: error: unknown command '{}'{}\n", argv[first],
               near.empty() ? "; see aether --help" : "; did you mean '" + near + "'?");
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string hint;
    if (dynamic_cast<const CLI::ExtrasError*>(&e) && StoreFromEnvironment() && !g_store_option)
      hint = " (AETHER_STORE is set, so the store is not given as an argument)";
    std::string command;
    for (const Parsed& r : runners)
      if (r.app->parsed()) command = " " + r.app->get_name();
    fmt::print(stderr, "aether: error: {}{}; see 'aether{} --help'\n", e.what(), hint, command);
    return kExitUsage;
  }
  for (const Parsed& r : runners) {
    if (!r.app->parsed()) continue;
    if (aether::Status operands = CheckStoreOperands(*r.app); !operands.ok()) return Fail(operands);
    return RunGuarded(r.run, r.access);
  }
  return kExitUsage;
}
