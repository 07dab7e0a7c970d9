// aether delete STORE ID...: removes memories from both tiers in one
// transaction; missing ids are reported and exit 1, the rest are deleted.
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

std::function<int()> SetupDelete(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::vector<std::string> ids;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->ids, "Memory ids")->required();
  AddFormatOption(app, &a->format, "table");
  app->footer("Example: aether delete ./mem m1 m2");
  return [a]() -> int {
    auto store = OpenStore(a->store, AccessMode::kWrite);
    if (!store.ok()) return Fail(store.status());
    auto missing = (*store)->Delete(a->ids);
    if (!missing.ok()) return Fail(missing.status());
    size_t deleted = a->ids.size() - missing->size();
    for (const auto& id : *missing) Warn("not found: " + id);
    if (a->format != "table")
      fmt::print("{}\n", nlohmann::json({{"deleted", deleted}, {"not_found", *missing}}).dump());
    Warn(fmt::format("deleted {} memories", deleted));
    return missing->empty() ? kExitOk : kExitNegative;
  };
}

}  // namespace aether::cli
