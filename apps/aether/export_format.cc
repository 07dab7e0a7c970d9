#include "export_format.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "aether/env.h"
#include "aether/jsonl.h"
#include "cli.h"

namespace aether::cli {

void AppendRecord(const MemoryRecord& r, bool with_vector, fmt::memory_buffer* line) {
  // An id of printable ASCII without quote or backslash (the common one) is
  // its own JSON string; any other goes through the JSON library's escaping.
  const bool plain =
      std::all_of(r.id.begin(), r.id.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  line->append(std::string_view("{\"id\":"));
  if (plain) {
    line->push_back('"');
    line->append(r.id);
    line->push_back('"');
  } else {
    line->append(nlohmann::json(r.id).dump());
  }
  if (with_vector) {
    line->append(std::string_view(",\"vector\":["));
    for (size_t i = 0; i < r.vector.size(); ++i) {
      float f = r.vector[i];
      // As get: a value that is not finite (only data stored before inputs
      // were range-checked can hold one) saturates; JSON has none.
      if (!std::isfinite(f)) f = std::signbit(f) && !std::isnan(f) ? -FLT_MAX : FLT_MAX;
      char text[40];
      text[0] = ',';
      // The shortest decimal that reads back to the same float (Ryu; three
      // times faster than fmt's, which was most of an export's time).
      char* end = std::to_chars(text + 1, text + sizeof text, f).ptr;
      if (ShortestDecimalMisreads(f)) {
        end = std::to_chars(text + 1, text + sizeof text, double(f)).ptr;
      } else if (end - text == 3 && text[1] == '-' && text[2] == '0') {
        end = std::copy_n("-0.0", 4, text + 1);  // "-0" is an integer, which reads as +0
      }
      line->append(text + (i == 0), end);
    }
    line->push_back(']');
  }
  fmt::format_to(std::back_inserter(*line),
                 ",\"payload\":{},\"importance\":{},\"tier\":\"{}\",\"created_ms\":{},\"last_access_ms\":{},"
                 "\"access_count\":{}",
                 r.payload_json.empty() ? "null" : r.payload_json, r.importance, TierName(r.tier), r.created_ms,
                 r.last_access_ms, r.access_count);
  // Present only when there is one, as in get: a pin, an access history.
  if (r.pinned) line->append(std::string_view(",\"pinned\":true"));
  if (!r.access_times.empty())
    fmt::format_to(std::back_inserter(*line), ",\"access_history\":{{\"times\":[{}],\"older\":{}}}",
                   fmt::join(r.access_times, ","), r.access_times_older);
  line->append(std::string_view("}\n"));
}

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, ".npy '<f4' is written as the floats' own bytes");

// The .npy preamble and header are always this long (a multiple of 64, as
// format 1.0 asks), room for any row count: Finish rewrites it in place.
constexpr size_t kNpyHeaderBytes = 128;

Status ErrnoStatus(const std::string& path, int err) {
  const std::string m = fmt::format("{}: {}", path, std::strerror(err));
  if (err == EEXIST) return Status::AlreadyExists(path + ": exists (export --npy makes new files only)");
  if (err == ENOENT) return Status::NotFound(path + ": no such directory");
  if (err == EACCES || err == EPERM || err == EROFS) return Status::PermissionDenied(m);
  return Status::IOError(m);
}

// Creates `path` new (O_EXCL: an existing name, a symbolic link included, is
// refused and left alone) for writing.
Result<std::FILE*> CreateNew(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(path, errno);
  std::FILE* f = ::fdopen(fd, "w");
  if (!f) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(path, err);
  }
  return f;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

NpyExport::NpyExport(const std::string& prefix, uint32_t dim) : dim_(dim) {
  std::string p = prefix;
  if (p.size() > 4 && p.compare(p.size() - 4, 4, ".npy") == 0) p.resize(p.size() - 4);
  const size_t slash = p.rfind('/');
  dir_ = slash == std::string::npos ? "." : p.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  const char* suffixes[] = {".npy", ".ids", ".meta.jsonl"};
  for (int i = 0; i < 3; ++i) {
    files_[i].path = p + suffixes[i];
    files_[i].temp =
        (slash == std::string::npos ? std::string() : dir_) + HiddenSiblingName(base + suffixes[i], "export");
  }
}

std::string NpyExport::NpyHeader() const {
  std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows_, dim_);
  std::string out("\x93NUMPY\x01\x00", 8);
  const size_t header_len = kNpyHeaderBytes - 10;
  out.push_back(char(header_len & 0xff));
  out.push_back(char(header_len >> 8));
  dict.resize(header_len - 1, ' ');
  return out + dict + "\n";
}

