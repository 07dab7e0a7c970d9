// An I/O trace for power-loss tests: with AETHER_TRACE_IO=FILE, every
// change aether makes to the file system (its own files through the Env, and
// SQLite's through a tracing VFS) is appended to FILE before it is made,
// along with every fsync. A test replays the trace onto a copy of the store
// taken before the command, keeping what was synced and dropping or tearing
// what was not, and checks that the store recovers intact: see
// tests/cli/power_loss_test.cc and format-spec/io_trace.md.
//
// Record format (one write(2) per record, so a SIGKILL never splits one):
//   W <path> <offset> <length>\n<length bytes>   data written
//   T <path> <size>\n                            truncated (or extended)
//   S <path>\n                                   file synced (fsync/fdatasync)
//   D <dir>\n                                    directory synced
//   C <path>\n                                   new file created
//   R <from>\t<to>\n                             renamed
//   U <path>\n                                   unlinked
//   M <path>\n                                   directory created
//   X <path>\n                                   directory removed
// Unset, each hook costs one branch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace aether::io_trace {

bool Enabled();
void Write(const std::string& path, uint64_t offset, const void* data, size_t n);
void Truncate(const std::string& path, uint64_t size);
void Sync(const std::string& path);
void SyncDir(const std::string& dir);
void Create(const std::string& path);
void Rename(const std::string& from, const std::string& to);
void Unlink(const std::string& path);
void MakeDir(const std::string& path);
void RemoveDir(const std::string& path);

}  // namespace aether::io_trace
