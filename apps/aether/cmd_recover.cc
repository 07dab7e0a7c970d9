// aether recover STORE: takes the exclusive lock, which replays every
// migration a dead process left dangling, and reports what was done.
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

std::function<int()> SetupRecover(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format = "text";
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--format", a->format, "text or json")->check(CLI::IsMember({"text", "json"}))->default_str("text");
  app->footer("Example: aether recover ./mem --format json");
  return [a]() -> int {
    auto store = OpenStore(a->store, AccessMode::kWrite);
    if (!store.ok()) return Fail(store.status());
    const auto& actions = (*store)->replayed();
    if (a->format == "json") {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& r : actions)
        arr.push_back({{"migration", r.migration_id}, {"kind", r.kind}, {"state", r.from_state},
                       {"action", r.action}, {"items", r.items}});
      fmt::print("{}\n", nlohmann::json({{"actions", arr}}).dump());
      return kExitOk;
    }
    if (actions.empty()) fmt::print("nothing to recover\n");
    for (const auto& r : actions)
      fmt::print("migration {} ({}, {} items, state {}): {}\n", r.migration_id, r.kind, r.items,
                 r.from_state, r.action);
    return kExitOk;
  };
}

}  // namespace aether::cli
