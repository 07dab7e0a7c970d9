// The SQLite VFS every aether connection uses: it forwards to the default
// (unix) one, opens a WAL that has frames without SQLITE_OPEN_CREATE (no
// directory fsync per process), records every write, truncate, sync,
// create and delete in the I/O trace when AETHER_TRACE_IO is set
// (env/io_trace.h), so the power-loss test sees the metadata DB's writes as
// well as aether's own, and fails writes and syncs on request
// (AETHER_FAIL_IO=dbwrite|dbsync:N, env/io_faults.h).
#pragma once

namespace aether {

// The VFS name to open databases with ("aether", registered on first use).
const char* TraceVfsName();

// The errno of the last write, truncate, sync or shared-memory map of a
// database file that failed on this thread, then 0 again (0 when none did
// since the last call; SqliteDb takes it before each call into SQLite, so
// what it names after one is that call's). SQLite's own message says only
// "disk I/O error" (EFBIG past the file-size limit, EIO, ...).
int TakeDbIoErrno();

}  // namespace aether
