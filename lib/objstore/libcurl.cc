#include "objstore/libcurl.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>

namespace aether {
namespace {

constexpr const char* kSoname = "libcurl.so.4";

template <class Fn>
bool Resolve(void* handle, const char* name, Fn* fn, std::string* missing) {
  *fn = reinterpret_cast<Fn>(dlsym(handle, name));
  if (!*fn && missing->empty()) *missing = name;
  return *fn != nullptr;
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AETHER_ASAN_BUILD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define AETHER_ASAN_BUILD 1
#endif
#ifdef AETHER_ASAN_BUILD
// The sanitizer build (clang 14's LeakSanitizer): its exit scan crashes
// ("Tracer caught signal 11") in a process that loaded libcurl (and
// OpenSSL, GnuTLS, ... through it) with dlopen, reading those libraries'
// dynamic thread-local storage. It does not scan thread-local storage for
// roots here: aether's thread_local buffers are freed at thread exit, and
// the main thread's before the exit scan runs. The dynamic thread-local
// blocks themselves are then unreferenced, and LeakSanitizer's own
// suppression for them (*tls_get_addr*) is used, silently. LSAN_OPTIONS
// still wins.
extern "C" const char* __lsan_default_options() { return "use_tls=0:print_suppressions=0"; }
#endif

Result<const Libcurl*> LoadLibcurl() {
  static std::once_flag once;
  static Libcurl api;
  static Status status = Status::Ok();
  std::call_once(once, [] {
    // Never unloaded: the table lives as long as the process.
    void* handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      status = Status::FailedPrecondition(
          fmt::format("S3 needs libcurl ({}), which cannot be loaded: {} (Debian: apt-get install libcurl4)", kSoname,
                      why ? why : "unknown reason"));
      return;
    }
    std::string missing;
    Resolve(handle, "curl_global_init", &api.global_init, &missing);
    Resolve(handle, "curl_easy_init", &api.easy_init, &missing);
    Resolve(handle, "curl_easy_cleanup", &api.easy_cleanup, &missing);
    Resolve(handle, "curl_easy_reset", &api.easy_reset, &missing);
    Resolve(handle, "curl_easy_setopt", &api.easy_setopt, &missing);
    Resolve(handle, "curl_easy_getinfo", &api.easy_getinfo, &missing);
    Resolve(handle, "curl_easy_perform", &api.easy_perform, &missing);
    Resolve(handle, "curl_easy_strerror", &api.easy_strerror, &missing);
    Resolve(handle, "curl_slist_append", &api.slist_append, &missing);
    Resolve(handle, "curl_slist_free_all", &api.slist_free_all, &missing);
    if (!missing.empty()) {
      status = Status::FailedPrecondition(fmt::format("S3 needs libcurl ({}), which lacks {}", kSoname, missing));
      return;
    }
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      status = Status::FailedPrecondition(fmt::format("S3 needs libcurl ({}), whose curl_global_init failed", kSoname));
  });
  if (!status.ok()) return status;
  return &api;
}

}  // namespace aether
