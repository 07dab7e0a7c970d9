#include "env/fault_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace aether {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Result<std::string> ReadAll(Env* env, const std::string& path) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  std::string data(size, '\0');
  if (size > 0) AETHER_RETURN_IF_ERROR(f->Read(0, size, data.data()));
  return data;
}

Status WriteAll(Env* env, const std::string& path, const std::string& data) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kCreate));
  AETHER_RETURN_IF_ERROR(f->Truncate(0));
  if (!data.empty()) AETHER_RETURN_IF_ERROR(f->Write(0, data.data(), data.size()));
  return f->Sync();
}

}  // namespace

// A file of a FaultEnv: each write, sync and truncate is a step, and what a
// write or truncate changes is kept until the next sync.
class FaultFile final : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base) : env_(env), base_(std::move(base)) {}
  const std::string& path() const override { return base_->path(); }
  Status Read(uint64_t offset, size_t n, void* out) override { return base_->Read(offset, n, out); }
  Status Write(uint64_t offset, const void* data, size_t n) override {
    AETHER_RETURN_IF_ERROR(env_->Step("write " + path()));
    AETHER_RETURN_IF_ERROR(env_->SaveForUndo(base_.get(), offset, n, /*truncate=*/false));
    return base_->Write(offset, data, n);
  }
  Status Sync() override {
    AETHER_RETURN_IF_ERROR(env_->Step("sync " + path()));
    AETHER_RETURN_IF_ERROR(base_->Sync());
    env_->Synced(path());
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    AETHER_RETURN_IF_ERROR(env_->Step("truncate " + path()));
    AETHER_RETURN_IF_ERROR(env_->SaveForUndo(base_.get(), size, 0, /*truncate=*/true));
    return base_->Truncate(size);
  }
  Result<uint64_t> Size() override { return base_->Size(); }

 private:
  FaultEnv* env_;
  std::unique_ptr<File> base_;
};

void FaultEnv::FailAt(uint64_t n, bool and_after) {
  std::lock_guard<std::mutex> l(mu_);
  fail_at_ = n;
  fail_after_ = and_after;
}

uint64_t FaultEnv::steps() const {
  std::lock_guard<std::mutex> l(mu_);
  return steps_;
}

bool FaultEnv::failed() const {
  std::lock_guard<std::mutex> l(mu_);
  return failed_;
}

Status FaultEnv::Step(const std::string& what) {
  std::lock_guard<std::mutex> l(mu_);
  ++steps_;
  if (fail_at_ == 0 || steps_ < fail_at_ || (steps_ > fail_at_ && !fail_after_)) return Status::Ok();
  failed_ = true;
  return Status::IOError(fmt::format("{}: injected failure (fault env step {})", what, steps_));
}

Status FaultEnv::SaveForUndo(File* file, uint64_t offset, uint64_t n, bool truncate) {
  std::lock_guard<std::mutex> l(mu_);
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  auto [it, fresh] = files_.try_emplace(file->path());
  if (fresh) it->second.size_at_sync = size;
  const uint64_t end = truncate ? size : std::min(size, offset + n);
  if (offset >= end) return Status::Ok();
  std::string old(end - offset, '\0');
  AETHER_RETURN_IF_ERROR(file->Read(offset, old.size(), old.data()));
  it->second.old_bytes.emplace_back(offset, std::move(old));
  return Status::Ok();
}

void FaultEnv::Synced(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(path);
}

Result<std::unique_ptr<File>> FaultEnv::Open(const std::string& path, OpenMode mode) {
  const bool creates =
      (mode == OpenMode::kCreate || mode == OpenMode::kCreateNew) && target()->TypeOf(path) == FileType::kMissing;
  if (creates) AETHER_RETURN_IF_ERROR(Step("create " + path));
  AETHER_ASSIGN_OR_RETURN(auto file, target()->Open(path, mode));
  if (creates) {
    std::lock_guard<std::mutex> l(mu_);
    dirs_.push_back(DirUndo{DirUndo::kCreatedFile, Parent(path), path, "", false, ""});
  }
  if (mode == OpenMode::kRead) return file;
  return std::unique_ptr<File>(new FaultFile(this, std::move(file)));
}

