// --log-format json / AETHER_LOG_FORMAT and --trace-id / AETHER_TRACE_ID:
// which form wins, what -q keeps, the trace id's sources and checks, and
// errors raised before the command is known. (The golden transcripts run
// again in json check every other stderr line: golden_test.cc.)
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

using namespace aether::test;

namespace {

// stderr's lines as JSON objects; fails the check on any other line.
std::vector<nlohmann::json> JsonLines(const std::string& err) {
  std::vector<nlohmann::json> lines;
  for (const auto& l : Lines(err)) {
    auto j = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    CHECK_MESSAGE(j.is_object(), "not a JSON object: " << l);
    if (j.is_object()) lines.push_back(j);
  }
  return lines;
}

}  // namespace

TEST_CASE("--log-format json: levels, -q, exit codes, and the option winning over AETHER_LOG_FORMAT") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(20, 4, 1);
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);

  // A warning (an id not found) and an info line (the summary); exit 1 is a
  // negative answer, not an error: no exit_code.
  auto r = Aether({"delete", store, "m1", "nope", "--log-format", "json"});
  CHECK(r.exit_code == 1);
  auto lines = JsonLines(r.err);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["level"] == "warning");
  CHECK(lines[0]["message"] == "not found: nope");
  CHECK(lines[1]["level"] == "info");
  CHECK(lines[1]["command"] == "delete");
  for (const auto& j : lines) CHECK(!j.contains("exit_code"));
  CHECK(lines[0]["trace_id"] == lines[1]["trace_id"]);
  CHECK(lines[0]["pid"] == lines[1]["pid"]);

  // -q keeps only errors, in json too.
  r = Aether({"-q", "delete", store, "m2", "nope", "--log-format", "json"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "");
  r = Aether({"-q", "get", dir / "missing", "m1", "--log-format", "json"});
  CHECK(r.exit_code == 66);
  lines = JsonLines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["level"] == "error");
  CHECK(lines[0]["exit_code"] == 66);

  // The environment's form; the option wins over it, both ways.
  r = Aether({"get", store, "nope"}, "", {"AETHER_LOG_FORMAT=json"});
  REQUIRE(JsonLines(r.err).size() == 1);
  CHECK(JsonLines(r.err)[0]["message"] == "not found: nope");
  r = Aether({"get", store, "nope", "--log-format", "text"}, "", {"AETHER_LOG_FORMAT=json"});
  CHECK(r.err == "aether: not found: nope\n");
  r = Aether({"--log-format=json", "get", store, "nope"}, "", {"AETHER_LOG_FORMAT=text"});
  CHECK(JsonLines(r.err).size() == 1);

  // Usage errors, before and during parsing, in the form asked for.
  r = Aether({"--log-format", "json", "serach", store});  // before the command is known
  CHECK(r.exit_code == 64);
  lines = JsonLines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["command"].is_null());
  CHECK(lines[0]["exit_code"] == 64);
  CHECK(lines[0]["message"].get<std::string>().find("did you mean 'search'") != std::string::npos);
  r = Aether({"search", store, "--vector", "[1,2]", "--bogus"}, "", {"AETHER_LOG_FORMAT=json"});
  CHECK(r.exit_code == 64);
  lines = JsonLines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["command"] == "search");
  // A bad variable elsewhere is reported in json too.
  r = Aether({"get", store, "m3"}, "", {"AETHER_LOG_FORMAT=json", "AETHER_NOW_MS=abc"});
  CHECK(r.exit_code == 64);
  lines = JsonLines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["message"].get<std::string>().find("AETHER_NOW_MS=abc") == 0);

  // Bad forms: the option's (CLI11 says so, in the environment's form) and
  // the variable's.
  r = Aether({"get", store, "m3", "--log-format", "xml"}, "", {"AETHER_LOG_FORMAT=json"});
  CHECK(r.exit_code == 64);
  CHECK(JsonLines(r.err).size() == 1);
  r = Aether({"get", store, "m3"}, "", {"AETHER_LOG_FORMAT=xml"});
  CHECK(r.exit_code == 64);
  CHECK(r.err == "aether: error: AETHER_LOG_FORMAT=xml: expected text or json (see man aether, ENVIRONMENT)\n");
  // A bad variable is refused whatever the command line says, as every
  // AETHER_* variable is.
  r = Aether({"get", store, "m3", "--log-format", "text"}, "", {"AETHER_LOG_FORMAT=xml"});
  CHECK(r.exit_code == 64);
}

