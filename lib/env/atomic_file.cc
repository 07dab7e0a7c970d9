// Temporary names, atomic replacement of a small file, copies and private
// copies of a shared one (env.h).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "aether/env.h"
#include "env/fault_point.h"

namespace aether {

std::string FittedStem(const std::string& name, size_t reserve) {
  constexpr size_t kNameMax = 255;  // NAME_MAX of Linux's file systems
  constexpr size_t kHashBytes = 9;  // "~" and 8 hex digits
  if (name.size() + reserve <= kNameMax) return name;
  uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  size_t keep = kNameMax > reserve + kHashBytes ? kNameMax - reserve - kHashBytes : 0;
  keep = std::min(keep, name.size());
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;  // not inside a character
  return fmt::format("{}~{:08x}", name.substr(0, keep), hash);
}

std::string SiblingStem(const std::string& name, const std::string& what, size_t tail_bytes) {
  constexpr size_t kPidDigits = 7;
  return FittedStem(name, 1 + std::strlen(".aether-") + what.size() + 1 + kPidDigits + tail_bytes);
}

std::string HiddenSiblingName(const std::string& name, const std::string& what, const std::string& tail) {
  return fmt::format(".{}.aether-{}.{}{}", SiblingStem(name, what, tail.size()), what, getpid(), tail);
}

std::string TempNameFor(Env* env, const std::string& path) {
  const uint64_t r = (env->RandomSeed() << 32) ^ env->RandomSeed() ^ uint64_t(env->NowMs());
  constexpr size_t kSuffixBytes = 21;  // ".<16 hex digits>.tmp"
  const size_t slash = path.rfind('/');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  return fmt::format("{}{}.{:016x}.tmp", path.substr(0, base), FittedStem(path.substr(base), kSuffixBytes), r);
}

Status WriteFileAtomically(Env* env, const std::string& path, const std::string& data) {
  const std::string tmp = TempNameFor(env, path);
  Status s = [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(auto f, env->Open(tmp, OpenMode::kCreateNew));
    AETHER_RETURN_IF_ERROR(f->Write(0, data.data(), data.size()));
    return f->Sync();
  }();
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);  // ours: created with O_EXCL above
    return s;
  }
  return env->SyncDir(DirOf(path));
}

std::string DirOf(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status CopyBytes(File* from, File* to, uint64_t n) {
  std::vector<char> buf(std::min<uint64_t>(n, 1 << 20));
  for (uint64_t at = 0; at < n;) {
    const size_t len = size_t(std::min<uint64_t>(buf.size(), n - at));
    AETHER_RETURN_IF_ERROR(from->Read(at, len, buf.data()));
    AETHER_RETURN_IF_ERROR(to->Write(at, buf.data(), len));
    at += len;
  }
  return Status::Ok();
}

Status Unshare(Env* env, const std::string& path) {
  AETHER_ASSIGN_OR_RETURN(uint64_t links, env->LinkCount(path));
  if (links <= 1) return Status::Ok();
  const std::string tmp = TempNameFor(env, path);
  Status s = [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(auto from, env->Open(path, OpenMode::kRead));
    AETHER_ASSIGN_OR_RETURN(uint64_t size, from->Size());
    AETHER_ASSIGN_OR_RETURN(auto to, env->Open(tmp, OpenMode::kCreateNew));
    AETHER_RETURN_IF_ERROR(CopyBytes(from.get(), to.get(), size));
    AETHER_RETURN_IF_ERROR(to->Sync());
    AETHER_FAULT_POINT("unshare.after_copy");
    return env->Rename(tmp, path);
  }();
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);  // ours: created with O_EXCL above
    return s.WithContext(path + ": a private copy of a file with other names");
  }
  return env->SyncDir(DirOf(path));
}

}  // namespace aether
