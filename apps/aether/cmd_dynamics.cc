// Memory dynamics on the command line: feedback, maintain (one cron tick),
// config (parameters and presets) and history (the audit log).
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "cli.h"

namespace aether::cli {
namespace {

// Reads {"id", "reward"} lines; bad lines are errors naming file:line.
Status ReadFeedback(const std::string& path, std::vector<FeedbackItem>* items, std::vector<uint64_t>* lines,
                    std::string* name) {
  Input input;
  AETHER_RETURN_IF_ERROR(input.Open(path, "feedback file"));
  *name = input.name();
  LineReader reader(input.stream(), *name);
  std::string line;
  bool too_long = false;
  while (reader.Next(&line, &too_long)) {
    std::string where = fmt::format("{}:{}", *name, reader.line_number());
    if (too_long) return Status::BadInput(where + ": " + TooLongMessage(reader));
    if (IsBlank(line)) continue;
    nlohmann::json j;
    AETHER_RETURN_IF_ERROR(CheckJsonDepth(line).WithContext(where));
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return Status::BadInput(where + ": malformed JSON");
    }
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("reward") ||
        !j["reward"].is_number())
      return Status::BadInput(where + ": expected {\"id\": string, \"reward\": number in [0, 1]}");
    double r = j["reward"].get<double>();
    if (!(r >= 0 && r <= 1)) return Status::BadInput(fmt::format("{}: reward {} is outside [0, 1]", where, r));
    items->push_back({j["id"].get<std::string>(), r});
    lines->push_back(reader.line_number());
  }
  return reader.status();
}

// maintain's JSON: the tick's counts, and its moves when listed.
nlohmann::json TickJson(const MaintainReport& r, bool dry_run, bool list_moves) {
  nlohmann::json tick = {{"dry_run", dry_run},
                         {"seed", r.seed},
                         {"ticks", r.ticks},
                         {"temperature_before", r.temperature_before},
                         {"temperature_after", r.temperature_after},
                         {"pressure", r.pressure},
                         {"pressure_level", r.pressure_level},
                         {"pressure_why", r.pressure_why},
                         {"promotions_paused", r.promotions_paused},
                         {"descended_pressure", r.descended_pressure},
                         {"importance_decayed", r.importance_decayed},
                         {"hot_candidates", r.hot_candidates},
                         {"cold_candidates", r.cold_candidates},
                         {"descended_sampled", r.descended_sampled},
                         {"descended_age", r.descended_age},
                         {"descended_capacity", r.descended_capacity},
                         {"demoted_to", TierName(r.demoted_to)},
                         {"descended_warm", r.descended_warm},
                         {"queued", r.queued},
                         {"restored", r.restored},
                         {"evicted_for_restore", r.evicted_for_restore},
                         {"deferred", r.deferred},
                         {"dropped", r.dropped},
                         {"queue_depth_before", r.queue_depth_before},
                         {"queue_depth_after", r.queue_depth_after},
                         {"hot", r.hot_after},
                         {"history_pruned", r.history_pruned},
                         {"pattern_read", r.pattern_read},
                         {"pattern_low_confidence", r.pattern_low_confidence},
                         {"pattern_kept", r.pattern_kept},
                         {"pattern_queued", r.pattern_queued},
                         {"descended_pattern", r.descended_pattern},
                         {"pattern_held", r.pattern_held},
                         {"hot_slots_moved", r.hot_slots_moved},
                         {"hot_slots_cut", r.hot_slots_cut},
                         {"shards_emptied", r.shards_emptied},
                         {"partitions_rewritten", r.partitions_rewritten},
                         {"unstaged", r.unstaged},
                         {"cold_rewritten", r.cold_rewritten},
                         {"garbage_dropped", r.garbage_dropped},
                         {"hot_capacity", r.hot_capacity}};
  if (list_moves) {
    nlohmann::json& moves = tick["moves"] = nlohmann::json::array();
    for (const auto& m : r.moves) {
      moves.push_back(
          {{"id", m.id}, {"from", TierName(m.from)}, {"to", TierName(m.to)}, {"reason", m.reason}, {"score", m.score}});
      if (!m.pattern.empty()) {  // a decision by access pattern
        moves.back()["pattern"] = m.pattern;
        moves.back()["confidence"] = m.confidence;
        moves.back()["next_expected_ms"] = m.next_expected_ms;
      }
    }
  }
  return tick;
}

}  // namespace

