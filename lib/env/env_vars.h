// The AETHER_* environment variables, parsed in one place so that the code
// that uses each one and CheckEnvironment (env.h) agree on its syntax.
// Documented in aether(1) and the README ("Environment").
//
//   AETHER_STORE      the store directory (the CLI)
//   AETHER_LOG_FORMAT text | json: stderr's form (the CLI, apps/aether/log.h)
//   AETHER_TRACE_ID   the command's trace id (the CLI, apps/aether/log.h)
//   AETHER_SIMD       scalar | avx2 | avx512: narrow the distance kernels
//   test-only:
//   AETHER_NOW_MS     a decimal time in ms since the epoch, pins the clock
//   AETHER_FAULT      NAME[:N]  kill the process at fault point NAME, N-th time
//   AETHER_PAUSE      NAME:MS   sleep MS (1..60000) at fault point NAME
//   AETHER_PAUSE_FILE FILE      with AETHER_PAUSE: make FILE when the pause
//                               starts, end it early once FILE is gone
//   AETHER_FAIL_IO    OP:N[+]   fail the N-th OP (write, sync, rename,
//                               dbwrite, dbsync) with EIO, with + every later one
//   AETHER_TRACE_IO   FILE      append every file-system change to FILE
//   AETHER_SCAN_DELAY_MS MS     sleep MS (1..60000) before each part of a
//                               search's scan: a slow read (search --timeout)
//   AETHER_DURATION_US US       the duration a command records in its
//                               metrics (aether/metrics.h): an injected clock
//   AETHER_PRESSURE memory=F,disk=F,disk_bytes=N  the system's readings
//                               for pressure levels (env/system_readings.h):
//                               shares in [0, 1], free bytes N >= 0, each
//                               or "unknown"; any may be left out
// Thread-safe; stateless but for ScanDelayMs's value, read once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace aether::env_vars {

// Each returns false when the text is not valid for its variable.
bool ParseNowMs(const char* text, int64_t* ms);
// NAME[:N] (N >= 1, default 1); with require_count, NAME:N is required.
bool ParsePointSpec(const std::string& text, bool require_count, std::string* name, long* n);
// OP:N[+]
bool ParseFailIo(const std::string& text, std::string* op, long* n, bool* forever);
// AETHER_SCAN_DELAY_MS: MS in 1..kMaxPauseMs
bool ParseScanDelay(const char* text, long* ms);
// AETHER_DURATION_US: US in 0..10^12
bool ParseDurationUs(const char* text, long* us);

// AETHER_PRESSURE: the readings it names (-1: "unknown").
struct PressureOverride {
  std::optional<double> memory, disk, disk_bytes;
};
bool ParsePressure(const char* text, PressureOverride* out);

constexpr long kMaxPauseMs = 60000;

// AETHER_SCAN_DELAY_MS, read once: 0 when unset or not valid (CheckEnvironment
// refuses an invalid one before a command runs).
long ScanDelayMs();

}  // namespace aether::env_vars