TEST_CASE("trace ids: --trace-id, AETHER_TRACE_ID, generated, checked") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 4, 1))).exit_code == 0);
  auto trace_of = [&](const std::vector<std::string>& args, const std::vector<std::string>& env) {
    auto r = Aether(args, "", env);
    auto lines = JsonLines(r.err);
    REQUIRE(!lines.empty());
    return lines[0]["trace_id"].get<std::string>();
  };
  const std::vector<std::string> get = {"get", store, "nope", "--log-format", "json"};
  // Generated: 32 hex digits, a new one per process.
  const std::string a = trace_of(get, {}), b = trace_of(get, {});
  CHECK(std::regex_match(a, std::regex("[0-9a-f]{32}")));
  CHECK(a != b);
  // Given: the variable, the option (which wins), before or after the command.
  CHECK(trace_of(get, {"AETHER_TRACE_ID=agent-7/step-42"}) == "agent-7/step-42");
  std::vector<std::string> with = get;
  with.insert(with.end(), {"--trace-id", "00f067aa0ba902b7"});
  CHECK(trace_of(with, {"AETHER_TRACE_ID=agent-7/step-42"}) == "00f067aa0ba902b7");
  CHECK(trace_of({"--trace-id=x:1", "--log-format", "json", "get", store, "nope"}, {}) == "x:1");
  CHECK(trace_of({"--trace-id", "t9", "get", store, "nope", "--log-format", "json"}, {}) == "t9");
  // Checked: 1..128 printable ASCII characters, no space; exit 64 naming the source.
  for (const std::string& bad :
       {std::string(""), std::string("a b"), std::string(129, 'x'), std::string("t\x01"), std::string("caf\xc3\xa9")}) {
    CAPTURE(bad);
    auto r = Aether({"get", store, "m1", "--trace-id", bad});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("--trace-id") != std::string::npos);
    if (bad.empty()) continue;  // the environment treats an empty value as unset
    r = Aether({"get", store, "m1"}, "", {"AETHER_TRACE_ID=" + bad});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("AETHER_TRACE_ID") != std::string::npos);
  }
  CHECK(Aether({"get", store, "m1", "--trace-id", std::string(128, 'x')}).exit_code == 0);
  // A bad variable's error line still has a trace id.
  auto r = Aether({"get", store, "m1", "--log-format", "json"}, "", {"AETHER_TRACE_ID=a b"});
  CHECK(r.exit_code == 64);
  REQUIRE(JsonLines(r.err).size() == 1);
  CHECK(std::regex_match(JsonLines(r.err)[0]["trace_id"].get<std::string>(), std::regex("[0-9a-f]{32}")));
  // After `history`, --trace-id is history's filter, not this process's id.
  const std::string missing = dir / "missing";
  CHECK(trace_of({"history", missing, "--trace-id", "t-filter", "--log-format", "json"}, {"AETHER_TRACE_ID=t-env"}) ==
        "t-env");
  CHECK(trace_of({"--trace-id", "t-own", "history", missing, "--trace-id", "t-filter", "--log-format", "json"}, {}) ==
        "t-own");
  // Non-ASCII in a message is escaped: no byte of a C1 control reaches a terminal.
  r = Aether({"get", store, "caf\xc3\xa9\xc2\x9b", "--log-format", "json"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("\xc2") == std::string::npos);
  REQUIRE(JsonLines(r.err).size() == 1);
  CHECK(JsonLines(r.err)[0]["message"] == "not found: caf\xc3\xa9\xc2\x9b");
}

