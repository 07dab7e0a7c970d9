#include "env/fault_point.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "aether/env.h"
#include "env/env_vars.h"

namespace aether {
namespace {

// Every fault point in the code base, in the order an operation reaches them.
// Each migration kind passes the same six steps (store/migration.cc):
//   after_intent   journal row committed, nothing written
//   mid_write      hot slots written, frames not yet
//   after_write    all bytes written, not yet synced
//   after_sync     data durable, journal still 'intent'
//   after_written  journal 'written', the move not yet visible
//   after_commit   the move visible, journal row 'committed'
std::vector<std::string> MakeFaultPoints() {
  return {
      "ingest.after_intent",
      "ingest.mid_write",
      "ingest.after_write",
      "ingest.after_sync",
      "ingest.after_written",
      "ingest.after_commit",
      "descend.after_intent",
      "descend.mid_write",
      "descend.after_write",
      "descend.after_sync",
      "descend.after_written",
      "descend.after_commit",
      "ascend.after_intent",
      "ascend.mid_write",
      "ascend.after_write",
      "ascend.after_sync",
      "ascend.after_written",
      "ascend.after_commit",
      "compact.after_intent",
      "compact.mid_write",
      "compact.after_write",
      "compact.after_sync",
      "compact.after_written",
      "compact.after_commit",
      "unstage.after_intent",
      "unstage.mid_write",
      "unstage.after_write",
      "unstage.after_sync",
      "unstage.after_written",
      "unstage.after_commit",
      "rewrite.after_intent",
      "rewrite.mid_write",
      "rewrite.after_write",
      "rewrite.after_sync",
      "rewrite.after_written",
      "rewrite.after_commit",
      "rewrite.mid_cleanup",
      "rebuild.after_intent",
      "rebuild.mid_write",
      "rebuild.after_sync",
      "rebuild.after_written",
      "rebuild.after_commit",
      "rebuild.mid_cleanup",
      "scrub.after_hot",
      "scrub.after_commit",
      "fold.after_commit",
      "metrics_fold.after_commit",
      "update.before_commit",
      "update.after_commit",
      "delete.before_commit",
      "delete.after_commit",
      "pin.before_mark",
      "backup.mid_copy",
      "backup.before_rename",
      "unshare.after_copy",
      "upgrade.after_config",
      "upgrade.after_rewrite",
      "replay.after_rollback_truncate",
      "replay.after_rollforward_commit",
      // A cold tier in a bucket (store/cold_tier.cc): objects uploaded, not
      // yet recorded; recorded, local files not yet removed; between two
      // removals; between two deletions of unnamed objects; init's store in
      // place, its prefix not yet claimed; upgrade's prefix claimed, not
      // yet named by the config.
      "cold.after_upload",
      "cold.after_commit",
      "cold.mid_remove",
      "cold.mid_collect",
      "cold.before_claim",
      "cold.after_claim",
  };
}

const std::vector<std::string> kFaultPoints = MakeFaultPoints();

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
    a.active = env_vars::ParsePointSpec(spec, false, &a.name, &a.countdown);
    return a;
  }();
  return armed;
}

std::atomic<long> g_hits{0};

// Sleeps `ms` at a paused point. With AETHER_PAUSE_FILE, the pause makes that
// file when it starts and ends early once the file is gone: a test waits for
// the file (the process is in the phase), does its work, removes the file.
void Pause(long ms) {
  const char* file = std::getenv("AETHER_PAUSE_FILE");
  if (file == nullptr || *file == '\0') {
    usleep(static_cast<useconds_t>(ms) * 1000);
    return;
  }
  int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  const bool made = fd >= 0;
  if (made) close(fd);
  struct stat st;
  long waited = 0;
  for (; waited < ms && lstat(file, &st) == 0; waited += 10) usleep(10 * 1000);
  // Timed out: the file goes (it is ours), so a test that finds it still
  // there knows the pause has not ended.
  if (made && waited >= ms) unlink(file);
}

}  // namespace

void HitFaultPoint(const char* name) {
  // AETHER_PAUSE=<name>:<ms> sleeps there instead: tests use it to hold an
  // operation in a known phase while other processes run.
  static const std::pair<std::string, long> pause = [] {
    std::pair<std::string, long> p;
    const char* spec = std::getenv("AETHER_PAUSE");
    if (spec == nullptr || *spec == '\0' || !env_vars::ParsePointSpec(spec, true, &p.first, &p.second) ||
        p.second > env_vars::kMaxPauseMs)
      return std::pair<std::string, long>();
    return p;
  }();
  if (!pause.first.empty() && pause.first == name) Pause(pause.second);
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

const std::vector<std::string>& ListFaultPoints() { return kFaultPoints; }

}  // namespace aether
