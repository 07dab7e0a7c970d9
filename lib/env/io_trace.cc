#include "io_trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace aether::io_trace {
namespace {

struct Trace {
  int fd = -1;
  std::mutex mu;
  Trace() {
    const char* path = std::getenv("AETHER_TRACE_IO");
    if (path == nullptr || *path == '\0') return;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0 && fd <= 2) {  // never on a standard descriptor
      int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      close(fd);
      fd = moved;
    }
    // CheckEnvironment refused a path that cannot be opened before any
    // store was touched; if it still fails here, trace nothing.
  }
};

Trace& Get() {
  static Trace trace;
  return trace;
}

void Append(const std::string& header, const void* data = nullptr, size_t n = 0) {
  Trace& t = Get();
  if (t.fd < 0) return;
  std::string record = header;
  if (data != nullptr) record.append(static_cast<const char*>(data), n);
  std::lock_guard<std::mutex> lock(t.mu);
  const char* p = record.data();
  size_t left = record.size();
  while (left > 0) {
    ssize_t w = ::write(t.fd, p, left);
    if (w <= 0) std::abort();  // a partial trace would make the test lie
    p += w;
    left -= size_t(w);
  }
}

}  // namespace

bool Enabled() { return Get().fd >= 0; }

void Write(const std::string& path, uint64_t offset, const void* data, size_t n) {
  if (Enabled()) Append("W " + path + " " + std::to_string(offset) + " " + std::to_string(n) + "\n", data, n);
}
void Truncate(const std::string& path, uint64_t size) {
  if (Enabled()) Append("T " + path + " " + std::to_string(size) + "\n");
}
void Sync(const std::string& path) {
  if (Enabled()) Append("S " + path + "\n");
}
void SyncDir(const std::string& dir) {
  if (Enabled()) Append("D " + dir + "\n");
}
void Create(const std::string& path) {
  if (Enabled()) Append("C " + path + "\n");
}
void Rename(const std::string& from, const std::string& to) {
  if (Enabled()) Append("R " + from + "\t" + to + "\n");
}
void Unlink(const std::string& path) {
  if (Enabled()) Append("U " + path + "\n");
}
void MakeDir(const std::string& path) {
  if (Enabled()) Append("M " + path + "\n");
}
void RemoveDir(const std::string& path) {
  if (Enabled()) Append("X " + path + "\n");
}

}  // namespace aether::io_trace
