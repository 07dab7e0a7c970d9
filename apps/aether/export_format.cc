#include "export_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli.h"

namespace aether::cli {

void AppendRecord(const MemoryRecord& r, bool with_vector, fmt::memory_buffer* line) {
  fmt::format_to(std::back_inserter(*line), "{{\"id\":{}", nlohmann::json(r.id).dump());
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
                 "\"access_count\":{}}}\n",
                 r.payload_json.empty() ? "null" : r.payload_json, r.importance, TierName(r.tier), r.created_ms,
                 r.last_access_ms, r.access_count);
}

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, ".npy '<f4' is written as the floats' own bytes");

// The .npy preamble and header are always this long (a multiple of 64, as
// format 1.0 asks), room for any row count: Finish rewrites it in place.
constexpr size_t kNpyHeaderBytes = 128;

// Creates `path` new (O_EXCL: an existing name, a symbolic link included, is
// refused and left alone) for writing.
Result<std::FILE*> CreateNew(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + ": exists (export --npy makes new files only)");
    if (errno == ENOENT) return Status::NotFound(path + ": no such directory");
    return Status::IOError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    return Status::IOError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  return f;
}

}  // namespace

std::string NpyExport::NpyHeader() const {
  std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows_, dim_);
  std::string out("\x93NUMPY\x01\x00", 8);
  const size_t header_len = kNpyHeaderBytes - 10;
  out.push_back(char(header_len & 0xff));
  out.push_back(char(header_len >> 8));
  dict.resize(header_len - 1, ' ');
  return out + dict + "\n";
}

Status NpyExport::WriteError(const std::string& path) const {
  return Status::IOError(fmt::format("{}: {}", path, std::strerror(errno)));
}

Status NpyExport::Create() {
  AETHER_ASSIGN_OR_RETURN(npy_, CreateNew(npy_path()));
  npy_made_ = true;
  AETHER_ASSIGN_OR_RETURN(ids_, CreateNew(ids_path()));
  ids_made_ = true;
  AETHER_ASSIGN_OR_RETURN(meta_, CreateNew(meta_path()));
  meta_made_ = true;
  const std::string header = NpyHeader();
  if (std::fwrite(header.data(), 1, header.size(), npy_) != header.size()) return WriteError(npy_path());
  return Status::Ok();
}

Status NpyExport::Add(const MemoryRecord& r) {
  if (r.id.find_first_of("\r\n") != std::string::npos)
    return Status::BadInput(
        fmt::format("id {} holds a line break, which {} (one id per line) cannot: export it as "
                    "JSONL (without --npy)",
                    nlohmann::json(r.id).dump(), ids_path()));
  if (r.vector.size() != dim_)
    return Status::Internal(fmt::format("{}: {} values, the store's dimension is {}", r.id, r.vector.size(), dim_));
  const size_t bytes = r.vector.size() * sizeof(float);
  if (std::fwrite(r.vector.data(), 1, bytes, npy_) != bytes) return WriteError(npy_path());
  if (std::fwrite(r.id.data(), 1, r.id.size(), ids_) != r.id.size() || std::fputc('\n', ids_) == EOF)
    return WriteError(ids_path());
  line_.clear();
  AppendRecord(r, /*with_vector=*/false, &line_);
  if (std::fwrite(line_.data(), 1, line_.size(), meta_) != line_.size()) return WriteError(meta_path());
  ++rows_;
  return Status::Ok();
}

Status NpyExport::Finish() {
  const std::string header = NpyHeader();
  if (std::fflush(npy_) != 0 || ::pwrite(fileno(npy_), header.data(), header.size(), 0) != ssize_t(header.size()))
    return WriteError(npy_path());
  const std::pair<std::FILE**, std::string> files[] = {{&npy_, npy_path()}, {&ids_, ids_path()}, {&meta_, meta_path()}};
  for (const auto& [file, path] : files) {
    // A failed fsync is final (it may "succeed" when retried).
    const bool ok = std::fflush(*file) == 0 && ::fsync(fileno(*file)) == 0;
    const int err = errno;
    const bool closed = std::fclose(*file) == 0;
    *file = nullptr;
    errno = ok ? errno : err;
    if (!ok || !closed) return WriteError(path);
  }
  finished_ = true;
  return Status::Ok();
}

NpyExport::~NpyExport() {
  for (std::FILE* f : {npy_, ids_, meta_})
    if (f) std::fclose(f);
  if (finished_) return;
  // Only the names it made, never one that was there before (CreateNew).
  if (npy_made_) ::unlink(npy_path().c_str());
  if (ids_made_) ::unlink(ids_path().c_str());
  if (meta_made_) ::unlink(meta_path().c_str());
}

}  // namespace aether::cli