Status NpyExport::Create() {
  const std::string& npy = files_[0].path;
  if (npy.size() <= 4 || npy[npy.size() - 5] == '/')
    return Status::InvalidArgument("--npy: PREFIX names a file (e.g. out/mem), not a directory");
  for (const Out& o : files_)  // early, before any work (Finish never replaces one either)
    if (Exists(o.path)) return ErrnoStatus(o.path, EEXIST);
  for (Out& o : files_) {
    AETHER_ASSIGN_OR_RETURN(o.f, CreateNew(o.temp));
    o.temp_made = true;
  }
  const std::string header = NpyHeader();
  if (std::fwrite(header.data(), 1, header.size(), files_[0].f) != header.size())
    return ErrnoStatus(files_[0].temp, errno);
  return Status::Ok();
}

Status NpyExport::Add(const MemoryRecord& r) {
  const bool bom = rows_ == 0 && r.id.rfind("\xEF\xBB\xBF", 0) == 0;
  if (r.id.find_first_of("\r\n") != std::string::npos || bom)
    return Status::BadInput(fmt::format(
        "id {} {}, which {} (one id per line) cannot hold: export it as JSONL "
        "(without --npy), or leave it out with --where",
        nlohmann::json(r.id).dump(), bom ? "starts with a byte order mark" : "holds a line break", ids_path()));
  if (r.vector.size() != dim_)
    return Status::Internal(fmt::format("{}: {} values, the store's dimension is {}", r.id, r.vector.size(), dim_));
  const size_t bytes = r.vector.size() * sizeof(float);
  if (std::fwrite(r.vector.data(), 1, bytes, files_[0].f) != bytes) return ErrnoStatus(files_[0].temp, errno);
  if (std::fwrite(r.id.data(), 1, r.id.size(), files_[1].f) != r.id.size() || std::fputc('\n', files_[1].f) == EOF)
    return ErrnoStatus(files_[1].temp, errno);
  line_.clear();
  AppendRecord(r, /*with_vector=*/false, &line_);
  if (std::fwrite(line_.data(), 1, line_.size(), files_[2].f) != line_.size())
    return ErrnoStatus(files_[2].temp, errno);
  ++rows_;
  return Status::Ok();
}

Status NpyExport::Finish() {
  const std::string header = NpyHeader();
  if (std::fflush(files_[0].f) != 0 ||
      ::pwrite(fileno(files_[0].f), header.data(), header.size(), 0) != ssize_t(header.size()))
    return ErrnoStatus(files_[0].temp, errno);
  for (Out& o : files_) {
    // A failed fsync is final (it may "succeed" when retried).
    const bool ok = std::fflush(o.f) == 0 && ::fsync(fileno(o.f)) == 0;
    const int err = errno;
    const bool closed = std::fclose(o.f) == 0;
    o.f = nullptr;
    if (!ok || !closed) return ErrnoStatus(o.temp, ok ? errno : err);
  }
  // link(2) never replaces a name: one made meanwhile is refused, not lost.
  for (Out& o : files_) {
    if (::link(o.temp.c_str(), o.path.c_str()) != 0) return ErrnoStatus(o.path, errno);
    o.published = true;
  }
  for (Out& o : files_) {
    ::unlink(o.temp.c_str());
    o.temp_made = false;
  }
  // The Env's directory sync: EINVAL (a file system that cannot sync a
  // directory) is taken as it is, as for the store itself.
  AETHER_RETURN_IF_ERROR(Env::Default()->SyncDir(dir_));
  finished_ = true;
  return Status::Ok();
}

NpyExport::~NpyExport() {
  for (Out& o : files_) {
    if (o.f) std::fclose(o.f);
    if (finished_) continue;
    // Only names it made: its temporaries, and a name it linked itself.
    if (o.published) ::unlink(o.path.c_str());
    if (o.temp_made) ::unlink(o.temp.c_str());
  }
}

}  // namespace aether::cli
