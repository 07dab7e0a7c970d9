#include "trace_vfs.h"

#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "env/io_faults.h"
#include "env/io_trace.h"

namespace aether {
namespace {

sqlite3_vfs* g_real = nullptr;
thread_local int t_io_errno = 0;  // TakeDbIoErrno

// Keeps the errno of a call that failed (`rc`): what the real VFS's
// system call set, read before anything else can change it.
int Noted(int rc, int err) {
  if (rc != SQLITE_OK && err != 0) t_io_errno = err;
  return rc;
}
constexpr off_t kWalHeaderBytes = 32;  // SQLite's WAL_HDRSIZE

// SQLite calls this VFS from C: no exception may cross it. What can throw
// here is an allocation (a path, a trace line) failing for lack of memory:
// the call then fails as SQLite's own do when memory runs out.
template <typename Fn>
int NoThrow(Fn&& fn) {
  try {
    return fn();
  } catch (...) {
    return SQLITE_IOERR_NOMEM;
  }
}
// The same for an fn that returns nothing (a trace record, the path):
// SQLITE_OK, or no memory.
template <typename Fn>
int NoThrowVoid(Fn&& fn) {
  return NoThrow([&] {
    fn();
    return SQLITE_OK;
  });
}

// Our file object; the real VFS's file object follows it in memory.
struct TraceFile {
  sqlite3_file base;
  std::string* path;
  bool dir_sync;  // the unix VFS syncs its directory on its first sync
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

TraceFile* T(sqlite3_file* f) { return reinterpret_cast<TraceFile*>(f); }

std::string Dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

int Close(sqlite3_file* f) {
  int rc = T(f)->real()->pMethods->xClose(T(f)->real());
  delete T(f)->path;
  return rc;
}
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return T(f)->real()->pMethods->xRead(T(f)->real(), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (io_faults::Fail("dbwrite")) return SQLITE_IOERR_WRITE;
  if (int traced = NoThrowVoid([&] { io_trace::Write(*T(f)->path, uint64_t(off), buf, size_t(n)); });
      traced != SQLITE_OK)
    return traced;
  errno = 0;
  const int rc = T(f)->real()->pMethods->xWrite(T(f)->real(), buf, n, off);
  return Noted(rc, errno);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int traced = NoThrowVoid([&] { io_trace::Truncate(*T(f)->path, uint64_t(size)); }); traced != SQLITE_OK)
    return traced;
  errno = 0;
  const int rc = T(f)->real()->pMethods->xTruncate(T(f)->real(), size);
  return Noted(rc, errno);
}
int Sync(sqlite3_file* f, int flags) {
  if (io_faults::Fail("dbsync")) return SQLITE_IOERR_FSYNC;
  errno = 0;
  int rc = T(f)->real()->pMethods->xSync(T(f)->real(), flags);
  rc = Noted(rc, errno);
  if (rc != SQLITE_OK) return rc;
  if (!io_trace::Enabled()) {
    T(f)->dir_sync = false;
    return rc;
  }
  return NoThrowVoid([&] {
    io_trace::Sync(*T(f)->path);
    // The unix VFS syncs the directory of a journal or WAL opened with
    // SQLITE_OPEN_CREATE (whether or not it existed) on that handle's first
    // sync (UNIXFILE_DIRSYNC).
    if (T(f)->dir_sync) {
      io_trace::SyncDir(Dir(*T(f)->path));
      T(f)->dir_sync = false;
    }
  });
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return T(f)->real()->pMethods->xFileSize(T(f)->real(), size); }
int Lock(sqlite3_file* f, int l) { return T(f)->real()->pMethods->xLock(T(f)->real(), l); }
int Unlock(sqlite3_file* f, int l) { return T(f)->real()->pMethods->xUnlock(T(f)->real(), l); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return T(f)->real()->pMethods->xCheckReservedLock(T(f)->real(), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return T(f)->real()->pMethods->xFileControl(T(f)->real(), op, arg);
}
int SectorSize(sqlite3_file* f) { return T(f)->real()->pMethods->xSectorSize(T(f)->real()); }
int DeviceCharacteristics(sqlite3_file* f) { return T(f)->real()->pMethods->xDeviceCharacteristics(T(f)->real()); }
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  errno = 0;
  const int rc = T(f)->real()->pMethods->xShmMap(T(f)->real(), pg, sz, extend, pp);
  return Noted(rc, errno);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return T(f)->real()->pMethods->xShmLock(T(f)->real(), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { T(f)->real()->pMethods->xShmBarrier(T(f)->real()); }
int ShmUnmap(sqlite3_file* f, int del) { return T(f)->real()->pMethods->xShmUnmap(T(f)->real(), del); }
// No memory-mapped I/O through this VFS: SQLite then reads with xRead.
int Fetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
  *pp = nullptr;
  return SQLITE_OK;
}
int Unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods kMethods = {3,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReservedLock,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     Fetch,
                                     Unfetch};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  TraceFile* t = T(f);
  t->base.pMethods = nullptr;
  struct stat st;
  const bool existed = name != nullptr && stat(name, &st) == 0;
  // A WAL with frames in it (longer than its 32-byte header) is opened
  // without SQLITE_OPEN_CREATE, so the unix VFS does not fsync the
  // directory again on this handle's first sync (one sync per writing
  // process). Its entry is durable: SQLite syncs a WAL's header before it
  // writes the first frame after it, and the first sync of a handle opened
  // with CREATE also syncs the directory; a WAL of only a header (its sync
  // failed, or the writer died first) is opened with CREATE again. Should
  // the file vanish meanwhile (a writer's close removes a checkpointed WAL),
  // the open is retried as SQLite asked.
  // The file's name for the trace, made before the open: an allocation
  // that fails leaves nothing open.
  std::string* path = nullptr;
  if (NoThrowVoid([&] { path = new std::string(name ? name : ""); }) != SQLITE_OK) return SQLITE_NOMEM;
  int rc = SQLITE_CANTOPEN;
  bool made = name != nullptr && !existed;  // what this open creates, if it creates
  if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE) && existed && st.st_size > kWalHeaderBytes) {
    rc = g_real->xOpen(g_real, name, t->real(), flags & ~SQLITE_OPEN_CREATE, out_flags);
    if (rc == SQLITE_OK)
      flags &= ~SQLITE_OPEN_CREATE;
    else
      made = access(name, F_OK) != 0;  // it vanished since the stat
  }
  if (rc != SQLITE_OK) rc = g_real->xOpen(g_real, name, t->real(), flags, out_flags);
  if (rc != SQLITE_OK) {
    delete path;
    return rc;
  }
  t->path = path;
  const bool create = name != nullptr && (flags & SQLITE_OPEN_CREATE);
  t->dir_sync = create && (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL));
  if (create && made)
    if (int traced = NoThrowVoid([&] { io_trace::Create(*t->path); }); traced != SQLITE_OK) {
      t->real()->pMethods->xClose(t->real());
      delete path;
      t->path = nullptr;
      return traced;
    }
  t->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (!io_trace::Enabled()) return g_real->xDelete(g_real, name, sync_dir);
  return NoThrow([&] {
    if (access(name, F_OK) == 0) io_trace::Unlink(name);
    int rc = g_real->xDelete(g_real, name, sync_dir);
    if (rc == SQLITE_OK && sync_dir) io_trace::SyncDir(Dir(name));
    return rc;
  });
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void DlError(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void DlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int Sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int CurrentTime(sqlite3_vfs*, double* t) { return g_real->xCurrentTime(g_real, t); }
int GetLastError(sqlite3_vfs*, int n, char* msg) { return g_real->xGetLastError(g_real, n, msg); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) { return g_real->xCurrentTimeInt64(g_real, t); }

sqlite3_vfs g_vfs;

}  // namespace

int TakeDbIoErrno() { return std::exchange(t_io_errno, 0); }

const char* TraceVfsName() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = int(sizeof(TraceFile)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = "aether";
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return "aether";
}

}  // namespace aether
