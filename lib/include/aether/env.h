// Env: aether's one seam to the operating system (files, directory syncs,
// locks, the clock, randomness), in the manner of LevelDB's env.h.
//
// Nothing outside lib/env/ calls the OS directly, so tests can pin the clock
// (AETHER_NOW_MS) and fault-injecting Envs can fail or drop any write.
// Env::Default() is thread-safe; File objects are not shared across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aether/status.h"

namespace aether {

// A file opened for positional reads and writes. aether never memory-maps a
// store file: a write into a map on a full disk, or a read of a map another
// process truncated, kills with SIGBUS instead of failing with an error.
class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;
  // Exactly n bytes; bytes past Size() are a kCorruption (the reader may
  // ask Size() only then), any other failure another code.
  virtual Status Read(uint64_t offset, size_t n, void* out) = 0;
  virtual Status Write(uint64_t offset, const void* data, size_t n) = 0;
  // Flushes data and metadata to stable storage. A failure is final: the
  // caller must abandon the operation, never retry the sync (format-spec/journal.md, invariant 8).
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
};

enum class LockMode { kShared, kExclusive };

// An advisory lock (flock) on a file, released on destruction or when the
// process dies; the kernel's release is what makes a dead writer's
// migration "dangling" and safe to replay.
class FileLock {
 public:
  virtual ~FileLock() = default;
  virtual LockMode mode() const = 0;
};

// No mode follows a symbolic link at the last component of a path
// (O_NOFOLLOW): a link planted where aether writes is an error, never a way
// to overwrite the file it points to, and one planted where it reads is an
// error, never another file read as the store's own.
enum class OpenMode {
  kRead,
  kReadWrite,
  kCreate,     // read-write, created if missing
  kCreateNew,  // read-write, created; fails with AlreadyExists if the name exists (O_EXCL)
};

// What a directory entry is, as lstat(2) sees it (a link is not followed).
enum class FileType { kMissing, kRegular, kDirectory, kSymlink, kOther };

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  // fsync(2) of a directory. The default Env takes EINVAL (a file system
  // that cannot sync directories) as done; every other error is returned.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes a name (a file, or a link itself: unlink(2) never follows one);
  // a missing name is not an error.
  virtual Status RemoveFile(const std::string& path) = 0;
  // Creates a directory; AlreadyExists when the name exists (whatever it is).
  virtual Status CreateDir(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& path) = 0;  // must be empty
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual FileType TypeOf(const std::string& path) = 0;
  // True when this process may write `path` (access(2) W_OK).
  virtual bool Writable(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // A new name `to` for the file `from` (link(2): a hard link, never
  // through a symbolic link; AlreadyExists when `to` exists).
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  // How many names the file `path` has (lstat(2)'s st_nlink): more than one
  // after Link (backup --incremental shares unchanged files that way).
  virtual Result<uint64_t> LinkCount(const std::string& path) = 0;
  // Blocks up to wait_seconds for the lock; Busy when it is not granted.
  // The lock file is opened read-only (flock needs no write access, so a
  // store the user may only read can still be read), created if missing.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path, LockMode mode, double wait_seconds) = 0;
  // Milliseconds since the Unix epoch; AETHER_NOW_MS pins it in tests.
  virtual int64_t NowMs() = 0;
  // A seed for callers that were given none.
  virtual uint64_t RandomSeed() = 0;
  // A hint that the files `paths` are about to be opened for reading: an
  // Env that keeps files elsewhere (a store read from a bucket) may bring
  // them in now, up to `at_once` at a time. Its error is one an open of
  // them would meet. An Env with nothing to bring in does nothing.
  virtual Status Prefetch(const std::vector<std::string>& paths, size_t at_once) {
    (void)paths;
    (void)at_once;
    return Status::Ok();
  }
};

