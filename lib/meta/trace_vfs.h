// A SQLite VFS that forwards to the default one and records every write,
// truncate, sync, create and delete in the I/O trace (env/io_trace.h), so
// the power-loss test sees the metadata DB's writes as well as aether's own.
#pragma once

namespace aether {

// The VFS name to open databases with: "aether-trace" when AETHER_TRACE_IO
// is set (registered on first use), else nullptr (SQLite's default).
const char* TraceVfsName();

}  // namespace aether
