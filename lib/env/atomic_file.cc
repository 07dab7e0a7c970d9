// Temporary names and atomic replacement of a small file (env.h).
#include <fmt/format.h>

#include "aether/env.h"

namespace aether {

std::string TempNameFor(Env* env, const std::string& path) {
  const uint64_t r = (env->RandomSeed() << 32) ^ env->RandomSeed() ^ uint64_t(env->NowMs());
  return fmt::format("{}.{:016x}.tmp", path, r);
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
  const auto slash = path.find_last_of('/');
  return env->SyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace aether
