// aether update STORE ID... [--payload JSON | --merge JSON] [--importance X]
// and aether update STORE --file FILE: changes payloads and importances in
// place, in one transaction, keeping vectors, tiers and access history;
// each change is audited in history. Unknown ids are reported (exit 1).
#include <fmt/format.h>

#include <cstdlib>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {
namespace {

constexpr const char* kFields = "id, payload, merge, importance";

// One JSON value given for a payload or a patch (the library stores its
// compact form): BadInput (`where`: what gave it) when it is not one valid
// JSON value.
Status JsonText(const std::string& text, const std::string& where, std::string* out) {
  // A payload nests one level less than the line that would carry it.
  AETHER_RETURN_IF_ERROR(CheckJsonValue(text, kMaxJsonDepth - 1).WithContext(where));
  *out = text;
  return Status::Ok();
}

Status ParseImportance(const nlohmann::json& j, const std::string& where, double* out) {
  if (!j.is_number() || !(j.get<double>() >= 0 && j.get<double>() <= 1))
    return Status::BadInput(fmt::format("{}: importance must be a number in [0, 1], not {}", where, j.dump()));
  *out = j.get<double>();
  return Status::Ok();
}

// One {"id", "payload" | "merge", "importance"} line.
Status ParseUpdateLine(const std::string& line, const std::string& where, bool ignore_unknown, UpdateItem* out) {
  AETHER_RETURN_IF_ERROR(CheckJsonValue(line).WithContext(where));
  const nlohmann::json j = nlohmann::json::parse(line);
  if (!j.is_object()) return Status::BadInput(fmt::format("{}: expected an object with {}", where, kFields));
  for (const auto& [key, value] : j.items()) {
    if (key == "id") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty())
        return Status::BadInput(where + ": \"id\" must be a non-empty string");
      out->id = value.get<std::string>();
    } else if (key == "payload") {
      out->payload_json = value.dump();
    } else if (key == "merge") {
      out->merge_patch_json = value.dump();
    } else if (key == "importance") {
      double v = 0;
      AETHER_RETURN_IF_ERROR(ParseImportance(value, where, &v));
      out->importance = v;
    } else if (!ignore_unknown) {
      return Status::BadInput(
          fmt::format("{}: unknown field \"{}\" (fields: {}; --ignore-unknown skips others)", where, key, kFields));
    }
  }
  if (out->id.empty()) return Status::BadInput(where + ": no \"id\"");
  if (out->payload_json && out->merge_patch_json)
    return Status::BadInput(where + ": give \"payload\" (replace) or \"merge\" (patch), not both");
  if (!out->payload_json && !out->merge_patch_json && !out->importance)
    return Status::BadInput(where + ": nothing to change (give payload, merge or importance)");
  return Status::Ok();
}

// Every line of the file, checked before the store is opened.
Status ReadUpdates(const std::string& path, bool ignore_unknown, size_t max_line_bytes, std::vector<UpdateItem>* items,
                   std::vector<std::string>* wheres, Progress* progress) {
  Input input;
  AETHER_RETURN_IF_ERROR(input.Open(path, "file of updates"));
  LineReader reader(input.stream(), input.name(), max_line_bytes);
  std::string line;
  bool too_long = false;
  while (reader.Next(&line, &too_long)) {
    std::string where = fmt::format("{}:{}", input.name(), reader.line_number());
    if (too_long) return Status::BadInput(where + ": " + TooLongMessage(reader));
    if (IsBlank(line)) continue;
    UpdateItem item;
    AETHER_RETURN_IF_ERROR(ParseUpdateLine(line, where, ignore_unknown, &item));
    items->push_back(std::move(item));
    wheres->push_back(std::move(where));
    if (items->size() % 4096 == 0) progress->Update(items->size(), 0);
  }
  return reader.status();
}

}  // namespace

