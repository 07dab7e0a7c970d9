// Named fault points: places where a test may kill the process as if by
// `kill -9` (no destructors, no flushing) to prove crash safety.
//
// Armed by the environment: AETHER_FAULT=<name>[:<n>] kills the process the
// n-th time (default 1st) execution reaches AETHER_FAULT_POINT(<name>).
// Every name must be listed in kFaultPoints (fault_point.cc) so that tests
// and `aether debug fault-points` can enumerate them. Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace aether {

void HitFaultPoint(const char* name);

}  // namespace aether

#define AETHER_FAULT_POINT(name) ::aether::HitFaultPoint(name)
