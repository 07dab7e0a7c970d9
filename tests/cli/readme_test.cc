// The README's cron example, run as cron runs it (paths redirected to a
// temporary directory), then checked: a tick happened, a busy tick logged
// its error as JSON, the index was built, every log line is JSON, and the
// textfile holds valid Prometheus metrics.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "test_util.h"

using namespace aether::test;

TEST_CASE("the README cron example runs as cron runs it") {
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
  std::filesystem::create_directories(dir / "log");
  // The crontab's paths, pointed into the temporary directory; its PATH
  // line's /usr/local/bin (where `cmake --install` puts aether) at the build.
  const std::string bin_dir = std::string(AETHER_BIN).substr(0, std::string(AETHER_BIN).rfind('/'));
  auto redirect = [&](std::string line) {
    line = std::regex_replace(line, std::regex("/var/log/aether"), dir.path() + "/log");
    line = std::regex_replace(line, std::regex("/var/lib/node_exporter/textfile_collector"), dir.path());
    line = std::regex_replace(line, std::regex("/var/lib/aether/mem"), store);
    return std::regex_replace(line, std::regex("^PATH=/usr/local/bin:"), "PATH=" + bin_dir + ":");
  };
  // As cron runs a job: an environment of HOME, LOGNAME, SHELL and
  // PATH=/usr/bin:/bin, then the crontab's assignments (not expanded), the
  // command through /bin/sh -c, standard input closed (a cron may leave it so).
  std::string env = "env -i HOME='" + dir.path() + "' LOGNAME=aether SHELL=/bin/sh PATH=/usr/bin:/bin";
  std::vector<std::string> jobs;
  bool has_path = false;
  std::istringstream lines(block);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    line = redirect(line);
    std::smatch m;
    if (std::regex_match(line, m, std::regex("^([A-Z_]+)=(.*)$"))) {
      has_path |= m[1] == "PATH";
      env += " '" + line + "'";
      continue;
    }
    // Drop the five schedule fields.
    REQUIRE(std::regex_match(line, m, std::regex("^\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+(.*)$")));
    jobs.push_back(m[1].str());
  }
  CHECK(has_path);  // cron's PATH (/usr/bin:/bin) has no aether installed under /usr/local
  REQUIRE(jobs.size() == 3);
  auto run_job = [&](size_t i) {
    WriteFile(dir / ("job" + std::to_string(i)), jobs[i]);
    std::string cmd = env + " /bin/sh -c \"$(cat '" + dir / ("job" + std::to_string(i)) + "')\" 0<&-";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  for (size_t i = 0; i < jobs.size(); ++i) CHECK_MESSAGE(run_job(i) == 0, jobs[i]);
  // A busy tick: a writer holds the store past the tick's --wait (5 s), so
  // the tick exits 75, and says so in the log as one more JSON line.
  const std::string paused = dir / "paused";
  int holder = SpawnAether({"descend", store, "--all"},
                           {"AETHER_PAUSE=descend.after_intent:60000", "AETHER_PAUSE_FILE=" + paused});
  for (int i = 0; i < 6000 && !std::filesystem::exists(paused); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(std::filesystem::exists(paused));
  CHECK(run_job(0) == 75);
  std::filesystem::remove(paused);
  CHECK(WaitAether(holder) == 0);

  // Every line of every log is one JSON object: the tick's report, and the
  // busy tick's error with its exit code.
  auto ticks = Lines(ReadFile(dir / "log/maintain.jsonl"));
  REQUIRE(ticks.size() == 2);
  auto tick = nlohmann::json::parse(ticks[0]);
  CHECK(tick.contains("temperature_after"));
  CHECK(!tick.contains("moves"));  // counts only: a small line per tick
  auto busy = nlohmann::json::parse(ticks[1]);
  CHECK(busy["level"] == "error");
  CHECK(busy["command"] == "maintain");
  CHECK(busy["exit_code"] == 75);
  CHECK(std::regex_match(busy["trace_id"].get<std::string>(), std::regex("[0-9a-f]{32}")));
  for (const char* log : {"log/rebuild.jsonl", "log/stats.jsonl"})
    for (const auto& l : Lines(ReadFile(dir / log))) CHECK_MESSAGE(nlohmann::json::accept(l), log << ": " << l);
  CHECK(!Lines(ReadFile(dir / "log/rebuild.jsonl")).empty());  // its report and its info lines
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["index_generation"] == 1);
  std::string prom = ReadFile(dir / "aether.prom");
  CHECK(prom.find("aether_memories{tier=\"hot\"}") != std::string::npos);
  // Metric names and sample lines are valid exposition format.
  for (const auto& l : Lines(prom)) {
    if (l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) continue;
    CHECK_MESSAGE(
        std::regex_match(
            l, std::regex("^aether_[a-z0-9_]+(\\{[a-z_]+=\"[a-z0-9_.+-]+\"(,[a-z_]+=\"[A-Za-z0-9_.+-]+\")*\\})? "
                          "[-0-9.e+]+$")),
        l);
  }
  // The commands' counters and histograms are there too (Operating aether).
  CHECK(prom.find("# TYPE aether_commands_total counter\n") != std::string::npos);
  CHECK(prom.find("# TYPE aether_command_duration_seconds histogram\n") != std::string::npos);
  CHECK(prom.find("aether_command_duration_seconds_bucket{command=\"maintain\",le=\"+Inf\"}") != std::string::npos);
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

TEST_CASE("the README's alert rules pass promtool check rules") {
  const std::string readme = ReadFile(AETHER_TESTDATA "/../README.md");
  auto begin = readme.find("<!-- alert-rules -->");
  auto end = readme.find("<!-- /alert-rules -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string block = readme.substr(begin, end - begin);
  block = block.substr(block.find("```yaml\n") + 8);
  block = block.substr(0, block.find("```"));
  // Every metric a rule names is one aether exports.
  for (const char* name :
       {"aether_migrations_total", "aether_command_duration_seconds_bucket", "aether_commands_total"})
    CHECK(block.find(name) != std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool not found: skipping `promtool check rules` (scripts/setup installs it)");
    return;
  }
  TempDir dir;
  WriteFile(dir / "rules.yml", block);
  const std::string check = "promtool check rules '" + dir / "rules.yml" + "' > '" + dir / "out" + "' 2>&1";
  CHECK_MESSAGE(std::system(check.c_str()) == 0, ReadFile(dir / "out"));
}
