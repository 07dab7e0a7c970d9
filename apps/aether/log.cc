#include "log.h"

#include <fmt/format.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>
#include <nlohmann/json.hpp>
#include <random>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

LogSettings g_log;

namespace {

// UTC, milliseconds: 2026-12-01T21:30:00.123Z.
std::string NowUtc() {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

int g_stdout_errno = 0;  // the first failed flush of standard output here

void LogLine(LogLevel level, const std::string& message, std::optional<int> exit_code) {
  if (!g_log.json) {
    fmt::print(stderr, "aether: {}{}\n", level == LogLevel::kError ? "error: " : "", Printable(message, false));
    return;
  }
  nlohmann::json line = {{"time", NowUtc()},
                         {"level", LevelName(level)},
                         {"command", g_log.command.empty() ? nlohmann::json() : nlohmann::json(g_log.command)},
                         {"trace_id", g_log.trace_id},
                         {"pid", static_cast<int64_t>(getpid())},
                         {"message", message}};
  if (exit_code) line["exit_code"] = *exit_code;
  // ASCII only: no control character (C1 included) reaches a terminal
  // that follows the log; bytes that are not UTF-8 (a file name, an id
  // quoted in the message) become U+FFFD rather than an exception.
  fmt::print(stderr, "{}\n", line.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace));
  std::fflush(stderr);
}

}  // namespace

int StdoutErrno() { return g_stdout_errno; }

void Log(LogLevel level, const std::string& message, std::optional<int> exit_code) {
  if (level != LogLevel::kError && g_quiet) return;
  // What a command printed before comes first on a shared stream; a failed
  // flush is remembered for the error that reports it (main.cc).
  if (std::fflush(stdout) != 0 && g_stdout_errno == 0) g_stdout_errno = errno;
  // A standard error that refuses writes (2>/dev/full) loses the message:
  // there is nowhere left to say so, and the exit code still tells.
  try {
    LogLine(level, message, exit_code);
  } catch (const std::bad_alloc&) {
    // No memory to format it: an error still reaches stderr, as a bare line
    // made of nothing allocated (a refused stderr loses it as above).
    if (level == LogLevel::kError)
      for (const char* part : {"aether: error: ", message.c_str(), "\n"})
        if (write(2, part, std::strlen(part)) < 0) break;
  } catch (const std::exception&) {
  }
}

int LogError(const std::string& message, int exit_code) {
  Log(LogLevel::kError, message, exit_code);
  return exit_code;
}

bool ParseLogFormat(const std::string& text, bool* json) {
  if (text != "text" && text != "json") return false;
  *json = text == "json";
  return true;
}

Status CheckTraceId(const std::string& id, const std::string& source) {
  if (id.empty()) return Status::InvalidArgument(source + ": an empty value (a trace id has 1 to 128 characters)");
  return Store::CheckTraceId(id, source);
}

std::string NewTraceId() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    // GRND_NONBLOCK: at boot (an @reboot job) the pool may not be ready;
    // then the fallback below, rather than a wait.
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, GRND_NONBLOCK);
    if (n <= 0) break;
    got += size_t(n);
  }
  if (got < sizeof bytes) {  // no getrandom (an old kernel or a seccomp filter)
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

}  // namespace aether::cli
