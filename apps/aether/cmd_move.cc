// aether descend / ascend: move memories between tiers, each batch one
// crash-safe migration. Shared here because both print the same plan and
// summary.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {
namespace {

struct MoveArgs {
  StoreArgs store;
  MoveOptions move;
  std::string format;
  std::string progress;
  bool enqueue = false;
  std::string ids_from;
  double priority = 1.0;
  std::string idle, older, order;  // descend's --idle-longer-than, --older-than, --order
  std::string to;                  // --to: the tier moved to
};

// A duration: N followed by s, m, h or d (N a whole number, at most 10^12
// ms in all), in ms; false when not one.
bool ParseDurationMs(const std::string& text, int64_t* ms) {
  if (text.size() < 2 || text.size() > 14) return false;
  const std::string digits = text.substr(0, text.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  const char unit = text.back();
  const int64_t scale = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : unit == 'd' ? 86400000 : 0;
  if (scale == 0) return false;
  const int64_t n = std::stoll(digits);
  if (n > int64_t(1e12) / scale) return false;
  *ms = n * scale;
  return true;
}

int PrintReport(const MoveArgs& a, const char* verb, const MoveReport& r, double secs) {
  for (const auto& id : r.not_found) Warn("not found: " + id);
  // Where the memories named but left are: at or past the target tier.
  const std::string target = a.move.to ? TierName(*a.move.to) : std::string(verb) == "descend" ? "cold" : "hot";
  const std::string already = target == "warm"
                                  ? (std::string(verb) == "descend" ? "already warm or cold" : "already warm or hot")
                                  : "already " + target;
  for (const auto& id : r.already) Warn(already + ": " + id);
  for (const auto& id : r.deferred) Warn("restore deferred (will retry with backoff): " + id);
  for (const auto& id : r.dropped) Warn("restore dropped after the maximum retries: " + id);
  // Named ids that stay because pinned are a partial refusal (exit 1); a
  // selection's pinned memories are what pinning is for.
  const bool named = !a.move.ids.empty();
  if (named || r.pinned.size() <= 10)
    for (const auto& id : r.pinned)
      Warn(fmt::format("pinned, kept hot: {}{}", id, named ? " (aether unpin first)" : ""));
  else
    Warn(fmt::format("{} pinned memories kept hot", r.pinned.size()));
  if (a.move.dry_run) {
    if (a.format == "json")
      fmt::print("{}\n",
                 JsonText(nlohmann::json({{"dry_run", true}, {"plan", PlanJson(r.plan)}, {"pinned", r.pinned}})));
    else
      PrintRows(a.format, {"id", "from", "to", "reason", "score"}, PlanJson(r.plan));
    Info(fmt::format("dry run: {} moves planned, nothing changed", r.plan.size()));
  } else {
    double rate = secs > 0 ? double(r.moved) / secs : 0;
    if (a.format != "table")
      fmt::print("{}\n", JsonText(nlohmann::json({{"direction", verb},
                                                  {"moved", r.moved},
                                                  {"evicted", r.evicted},
                                                  {"batches", r.batches},
                                                  {"bytes", r.bytes},
                                                  {"seconds", secs},
                                                  {"rate", rate},
                                                  {"not_found", r.not_found},
                                                  {"already", r.already},
                                                  {"pinned", r.pinned},
                                                  {"deferred", r.deferred},
                                                  {"dropped", r.dropped}})));
    std::string evicted = r.evicted ? fmt::format(" after descending {} to make room", r.evicted) : "";
    Info(fmt::format("{}ed {} memories{} in {} batches: {} bytes, {:.3f}s, {:.0f} memories/s", verb,
                     r.moved - r.evicted, evicted, r.batches, r.bytes, secs, rate));
  }
  return r.not_found.empty() && (!named || r.pinned.empty()) ? kExitOk : kExitNegative;
}

int RunMove(MoveArgs& a, const StoreOpener& opener, bool descend) {
  if (!a.move.where.empty())  // a bad filter is a usage error before anything opens
    if (Status s = Store::CheckFilter(a.move.where); !s.ok()) return Fail(s);
  if (!a.idle.empty() && !ParseDurationMs(a.idle, &a.move.idle_longer_than_ms))
    return Fail(Status::InvalidArgument("--idle-longer-than " + a.idle +
                                        ": expected N followed by s, m, h or d (e.g. 30d), at most 10^12 ms"));
  if (!a.older.empty() && !ParseDurationMs(a.older, &a.move.older_than_ms))
    return Fail(Status::InvalidArgument("--older-than " + a.older +
                                        ": expected N followed by s, m, h or d (e.g. 30d), at most 10^12 ms"));
  if (!a.order.empty())
    a.move.order = a.order == "score" ? MoveOptions::Order::kScore
                   : a.order == "lru" ? MoveOptions::Order::kLru
                                      : MoveOptions::Order::kAge;
  if (!a.to.empty()) {
    Tier to = Tier::kCold;
    ParseTier(a.to, &to);  // the option's check took only tier names
    a.move.to = to;
  }
  if (!a.ids_from.empty()) {
    Status read = ReadIdsFrom(a.ids_from, &a.move.ids);
    if (!read.ok()) return Fail(read);
  }
  auto store = opener.Open(a.store);
  if (!store.ok()) return Fail(store.status());
  if (a.enqueue) {
    if (a.move.to && *a.move.to != Tier::kHot)
      return Fail(Status::InvalidArgument("--enqueue queues for the hot tier; it takes no --to warm"));
    auto r = (*store)->Enqueue(a.move.ids, a.priority);
    if (!r.ok()) return Fail(r.status());
    for (const auto& id : r->not_found) Warn("not found: " + id);
    for (const auto& id : r->already_hot) Warn("already hot: " + id);
    if (a.format != "table")
      fmt::print(
          "{}\n",
          JsonText(nlohmann::json({{"queued", r->queued}, {"not_found", r->not_found}, {"already", r->already_hot}})));
    Info(fmt::format("queued {} memories for restore", r->queued));
    return r->not_found.empty() ? kExitOk : kExitNegative;
  }
  Progress progress(descend ? "descend" : "ascend", a.progress);
  MoveOptions mo = a.move;
  mo.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
  auto start = std::chrono::steady_clock::now();
  auto report = descend ? (*store)->Descend(mo) : (*store)->Ascend(mo);
  progress.Finish();
  if (!report.ok()) return Fail(report.status());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return PrintReport(a, descend ? "descend" : "ascend", *report, secs);
}

void AddCommon(CLI::App* app, MoveArgs* a) {
  app->add_option("--ids-from", a->ids_from, "Read ids, one per line, from FILE (- for stdin)")->check(NonEmpty());
  app->add_option("--where", a->move.where,
                  "Move the memories of the tiers moved from that the filter expression matches (README \"Filters\")")
      ->check(NonEmpty());
  app->add_option("--limit", a->move.limit, "Move at most N memories");
  app->add_option("--batch", a->move.batch, "Memories per crash-safe batch")
      ->default_val(10000)
      ->check(CLI::Range(1, 10000000));
  app->add_flag("--dry-run", a->move.dry_run, "Print the plan (ids, direction, reason, score); change nothing");
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
}

}  // namespace

Runner SetupDescend(CLI::App* app) {
  auto a = std::make_shared<MoveArgs>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->move.ids, "Memory ids to move down (to the cold tier unless --to warm)");
  app->add_option("--to", a->to,
                  "The tier to move to: cold (the default; from hot and warm) or warm (from hot; store format 5)")
      ->check(CLI::IsMember({"warm", "cold"}));
  app->add_flag("--all", a->move.all, "Descend every hot memory (and with --to cold every warm one)");
  app->add_flag("--policy", a->move.policy, "Descend the lowest eviction scores until the hot tier fits its capacity");
  app->add_option("--idle-longer-than", a->idle,
                  "Descend the hot (and, to cold, warm) memories not accessed for longer than DURATION (N followed by "
                  "s, m, h or d); "
                  "with --where, those it matches")
      ->check(NonEmpty());
  app->add_option("--older-than", a->older,
                  "Descend the hot (and, to cold, warm) memories made longer ago than DURATION (N followed by s, m, h "
                  "or d); with "
                  "--where or --idle-longer-than, those they select")
      ->check(NonEmpty());
  app->add_option("--order", a->order,
                  "Which planned memories go first, and so stay within --limit: score (lowest eviction score), "
                  "lru (least recently accessed) or age (oldest); default: as planned (ids as given, --all by "
                  "score, a selection in slot order)")
      ->check(CLI::IsMember({"score", "lru", "age"}));
  AddCommon(app, a.get());
  app->footer(
      "Examples: aether descend ./mem m1 m2\n          aether descend ./mem --policy --dry-run\n"
      "          aether descend ./mem --where 'payload.project == \"done\"'\n"
      "          aether descend ./mem --idle-longer-than 30d --order lru --limit 1000\n"
      "          aether descend ./mem --to warm --idle-longer-than 1d");
  return [a](const StoreOpener& opener) -> int {
    const bool selection = !a->move.where.empty() || !a->idle.empty() || !a->older.empty();
    int modes = (!a->move.ids.empty() || !a->ids_from.empty()) + a->move.all + a->move.policy + selection;
    if (modes != 1)
      return Fail(Status::InvalidArgument(
          "give ids, --all, --policy or a selection (--where, --idle-longer-than, --older-than) (exactly one)"));
    return RunMove(*a, opener, true);
  };
}

