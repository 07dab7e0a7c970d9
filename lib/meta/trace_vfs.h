// The SQLite VFS every aether connection uses: it forwards to the default
// (unix) one, opens a WAL that has frames without SQLITE_OPEN_CREATE (no
// directory fsync per process), records every write, truncate, sync,
// create and delete in the I/O trace when AETHER_TRACE_IO is set
// (env/io_trace.h), so the power-loss test sees the metadata DB's writes as
// well as aether's own, and fails writes and syncs on request
// (AETHER_FAIL_IO=dbwrite|dbsync:N, env/io_faults.h).
#pragma once

struct sqlite3_file;

namespace aether {

// Syncs `f` (a WAL this VFS opened with SQLITE_OPEN_CREATE, so the unix VFS
// syncs its directory too) when it holds frames and has not been synced
// yet: a WAL left with frames must have a durable entry, since the next
// writer opens it without CREATE. Any other file: nothing. A SQLite code.
int SyncIfEntryPending(sqlite3_file* f);

// The VFS name to open databases with ("aether", registered on first use).
const char* TraceVfsName();

}  // namespace aether
