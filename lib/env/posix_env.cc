// The POSIX Env: every system call aether makes goes through this file.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "aether/env.h"
#include "env/env_vars.h"
#include "env/errno_status.h"
#include "io_faults.h"
#include "io_trace.h"

namespace aether {

Status ErrnoStatus(const std::string& context, int err) {
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(context + ": " + std::strerror(err));
  if (err == EACCES || err == EPERM || err == EROFS)
    return Status::PermissionDenied(context + ": " + std::strerror(err));
  if (err == ELOOP)
    return Status::IOError(context + ": is a symbolic link (aether never reads or writes a store's file through one)");
  return Status::IOError(context + ": " + std::strerror(err));
}

namespace {

// A file or directory that could not be made at `path`: with ENOSPC where
// the file system has no free inode left (f_files counted, none available),
// though maybe room for data, the message says so; `df` alone would show
// free space and leave the user puzzled.
Status CreateFailed(const std::string& context, std::string path, int err) {
  Status s = ErrnoStatus(context, err);
  if (err != ENOSPC) return s;
  while (path.size() > 1 && path.back() == '/') path.pop_back();  // "a/b/": b's parent is a
  struct statvfs fs;
  if (statvfs(DirOf(path).c_str(), &fs) != 0 || fs.f_files == 0 || fs.f_favail > 0) return s;
  return s.WithMessage(s.message() + " (no free inodes: the file system has no room for another file, " +
                       "whatever room it has for data; df -i shows it)");
}

}  // namespace

Status NotThere(const std::string& path, Status missing) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == EACCES)
    return Status::PermissionDenied(path +
                                    ": this user may not reach it (a directory on the way has no search permission "
                                    "for this user)");
  return missing;
}

