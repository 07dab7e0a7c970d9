// What the system says about its load, for pressure levels
// (policy/pressure.h): the share of memory available (MemAvailable /
// MemTotal from /proc/meminfo) and the free share of the file system that
// holds a directory (statvfs: blocks available to an unprivileged user /
// all blocks). A reading the system does not give is unset, and not judged.
// AETHER_PRESSURE (test-only, env_vars.h) replaces the readings it names.
// Costs two system calls and a read of /proc/meminfo; thread-safe.
#pragma once

#include <optional>
#include <string>

namespace aether {

struct SystemReadings {
  std::optional<double> memory_available;
  std::optional<double> disk_free;
};

SystemReadings ReadSystem(const std::string& dir);

}  // namespace aether
