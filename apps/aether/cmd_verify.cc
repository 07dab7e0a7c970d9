// aether verify STORE: every checksum, and the metadata against the files.
// Exit 0 when clean; 1 (a negative answer) with the list of problems.
#include <fmt/format.h>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

std::function<int()> SetupVerify(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format = "text";
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--format", a->format, "text or json")->check(CLI::IsMember({"text", "json"}))->default_str("text");
  app->footer("Example: aether verify ./mem || echo 'store has problems'");
  return [a]() -> int {
    auto store = OpenStore(a->store, AccessMode::kRead);
    if (!store.ok()) return Fail(store.status());
    auto rep = (*store)->Verify();
    if (!rep.ok()) return Fail(rep.status());
    if (a->format == "json") {
      fmt::print("{}\n", nlohmann::json({{"ok", rep->problems.empty()}, {"problems", rep->problems},
                                         {"memories", rep->memories}, {"hot_slots", rep->hot_slots},
                                         {"free_slots", rep->free_slots}, {"frames", rep->frames},
                                         {"cold_records", rep->cold_records},
                                         {"garbage_records", rep->garbage_records},
                                         {"bytes_checked", rep->bytes_checked}})
                             .dump());
    } else {
      for (const auto& p : rep->problems) fmt::print("problem: {}\n", p);
      fmt::print("{}: {} memories, {} hot slots ({} free), {} frames, {} cold records ({} garbage), {} bytes checked\n",
                 rep->problems.empty() ? "ok" : fmt::format("{} problems", rep->problems.size()), rep->memories,
                 rep->hot_slots, rep->free_slots, rep->frames, rep->cold_records, rep->garbage_records,
                 rep->bytes_checked);
    }
    return rep->problems.empty() ? kExitOk : kExitNegative;
  };
}

std::function<int()> SetupFaultPoints(CLI::App* app) {
  app->footer("Example: AETHER_FAULT=descend.after_sync aether descend ./mem --all  # dies there");
  return []() -> int {
    for (const auto& p : ListFaultPoints()) fmt::print("{}\n", p);
    return kExitOk;
  };
}

}  // namespace aether::cli
