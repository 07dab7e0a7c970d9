// Golden transcripts: the exact stdout, stderr and exit code of every
// command, on success and on its main errors (tests/golden/*.t), and the
// README's console examples, run as written.
//
// A transcript reads like a terminal session:
//
//   $ aether get ./mem m1 nope          a command (sh; "\" continues a line)
//   {"id":"m1",...}                     its stdout
//   aether: not found: nope             its stderr ("aether: " lines)
//   [exit 1]                            its exit code, when not 0
//
// Rendering is unambiguous: stdout comes first, then stderr; a stdout line
// that could be mistaken for something else gets "> ", a stderr line that
// does not start with "aether: " gets "! ". "…" in an expected line matches
// any text (timings); a decimal fraction may differ in its last digits
// (by 1e-6, relative above 1: float sums differ across CPUs). Comments are
// shell comments: "$ # ...". Every transcript runs in a fresh directory
// with a pinned clock (AETHER_NOW_MS=1700000000000), a fixed trace id
// (AETHER_TRACE_ID=golden), every command's recorded duration 4 ms
// (AETHER_DURATION_US=4000: `stats` shows latencies) and $TESTDATA
// pointing at testdata/.
// AETHER_GOLDEN_UPDATE=1 rewrites the expected output from what ran.
#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

using namespace aether::test;

namespace {

struct Block {
  std::string command;                // as written (continuation lines joined with "\n")
  std::vector<std::string> expected;  // output lines as written
};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

void TrimTrailingBlank(std::vector<std::string>* lines) {
  while (!lines->empty() && lines->back().empty()) lines->pop_back();
}

std::vector<Block> Parse(const std::string& text) {
  std::vector<Block> blocks;
  auto lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("$ ", 0) == 0) {
      Block b;
      b.command = line.substr(2);
      while (!b.command.empty() && b.command.back() == '\\' && i + 1 < lines.size()) b.command += "\n" + lines[++i];
      blocks.push_back(std::move(b));
    } else if (!blocks.empty()) {
      blocks.back().expected.push_back(line);
    }
  }
  for (auto& b : blocks) TrimTrailingBlank(&b.expected);
  return blocks;
}

std::vector<std::string> Render(const std::string& out, const std::string& err, int code) {
  std::vector<std::string> lines;
  auto add = [&](const std::string& text, bool is_err) {
    auto split = SplitLines(text);
    for (const auto& l : split) {
      bool diag = l.rfind("aether: ", 0) == 0;
      if (is_err)
        lines.push_back(diag ? l : "! " + l);
      else if (diag || l.rfind("$ ", 0) == 0 || l.rfind("[exit ", 0) == 0 || l.rfind("> ", 0) == 0 ||
               l.rfind("! ", 0) == 0 || l == "[no newline]")
        lines.push_back("> " + l);
      else
        lines.push_back(l);
    }
    if (!text.empty() && text.back() != '\n') lines.push_back("[no newline]");
  };
  add(out, false);
  add(err, true);
  TrimTrailingBlank(&lines);
  if (code != 0) lines.push_back("[exit " + std::to_string(code) + "]");
  return lines;
}

// Same number, allowing a decimal fraction to differ in its last digits
// (by 1e-6, relative above 1): SIMD kernels sum in a different order on
// another CPU or build. Counts, ids and sizes (integers) must be exact.
bool SameNumber(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.find_first_of(".eE") == std::string::npos || b.find_first_of(".eE") == std::string::npos) return false;
  double x = std::stod(a), y = std::stod(b);
  return std::fabs(x - y) <= 1e-6 * std::max({1.0, std::fabs(x), std::fabs(y)});
}

// The expected line as a regex: "…" matches anything, each number matches
// any number (captured, then compared with SameNumber), the rest literally.
bool LineMatches(const std::string& expected, const std::string& actual) {
  if (expected == actual) return true;
  const std::string ellipsis = "\xE2\x80\xA6";  // …
  static const std::regex number("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?");
  const std::string number_re = "(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)";
  auto literal = [](const std::string& text) {
    std::string re;
    for (char c : text) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
      re += c;
    }
    return re;
  };
  std::string re;
  std::vector<std::string> want;
  size_t pos = 0;
  for (;;) {
    size_t at = expected.find(ellipsis, pos);
    std::string part = expected.substr(pos, at == std::string::npos ? std::string::npos : at - pos);
    size_t done = 0;
    for (auto m = std::sregex_iterator(part.begin(), part.end(), number); m != std::sregex_iterator(); ++m) {
      re += literal(part.substr(done, size_t(m->position()) - done)) + number_re;
      want.push_back(m->str());
      done = size_t(m->position() + m->length());
    }
    re += literal(part.substr(done));
    if (at == std::string::npos) break;
    re += ".*";
    pos = at + ellipsis.size();
  }
  std::smatch got;
  if (!std::regex_match(actual, got, std::regex(re))) return false;
  for (size_t i = 0; i < want.size(); ++i)
    if (!SameNumber(want[i], got[i + 1].str())) return false;
  return true;
}

