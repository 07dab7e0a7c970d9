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

}  // namespace aether
