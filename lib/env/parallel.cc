#include "env/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace aether {

size_t ThreadsFor(size_t requested, size_t items) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min(requested ? requested : cores, items));
}

Status ParallelFor(size_t items, size_t threads, const std::function<Status(size_t, size_t)>& fn) {
  threads = std::max<size_t>(1, std::min(threads, items));
  std::mutex mu;
  Status first;               // the first error to happen, guarded by mu
  std::exception_ptr thrown;  // the first exception, guarded by mu
  std::atomic<size_t> next{0};
  auto worker = [&](size_t w) {
    for (size_t i = next++; i < items; i = next++) {
      Status s;
      try {
        s = fn(i, w);
      } catch (...) {  // rethrown on the caller's thread (escaping this one, it would end the process)
        std::lock_guard<std::mutex> l(mu);
        if (!thrown) thrown = std::current_exception();
        next = items;
        return;
      }
      if (s.ok()) continue;
      std::lock_guard<std::mutex> l(mu);
      if (first.ok()) first = s;
      next = items;  // the others take nothing more
      return;
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t w = 1; w < threads; ++w) {
    try {
      pool.emplace_back(worker, w);
    } catch (...) {  // std::system_error, std::bad_alloc: those started take every item
      break;         // (no more threads to be had: a limit on them, or on memory)
    }
  }
  if (items > 0) worker(0);
  for (auto& t : pool) t.join();
  if (thrown) std::rethrow_exception(thrown);
  return first;
}

}  // namespace aether
