// I/O fault injection for tests: AETHER_FAIL_IO=<op>:<n>[+] makes the n-th
// call of <op> fail with EIO; with "+", that call and every later one fail
// (a disk that stays broken). Ops: write, sync, rename, link (aether's own data
// files and directories, through the Env) and dbwrite, dbsync (SQLite's
// writes and syncs of meta.db and its WAL, through the aether VFS,
// lib/meta/trace_vfs.h), and nodirsync: a directory's fsync answers EINVAL,
// as on a file system that cannot sync directories. Unset: one branch per
// call.
#pragma once

namespace aether::io_faults {

bool Enabled();
// True when this call of `op` must fail; counts the call.
bool Fail(const char* op);

}  // namespace aether::io_faults
