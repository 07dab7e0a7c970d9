#include "env/system_readings.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "env/env_vars.h"

namespace aether {
namespace {

// The value in kB of `key` ("MemTotal:") in /proc/meminfo's text, or -1.
long long MeminfoKb(const std::string& text, const char* key) {
  size_t at = text.find(key);
  if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) return -1;
  const char* p = text.c_str() + at + std::strlen(key);
  char* end = nullptr;
  const long long kb = std::strtoll(p, &end, 10);
  return end != p && kb >= 0 ? kb : -1;
}

std::optional<double> MemoryAvailable() {
  const int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text(8192, '\0');
  size_t got = 0;
  for (ssize_t n; got < text.size() && (n = read(fd, &text[got], text.size() - got)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += size_t(n);
  }
  close(fd);
  text.resize(got);
  const long long total = MeminfoKb(text, "MemTotal:"), available = MeminfoKb(text, "MemAvailable:");
  if (total <= 0 || available < 0) return std::nullopt;
  return std::min(1.0, double(available) / double(total));
}

std::optional<double> DiskFree(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0 || s.f_blocks == 0) return std::nullopt;
  return std::min(1.0, double(s.f_bavail) / double(s.f_blocks));
}

}  // namespace

SystemReadings ReadSystem(const std::string& dir) {
  SystemReadings r;
  env_vars::PressureOverride o;
  const char* text = std::getenv("AETHER_PRESSURE");
  const bool injected = text && *text && env_vars::ParsePressure(text, &o);
  r.memory_available = injected && o.memory ? *o.memory : MemoryAvailable();
  r.disk_free = injected && o.disk ? *o.disk : DiskFree(dir);
  if (injected && o.memory && *o.memory < 0) r.memory_available.reset();
  if (injected && o.disk && *o.disk < 0) r.disk_free.reset();
  return r;
}

}  // namespace aether
