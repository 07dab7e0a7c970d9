// A SQLite VFS that forwards to the default one, records every write,
// truncate, sync, create and delete in the I/O trace (env/io_trace.h), so
// the power-loss test sees the metadata DB's writes as well as aether's own,
// and fails writes and syncs on request (AETHER_FAIL_IO=dbwrite|dbsync:N,
// env/io_faults.h).
#pragma once

namespace aether {

// The VFS name to open databases with: "aether-trace" when AETHER_TRACE_IO
// or AETHER_FAIL_IO is set (registered on first use), else nullptr
// (SQLite's default).
const char* TraceVfsName();

}  // namespace aether
