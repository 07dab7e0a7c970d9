// aether check STORE [--since WHEN] [--format table|json]: a health check
// for cron and monitoring. One line per problem, judged against the
// thresholds in the store's config (check_*, `aether config`); exit 0 when
// there is none, 1 (a negative answer) when there is any.
#include <fmt/format.h>

#include "aether/env.h"
#include "aether/store.h"
#include "cli.h"
#include "metrics_view.h"

namespace aether::cli {
namespace {

struct Problem {
  std::string check;  // the config key whose threshold was crossed
  double value, threshold;
  std::string message;
};

}  // namespace

Runner SetupCheck(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string format = "table";
    std::string since;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  AddFormatOption(app, &a->format, "table", {});
  app->add_option("--since", a->since,
                  "Judge what happened from this time on (N followed by s, m, h or d, or ms since the epoch; "
                  "default: the last check_window_s seconds)");
  app->footer(
      "Thresholds: aether config STORE (the check_* keys; 0 turns a check off).\n"
      "Example: aether check ./mem --since 5m || mail -s 'aether: problems' ops < /dev/null");
  return [a](const StoreOpener& opener) -> int {
    Env* env = Env::Default();
    const int64_t now = env->NowMs();
    int64_t since_ms = -1;
    if (!a->since.empty() && (!ParseSince(a->since, now, &since_ms) || since_ms == 0))
      return Fail(Status::InvalidArgument("--since " + a->since +
                                          ": expected N followed by s, m, h or d, or ms since the epoch"));
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto params = (*store)->GetParams();
    if (!params.ok()) return Fail(params.status());
    auto param = [&](const char* key) { return params->count(key) ? params->at(key) : 0.0; };
    if (since_ms < 0) since_ms = now - int64_t(param("check_window_s") * 1000);
    auto stats = (*store)->Stats();
    if (!stats.ok()) return Fail(stats.status());
    auto report = (*store)->Metrics(since_ms);
    if (!report.ok()) return Fail(report.status());
    // What this command's own open replayed counts too (its record is not
    // appended until it ends).
    for (MetricSample& s : ProcessMetrics()) report->samples.push_back(std::move(s));
    const MetricsView view(*report);

    std::vector<Problem> problems;
    auto check = [&](const char* key, double value, bool crossed, std::string message) {
      if (crossed) problems.push_back({key, value, param(key), std::move(message)});
    };
    if (double limit = param("check_pending_age_s"); limit > 0 && stats->oldest_pending_ms > 0) {
      const double age = double(now - stats->oldest_pending_ms) / 1000.0;
      check("check_pending_age_s", age, age > limit,
            fmt::format("a journaled migration has waited {:.0f} s (over {} s): run `aether recover`", age, limit));
    }
    if (double limit = param("check_garbage_fraction"); limit < 1) {
      const uint64_t all = stats->cold_garbage_records + stats->cold_count + stats->warm_count;
      const double fraction = all ? double(stats->cold_garbage_records) / double(all) : 0;
      check("check_garbage_fraction", fraction, fraction > limit,
            fmt::format("{:.3f} of the cold records are garbage (over {}): run `aether maintain` or "
                        "`aether rebuild-index`",
                        fraction, limit));
    }
    if (double limit = param("check_pressure_level"); limit > 0) {
      const double level = stats->pressure;
      check("check_pressure_level", level, level >= limit,
            fmt::format("pressure {}: {} (README \"Pressure levels\": what aether does at each level)",
                        stats->pressure_level, stats->pressure_why));
    }
    if (double limit = param("check_restore_queue_depth"); limit > 0) {
      const double depth = double(stats->restore_queue_depth);
      check("check_restore_queue_depth", depth, depth > limit,
            fmt::format("the restore queue holds {} entries (over {}): run `aether ascend --queued`", depth, limit));
    }
    if (double limit = param("check_search_p99_ms"); limit > 0) {
      const double p99 = view.Command("search").QuantileMs(0.99);
      check("check_search_p99_ms", p99, p99 > limit,
            fmt::format("search P99 {:.3f} ms (over {} ms) since {} ms", p99, limit, view.since_ms()));
    }
    if (double limit = param("check_failed_migrations"); limit > 0) {
      // Every migration whose change did not happen is rolled back (by its
      // own command's replay or a later one) or discarded exactly once.
      const double failed = double(view.Sum("aether_migrations_total", {"outcome=\"rolled_back\""}) +
                                   view.Sum("aether_migrations_total", {"outcome=\"discarded\""}));
      check("check_failed_migrations", failed, failed >= limit,
            fmt::format("{} migrations were rolled back or discarded since {} ms (see aether history)", failed,
                        view.since_ms()));
    }
    if (double limit = param("check_damage_found"); limit > 0) {
      const double damage =
          double(view.Sum("aether_commands_total", {"exit_code=\"79\""}) + view.Sum("aether_corruption_found_total"));
      check("check_damage_found", damage, damage >= limit,
            fmt::format("{} commands found damage or verify problems since {} ms: run `aether verify`", damage,
                        view.since_ms()));
    }

    if (a->format != "table") {
      nlohmann::json list = nlohmann::json::array();
      for (const Problem& p : problems)
        list.push_back({{"check", p.check}, {"value", p.value}, {"threshold", p.threshold}, {"message", p.message}});
      fmt::print(
          "{}\n",
          JsonText(nlohmann::json({{"ok", problems.empty()}, {"since_ms", view.since_ms()}, {"problems", list}})));
    } else {
      for (const Problem& p : problems) fmt::print("problem: {}: {}\n", p.check, p.message);
      if (problems.empty()) fmt::print("ok\n");
    }
    return problems.empty() ? kExitOk : kExitNegative;
  };
}

}  // namespace aether::cli
