// StoreLock: the store's process locks (format-spec/README.md,
// "Concurrency"), one object owning them:
//   WRITER  held exclusively by a writer for its whole run, so that one
//           process writes at a time;
//   LOCK    shared by readers, held exclusively by a writer while it changes
//           the store (a rebuild shares it during its long build phase);
//   GATE    a turnstile held while waiting for LOCK, so a waiting writer
//           stops new readers from overtaking it.
// Lock order is WRITER, then LOCK: never wait for WRITER while holding LOCK.
// Owned by StoreImpl; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "aether/env.h"
#include "aether/status.h"

namespace aether {

class StoreLock {
 public:
  // wait_seconds: how long a lock is waited for unless a call says otherwise.
  StoreLock(Env* env, std::string dir, double wait_seconds)
      : env_(env), dir_(std::move(dir)), wait_seconds_(wait_seconds) {}

  // Takes WRITER, waiting up to `wait` seconds (< 0: the store's wait);
  // kBusy when another writer keeps it. A wait lets LOCK go first (never
  // wait for WRITER while holding LOCK); a try (wait 0) keeps it. No-op
  // when held.
  Status TakeWriter(double wait = -1);
  void DropWriter() { writer_.reset(); }
  // Switches LOCK to `mode` through GATE, waiting up to `wait` seconds
  // (< 0: the store's wait). No-op when LOCK is already in that mode.
  Status SetMode(LockMode mode, double wait = -1);

  // This process is a writer: it holds WRITER.
  bool writer() const { return writer_ != nullptr; }
  // It may change the store now: WRITER and LOCK exclusively.
  bool exclusive() const { return writer_ && lock_ && lock_->mode() == LockMode::kExclusive; }
  double wait_seconds() const { return wait_seconds_; }

 private:
  Env* env_;
  std::string dir_;
  double wait_seconds_;
  std::unique_ptr<FileLock> writer_;  // WRITER
  std::unique_ptr<FileLock> lock_;    // LOCK
};

}  // namespace aether
