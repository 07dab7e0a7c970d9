// aether verify STORE: every checksum, and the metadata against the files.
// Exit 0 when clean; 1 (a negative answer) with the list of problems.
#include <fmt/format.h>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {

Runner SetupVerify(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format;
    std::string progress;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
  app->footer("Example: aether verify ./mem || echo 'store has problems'");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    Progress progress("verify (bytes)", a->progress);
    auto rep = (*store)->Verify([&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    progress.Finish();
    if (!rep.ok()) return Fail(rep.status());
    if (a->format != "table") {
      fmt::print("{}\n", JsonText(nlohmann::json({{"ok", rep->problems.empty()},
                                                  {"problems", rep->problems},
                                                  {"memories", rep->memories},
                                                  {"hot_slots", rep->hot_slots},
                                                  {"free_slots", rep->free_slots},
                                                  {"frames", rep->frames},
                                                  {"cold_records", rep->cold_records},
                                                  {"garbage_records", rep->garbage_records},
                                                  {"bytes_checked", rep->bytes_checked}})));
    } else {
      for (const auto& p : rep->problems) fmt::print("problem: {}\n", Printable(p, false));
      fmt::print("{}: {} memories, {} hot slots ({} free), {} frames, {} cold records ({} garbage), {} bytes checked\n",
                 rep->problems.empty() ? "ok" : fmt::format("{} problems", rep->problems.size()), rep->memories,
                 rep->hot_slots, rep->free_slots, rep->frames, rep->cold_records, rep->garbage_records,
                 rep->bytes_checked);
    }
    return rep->problems.empty() ? kExitOk : kExitNegative;
  };
}

Runner SetupFaultPoints(CLI::App* app) {
  auto format = std::make_shared<std::string>();
  AddFormatOption(app, format.get(), "table");
  app->footer("Example: AETHER_FAULT=descend.after_sync aether descend ./mem --all  # dies there");
  return [format](const StoreOpener&) -> int {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& p : ListFaultPoints()) rows.push_back({{"name", p}});
    if (*format == "table")
      for (const auto& p : ListFaultPoints()) fmt::print("{}\n", p);
    else
      PrintRows(*format, {"name"}, rows);
    return kExitOk;
  };
}

}  // namespace aether::cli
