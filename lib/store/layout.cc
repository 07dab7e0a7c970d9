#include "store/layout.h"

#include <fmt/format.h>

#include <cctype>

namespace aether::layout {
namespace {

bool Digits(const std::string& s, size_t pos, size_t n) {
  if (s.size() < pos + n) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

std::string GenerationDir(int64_t g) { return fmt::format("{}/g{:06d}", kColdDir, g); }
std::string PartitionPath(int64_t g, uint32_t p) { return fmt::format("{}/p{:06d}.shard", GenerationDir(g), p); }
std::string RewrittenPartitionPath(int64_t g, uint32_t p, int64_t shard_id) {
  return fmt::format("{}/p{:06d}.r{:06d}.shard", GenerationDir(g), p, shard_id);
}
std::string CentroidsName(int64_t g) { return fmt::format("g{:06d}.centroids", g); }

bool IsPartitionFileName(const std::string& name) {
  return (name.size() == 13 && name[0] == 'p' && Digits(name, 1, 6) && name.compare(7, 6, ".shard") == 0) ||
         IsRewrittenPartitionFileName(name);
}

bool IsRewrittenPartitionFileName(const std::string& name) {
  if (name.size() < 13 + 2 + 6 || name.size() > 13 + 2 + 19) return false;
  const size_t digits = name.size() - 13 - 2;
  return name[0] == 'p' && Digits(name, 1, 6) && name.compare(7, 2, ".r") == 0 && Digits(name, 9, digits) &&
         name.compare(name.size() - 6, 6, ".shard") == 0;
}

bool IsTempNameOf(const std::string& name, const std::string& base) {
  if (name == base + ".tmp") return true;
  if (name.size() != base.size() + 1 + 16 + 4 || name.compare(0, base.size() + 1, base + ".") != 0 ||
      name.compare(name.size() - 4, 4, ".tmp") != 0)
    return false;
  for (size_t i = base.size() + 1; i < base.size() + 17; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

bool IsRandomTempNameOf(const std::string& name, const std::string& base) {
  return name != base + ".tmp" && IsTempNameOf(name, base);
}

bool IsPartitionPathOf(const std::string& path, int64_t generation, int64_t partition) {
  const std::string dir = GenerationDir(generation) + "/", prefix = fmt::format("p{:06d}.", partition);
  if (partition < 0 || path.size() <= dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
  const std::string name = path.substr(dir.size());
  return IsPartitionFileName(name) && name.compare(0, prefix.size(), prefix) == 0;
}

int64_t GenerationOfName(const std::string& name) {
  if (name.empty() || name[0] != 'g' || !Digits(name, 1, 6)) return 0;
  const std::string base = name.substr(0, 7);
  if (name.size() != 7 && name != base + ".centroids" && !IsTempNameOf(name, base + ".centroids")) return 0;
  return std::stoll(name.substr(1, 6));
}

}  // namespace aether::layout
