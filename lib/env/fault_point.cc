#include "env/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace aether {
namespace {

// Every fault point in the code base, in the order an operation reaches them.
const std::vector<std::string> kFaultPoints = {
    "ingest.after_intent",        // journal row committed, nothing written
    "ingest.mid_write",           // part of the batch's bytes written
    "ingest.after_write",         // all bytes written, not yet synced
    "ingest.after_sync",          // data durable, journal still 'intent'
    "ingest.after_written",       // journal 'written', memories not visible
    "ingest.after_commit",        // memories visible, journal row 'committed'
    "replay.after_rollback_truncate",
    "replay.after_rollforward_commit",
};

struct Armed {
  std::string name;
  long countdown = 0;
  bool active = false;
};

const Armed& ArmedPoint() {
  static const Armed armed = [] {
    Armed a;
    const char* spec = std::getenv("AETHER_FAULT");
    if (spec == nullptr || *spec == '\0') return a;
    std::string s(spec);
    size_t colon = s.find(':');
    a.name = s.substr(0, colon);
    a.countdown = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
    if (a.countdown < 1) a.countdown = 1;
    a.active = true;
    return a;
  }();
  return armed;
}

std::atomic<long> g_hits{0};

}  // namespace

void HitFaultPoint(const char* name) {
  const Armed& armed = ArmedPoint();
  if (!armed.active || armed.name != name) return;
  if (g_hits.fetch_add(1) + 1 < armed.countdown) return;
  // A message for the test log, then the same death as kill -9.
  const char msg[] = "aether: fault point reached, killing process\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  kill(getpid(), SIGKILL);
  _exit(137);
}

const std::vector<std::string>& AllFaultPoints() { return kFaultPoints; }

}  // namespace aether
