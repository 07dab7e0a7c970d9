#include "io_faults.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "env/env_vars.h"

namespace aether::io_faults {
namespace {

struct Spec {
  std::string op;
  long nth = 0;
  bool forever = false;
  std::atomic<long> calls{0};
  Spec() {
    const char* spec = std::getenv("AETHER_FAIL_IO");
    if (spec == nullptr || *spec == '\0' || !env_vars::ParseFailIo(spec, &op, &nth, &forever)) nth = 0;
  }
};

Spec& Get() {
  static Spec spec;
  return spec;
}

}  // namespace

bool Enabled() { return Get().nth > 0; }

bool Fail(const char* op) {
  Spec& s = Get();
  if (s.nth <= 0 || s.op != op) return false;
  long n = ++s.calls;
  return s.forever ? n >= s.nth : n == s.nth;
}

}  // namespace aether::io_faults
