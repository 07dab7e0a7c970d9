// What the command line says on stderr, in one of two forms:
//   text (default): "aether: <message>" and "aether: error: <message>" lines
//     for people;
//   json (--log-format json, or AETHER_LOG_FORMAT=json): each line one JSON
//     object a log collector can read (README "Operating aether"):
//     {"time":"2026-12-01T21:30:00.123Z","level":"error","command":"maintain",
//      "trace_id":"…","pid":1234,"message":"…","exit_code":75}
// Every line a command writes to stderr goes through Log (progress lines are
// off in json). Each process has a trace id: --trace-id, AETHER_TRACE_ID, or
// 32 random hex digits.
#pragma once

#include <optional>
#include <string>

#include "aether/status.h"

namespace aether::cli {

enum class LogLevel { kInfo, kWarning, kError };

struct LogSettings {
  bool json = false;
  std::string command;   // the subcommand, once known ("" before)
  std::string trace_id;  // never empty once main has set it up
};
extern LogSettings g_log;

// Writes one line. Info and warning lines are dropped under -q; error lines
// carry the exit code in json.
void Log(LogLevel level, const std::string& message, std::optional<int> exit_code = std::nullopt);
// An error line; returns exit_code.
int LogError(const std::string& message, int exit_code);
// The errno of the first flush of standard output that Log saw fail; 0 when
// none did.
int StdoutErrno();

// --log-format's and AETHER_LOG_FORMAT's values.
bool ParseLogFormat(const std::string& text, bool* json);
// A trace id is 1..128 printable ASCII characters, no space (a UUID, a W3C
// trace id, "agent-7/step-42": Store::CheckTraceId, and not empty);
// InvalidArgument otherwise, naming `source`.
Status CheckTraceId(const std::string& id, const std::string& source);
// 32 lowercase hex digits from the kernel's random source.
std::string NewTraceId();

}  // namespace aether::cli
