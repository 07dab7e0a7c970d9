// aether export STORE: every memory as a JSONL record that ingest reads back
// (--ignore-unknown skips the metadata fields), streamed (Store::Export).
#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

Runner SetupExport(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string tier, where;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("--tier", a->tier, "Only this tier (all: both)")->check(CLI::IsMember({"all", "hot", "cold"}));
  app->add_option("--where", a->where, "Only memories the filter expression matches (README \"Filters\")")
      ->check(NonEmpty());
  app->footer(
      "Example: aether export ./mem > mem.jsonl && aether ingest ./copy mem.jsonl --create --ignore-unknown\n"
      "Record: {\"id\", \"vector\", \"payload\", \"importance\", \"tier\", \"created_ms\", \"last_access_ms\", "
      "\"access_count\"}");
  return [a](const StoreOpener& opener) -> int {
    ExportOptions o;
    o.where = a->where;
    if (a->tier == "hot" || a->tier == "cold") o.tier = a->tier == "hot" ? Tier::kHot : Tier::kCold;
    if (!a->where.empty())  // a bad filter is a usage error before anything opens
      if (Status s = Store::CheckFilter(a->where); !s.ok()) return Fail(s);
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    uint64_t exported = 0;
    fmt::memory_buffer line;
    Status done = (*store)->Export(o, [&](const MemoryRecord& r) -> Status {
      line.clear();
      fmt::format_to(std::back_inserter(line), "{{\"id\":{},\"vector\":[", nlohmann::json(r.id).dump());
      for (size_t i = 0; i < r.vector.size(); ++i) {
        float f = r.vector[i];
        // As get: a value that is not finite (only data stored before inputs
        // were range-checked can hold one) saturates; JSON has none.
        if (!std::isfinite(f)) f = std::signbit(f) && !std::isnan(f) ? -FLT_MAX : FLT_MAX;
        char text[40];
        text[0] = ',';
        // The shortest decimal that reads back to the same float (Ryu; three
        // times faster than fmt's, which was most of an export's time).
        char* end = std::to_chars(text + 1, text + sizeof text, f).ptr;
        if (ShortestDecimalMisreads(f)) {
          end = std::to_chars(text + 1, text + sizeof text, double(f)).ptr;
        } else if (end - text == 3 && text[1] == '-' && text[2] == '0') {
          end = std::copy_n("-0.0", 4, text + 1);  // "-0" is an integer, which reads as +0
        }
        line.append(text + (i == 0), end);
      }
      fmt::format_to(std::back_inserter(line),
                     "],\"payload\":{},\"importance\":{},\"tier\":\"{}\",\"created_ms\":{},\"last_access_ms\":{},"
                     "\"access_count\":{}}}\n",
                     r.payload_json.empty() ? "null" : r.payload_json, r.importance, TierName(r.tier), r.created_ms,
                     r.last_access_ms, r.access_count);
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size())
        return Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
      ++exported;
      return Status::Ok();
    });
    if (std::fflush(stdout) != 0 && done.ok())
      done = Status::IOError(fmt::format("standard output: {}", std::strerror(errno)));
    if (!done.ok()) return Fail(done);
    Warn(fmt::format("exported {} memories", exported));
    return kExitOk;
  };
}

}  // namespace aether::cli
