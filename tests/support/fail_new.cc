// A library the tests preload (LD_PRELOAD) into the aether binary to make
// one allocation fail: its operator new throws std::bad_alloc at the N-th
// call counted from the start of the process (FAIL_NEW=N), or at the
// N-th call made on a thread other than the main one
// (FAIL_NEW=thread:N); the nothrow forms return nullptr there. Calls are
// counted from main on: static initializers run before any handler could
// (it wraps main through __libc_start_main). With
// FAIL_NEW_COUNT=PATH it writes, as the process exits, how many calls
// it counted (decimal), so that a sweep knows how far to go.
//
// Only C++ allocations fail: SQLite, zstd and libcurl allocate with malloc,
// which is left alone (their own out-of-memory paths are theirs to test).
// Not for sanitized builds, whose runtimes replace operator new themselves.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

long g_at = 0;  // 0: no call fails
bool g_threads_only = false;
pid_t g_main = 0;
const char* g_count_path = nullptr;
std::atomic<long> g_count{0};
std::atomic<bool> g_in_main{false};

__attribute__((constructor)) void Arm() {
  g_main = getpid();
  g_count_path = std::getenv("FAIL_NEW_COUNT");
  const char* v = std::getenv("FAIL_NEW");
  if (!v) return;
  if (std::strncmp(v, "thread:", 7) == 0) {
    g_threads_only = true;
    v += 7;
  }
  g_at = std::strtol(v, nullptr, 10);
}

__attribute__((destructor)) void WriteCount() {
  if (!g_count_path) return;
  const int fd = open(g_count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%ld\n", g_count.load());
  if (write(fd, text, size_t(n)) != n) std::perror("fail_new: count");
  close(fd);
}

// Whether this call is the one that fails (every counted call counts).
bool FailsNow() {
  if (!g_in_main.load(std::memory_order_relaxed)) return false;
  if (g_threads_only && pid_t(syscall(SYS_gettid)) == g_main) return false;
  return g_count.fetch_add(1, std::memory_order_relaxed) + 1 == g_at;
}

void* Allocate(std::size_t n, std::size_t align) {
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  void* p = nullptr;
  return posix_memalign(&p, align, n) == 0 ? p : nullptr;
}

void* New(std::size_t n, std::size_t align) {
  if (FailsNow()) throw std::bad_alloc();
  void* p = Allocate(n, align);
  if (!p) throw std::bad_alloc();
  return p;
}

void* NewNothrow(std::size_t n, std::size_t align) noexcept { return FailsNow() ? nullptr : Allocate(n, align); }

using MainFn = int (*)(int, char**, char**);
MainFn g_main_fn = nullptr;

int CountedMain(int argc, char** argv, char** envp) {
  g_in_main.store(true);
  const int code = g_main_fn(argc, argv, envp);
  g_in_main.store(false);  // static destructors and atexit handlers are past any handler too
  return code;
}

}  // namespace

// glibc calls the program's main from here, after its static initializers.
extern "C" int __libc_start_main(MainFn main, int argc, char** argv, void (*init)(), void (*fini)(),
                                 void (*rtld_fini)(), void* stack_end) {
  using StartFn = int (*)(MainFn, int, char**, void (*)(), void (*)(), void (*)(), void*);
  const auto start = reinterpret_cast<StartFn>(dlsym(RTLD_NEXT, "__libc_start_main"));
  g_main_fn = main;
  return start(CountedMain, argc, argv, init, fini, rtld_fini, stack_end);
}

void* operator new(std::size_t n) { return New(n, 0); }
void* operator new[](std::size_t n) { return New(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return New(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return New(n, std::size_t(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return NewNothrow(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return NewNothrow(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewNothrow(n, std::size_t(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewNothrow(n, std::size_t(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
