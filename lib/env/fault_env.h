// FaultEnv: an Env for in-process crash tests (tests/store/). It wraps a
// real Env and
//   - numbers every mutating call (a file write, sync or truncate; a file or
//     directory created, renamed or removed; a directory sync) as a step, and
//     can fail one step, or one step and every later one (a disk that died,
//     so the process can no longer clean up: as good as killed), with an
//     IOError naming the step;
//   - remembers what is not durable yet, and DropUnsynced() turns the files
//     into what a power cut at this moment leaves: each file's bytes as of its
//     last Sync, the names created, renamed or removed since their
//     directory's last SyncDir undone.
// The metadata DB is written by SQLite, not through an Env: its own commits
// are durable when they return (synchronous = FULL), which is the model.
// Thread-safe (the store syncs shards from several threads).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aether/env.h"

namespace aether {

class FaultEnv : public EnvWrapper {
 public:
  explicit FaultEnv(Env* target) : EnvWrapper(target) {}

  // Step n (1-based) fails; with `and_after`, every step from n on fails.
  // 0: nothing fails.
  void FailAt(uint64_t n, bool and_after);
  // Steps taken so far.
  uint64_t steps() const;
  // Whether any step has failed.
  bool failed() const;
  // Undoes everything not yet durable (see above) on the real files. Call
  // with no File of this Env open.
  Status DropUnsynced();

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Status SyncDir(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status CreateDir(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;

 private:
  friend class FaultFile;
  // Counts a step: an IOError when it is one to fail.
  Status Step(const std::string& what);
  // Before a write of [offset, offset + n) (or a truncate to offset, n = 0
  // meaning "to the end") through `file`: keeps the bytes it changes, the
  // first time since the file's last sync also its size then.
  Status SaveForUndo(File* file, uint64_t offset, uint64_t n, bool truncate);
  void Synced(const std::string& path);

  // A file's changes since its last sync, oldest first.
  struct FileUndo {
    uint64_t size_at_sync = 0;
    std::vector<std::pair<uint64_t, std::string>> old_bytes;
  };
  // A directory change not yet made durable by a sync of `dir`.
  struct DirUndo {
    enum Kind { kCreatedFile, kCreatedDir, kRenamed, kRemovedFile, kRemovedDir } kind;
    std::string dir, path, from;  // from: a rename's source
    bool had_content = false;     // a rename over, or the removal of, a regular file
    std::string content;          // that file's bytes, restored on undo
  };
  Status Undo(const DirUndo& u);
  Status Restore(const std::string& path, const std::string& content);
  // A file's bytes (as read now) back to what they were at its last sync.
  static void UndoInMemory(const FileUndo& undo, std::string* content);

  mutable std::mutex mu_;
  uint64_t steps_ = 0, fail_at_ = 0;
  bool fail_after_ = false, failed_ = false;
  std::map<std::string, FileUndo> files_;
  std::vector<DirUndo> dirs_;
};

}  // namespace aether