Runner SetupUpdate(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::vector<std::string> ids;
    std::string payload, merge, importance, file, format, progress;
    bool dry_run = false, ignore_unknown = false;
    size_t max_line_bytes = kDefaultMaxLineBytes;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->ids, "Memory ids (each gets the same change)");
  auto* payload =
      app->add_option("--payload", a->payload, "The new payload (JSON; null removes it)")->check(NonEmpty());
  app->add_option("--merge", a->merge,
                  "A JSON merge patch (RFC 7396) for the payload: members set to null are removed, objects merge")
      ->check(NonEmpty())
      ->excludes(payload);
  app->add_option("--importance", a->importance, "The new importance, in [0, 1]")->check(NonEmpty());
  app->add_option("--file", a->file,
                  "JSONL {\"id\", \"payload\" | \"merge\", \"importance\"} lines, one change each (- for stdin)")
      ->check(NonEmpty());
  app->add_flag("--ignore-unknown", a->ignore_unknown, "Skip other fields of --file lines (e.g. export's)");
  app->add_option("--max-line-bytes", a->max_line_bytes, "Longest accepted --file line")
      ->default_val(kDefaultMaxLineBytes);
  app->add_flag("--dry-run", a->dry_run, "Print each memory as it would be after the change; change nothing");
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
  app->footer(
      "Vectors, tiers and access history stay; each change is audited (aether history).\n"
      "Example: aether update ./mem m1 --merge '{\"topic\":\"paris\",\"draft\":null}'\n"
      "         aether update ./mem m1 m2 --importance 0.9\n"
      "         aether update ./mem --file changes.jsonl --dry-run");
  return [a](const StoreOpener& opener) -> int {
    std::vector<UpdateItem> items;
    std::vector<std::string> wheres;  // where each item came from, for the not-found warnings
    const bool inline_change = !a->payload.empty() || !a->merge.empty() || !a->importance.empty();
    if (!a->file.empty()) {
      if (!a->ids.empty() || inline_change)
        return Fail(Status::InvalidArgument("give --file, or ids with --payload/--merge/--importance, not both"));
      Progress reading("update (reading)", a->progress);
      Status s = ReadUpdates(a->file, a->ignore_unknown, a->max_line_bytes, &items, &wheres, &reading);
      reading.Finish();
      if (!s.ok()) return Fail(s);
    } else {
      if (a->ids.empty()) return Fail(Status::InvalidArgument("give the ids to update, or --file FILE"));
      if (!inline_change)
        return Fail(Status::InvalidArgument("nothing to change: give --payload, --merge or --importance"));
      UpdateItem change;
      std::string text;
      if (!a->payload.empty()) {
        if (Status s = JsonText(a->payload, "--payload", &text); !s.ok()) return Fail(s);
        change.payload_json = text;
      }
      if (!a->merge.empty()) {
        if (Status s = JsonText(a->merge, "--merge", &text); !s.ok()) return Fail(s);
        change.merge_patch_json = text;
      }
      if (!a->importance.empty()) {
        char* end = nullptr;
        double v = std::strtod(a->importance.c_str(), &end);
        if (*end != '\0' || !(v >= 0 && v <= 1))
          return Fail(Status::BadInput("--importance '" + a->importance + "' is not a number in [0, 1]"));
        change.importance = v;
      }
      for (const std::string& id : a->ids) {
        change.id = id;
        items.push_back(change);
        wheres.emplace_back();
      }
    }
    // A dry run reads: it neither waits for nor blocks a writer.
    auto store = a->dry_run ? opener.OpenToRead(a->store) : opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    Progress progress("update", a->progress);
    auto r = (*store)->Update(items, a->dry_run, [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    progress.Finish();
    if (!r.ok()) return Fail(r.status());
    size_t next = 0;  // not_found is in item order: match each to its line
    for (const std::string& id : r->not_found) {
      while (items[next].id != id) ++next;
      Warn(wheres[next].empty() ? "not found: " + id : fmt::format("{}: unknown id '{}' (skipped)", wheres[next], id));
      ++next;
    }
    if (a->dry_run) {
      nlohmann::json rows = nlohmann::json::array();
      for (const MemoryRecord& m : r->after)
        rows.push_back(
            {{"id", m.id},
             {"importance", m.importance},
             {"payload", m.payload_json.empty() ? nlohmann::json() : nlohmann::json::parse(m.payload_json)}});
      if (a->format == "table")
        PrintRows(a->format, {"id", "importance", "payload"}, rows);
      else
        fmt::print("{}\n", nlohmann::json({{"dry_run", true}, {"would_update", rows}, {"not_found", r->not_found}})
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      Info(fmt::format("dry run: {} update{} would be applied, nothing changed", r->updated,
                       r->updated == 1 ? "" : "s"));
    } else {
      if (a->format != "table")
        fmt::print("{}\n", nlohmann::json({{"updated", r->updated}, {"not_found", r->not_found}})
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      Info(fmt::format("applied {} update{}", r->updated, r->updated == 1 ? "" : "s"));
    }
    return r->not_found.empty() ? kExitOk : kExitNegative;
  };
}

}  // namespace aether::cli
