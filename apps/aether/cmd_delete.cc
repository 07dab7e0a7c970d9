// aether delete STORE (ID... | --ids-from FILE | --where EXPR) [--purge]
// [--dry-run]: removes memories from both tiers in one transaction; missing
// ids are reported and exit 1, the rest are deleted. aether scrub STORE:
// makes deleted bytes leave the files.
#include <fmt/format.h>

#include <set>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

Runner SetupDelete(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::vector<std::string> ids;
    std::string ids_from, where, format;
    bool purge = false, dry_run = false;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->ids, "Memory ids");
  auto* ids_from =
      app->add_option("--ids-from", a->ids_from, "Also the ids in FILE, one per line (- for stdin)")->check(NonEmpty());
  app->add_option("--where", a->where,
                  "Every memory the filter expression matches (README \"Filters\"), instead of ids")
      ->check(NonEmpty())
      ->excludes(ids_from);
  app->add_flag("--purge", a->purge,
                "Also remove their history, and scrub the store so that nothing of them is left in any file "
                "(see aether scrub)");
  app->add_flag("--dry-run", a->dry_run, "Print the ids that would be deleted (and those not found); change nothing");
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "Example: aether delete ./mem m1 m2\n         aether delete ./mem m3 --purge   # gone from every file now\n"
      "         aether list ./mem --max-importance 0.05 --ids-only | aether delete ./mem --ids-from - --dry-run");
  return [a](const StoreOpener& opener) -> int {
    if (!a->ids_from.empty())
      if (Status read = ReadIdsFrom(a->ids_from, &a->ids); !read.ok()) return Fail(read);
    if (!a->where.empty() && !a->ids.empty()) return Fail(Status::InvalidArgument("give ids or --where, not both"));
    if (a->ids.empty() && a->ids_from.empty() && a->where.empty())
      return Fail(Status::InvalidArgument("give the ids to delete, --ids-from FILE or --where EXPR"));
    if (!a->where.empty())  // a bad filter is a usage error before anything opens
      if (Status s = Store::CheckFilter(a->where); !s.ok()) return Fail(s);
    // A dry run reads: it neither waits for nor blocks a writer, and folds
    // nothing (maintain --dry-run likewise).
    auto store = a->dry_run ? opener.OpenToRead(a->store) : opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    if (!a->where.empty()) {
      // The ids the filter selects, under the lock the delete then holds:
      // nothing can change in between.
      ListOptions selection;
      selection.where = a->where;
      Status listed = (*store)->List(selection, [&](const MemoryRecord& r) -> Status {
        a->ids.push_back(r.id);
        return Status::Ok();
      });
      if (!listed.ok()) return Fail(listed);
    }
    if (a->dry_run) {
      auto found = (*store)->ContainsEach(a->ids);
      if (!found.ok()) return Fail(found.status());
      std::vector<std::string> would, missing;
      std::set<std::string> seen;
      for (size_t i = 0; i < a->ids.size(); ++i) {
        // As the delete: an id given twice is not found the second time.
        if ((*found)[i] && seen.insert(a->ids[i]).second)
          would.push_back(a->ids[i]);
        else
          missing.push_back(a->ids[i]);
      }
      for (const auto& id : missing) Warn("not found: " + id);
      if (a->format == "table")
        for (const auto& id : would) fmt::print("{}\n", Printable(id));
      else
        fmt::print("{}\n",
                   JsonText(nlohmann::json({{"dry_run", true}, {"would_delete", would}, {"not_found", missing}})));
      Info(fmt::format("dry run: {} memories would be deleted{}, nothing changed", would.size(),
                       a->purge ? " and purged" : ""));
      return missing.empty() ? kExitOk : kExitNegative;
    }
    ScrubReport scrub;
    auto missing = (*store)->Delete(a->ids, a->purge, &scrub);
    if (!missing.ok()) return Fail(missing.status());
    size_t deleted = a->ids.size() - missing->size();
    for (const auto& id : *missing) Warn("not found: " + id);
    if (a->format != "table") {
      nlohmann::json j = {{"deleted", deleted}, {"not_found", *missing}};
      if (a->purge) j["scrub"] = ScrubJson(scrub);
      fmt::print("{}\n", JsonText(j));
    }
    Info(fmt::format("deleted {} memories{}", deleted, a->purge ? " and purged them from every file" : ""));
    return missing->empty() ? kExitOk : kExitNegative;
  };
}

nlohmann::json ScrubJson(const ScrubReport& r) {
  return {{"history_pruned", r.history_pruned},   {"hot_slots_blanked", r.hot_slots_blanked},
          {"shards_emptied", r.shards_emptied},   {"cold_rewritten", r.cold_rewritten},
          {"garbage_dropped", r.garbage_dropped}, {"db_bytes_before", r.db_bytes_before},
          {"db_bytes_after", r.db_bytes_after}};
}

Runner SetupScrub(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "Makes deleted data leave the files now: prunes history past history_retention_days, zeroes free\n"
      "hot slots, rewrites cold shards without their garbage (journaled, crash-safe), rewrites meta.db.\n"
      "Example (crontab, nightly): 0 3 * * * aether scrub /var/lib/mem --format json");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto r = (*store)->Scrub();
    if (!r.ok()) return Fail(r.status());
    if (a->format != "table") fmt::print("{}\n", JsonText(ScrubJson(*r)));
    Info(
        fmt::format("scrubbed: {} history entries pruned, {} free hot slots zeroed, {} shards emptied, {} cold records "
                    "rewritten, {} garbage records dropped; meta.db {} -> {} bytes",
                    r->history_pruned, r->hot_slots_blanked, r->shards_emptied, r->cold_rewritten, r->garbage_dropped,
                    r->db_bytes_before, r->db_bytes_after));
    return kExitOk;
  };
}

}  // namespace aether::cli
