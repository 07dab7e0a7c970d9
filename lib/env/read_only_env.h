// ReadOnlyEnv: an Env that reads through another and refuses every change
// to the file system (a file opened for writing, a removal, a rename, a new
// directory, a directory sync) with an Internal error naming the path.
// maintain --dry-run rehearses a tick through it (store/dynamics.cc), so that
// a rehearsal that would touch a file fails loudly instead.
#pragma once

#include <string>

#include "aether/env.h"

namespace aether {

class ReadOnlyEnv : public EnvWrapper {
 public:
  explicit ReadOnlyEnv(Env* target) : EnvWrapper(target) {}

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    if (mode != OpenMode::kRead) return Refuse("open for writing", path);
    return EnvWrapper::Open(path, mode);
  }
  Status SyncDir(const std::string& dir) override { return Refuse("sync", dir); }
  Status Rename(const std::string& from, const std::string&) override { return Refuse("rename", from); }
  Status RemoveFile(const std::string& path) override { return Refuse("remove", path); }
  Status CreateDir(const std::string& path) override { return Refuse("create", path); }
  Status RemoveDir(const std::string& path) override { return Refuse("remove", path); }
  Status Link(const std::string& from, const std::string&) override { return Refuse("link", from); }

 private:
  static Status Refuse(const char* what, const std::string& path) {
    return Status::Internal(std::string("a rehearsal (dry run) would ") + what + " " + path);
  }
};

}  // namespace aether
