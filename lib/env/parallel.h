// The one way aether runs work on several threads: a fixed number of
// workers (the caller's thread one of them) take items in turn; the first
// error stops the others from taking more and is what ParallelFor returns;
// the first exception (std::bad_alloc) stops them as well and is rethrown on
// the caller's thread once every worker has stopped.
// A worker thread that cannot be started (a limit on threads) leaves the
// items to those that were: fewer workers, never an abort.
// Thread-safe to call from any thread; `fn` must be safe to run concurrently
// for different items.
#pragma once

#include <cstddef>
#include <functional>

#include "aether/status.h"

namespace aether {

// The one thread-count rule: `requested` when it is not 0, else one per core;
// never more than there are items, never fewer than one.
size_t ThreadsFor(size_t requested, size_t items);

// Runs fn(item, worker) for every item in [0, items) on `threads` workers
// (ThreadsFor is not applied: pass its result). worker is in [0, threads),
// for per-worker scratch.
Status ParallelFor(size_t items, size_t threads, const std::function<Status(size_t item, size_t worker)>& fn);

}  // namespace aether