Runner SetupFeedback(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string id;
    std::string reward;
    std::string file;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("id", a->id, "Memory id");
  app->add_option("reward", a->reward, "Reward in [0, 1]");
  app->add_option("--file", a->file, "JSONL {\"id\", \"reward\"} lines (- for stdin)");
  AddFormatOption(app, &a->format, "table");  // table: the summary on stderr only
  app->footer("Importance moves by EMA: imp = 0.8 * imp + 0.2 * reward.\nExample: aether feedback ./mem m42 1.0");
  return [a](const StoreOpener& opener) -> int {
    std::vector<FeedbackItem> items;
    std::vector<uint64_t> lines;
    std::string name = "command line";
    if (!a->file.empty()) {
      if (!a->id.empty()) return Fail(Status::InvalidArgument("give ID REWARD or --file, not both"));
      Status s = ReadFeedback(a->file, &items, &lines, &name);
      if (!s.ok()) return Fail(s);
    } else {
      if (a->id.empty() || a->reward.empty()) return Fail(Status::InvalidArgument("give ID REWARD or --file"));
      char* end = nullptr;
      double r = std::strtod(a->reward.c_str(), &end);
      if (*end != '\0' || !(r >= 0 && r <= 1))
        return Fail(Status::BadInput("reward '" + a->reward + "' is not a number in [0, 1]"));
      items.push_back({a->id, r});
      lines.push_back(0);
    }
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto missing = (*store)->Feedback(items);
    if (!missing.ok()) return Fail(missing.status());
    for (const auto& id : *missing) {
      size_t i = 0;
      while (i < items.size() && items[i].id != id) ++i;
      Warn(lines[i] ? fmt::format("{}:{}: unknown id '{}' (skipped)", name, lines[i], id) : "not found: " + id);
    }
    if (a->format != "table")
      fmt::print("{}\n",
                 JsonText(nlohmann::json({{"applied", items.size() - missing->size()}, {"not_found", *missing}})));
    Info(fmt::format("applied {} rewards", items.size() - missing->size()));
    return missing->empty() ? kExitOk : kExitNegative;
  };
}

Runner SetupMaintain(CLI::App* app) {
  struct Args {
    StoreArgs store;
    MaintainOptions m;
    std::string format;
    bool moves = false;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--seed", a->m.seed, "Seed for the tick's sampling (same seed and clock, same tick)");
  app->add_flag("--dry-run", a->m.dry_run, "Compute the tick and print it with its moves; change nothing");
  app->add_flag("--moves", a->moves,
                "Also list each move (id, tiers, reason, score; a pattern decision also its pattern and confidence); a "
                "tick prints only its counts without it");
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "One cron tick: decay, temperature, sampled moves, hot capacity, restore queue.\n"
      "Example (crontab, with a PATH= line as in the README):\n"
      "  */5 * * * * aether maintain /var/lib/mem --format json --log-format json >> /var/log/aether.jsonl 2>&1");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto r = (*store)->Maintain(a->m);
    if (!r.ok()) return Fail(r.status());
    // The moves can be many (a tick of an aggressive preset samples half
    // the store): listed on demand, so a cron log's line stays small.
    const bool list_moves = a->moves || a->m.dry_run;
    if (a->format != "table") {
      nlohmann::json tick = TickJson(*r, a->m.dry_run, list_moves);
      fmt::print("{}\n", JsonText(tick));
    } else {
      fmt::print("temperature {:.4g} -> {:.4g}{}\n", r->temperature_before, r->temperature_after,
                 r->pressure ? " (pressure)" : "");
      if (r->pressure)
        fmt::print("pressure {}: {}{}{}\n", r->pressure_level, r->pressure_why,
                   r->promotions_paused ? "; no restore promoted" : "",
                   r->descended_pressure ? fmt::format("; {} descended", r->descended_pressure) : "");
      fmt::print("importance decayed on {} memories\n", r->importance_decayed);
      fmt::print("candidates: {} hot, {} cold\n", r->hot_candidates, r->cold_candidates);
      if (r->pattern_read)
        fmt::print(
            "by access pattern: {} read, {} kept hot, {} queued, {} descended ({} more held: no room needed), {} "
            "left to the score (below min_confidence)\n",
            r->pattern_read, r->pattern_kept, r->pattern_queued, r->descended_pattern, r->pattern_held,
            r->pattern_low_confidence);
      fmt::print("hot -> {}: {} sampled, {}{} over capacity, {} evicted for restores\n", TierName(r->demoted_to),
                 r->descended_sampled, r->descended_age ? fmt::format("{} by age, ", r->descended_age) : std::string(),
                 r->descended_capacity, r->evicted_for_restore);
      if (r->descended_warm) fmt::print("warm -> cold: {} over warm capacity\n", r->descended_warm);
      fmt::print("cold -> hot: {} queued, {} restored, {} deferred, {} dropped\n", r->queued, r->restored, r->deferred,
                 r->dropped);
      fmt::print("restore queue {} -> {}; hot {}/{}\n", r->queue_depth_before, r->queue_depth_after, r->hot_after,
                 r->hot_capacity);
      if (r->hot_slots_moved + r->hot_slots_cut + r->unstaged + r->shards_emptied + r->cold_rewritten +
              r->garbage_dropped >
          0)
        fmt::print(
            "compacted: {} hot slots moved, {} cut; {} staging records moved to partitions, {} shards emptied, {} "
            "partitions rewritten ({} cold records), {} dead dropped\n",
            r->hot_slots_moved, r->hot_slots_cut, r->unstaged, r->shards_emptied, r->partitions_rewritten,
            r->cold_rewritten, r->garbage_dropped);
      if (list_moves)
        for (const auto& m : r->moves)
          fmt::print("{}: {} {}->{} {} score={:.6g}{}\n", a->m.dry_run ? "plan" : "move", Printable(m.id),
                     TierName(m.from), TierName(m.to), m.reason, m.score,
                     m.pattern.empty() ? std::string()
                                       : fmt::format(" pattern={} confidence={:.2f}", m.pattern, m.confidence));
    }
    return kExitOk;
  };
}

