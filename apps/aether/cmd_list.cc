// aether list STORE: memories' ids and metadata without their vectors,
// filtered by tier, importance and time, sorted and limited (Store::List).
#include <fmt/format.h>

#include <cmath>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {

Runner SetupList(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string tier, sort = "id", format, progress;
    ListOptions o;
    bool ids_only = false;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  // An empty value is refused, never "no bound": an unset shell variable
  // must not widen a listing that feeds a delete.
  const CLI::Validator given = NonEmpty();
  app->add_option("--tier", a->tier, "Only this tier (all: every one)")
      ->check(CLI::IsMember({"all", "hot", "warm", "cold"}));
  app->add_option("--min-importance", a->o.min_importance, "Only importance >= X")->check(given);
  app->add_option("--max-importance", a->o.max_importance, "Only importance <= X")->check(given);
  app->add_option("--created-since", a->o.created_since_ms, "Only created at or after MS (ms since the epoch)")
      ->check(given);
  app->add_option("--created-until", a->o.created_until_ms, "Only created at or before MS")->check(given);
  app->add_option("--accessed-since", a->o.accessed_since_ms, "Only last accessed at or after MS")->check(given);
  app->add_option("--accessed-until", a->o.accessed_until_ms, "Only last accessed at or before MS")->check(given);
  app->add_option("--where", a->o.where,
                  "Only memories the filter expression matches (README \"Filters\"), e.g. "
                  "'payload.room == \"kitchen\" and importance >= 0.5'")
      ->check(NonEmpty());
  app->add_option("--sort", a->sort, "Order: id, created, accessed, importance or access-count (ties by id)")
      ->check(CLI::IsMember({"id", "created", "accessed", "importance", "access-count"}))
      ->default_str("id");
  app->add_flag("--desc", a->o.descending, "Descending order");
  app->add_option("--limit", a->o.limit, "At most N memories (0: all)")
      ->default_val(0)
      ->check(given)
      ->check(CLI::Validator(
          [](std::string& v) { return v.rfind('-', 0) == 0 ? std::string("must not be negative") : std::string(); },
          "N"));
  app->add_flag("--with-payload", a->o.with_payload, "Include each memory's payload");
  CLI::Option* ids_only = app->add_flag("--ids-only", a->ids_only, "Only the ids, one per line");
  AddFormatOption(app, &a->format, "jsonl");
  AddProgressOptions(app, &a->progress);
  ids_only->excludes("--format");
  app->footer(
      "Example: aether list ./mem --tier cold --sort accessed --limit 100\n"
      "         aether list ./mem --max-importance 0.1 --ids-only > stale.txt");
  return [a](const StoreOpener& opener) -> int {
    for (const auto& [name, value] :
         {std::pair{"--min-importance", a->o.min_importance}, std::pair{"--max-importance", a->o.max_importance}})
      if (value && !std::isfinite(*value))
        return Fail(Status::InvalidArgument(fmt::format("{} must be a finite number", name)));
    if (Tier t; ParseTier(a->tier, &t)) a->o.tier = t;
    using Order = ListOptions::Order;
    a->o.order = a->sort == "created"        ? Order::kCreated
                 : a->sort == "accessed"     ? Order::kLastAccess
                 : a->sort == "importance"   ? Order::kImportance
                 : a->sort == "access-count" ? Order::kAccessCount
                                             : Order::kId;
    if (!a->o.where.empty())  // a bad filter is a usage error before anything opens
      if (Status s = Store::CheckFilter(a->o.where); !s.ok()) return Fail(s);
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    // ids, jsonl and json stream as the rows come; a table needs them all.
    const bool stream = a->format != "table" || a->ids_only;
    nlohmann::json rows = nlohmann::json::array();
    uint64_t n = 0, listed_rows = 0;
    bool any_pinned = false;  // the table gets the column
    // Rows listed so far (how many the filters select is known only at the end).
    Progress progress("list", a->progress);
    if (a->format == "json" && !a->ids_only) fmt::print("[");
    Status listed = (*store)->List(a->o, [&](const MemoryRecord& r) -> Status {
      if (++listed_rows % 4096 == 0) progress.Update(listed_rows, 0);
      if (a->ids_only) {
        if (r.id.find_first_of("\n\r") != std::string::npos)
          return Status::InvalidArgument(
              fmt::format("id {} holds a line break, which --ids-only cannot print on one "
                          "line; use --format jsonl",
                          nlohmann::json(r.id).dump()));
        fmt::print("{}\n", r.id);
        return Status::Ok();
      }
      nlohmann::json j = {{"id", r.id},
                          {"tier", TierName(r.tier)},
                          {"importance", r.importance},
                          {"created_ms", r.created_ms},
                          {"last_access_ms", r.last_access_ms},
                          {"access_count", r.access_count}};
      if (r.pinned) j["pinned"] = any_pinned = true;  // present on a pinned memory only
      if (a->o.with_payload)
        j["payload"] = r.payload_json.empty() ? nlohmann::json() : nlohmann::json::parse(r.payload_json);
      if (a->format == "jsonl")
        fmt::print("{}\n", JsonText(j));
      else if (a->format == "json")
        fmt::print("{}{}", n++ ? "," : "", JsonText(j));
      else
        rows.push_back(std::move(j));
      return Status::Ok();
    });
    if (a->format == "json" && !a->ids_only) fmt::print("]\n");
    if (listed.ok() && listed_rows % 4096) progress.Update(listed_rows, 0);
    progress.Finish();
    if (!listed.ok()) return Fail(listed);
    if (!stream) {
      std::vector<std::string> columns = {"id", "tier", "importance", "created_ms", "last_access_ms", "access_count"};
      if (any_pinned) columns.push_back("pinned");
      if (a->o.with_payload) columns.push_back("payload");
      PrintRows(a->format, columns, rows);
    }
    return kExitOk;
  };
}

}  // namespace aether::cli
