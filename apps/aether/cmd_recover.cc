// aether recover STORE: takes the exclusive lock, which replays every
// migration a dead process left dangling, checkpoints meta.db's WAL into
// meta.db, and reports what was done.
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

Runner SetupRecover(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format;
    bool discard_damaged = false;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddFormatOption(app, &a->format, "table");
  app->add_flag("--discard-damaged", a->discard_damaged,
                "Drop journal rows that fail their checksum or contradict the committed state, after cutting "
                "every file back to its committed length (the store returns to its last committed state)");
  app->footer("Example: aether recover ./mem --format json");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store, a->discard_damaged);
    if (!store.ok()) return Fail(store.status());
    // The open's replay is this command's work (for another, bookkeeping).
    if (!(*store)->replayed().empty()) ++g_changes_committed;
    // Everything recorded so far into meta.db (the checkpoint below makes
    // it durable); a log that cannot be folded waits for the next writer.
    if (Status s = (*store)->FoldMetrics(); !s.ok()) Warn("metrics log not folded: " + s.message());
    if (Status s = (*store)->Checkpoint(); !s.ok()) return Fail(s);
    const auto& actions = (*store)->replayed();
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : actions)
      rows.push_back({{"migration", r.migration_id},
                      {"kind", r.kind},
                      {"state", r.from_state},
                      {"action", r.action},
                      {"items", r.items}});
    if (a->format == "json")
      fmt::print("{}\n", JsonText(nlohmann::json({{"actions", rows}})));
    else
      PrintRows(a->format, {"migration", "kind", "items", "state", "action"}, rows);
    if (actions.empty()) Info("nothing to recover");
    return kExitOk;
  };
}

}  // namespace aether::cli
