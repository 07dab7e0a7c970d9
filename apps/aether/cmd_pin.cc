// aether pin / unpin: keep memories hot whatever the policy, and let them
// go again (README "pin, unpin").
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {
namespace {

struct PinArgs {
  StoreArgs store;
  std::vector<std::string> ids;
  std::string ids_from;
  bool dry_run = false;
  std::string format;
};

int RunPin(PinArgs& a, const StoreOpener& opener, bool pin) {
  if (!a.ids_from.empty())
    if (Status read = ReadIdsFrom(a.ids_from, &a.ids); !read.ok()) return Fail(read);
  if (a.ids.empty()) return Fail(Status::InvalidArgument("give ids (or --ids-from FILE)"));
  auto store = opener.Open(a.store);
  if (!store.ok()) return Fail(store.status());
  auto r = pin ? (*store)->Pin(a.ids, a.dry_run) : (*store)->Unpin(a.ids, a.dry_run);
  if (!r.ok()) return Fail(r.status());
  const char* verb = pin ? "pinned" : "unpinned";
  for (const auto& id : r->not_found) Warn("not found: " + id);
  for (const auto& id : r->already) Warn(fmt::format("{}: {}", pin ? "already pinned" : "not pinned", id));
  const MoveReport& up = r->ascended;
  if (a.format != "table") {
    nlohmann::json j = {
        {"dry_run", a.dry_run}, {verb, r->changed}, {"already", r->already}, {"not_found", r->not_found}};
    if (pin) {  // what the pin moved (planned, in a dry run)
      j["ascended"] = a.dry_run ? uint64_t(0) : up.moved - up.evicted;
      j["evicted"] = up.evicted;
      j["moves"] = PlanJson(up.plan);  // the cold ones up, what made room down
    }
    fmt::print("{}\n", JsonText(j));
  } else {
    for (const std::string& id : r->changed) fmt::print("{}\n", id);
  }
  if (a.dry_run)
    Info(fmt::format("dry run: {} memories would be {} ({} moves planned), nothing changed", r->changed.size(), verb,
                     up.plan.size()));
  else if (up.moved)
    Info(fmt::format("{} {} memories ({} ascended first{})", verb, r->changed.size(), up.moved - up.evicted,
                     up.evicted ? fmt::format(", {} descended to make room", up.evicted) : std::string()));
  else
    Info(fmt::format("{} {} memories", verb, r->changed.size()));
  return r->not_found.empty() ? kExitOk : kExitNegative;
}

Runner SetupPinCommand(CLI::App* app, bool pin) {
  auto a = std::make_shared<PinArgs>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->ids, pin ? "Memory ids to keep hot" : "Memory ids to release to the policy");
  app->add_option("--ids-from", a->ids_from, "Read ids, one per line, from FILE (- for stdin)")->check(NonEmpty());
  app->add_flag("--dry-run", a->dry_run, "Report what would change (and, for pin, the moves); change nothing");
  AddFormatOption(app, &a->format, "table");
  app->footer(pin ? "Examples: aether pin ./mem m1 m2\n          aether list ./mem --where 'pinned == true'"
                  : "Example: aether unpin ./mem m1");
  return [a, pin](const StoreOpener& opener) -> int { return RunPin(*a, opener, pin); };
}

}  // namespace

Runner SetupPin(CLI::App* app) { return SetupPinCommand(app, true); }
Runner SetupUnpin(CLI::App* app) { return SetupPinCommand(app, false); }

}  // namespace aether::cli