// A message as the text form prints it (cli.h's Printable for stderr).
std::string AsText(const std::string& message) {
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    const auto c = static_cast<unsigned char>(message[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c < 0x20 || c == 0x7f)
      out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else if (c == 0xc2 && i + 1 < message.size() && static_cast<unsigned char>(message[i + 1]) >= 0x80 &&
             static_cast<unsigned char>(message[i + 1]) <= 0x9f) {
      const auto c1 = static_cast<unsigned char>(message[++i]);
      out += "\\u00" + std::string(1, "0123456789abcdef"[c1 >> 4]) + "0123456789abcdef"[c1 & 15];
    } else
      out += static_cast<char>(c);
  }
  return out;
}

// --log-format json's lines back in text form, each checked on the way:
// its keys, its level, an exit code on error lines only, and one trace id
// per process. A line that is not a log object (a command's output, another
// program's line) is left as it is, but an aether diagnostic in text form
// is an error: only the test-only fault point's last words (written by a
// process about to kill itself, with no allocation) are exempt.
std::string FromJsonLog(const std::string& text, const std::string& label, bool is_stderr) {
  std::string out;
  std::map<int64_t, std::string> trace_of_pid;
  for (const std::string& line : SplitLines(text)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("trace_id") || !j.contains("level")) {
      if (is_stderr && line.rfind("aether: ", 0) == 0 && line != "aether: fault point reached, killing process")
        FAIL_CHECK(label << ": a diagnostic in text form under --log-format json: " << line);
      out += line + "\n";
      continue;
    }
    INFO(label << ": " << line);
    CHECK(j.size() == (j.contains("exit_code") ? 7u : 6u));
    CHECK(std::regex_match(j.value("time", ""), std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z")));
    const std::string level = j.value("level", "");
    CHECK((level == "info" || level == "warning" || level == "error"));
    CHECK(j.contains("exit_code") == (level == "error"));
    if (j.contains("exit_code")) CHECK(j["exit_code"].get<int>() > 1);
    CHECK((j["command"].is_null() || j["command"].is_string()));
    const std::string trace = j["trace_id"].get<std::string>();
    CHECK(!trace.empty());
    auto [it, fresh] = trace_of_pid.emplace(j["pid"].get<int64_t>(), trace);
    CHECK(it->second == trace);  // one trace id per process
    out += "aether: " + std::string(level == "error" ? "error: " : "") + AsText(j["message"].get<std::string>()) + "\n";
  }
  if (!text.empty() && text.back() != '\n') out.pop_back();
  return out;
}

// Runs the blocks in `work`; returns the transcript text as it ran
// (expected lines kept where they match, so wildcards survive an update).
// json_log: with AETHER_LOG_FORMAT=json, its lines read back as text.
std::string Run(const std::vector<Block>& blocks, const std::string& work, const std::string& scratch,
                const std::string& label, bool* all_ok, bool json_log = false) {
  std::string bin_dir = std::string(AETHER_BIN).substr(0, std::string(AETHER_BIN).rfind('/'));
  std::string testdata = AETHER_TESTDATA;
  std::string text;
  for (const Block& b : blocks) {
    std::string script =
        "unset AETHER_STORE AETHER_FAULT AETHER_PAUSE AETHER_PAUSE_FILE AETHER_FAIL_IO AETHER_LOG_FORMAT\n" +
        std::string(json_log ? "export AETHER_LOG_FORMAT=json\n" : "") +
        "export AETHER_TRACE_ID=golden AETHER_DURATION_US=4000 PATH='" + bin_dir +
        "':\"$PATH\" AETHER_NOW_MS=1700000000000 LC_ALL=C "
        "TESTDATA='" +
        testdata + "'\ncd '" + work + "' || exit 99\n" + b.command + "\n";
    WriteFile(scratch + "/cmd.sh", script);
    std::string run = "sh '" + scratch + "/cmd.sh' >'" + scratch + "/out' 2>'" + scratch + "/err' </dev/null";
    int status = std::system(run.c_str());
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::string out = ReadFile(scratch + "/out"), err = ReadFile(scratch + "/err");
    if (json_log && b.command.find("--log-format") == std::string::npos)  // not where the block asks for a form
      out = FromJsonLog(out, label, false), err = FromJsonLog(err, label, true);
    auto actual = Render(out, err, code);
    bool ok = actual.size() == b.expected.size();
    for (size_t i = 0; ok && i < actual.size(); ++i) ok = LineMatches(b.expected[i], actual[i]);
    if (!ok) {
      *all_ok = false;
      std::string want, got;
      for (const auto& l : b.expected) want += "  " + l + "\n";
      for (const auto& l : actual) got += "  " + l + "\n";
      FAIL_CHECK(label << ": $ " << b.command << "\n--- expected\n" << want << "--- got\n" << got);
    }
    text += "$ " + b.command + "\n";
    for (size_t i = 0; i < actual.size(); ++i)
      text += (i < b.expected.size() && LineMatches(b.expected[i], actual[i]) ? b.expected[i] : actual[i]) + "\n";
  }
  return text;
}

bool Updating() {
  const char* u = std::getenv("AETHER_GOLDEN_UPDATE");
  return u && std::string(u) == "1";
}

std::vector<std::string> TranscriptFiles() {
  std::vector<std::string> files;
  std::string dir = AETHER_TESTDATA "/../tests/golden";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 2 && name.substr(name.size() - 2) == ".t") files.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs every transcript (json_log: as Run says, and in a short run every
// third: the sanitizer run, after the whole pass ran unsanitized); with
// AETHER_GOLDEN_UPDATE=1 a text run rewrites the transcripts that differ.
// The header (the lines before the first command) is kept as written.
void RunTranscripts(bool json_log) {
  auto files = TranscriptFiles();
  REQUIRE(files.size() >= 10);
  for (size_t i = 0; i < files.size(); ++i) {
    if (json_log && !InSweep(i)) continue;
    const std::string& file = files[i];
    std::string name = file.substr(file.rfind('/') + 1) + (json_log ? " (json log)" : "");
    INFO(name);
    TempDir work, scratch;
    std::string text = ReadFile(file);
    size_t first = text.rfind("$ ", 0) == 0 ? 0 : text.find("\n$ ");
    std::string header = first == std::string::npos ? text : text.substr(0, first == 0 ? 0 : first + 1);
    auto blocks = Parse(text.substr(header.size()));
    CHECK(!blocks.empty());
    bool ok = true;
    std::string ran = Run(blocks, work.path(), scratch.path(), name, &ok, json_log);
    if (Updating() && !ok && !json_log) WriteFile(file, header + ran);
  }
}

}  // namespace

TEST_CASE("golden transcripts: exact stdout, stderr and exit code of every command") { RunTranscripts(false); }

// The whole class of stderr lines: every transcript again with
// AETHER_LOG_FORMAT=json, each line a JSON object that says what the text
// line says.
TEST_CASE("golden transcripts in --log-format json: every stderr line one JSON object, the same messages") {
  RunTranscripts(true);
}

TEST_CASE("every command has a golden transcript, --help with an example, a man page entry, completion, README row") {
  auto files = TranscriptFiles();
  std::string all;
  for (const auto& f : files) all += ReadFile(f);
  const std::string man = ReadFile(AETHER_TESTDATA "/../apps/aether/share/aether.1");
  const std::string completion = ReadFile(AETHER_TESTDATA "/../apps/aether/share/aether.bash-completion");
  const std::string readme = ReadFile(AETHER_TESTDATA "/../README.md");
  // The commands main's table has, as `aether --help` lists them.
  std::vector<std::string> commands;
  const std::string top_help = Aether({"--help"}).out;
  std::istringstream lines(top_help.substr(top_help.find("Subcommands:")));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ')
      commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  CHECK(commands.size() >= 18);
  std::string completion_words = completion.substr(completion.find("commands=\""));
  completion_words = " " + completion_words.substr(10, completion_words.find('"', 10) - 10) + " ";
  for (const std::string& cmd : commands) {
    INFO(cmd);
    CHECK(all.find("$ aether " + cmd) != std::string::npos);
    std::string troff;  // a hyphen in a man page is \-
    for (char c : cmd) troff += c == '-' ? std::string("\\-") : std::string(1, c);
    CHECK(man.find(".B " + troff) != std::string::npos);
    CHECK(completion_words.find(" " + cmd + " ") != std::string::npos);
    CHECK(readme.find("| `" + cmd) != std::string::npos);
    auto help = Aether({cmd, "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("Example") != std::string::npos);
    CHECK(help.out.find("--help") != std::string::npos);
  }
}

TEST_CASE("the README's console examples run as written") {
  const std::string path = AETHER_TESTDATA "/../README.md";
  std::string readme = ReadFile(path);
  const std::string open = "<!-- golden -->\n```console\n", close = "```\n";
  TempDir work, scratch;
  // The examples run as from the repository root: testdata/ is there.
  REQUIRE(std::system(("ln -s '" AETHER_TESTDATA "' '" + work.path() + "/testdata'").c_str()) == 0);
  size_t pos = 0, examples = 0;
  std::string updated;
  bool ok = true;
  while ((pos = readme.find(open, pos)) != std::string::npos) {
    size_t start = pos + open.size(), end = readme.find(close, start);
    REQUIRE(end != std::string::npos);
    std::string ran = Run(Parse(readme.substr(start, end - start)), work.path(), scratch.path(),
                          "README example " + std::to_string(++examples), &ok);
    readme.replace(start, end - start, ran);
    pos = start + ran.size() + close.size();
  }
  CHECK(examples >= 4);
  if (Updating() && !ok) WriteFile(path, readme);
}