// An Env that forwards every call to another (LevelDB's EnvWrapper): derive
// from it and override only what you want to change, e.g. to count or fail
// writes. The target must outlive the wrapper.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    return target_->Open(path, mode);
  }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status Rename(const std::string& from, const std::string& to) override { return target_->Rename(from, to); }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status CreateDir(const std::string& path) override { return target_->CreateDir(path); }
  Status RemoveDir(const std::string& path) override { return target_->RemoveDir(path); }
  bool Exists(const std::string& path) override { return target_->Exists(path); }
  bool IsDirectory(const std::string& path) override { return target_->IsDirectory(path); }
  FileType TypeOf(const std::string& path) override { return target_->TypeOf(path); }
  bool Writable(const std::string& path) override { return target_->Writable(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return target_->ListDir(dir); }
  Result<uint64_t> FileSize(const std::string& path) override { return target_->FileSize(path); }
  Status Link(const std::string& from, const std::string& to) override { return target_->Link(from, to); }
  Result<uint64_t> LinkCount(const std::string& path) override { return target_->LinkCount(path); }
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path, LockMode mode, double wait_seconds) override {
    return target_->Lock(path, mode, wait_seconds);
  }
  int64_t NowMs() override { return target_->NowMs(); }
  uint64_t RandomSeed() override { return target_->RandomSeed(); }
  Status Prefetch(const std::vector<std::string>& paths, size_t at_once) override {
    return target_->Prefetch(paths, at_once);
  }

 private:
  Env* target_;
};

// The part of a file name `name` (no '/') that a name of aether's own
// beside it begins with, when `reserve` bytes more are added to it: `name`
// itself when both fit a file name (255 bytes, NAME_MAX), else its first
// bytes (cut where a UTF-8 character starts), "~" and 8 lower-case
// hexadecimal digits of the whole name's FNV-1a hash (32 bits), at most
// 255 - `reserve` bytes in all. Always the same for the same name.
std::string FittedStem(const std::string& name, size_t reserve);
// The file name of a hidden sibling of `name` for this process's own work:
// ".STEM.aether-WHAT.PID" followed by `tail`, STEM being SiblingStem(name,
// what, tail.size()).
std::string HiddenSiblingName(const std::string& name, const std::string& what, const std::string& tail = "");
// Its STEM: FittedStem of `name` with room for the rest (a PID of 7 digits at
// most: Linux's pid_max is at most 2^22), the same for every process.
std::string SiblingStem(const std::string& name, const std::string& what, size_t tail_bytes = 0);
// A name for a new temporary file beside `path`: "<path>.<16 hex digits>.tmp",
// random, so that nobody can plant a link under it in advance (with the
// file name part of `path` a FittedStem when the whole would not fit).
std::string TempNameFor(Env* env, const std::string& path);
// Replaces `path` with `data` atomically: written to a new temporary file
// beside it (TempNameFor; O_EXCL, never through a link), synced, renamed
// over `path`, and the directory synced. On failure the temporary is
// removed and `path` is unchanged.
Status WriteFileAtomically(Env* env, const std::string& path, const std::string& data);
// The directory part of `path` ("." when none).
std::string DirOf(const std::string& path);
// Copies the first n bytes of `from` to the same offsets of `to`.
Status CopyBytes(File* from, File* to, uint64_t n);
// Before aether changes a file in place: when `path` has other names (a
// backup --incremental linked it), replaces it with a private copy (written
// to a temporary beside it, synced, renamed over it, the directory synced),
// so the other names keep their bytes. A crash leaves `path` as it was (and
// perhaps the temporary). No-op for a file with one name.
Status Unshare(Env* env, const std::string& path);

// Checks every AETHER_* variable aether reads (format and range; names the
// variable in an InvalidArgument). Store::Open and Store::Create call it;
// the CLI calls it first of all.
Status CheckEnvironment();

// Why `path`, which a command was given, is not there: `missing`, unless a
// directory on the way has no search permission for this user (stat fails
// with EACCES), which is no missing file: then kPermissionDenied saying so.
Status NotThere(const std::string& path, Status missing);

// Opens /dev/null on any of fds 0-2 that is closed (as under cron), so that
// no data file or database can ever be handed one of them.
void ReserveStandardFds();

// Ignores SIGXFSZ, for a program's main: a write past the file-size limit
// (RLIMIT_FSIZE, `ulimit -f`) then fails with EFBIG, an I/O error like any
// other ("File too large"), instead of killing the process half way
// through its work. (A library leaves signal dispositions to its program.)
void IgnoreFileSizeSignal();

// Every named fault point (AETHER_FAULT=<name>[:<n>] kills the process the
// n-th time it is reached; see format-spec/journal.md).
const std::vector<std::string>& ListFaultPoints();

}  // namespace aether
