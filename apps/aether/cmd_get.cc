// aether get STORE ID...: stored memories as JSONL; missing ids exit 1.
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

Runner SetupGet(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::vector<std::string> ids;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("ids", a->ids, "Memory ids")->required();
  AddFormatOption(app, &a->format, "jsonl");  // table leaves the vector out
  app->footer("Example: aether get ./mem m1 m2 | jq .payload");
  return [a](const StoreOpener& opener) -> int {
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    auto records = (*store)->Get(a->ids);
    if (!records.ok()) return Fail(records.status());
    int code = kExitOk;
    nlohmann::json rows = nlohmann::json::array();
    bool pinned = false;  // any: the table gets the column
    for (size_t i = 0; i < a->ids.size(); ++i) {
      const auto& r = (*records)[i];
      if (!r) {
        Warn("not found: " + a->ids[i]);
        code = kExitNegative;
        continue;
      }
      nlohmann::json vec = nlohmann::json::array();
      for (float f : r->vector) vec.push_back(FloatJson(f));
      nlohmann::json j = {
          {"id", r->id},
          {"vector", std::move(vec)},
          {"payload", r->payload_json.empty() ? nlohmann::json() : nlohmann::json::parse(r->payload_json)},
          {"tier", TierName(r->tier)},
          {"importance", r->importance},
          {"created_ms", r->created_ms},
          {"last_access_ms", r->last_access_ms},
          {"access_count", r->access_count},
          {"pattern", a->format == "table"
                          ? nlohmann::json(fmt::format("{} {:.2f}", r->pattern.pattern, r->pattern.confidence))
                          : PatternJson(r->pattern)}};
      if (r->pinned) j["pinned"] = pinned = true;  // present on a pinned memory only
      rows.push_back(std::move(j));
    }
    std::vector<std::string> columns = {"id",           "tier",   "importance", "created_ms", "last_access_ms",
                                        "access_count", "pattern"};
    if (pinned) columns.push_back("pinned");
    columns.push_back("payload");
    PrintRows(a->format, columns, rows);
    return code;
  };
}

}  // namespace aether::cli
