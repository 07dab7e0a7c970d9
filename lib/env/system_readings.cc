#include "env/system_readings.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "env/env_vars.h"

namespace aether {
namespace {

// The text of a small file (at most `max` bytes), or nothing.
std::optional<std::string> ReadSmall(const std::string& path, size_t max = 16384) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text(max, '\0');
  size_t got = 0;
  bool failed = false;
  for (ssize_t n; got < text.size() && (n = read(fd, &text[got], text.size() - got)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      failed = true;
      break;
    }
    got += size_t(n);
  }
  close(fd);
  if (failed) return std::nullopt;
  text.resize(got);
  return text;
}

// The number after `key` at the start of a line of `text` ("MemTotal:" in
// /proc/meminfo, "inactive_file " in memory.stat), or -1.
long long KeyedNumber(const std::string& text, const std::string& key) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const char* p = text.c_str() + at + key.size();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(p, &end, 10);
    return end != p && v >= 0 && errno == 0 ? v : -1;
  }
  return -1;
}

// A whole file's one number ("max": -2; anything else unreadable: -1).
long long FileNumber(const std::string& path) {
  std::optional<std::string> text = ReadSmall(path, 64);
  if (!text) return -1;
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  if (*text == "max") return -2;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text->c_str(), &end, 10);
  return !text->empty() && *end == '\0' && v >= 0 && errno == 0 ? v : -1;
}

std::optional<double> MemoryAvailable() {
  const std::optional<std::string> text = ReadSmall("/proc/meminfo", 8192);
  if (!text) return std::nullopt;
  const long long total = KeyedNumber(*text, "MemTotal:"), available = KeyedNumber(*text, "MemAvailable:");
  if (total <= 0 || available < 0) return std::nullopt;
  return std::min(1.0, double(available) / double(total));
}

// v1 writes "unlimited" as a page-rounded 2^63 - 1.
constexpr long long kUnlimited = 1LL << 62;

// (limit - (usage - inactive)) / limit, clamped to [0, 1]; unset without a limit.
std::optional<double> Headroom(long long limit, long long usage, long long inactive) {
  if (limit < 0 || limit >= kUnlimited || usage < 0) return std::nullopt;
  if (limit == 0) return 0.0;  // no memory allowed at all
  const double working = double(usage) - double(std::max(0LL, std::min(inactive, usage)));
  return std::clamp((double(limit) - working) / double(limit), 0.0, 1.0);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The directories to read for a cgroup PATH under a mount: PATH and its
// ancestors, or the mount's root alone when PATH is not there (a
// container's cgroup mounted as the root). None for a PATH above the
// namespace's root ("/.."): no directory here is its cgroup.
std::vector<std::string> CgroupDirs(const std::string& mount, std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty() || path[0] != '/') path = "/";
  if ((path + "/").find("/../") != std::string::npos) return {};
  if (!IsDir(mount + path)) return {mount};
  std::vector<std::string> dirs;
  for (;;) {
    dirs.push_back(path == "/" ? mount : mount + path);
    if (path == "/") break;
    const size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return dirs;
}

// One level of a memory cgroup that has a limit: the limit, the memory
// charged to it (-1 when it does not read) and its inactive file cache.
struct CgroupLevel {
  long long limit, usage, inactive;
};

// Every level with a limit of this process's memory cgroups, v2 and v1
// (CgroupMemoryAvailable says which files).
std::vector<CgroupLevel> CgroupLevels(const std::string& proc_self_cgroup, const std::string& root) {
  std::vector<CgroupLevel> levels;
  auto add = [&](const std::string& dir, const char* limit, const char* usage, const char* inactive) {
    const long long l = FileNumber(dir + limit);
    if (l < 0 || l >= kUnlimited) return;  // "max", unlimited, or no memory controller here
    const std::optional<std::string> stat = ReadSmall(dir + "/memory.stat");
    levels.push_back({l, FileNumber(dir + usage), stat ? KeyedNumber(*stat, inactive) : 0});
  };
  size_t at = 0;
  while (at < proc_self_cgroup.size()) {
    size_t eol = proc_self_cgroup.find('\n', at);
    if (eol == std::string::npos) eol = proc_self_cgroup.size();
    const std::string line = proc_self_cgroup.substr(at, eol - at);
    at = eol + 1;
    const size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string id = line.substr(0, c1), controllers = line.substr(c1 + 1, c2 - c1 - 1),
                      path = line.substr(c2 + 1);
    if (id == "0" && controllers.empty()) {  // v2
      for (const std::string& dir : CgroupDirs(root, path))
        add(dir, "/memory.max", "/memory.current", "inactive_file ");
      continue;
    }
    if (("," + controllers + ",").find(",memory,") == std::string::npos) continue;  // v1: not the memory line
    // v1: each level's usage counts its descendants too; the tightest wins.
    for (const std::string& dir : CgroupDirs(root + "/memory", path))
      add(dir, "/memory.limit_in_bytes", "/memory.usage_in_bytes", "total_inactive_file ");
  }
  return levels;
}

}  // namespace

