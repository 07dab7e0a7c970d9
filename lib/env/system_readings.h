// What the system says about its load, for pressure levels
// (policy/pressure.h): the share of memory available, the free share of the
// file system that holds a directory (statvfs: blocks available to an
// unprivileged user / all blocks) and its free bytes. The memory share is
// the smaller of the machine's (MemAvailable / MemTotal from /proc/meminfo)
// and, when this process's memory cgroup has a limit, the cgroup's
// (CgroupMemoryAvailable). A reading the system does not give is unset, and
// not judged. AETHER_PRESSURE (test-only, env_vars.h) replaces the readings
// it names. Costs a few system calls and small reads of /proc and
// /sys/fs/cgroup; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace aether {

struct SystemReadings {
  std::optional<double> memory_available;
  std::optional<double> disk_free;
  std::optional<double> disk_free_bytes;
};

SystemReadings ReadSystem(const std::string& dir);

// The share of its memory limit a cgroup has left, (limit - working set) /
// limit, where the working set is the memory charged to it (its
// descendants' included) less its inactive file cache (what the kernel
// reclaims first, as container runtimes count it), at the tightest of the
// cgroup and its ancestors. `proc_self_cgroup` is /proc/self/cgroup's text
// and `root` where the cgroup file systems are mounted (/sys/fs/cgroup):
//   - cgroup v2 ("0::PATH"): memory.max, memory.current and memory.stat's
//     inactive_file of PATH's directory and of each ancestor;
//   - cgroup v1 (a line naming the "memory" controller):
//     memory.limit_in_bytes, memory.usage_in_bytes and memory.stat's
//     total_inactive_file, in root/memory/PATH and each ancestor;
// a level without a limit ("max", v1's near-2^63 "unlimited") or whose
// files do not read is skipped. A PATH not found under root (a container's
// cgroup mounted as the root) is read at the mount's root; a PATH above
// the namespace's root ("/..") is not read. Unset when no limit applies.
std::optional<double> CgroupMemoryAvailable(const std::string& proc_self_cgroup, const std::string& root);
// The tightest memory limit of those levels, in bytes (the same files as
// CgroupMemoryAvailable; a level whose usage does not read still limits).
// Unset when no limit applies.
std::optional<uint64_t> CgroupMemoryLimit(const std::string& proc_self_cgroup, const std::string& root);
// The memory this process may use: the machine's physical memory, or its
// memory cgroup's tighter limit (a container's); address-space rlimits are
// not counted. Unset when neither reads.
std::optional<uint64_t> MemoryLimitBytes();

// How many files a command may hold open at once beside the few it always
// has (meta.db and its WAL, locks, the hot tier, standard streams): a
// quarter of this process's descriptor limit (RLIMIT_NOFILE's soft limit;
// usually 1,024), at least 8, at most `at_most`.
size_t FilesOpenAtOnce(size_t at_most);

}  // namespace aether