TEST_CASE("--log-format json shows no progress line, even with --progress") {
  TempDir dir;
  const std::string store = dir / "s";
  auto r = Aether({"ingest", "--create", store, "--progress", "--log-format", "json"}, ToJsonl(RandomMems(50, 4, 1)));
  CHECK(r.exit_code == 0);
  CHECK(r.err.find('\r') == std::string::npos);
  auto lines = JsonLines(r.err);
  REQUIRE(lines.size() == 2);  // "created store", then the summary
  CHECK(lines[1]["message"].get<std::string>().rfind("ingested 50 memories", 0) == 0);
  // Text keeps it (the flag forces it off a terminal).
  r = Aether({"descend", store, "--all", "--progress"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find('\r') != std::string::npos);
}

TEST_CASE("trace ids in the history: each entry names the command that wrote it, a replayed move its journaling one") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, ToJsonl(RandomMems(30, 4, 1))).exit_code == 0);
  // kind -> the trace id of the command that writes entries of that kind.
  const std::vector<std::pair<std::vector<std::string>, std::string>> commands = {
      {{"feedback", store, "m1", "1"}, "t-feedback"},
      {{"config", store, "set", "sample_rate", "0.5"}, "t-config"},
      {{"descend", store, "m3", "m4"}, "t-descend"},
      {{"ascend", store, "m3"}, "t-ascend"},
      {{"update", store, "m5", "--importance", "0.9"}, "t-update"},
      {{"delete", store, "m2"}, "t-delete"},
      {{"maintain", store, "--seed", "1"}, "t-maintain"},
  };
  for (const auto& c : commands) {
    auto args = c.first;
    args.insert(args.end(), {"--trace-id", c.second});
    auto r = Aether(args);
    REQUIRE_MESSAGE(r.exit_code == 0, c.second << ": " << r.err);
  }
  // A descend killed after its data is synced: the next writer's replay
  // commits it, and its entries keep the trace id of the command that
  // journaled it, not the replayer's.
  CHECK(Aether({"descend", store, "m6", "--trace-id", "t-killed"}, "", {"AETHER_FAULT=descend.after_written"})
            .exit_code == 128 + 9);
  auto rec = Aether({"recover", store, "--trace-id", "t-recover", "--format", "jsonl"});
  REQUIRE(rec.exit_code == 0);
  REQUIRE(Lines(rec.out).size() == 1);
  CHECK(rec.out.find("forward") != std::string::npos);

  auto all = Aether({"history", store});
  REQUIRE(all.exit_code == 0);
  std::map<std::string, std::vector<nlohmann::json>> by_trace;
  for (const auto& l : Lines(all.out)) {
    auto j = nlohmann::json::parse(l);
    REQUIRE(j["trace_id"].is_string());  // every entry has one
    by_trace[j["trace_id"].get<std::string>()].push_back(j);
  }
  auto kinds = [&](const std::string& trace) {
    std::set<std::string> k;
    for (const auto& j : by_trace[trace]) k.insert(j["kind"].get<std::string>() + ":" + j["id"].get<std::string>());
    return k;
  };
  CHECK(kinds("t-feedback") == std::set<std::string>{"feedback:m1"});
  CHECK(kinds("t-config") == std::set<std::string>{"config:sample_rate"});
  CHECK(kinds("t-descend") == std::set<std::string>{"descend:m3", "descend:m4"});
  CHECK(kinds("t-ascend") == std::set<std::string>{"ascend:m3"});
  CHECK(kinds("t-update") == std::set<std::string>{"update:m5"});
  CHECK(kinds("t-delete") == std::set<std::string>{"delete:m2"});
  CHECK(kinds("t-maintain").count("maintain:") == 1);  // the tick, and whatever it moved
  for (const auto& k : kinds("t-maintain"))
    CHECK((k == "maintain:" || k.rfind("descend:", 0) == 0 || k.rfind("ascend:", 0) == 0));
  CHECK(kinds("t-killed") == std::set<std::string>{"descend:m6"});
  CHECK(by_trace.count("t-recover") == 0);
  CHECK(by_trace.size() == commands.size() + 1);  // the ingest wrote no entry
  // history --trace-id finds exactly those entries, with an id too.
  for (const auto& [trace, entries] : by_trace) {
    auto found = Lines(Aether({"history", store, "--trace-id", trace}).out);
    REQUIRE(found.size() == entries.size());
    for (size_t i = 0; i < found.size(); ++i) CHECK(nlohmann::json::parse(found[i]) == entries[i]);
  }
  CHECK(Lines(Aether({"history", store, "m3", "--trace-id", "t-ascend"}).out).size() == 1);
  CHECK(Aether({"history", store, "--trace-id", "nobody"}).out.empty());
  CHECK(Aether({"history", store, "--trace-id", ""}).exit_code == 64);
  CHECK(Aether({"verify", store}).exit_code == 0);
}