std::optional<double> CgroupMemoryAvailable(const std::string& proc_self_cgroup, const std::string& root) {
  std::optional<double> tightest;
  for (const CgroupLevel& l : CgroupLevels(proc_self_cgroup, root)) {
    const std::optional<double> share = Headroom(l.limit, l.usage, l.inactive);
    if (share && (!tightest || *share < *tightest)) tightest = share;
  }
  return tightest;
}

std::optional<uint64_t> CgroupMemoryLimit(const std::string& proc_self_cgroup, const std::string& root) {
  std::optional<uint64_t> tightest;
  for (const CgroupLevel& l : CgroupLevels(proc_self_cgroup, root))
    if (!tightest || uint64_t(l.limit) < *tightest) tightest = uint64_t(l.limit);
  return tightest;
}

std::optional<uint64_t> MemoryLimitBytes() {
  std::optional<uint64_t> limit;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) limit = uint64_t(pages) * uint64_t(page);
  const std::optional<std::string> cgroups = ReadSmall("/proc/self/cgroup", 8192);
  const std::optional<uint64_t> cgroup = cgroups ? CgroupMemoryLimit(*cgroups, "/sys/fs/cgroup") : std::nullopt;
  if (cgroup && (!limit || *cgroup < *limit)) limit = cgroup;
  return limit;
}

namespace {

std::optional<double> MemoryAvailableAll() {
  std::optional<double> share = MemoryAvailable();
  const std::optional<std::string> cgroups = ReadSmall("/proc/self/cgroup", 8192);
  const std::optional<double> cgroup = cgroups ? CgroupMemoryAvailable(*cgroups, "/sys/fs/cgroup") : std::nullopt;
  if (cgroup && (!share || *cgroup < *share)) share = cgroup;
  return share;
}

// The free share of dir's file system and its free bytes.
void DiskFree(const std::string& dir, SystemReadings* r) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0 || s.f_blocks == 0) return;
  r->disk_free = std::min(1.0, double(s.f_bavail) / double(s.f_blocks));
  r->disk_free_bytes = double(s.f_bavail) * double(s.f_frsize);
}

}  // namespace

SystemReadings ReadSystem(const std::string& dir) {
  SystemReadings r;
  DiskFree(dir, &r);
  env_vars::PressureOverride o;
  const char* text = std::getenv("AETHER_PRESSURE");
  const bool injected = text && *text && env_vars::ParsePressure(text, &o);
  r.memory_available = injected && o.memory ? *o.memory : MemoryAvailableAll();
  if (injected && o.disk) r.disk_free = *o.disk;
  if (injected && o.disk_bytes) r.disk_free_bytes = *o.disk_bytes;
  if (injected && o.memory && *o.memory < 0) r.memory_available.reset();
  if (injected && o.disk && *o.disk < 0) r.disk_free.reset();
  if (injected && o.disk_bytes && *o.disk_bytes < 0) r.disk_free_bytes.reset();
  return r;
}

size_t FilesOpenAtOnce(size_t at_most) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return at_most;
  return std::max<size_t>(8, std::min<size_t>(at_most, size_t(r.rlim_cur / 4)));
}

}  // namespace aether