Status FaultEnv::SyncDir(const std::string& dir) {
  AETHER_RETURN_IF_ERROR(Step("sync directory " + dir));
  AETHER_RETURN_IF_ERROR(target()->SyncDir(dir));
  std::lock_guard<std::mutex> l(mu_);
  dirs_.erase(std::remove_if(dirs_.begin(), dirs_.end(), [&](const DirUndo& u) { return u.dir == dir; }), dirs_.end());
  return Status::Ok();
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  AETHER_RETURN_IF_ERROR(Step("rename " + from));
  DirUndo u{DirUndo::kRenamed, Parent(to), to, from, false, ""};
  if (target()->TypeOf(to) == FileType::kRegular) {
    AETHER_ASSIGN_OR_RETURN(u.content, ReadAll(target(), to));
    u.had_content = true;
  }
  AETHER_RETURN_IF_ERROR(target()->Rename(from, to));
  std::lock_guard<std::mutex> l(mu_);
  // The overwritten file's durable bytes are what comes back; the renamed
  // file's unsynced changes follow it to its new name.
  if (auto old = files_.find(to); old != files_.end()) {
    if (u.had_content) {
      UndoInMemory(old->second, &u.content);
    }
    files_.erase(old);
  }
  if (auto moved = files_.find(from); moved != files_.end()) {
    files_[to] = std::move(moved->second);
    files_.erase(from);
  }
  dirs_.push_back(std::move(u));
  return Status::Ok();
}

Status FaultEnv::RemoveFile(const std::string& path) {
  AETHER_RETURN_IF_ERROR(Step("remove " + path));
  DirUndo u{DirUndo::kRemovedFile, Parent(path), path, "", false, ""};
  if (target()->TypeOf(path) == FileType::kRegular) {
    AETHER_ASSIGN_OR_RETURN(u.content, ReadAll(target(), path));
    u.had_content = true;
  }
  AETHER_RETURN_IF_ERROR(target()->RemoveFile(path));
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = files_.find(path); f != files_.end()) {
    if (u.had_content) UndoInMemory(f->second, &u.content);
    files_.erase(f);
  }
  dirs_.push_back(std::move(u));
  return Status::Ok();
}

Status FaultEnv::CreateDir(const std::string& path) {
  AETHER_RETURN_IF_ERROR(Step("create directory " + path));
  AETHER_RETURN_IF_ERROR(target()->CreateDir(path));
  std::lock_guard<std::mutex> l(mu_);
  dirs_.push_back(DirUndo{DirUndo::kCreatedDir, Parent(path), path, "", false, ""});
  return Status::Ok();
}

Status FaultEnv::RemoveDir(const std::string& path) {
  AETHER_RETURN_IF_ERROR(Step("remove directory " + path));
  AETHER_RETURN_IF_ERROR(target()->RemoveDir(path));
  std::lock_guard<std::mutex> l(mu_);
  dirs_.push_back(DirUndo{DirUndo::kRemovedDir, Parent(path), path, "", false, ""});
  return Status::Ok();
}

void FaultEnv::UndoInMemory(const FileUndo& undo, std::string* content) {
  for (auto b = undo.old_bytes.rbegin(); b != undo.old_bytes.rend(); ++b) {
    if (content->size() < b->first + b->second.size()) content->resize(b->first + b->second.size());
    content->replace(b->first, b->second.size(), b->second);
  }
  content->resize(undo.size_at_sync);
}

// A file's old bytes back under its name, unless its directory is gone for
// good (its removal was made durable: then so was everything in it).
Status FaultEnv::Restore(const std::string& path, const std::string& content) {
  if (!target()->IsDirectory(Parent(path))) return Status::Ok();
  return WriteAll(target(), path, content);
}

Status FaultEnv::Undo(const DirUndo& u) {
  switch (u.kind) {
    case DirUndo::kCreatedFile:
      return target()->RemoveFile(u.path);
    case DirUndo::kCreatedDir: {
      // Whatever was made inside a directory that never became durable is
      // gone with it.
      std::error_code ec;
      std::filesystem::remove_all(u.path, ec);
      if (ec) return Status::IOError(u.path + ": " + ec.message());
      return Status::Ok();
    }
    case DirUndo::kRenamed:
      if (target()->TypeOf(u.path) != FileType::kMissing && target()->IsDirectory(Parent(u.from)))
        AETHER_RETURN_IF_ERROR(target()->Rename(u.path, u.from));
      return u.had_content ? Restore(u.path, u.content) : Status::Ok();
    case DirUndo::kRemovedFile:
      return u.had_content ? Restore(u.path, u.content) : Status::Ok();
    case DirUndo::kRemovedDir:
      return target()->CreateDir(u.path);
  }
  return Status::Ok();
}

Status FaultEnv::DropUnsynced() {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [path, undo] : files_) {
    if (target()->TypeOf(path) != FileType::kRegular) continue;
    AETHER_ASSIGN_OR_RETURN(auto f, target()->Open(path, OpenMode::kReadWrite));
    for (auto b = undo.old_bytes.rbegin(); b != undo.old_bytes.rend(); ++b)
      AETHER_RETURN_IF_ERROR(f->Write(b->first, b->second.data(), b->second.size()));
    AETHER_RETURN_IF_ERROR(f->Truncate(undo.size_at_sync));
  }
  files_.clear();
  for (auto u = dirs_.rbegin(); u != dirs_.rend(); ++u) AETHER_RETURN_IF_ERROR(Undo(*u));
  dirs_.clear();
  fail_at_ = 0;
  fail_after_ = false;
  return Status::Ok();
}

}  // namespace aether
