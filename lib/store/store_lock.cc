// StoreLock: WRITER, LOCK and the GATE turnstile (store_lock.h).
#include "store/store_lock.h"

#include <algorithm>

#include "store/layout.h"

namespace aether {

Status StoreLock::TakeWriter(double wait) {
  if (writer_) return Status::Ok();
  if (wait < 0) wait = wait_seconds_;
  // Waiting for WRITER while holding LOCK would deadlock with a rebuild
  // that holds WRITER and waits for LOCK.
  if (wait != 0) lock_.reset();
  AETHER_ASSIGN_OR_RETURN(writer_, env_->Lock(dir_ + "/" + layout::kWriterLockFile, LockMode::kExclusive, wait));
  return Status::Ok();
}

// flock alone lets a stream of readers starve a writer: whoever waits for
// LOCK holds GATE meanwhile.
Status StoreLock::SetMode(LockMode mode, double wait) {
  if (lock_ && lock_->mode() == mode) return Status::Ok();
  lock_.reset();  // flock conversion is not atomic anyway; WRITER keeps writers out
  if (wait < 0) wait = wait_seconds_;
  // Readers hold GATE for microseconds; ride over that even with --wait 0.
  AETHER_ASSIGN_OR_RETURN(auto gate,
                          env_->Lock(dir_ + "/" + layout::kGateLockFile, LockMode::kExclusive, std::max(wait, 0.25)));
  AETHER_ASSIGN_OR_RETURN(lock_, env_->Lock(dir_ + "/" + layout::kLockFile, mode, wait));
  return Status::Ok();
}

}  // namespace aether
