#include "env/env_vars.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "aether/env.h"

namespace aether {
namespace env_vars {
namespace {

// A whole decimal number in [lo, hi], nothing else.
bool ParseLong(const std::string& text, long lo, long hi, long* out) {
  long v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool KnownPoint(const std::string& name) {
  for (const auto& p : ListFaultPoints())
    if (p == name) return true;
  return false;
}

}  // namespace

bool ParseNowMs(const char* text, int64_t* ms) {
  long v = 0;
  // Up to the year 9999: a pinned clock, not an arbitrary 64-bit number.
  if (!ParseLong(text, 0, 253402300799999L, &v)) return false;
  *ms = v;
  return true;
}

bool ParsePointSpec(const std::string& text, bool require_count, std::string* name, long* n) {
  const size_t colon = text.find(':');
  *name = text.substr(0, colon);
  *n = 1;
  if (colon == std::string::npos) return !require_count && KnownPoint(*name);
  return KnownPoint(*name) && ParseLong(text.substr(colon + 1), 1, 1000000000L, n);
}

bool ParseFailIo(const std::string& text, std::string* op, long* n, bool* forever) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  *op = text.substr(0, colon);
  std::string count = text.substr(colon + 1);
  *forever = !count.empty() && count.back() == '+';
  if (*forever) count.pop_back();
  return (*op == "write" || *op == "sync" || *op == "rename" || *op == "link" || *op == "dbwrite" || *op == "dbsync" ||
          *op == "nodirsync") &&
         ParseLong(count, 1, 1000000000L, n);
}

bool ParseScanDelay(const char* text, long* ms) { return ParseLong(text, 1, kMaxPauseMs, ms); }

bool ParseDurationUs(const char* text, long* us) { return ParseLong(text, 0, 1000000000000L, us); }

long ScanDelayMs() {
  static const long ms = [] {
    const char* v = std::getenv("AETHER_SCAN_DELAY_MS");
    long n = 0;
    return v && ParseScanDelay(v, &n) ? n : 0L;
  }();
  return ms;
}

bool ParsePressure(const char* text, PressureOverride* out) {
  *out = PressureOverride();
  std::string rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    if (comma != std::string::npos && rest.empty()) return false;  // a trailing comma
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    std::optional<double>* slot = key == "memory"       ? &out->memory
                                  : key == "disk"       ? &out->disk
                                  : key == "disk_bytes" ? &out->disk_bytes
                                                        : nullptr;
    if (!slot || slot->has_value()) return false;  // unknown or repeated
    if (value == "unknown") {
      *slot = -1.0;
      continue;
    }
    double v = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), v);
    const bool bytes = slot == &out->disk_bytes;  // a count: no fraction, no bound but the double's
    if (r.ec != std::errc() || r.ptr != value.data() + value.size() || !(v >= 0 && (bytes || v <= 1)) ||
        (bytes && (v != std::floor(v) || v > 9e18)))
      return false;
    *slot = v;
  }
  return out->memory.has_value() || out->disk.has_value() || out->disk_bytes.has_value();
}

}  // namespace env_vars

Status CheckEnvironment() {
  auto get = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  auto bad = [](const char* name, const char* value, const std::string& why) {
    return Status::InvalidArgument(fmt::format("{}={}: {} (see man aether, ENVIRONMENT)", name, value, why));
  };
  if (const char* v = get("AETHER_NOW_MS")) {
    int64_t ms;
    if (!env_vars::ParseNowMs(v, &ms)) return bad("AETHER_NOW_MS", v, "not a time in ms since the epoch");
  }
  std::string name, op;
  long n = 0;
  bool forever = false;
  if (const char* v = get("AETHER_FAULT"); v && !env_vars::ParsePointSpec(v, false, &name, &n))
    return bad("AETHER_FAULT", v, "expected NAME[:N] with NAME from `aether fault-points` and N >= 1");
  if (const char* v = get("AETHER_PAUSE")) {
    if (!env_vars::ParsePointSpec(v, true, &name, &n) || n > env_vars::kMaxPauseMs)
      return bad("AETHER_PAUSE", v, "expected NAME:MS with NAME from `aether fault-points` and MS in 1..60000");
  }
  if (const char* v = get("AETHER_PAUSE_FILE"); v && !get("AETHER_PAUSE"))
    return bad("AETHER_PAUSE_FILE", v, "only with AETHER_PAUSE");
  if (const char* v = get("AETHER_FAIL_IO"); v && !env_vars::ParseFailIo(v, &op, &n, &forever))
    return bad("AETHER_FAIL_IO", v,
               "expected OP:N[+] with OP write, sync, rename, link, dbwrite, dbsync or nodirsync, N >= 1");
  if (const char* v = get("AETHER_SCAN_DELAY_MS"); v && !env_vars::ParseScanDelay(v, &n))
    return bad("AETHER_SCAN_DELAY_MS", v, "expected MS in 1..60000");
  if (const char* v = get("AETHER_DURATION_US"); v && !env_vars::ParseDurationUs(v, &n))
    return bad("AETHER_DURATION_US", v, "expected US in 0..1000000000000");
  if (const char* v = get("AETHER_PRESSURE")) {
    env_vars::PressureOverride o;
    if (!env_vars::ParsePressure(v, &o))
      return bad("AETHER_PRESSURE", v,
                 "expected memory=F, disk=F and/or disk_bytes=N, comma-separated, each F in [0, 1], N a whole number "
                 "of bytes, or unknown");
  }
  if (const char* v = get("AETHER_SIMD")) {
    if (std::strcmp(v, "scalar") != 0 && std::strcmp(v, "avx2") != 0 && std::strcmp(v, "avx512") != 0)
      return bad("AETHER_SIMD", v, "expected scalar, avx2 or avx512");
  }
  if (const char* v = get("AETHER_TRACE_IO")) {
    int fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return bad("AETHER_TRACE_IO", v, std::string("cannot open it for appending: ") + std::strerror(errno));
    close(fd);
  }
  return Status::Ok();
}

}  // namespace aether