Runner SetupAscend(CLI::App* app) {
  auto a = std::make_shared<MoveArgs>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->move.ids, "Memory ids to move up (to the hot tier unless --to warm)");
  app->add_option("--to", a->to,
                  "The tier to move to: hot (the default; from cold and warm) or warm (from cold; store format 5)")
      ->check(CLI::IsMember({"hot", "warm"}));
  app->add_flag("--queued", a->move.queued, "Drain the restore queue (priority order, with backoff)");
  app->add_flag("--evict", a->move.evict, "Make room by descending the lowest eviction scores first");
  app->add_flag("--enqueue", a->enqueue, "Queue the ids for restore instead of moving them now");
  app->add_option("--priority", a->priority, "Priority for --enqueue (higher first)")->default_val(1.0);
  AddCommon(app, a.get());
  app->footer("Examples: aether ascend ./mem m1 --evict\n          aether ascend ./mem --queued --limit 1000");
  return [a](const StoreOpener& opener) -> int {
    int modes = (!a->move.ids.empty() || !a->ids_from.empty()) + a->move.queued + !a->move.where.empty();
    if (modes != 1) return Fail(Status::InvalidArgument("give ids, --queued or --where (exactly one)"));
    if (a->enqueue && (a->move.queued || !a->move.where.empty()))
      return Fail(Status::InvalidArgument("--enqueue takes ids, not --queued or --where"));
    return RunMove(*a, opener, false);
  };
}

}  // namespace aether::cli
