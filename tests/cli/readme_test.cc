// The README's cron example, run as written (paths redirected to a
// temporary directory), then checked: a tick happened, the index was built,
// and the textfile holds valid Prometheus metrics.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_util.h"

using namespace aether::test;

TEST_CASE("the README cron example runs as written") {
  std::string readme = ReadFile(AETHER_TESTDATA "/../README.md");
  auto begin = readme.find("<!-- cron-example -->");
  auto end = readme.find("<!-- /cron-example -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string block = readme.substr(begin, end - begin);
  block = block.substr(block.find("```crontab\n") + 11);
  block = block.substr(0, block.find("```"));

  TempDir dir;
  std::string store = dir / "mem";
  auto mems = RandomMems(300, 8, 3);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(mems)).exit_code == 0);
  std::string bin_dir = std::string(AETHER_BIN).substr(0, std::string(AETHER_BIN).rfind('/'));
  std::string script = "set -e\nexport PATH=\"" + bin_dir + ":$PATH\"\nmkdir -p \"" + dir.path() + "/log\"\n";
  std::istringstream lines(block);
  std::string line;
  int jobs = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    line = std::regex_replace(line, std::regex("/var/log/aether"), dir.path() + "/log");
    line = std::regex_replace(line, std::regex("/var/lib/node_exporter/textfile_collector"), dir.path());
    line = std::regex_replace(line, std::regex("/var/lib/aether/mem"), store);
    std::smatch m;
    if (std::regex_match(line, m, std::regex("^([A-Z_]+)=(.*)$"))) {
      script += "export " + line + "\n";
      continue;
    }
    // Drop the five schedule fields; run the command.
    REQUIRE(std::regex_match(line, m, std::regex("^\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+(.*)$")));
    script += m[1].str() + "\n";
    ++jobs;
  }
  CHECK(jobs == 3);
  WriteFile(dir / "cron.sh", script);
  std::string cmd = "bash " + dir / "cron.sh";
  REQUIRE(std::system(cmd.c_str()) == 0);

  auto ticks = Lines(ReadFile(dir / "log/maintain.jsonl"));
  REQUIRE(ticks.size() == 1);
  CHECK(nlohmann::json::parse(ticks[0]).contains("temperature_after"));
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["index_generation"] == 1);
  std::string prom = ReadFile(dir / "aether.prom");
  CHECK(prom.find("aether_memories{tier=\"hot\"}") != std::string::npos);
  // Metric names and sample lines are valid exposition format.
  for (const auto& l : Lines(prom)) {
    if (l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) continue;
    CHECK_MESSAGE(std::regex_match(l, std::regex("^aether_[a-z0-9_]+(\\{[a-z_]+=\"[a-z0-9_]+\"\\})? [-0-9.e+]+$")), l);
  }
  // And Prometheus's own linter agrees (scripts/setup installs promtool).
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool not found: skipping `promtool check metrics` (scripts/setup installs it)");
  } else {
    std::string check = "promtool check metrics < '" + dir / "aether.prom" + "' > '" + dir / "promtool.out" + "' 2>&1";
    int rc = std::system(check.c_str());
    CHECK_MESSAGE(rc == 0, ReadFile(dir / "promtool.out"));
    CHECK(ReadFile(dir / "promtool.out") == "");  // no lint warnings either
  }
}