namespace {

// Moves fd above the standard descriptors (a store file must never be fd 0-2,
// where a stray printf from a cron job would land in it).
int AboveStandardFds(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

// fd (opened with open_flags and O_NONBLOCK) when it is a regular file (or,
// for a lock, a directory), made blocking again; anything else (a FIFO, a
// device, a socket) is closed and refused. F_SETFL changes only the status
// flags (O_NONBLOCK among them) and ignores the access mode and creation
// flags, so the flags the file was opened with serve without asking for
// them (F_GETFL): a search opens a file per partition.
Status RegularOnly(int fd, const std::string& path, int open_flags, bool directory_ok = false) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || (directory_ok && S_ISDIR(st.st_mode)))) {
    close(fd);
    return Status::IOError(path + ": not a regular file");
  }
  if (fcntl(fd, F_SETFL, open_flags & ~O_NONBLOCK) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(path + ": fcntl", err);
  }
  return Status::Ok();
}

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { close(fd_); }
  const std::string& path() const override { return path_; }

  Status Read(uint64_t offset, size_t n, void* out) override {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t r = pread(fd_, p, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoStatus(path_ + ": read", errno);
      if (r == 0) return Status::Corruption(path_ + ": unexpected end of file at offset " + std::to_string(offset));
      p += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::Ok();
  }

  Status Write(uint64_t offset, const void* data, size_t n) override {
    if (io_faults::Fail("write")) return ErrnoStatus(path_ + ": write (injected)", EIO);
    io_trace::Write(path_, offset, data, n);
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = pwrite(fd_, p, n, static_cast<off_t>(offset));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(path_ + ": write", errno);
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (io_faults::Fail("sync")) return ErrnoStatus(path_ + ": fsync (injected)", EIO);
    if (fdatasync(fd_) != 0) return ErrnoStatus(path_ + ": fsync", errno);
    io_trace::Sync(path_);  // after: only a sync that returned counts
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    io_trace::Truncate(path_, size);
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus(path_ + ": truncate", errno);
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus(path_ + ": stat", errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(int fd, LockMode mode) : fd_(fd), mode_(mode) {}
  ~PosixFileLock() override { close(fd_); }  // closing releases the flock
  LockMode mode() const override { return mode_; }

 private:
  int fd_;
  LockMode mode_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    // Every mode refuses a link at the end of the path: a store's file
    // replaced by a link to another store's would otherwise be read as its
    // own (a reader serving the other store's vectors under its ids).
    if (mode == OpenMode::kRead) flags |= O_RDONLY | O_NOFOLLOW;
    if (mode == OpenMode::kReadWrite) flags |= O_RDWR | O_NOFOLLOW;
    if (mode == OpenMode::kCreate) flags |= O_RDWR | O_CREAT | O_NOFOLLOW;
    if (mode == OpenMode::kCreateNew) flags |= O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW;
    const bool creates = mode == OpenMode::kCreate || mode == OpenMode::kCreateNew;
    if (creates && io_trace::Enabled() && TypeOf(path) == FileType::kMissing) io_trace::Create(path);
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer that
    // never comes (a store's file replaced by one would hang every reader).
    int fd = AboveStandardFds(open(path.c_str(), flags | O_NONBLOCK, 0644));
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) return Status::NotFound(path + ": no such file");
      if (err == EEXIST) return Status::AlreadyExists(path + ": already exists");
      return creates ? CreateFailed(path + ": open", path, err) : ErrnoStatus(path + ": open", err);
    }
    // O_NOFOLLOW refuses a link; a directory, FIFO or device is refused
    // here: aether reads and writes only regular files.
    if (Status s = RegularOnly(fd, path, flags); !s.ok()) return s;
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }

  Status SyncDir(const std::string& dir) override {
    if (io_faults::Fail("sync")) return ErrnoStatus(dir + ": fsync directory (injected)", EIO);
    int fd = AboveStandardFds(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0) return ErrnoStatus(dir + ": open directory", errno);
    // nodirsync: the answer of a file system that cannot sync a directory.
    const bool unsupported = io_faults::Fail("nodirsync");
    int rc = unsupported ? -1 : fsync(fd);
    int err = unsupported ? EINVAL : errno;
    close(fd);
    // EINVAL: this file system cannot sync a directory (VirtualBox shared
    // folders, some network and FUSE file systems). Nothing more can be
    // done there; SQLite and PostgreSQL go on likewise. Any other error
    // (EIO) stays fatal.
    if (rc != 0 && err == EINVAL) return Status::Ok();
    if (rc != 0) return ErrnoStatus(dir + ": fsync directory", err);
    io_trace::SyncDir(dir);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (io_faults::Fail("rename")) return ErrnoStatus("rename " + from + " (injected)", EIO);
    io_trace::Rename(from, to);
    if (rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename " + from + " -> " + to, errno);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (io_trace::Enabled() && access(path.c_str(), F_OK) == 0) io_trace::Unlink(path);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(path + ": unlink", errno);
    return Status::Ok();
  }

  Status CreateDir(const std::string& path) override {
    if (io_trace::Enabled() && TypeOf(path) == FileType::kMissing) io_trace::MakeDir(path);
    if (mkdir(path.c_str(), 0755) != 0) {
      const int err = errno;
      if (err == EEXIST) return Status::AlreadyExists(path + ": already exists");
      return CreateFailed(path + ": mkdir", path, err);
    }
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (io_trace::Enabled() && access(path.c_str(), F_OK) == 0) io_trace::RemoveDir(path);
    if (rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(path + ": rmdir", errno);
    return Status::Ok();
  }

  bool Exists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }

  bool IsDirectory(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  bool Writable(const std::string& path) override { return access(path.c_str(), W_OK) == 0; }

  FileType TypeOf(const std::string& path) override {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return FileType::kMissing;
    if (S_ISREG(st.st_mode)) return FileType::kRegular;
    if (S_ISDIR(st.st_mode)) return FileType::kDirectory;
    if (S_ISLNK(st.st_mode)) return FileType::kSymlink;
    return FileType::kOther;
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(dir + ": opendir", errno);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    return names;
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(path + ": stat", errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status Link(const std::string& from, const std::string& to) override {
    if (io_faults::Fail("link")) return ErrnoStatus("link " + from + " (injected)", EIO);
    if (link(from.c_str(), to.c_str()) != 0) {
      if (errno == EEXIST) return Status::AlreadyExists(to + ": exists");
      return ErrnoStatus("link " + from + " -> " + to, errno);
    }
    return Status::Ok();
  }

  Result<uint64_t> LinkCount(const std::string& path) override {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoStatus(path + ": lstat", errno);
    return static_cast<uint64_t>(st.st_nlink);
  }

  Result<std::unique_ptr<FileLock>> Lock(const std::string& path, LockMode mode, double wait_seconds) override {
    // O_NONBLOCK and a regular file (or a directory: publish locks the
    // store's) only, as Open: a FIFO there would hang.
    constexpr int kLockFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    int fd = AboveStandardFds(open(path.c_str(), kLockFlags | O_NONBLOCK));
    if (fd < 0 && errno == ENOENT) fd = AboveStandardFds(open(path.c_str(), kLockFlags | O_CREAT | O_NONBLOCK, 0644));
    if (fd < 0) return ErrnoStatus(path + ": open lock file", errno);
    if (Status s = RegularOnly(fd, path, kLockFlags, /*directory_ok=*/true); !s.ok()) return s;
    int op = (mode == LockMode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    // Past about 30 years (and infinity), no deadline: the clock's
    // nanoseconds would overflow; NaN or less than 0 waits not at all.
    constexpr double kForever = 1e9;
    auto deadline = std::chrono::steady_clock::now();
    if (wait_seconds >= kForever)
      deadline = std::chrono::steady_clock::time_point::max();
    else if (wait_seconds > 0)
      deadline += std::chrono::microseconds(static_cast<int64_t>(wait_seconds * 1e6));
    auto backoff = std::chrono::milliseconds(1);
    while (flock(fd, op) != 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err != EWOULDBLOCK) {
        close(fd);
        return ErrnoStatus(path + ": flock", err);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        close(fd);
        return Status::Busy(
            fmt::format("store busy: another aether process holds the lock (waited {}s; see --wait)", wait_seconds));
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd, mode));
  }

  int64_t NowMs() override {
    // A malformed value is refused by CheckEnvironment before any store
    // opens; here it is ignored rather than read as 0.
    int64_t pinned = 0;
    if (const char* text = std::getenv("AETHER_NOW_MS"); text && *text && env_vars::ParseNowMs(text, &pinned))
      return pinned;
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }

  uint64_t RandomSeed() override { return std::random_device{}(); }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

void ReserveStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int nul = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    // open() returns the lowest free descriptor, which is `fd` itself.
    if (nul >= 0 && nul != fd) close(nul);
  }
}

void IgnoreFileSizeSignal() { signal(SIGXFSZ, SIG_IGN); }

}  // namespace aether