Runner SetupConfig(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string action;
    std::string key;
    std::string value;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("action", a->action, "get, set or preset")
      ->required()
      ->check(CLI::IsMember({"get", "set", "preset"}));
  app->add_option("key", a->key, "Parameter (get: omit for all), or preset name");
  app->add_option("value", a->value, "New value (set)");
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "Examples: aether config ./mem get\n          aether config ./mem set sample_rate 0.2\n"
      "          aether config ./mem preset conservative");
  return [a](const StoreOpener& opener) -> int {
    bool write = a->action != "get";
    auto store = write ? opener.Open(a->store) : opener.OpenToRead(a->store);
    if (!store.ok()) return Fail(store.status());
    if (a->action == "set") {
      if (a->key.empty() || a->value.empty()) return Fail(Status::InvalidArgument("usage: config STORE set KEY VALUE"));
      char* end = nullptr;
      double v = std::strtod(a->value.c_str(), &end);
      if (*end != '\0' || a->value.empty() || !std::isfinite(v))
        return Fail(Status::InvalidArgument("value '" + a->value + "' is not a number"));
      Status s = (*store)->SetParam(a->key, v);
      if (!s.ok()) return Fail(s);
    } else if (a->action == "preset") {
      Status s = (*store)->ApplyPreset(a->key);
      if (!s.ok()) return Fail(s);
    }
    auto params = (*store)->GetParams();
    if (!params.ok()) return Fail(params.status());
    if (a->action == "get" && !a->key.empty() && !params->count(a->key))
      return Fail(Status::InvalidArgument("unknown config key '" + a->key + "'"));
    bool one = a->action != "preset" && !a->key.empty();
    if (one && a->format == "table") {  // like `git config KEY`: the bare value
      fmt::print("{}\n", (*params)[a->key]);
      return kExitOk;
    }
    nlohmann::json object = nlohmann::json::object(), rows = nlohmann::json::array();
    for (const auto& [k, v] : *params)
      if (!one || k == a->key) {
        object[k] = v;
        rows.push_back({{"key", k}, {"value", v}});
      }
    if (a->format == "json")
      fmt::print("{}\n", JsonText(object));
    else
      PrintRows(a->format, {"key", "value"}, rows);
    return kExitOk;
  };
}

Runner SetupHistory(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string id;
    int64_t since = 0;
    std::string trace_id;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("id", a->id, "Only this memory (or config key)");
  app->add_option("--since", a->since, "Only entries at or after this time (ms since the epoch)");
  app->add_option("--trace-id", a->trace_id,
                  "Only entries written under this trace id (the --trace-id of the command that wrote them)")
      ->check(NonEmpty());
  AddFormatOption(app, &a->format, "jsonl");
  app->footer(
      "Moves, placement decisions by access pattern (reason, score, confidence), feedback, updates,\n"
      "deletes (tombstones), config changes and maintain ticks,\n"
      "each with the trace id of the command that wrote it (null for an entry written without one).\n"
      "Example: aether history ./mem m42; aether history ./mem --trace-id agent-7/step-42");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto h = (*store)->History(a->id, a->since, a->trace_id);
    if (!h.ok()) return Fail(h.status());
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& e : *h) {
      nlohmann::json j = {{"seq", e.seq}, {"ts_ms", e.ts_ms}, {"kind", e.kind}, {"id", e.id}};
      j["trace_id"] = e.trace_id.empty() ? nlohmann::json() : nlohmann::json(e.trace_id);
      // A detail that does not parse (a damaged row) is shown as its text.
      j["detail"] = e.detail.empty()         ? nlohmann::json()
                    : ValidPayload(e.detail) ? nlohmann::json::parse(e.detail)
                                             : nlohmann::json(e.detail);
      rows.push_back(std::move(j));
    }
    PrintRows(a->format, {"seq", "ts_ms", "kind", "id", "trace_id", "detail"}, rows);
    return kExitOk;
  };
}

}  // namespace aether::cli
