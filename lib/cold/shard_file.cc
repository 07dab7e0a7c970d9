#include "cold/shard_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "format/coding.h"
#include "format/crc32c.h"
#include "format/file_header.h"

namespace aether {
namespace {

// Header (format/file_header.h): fields generation, partition, 0.
void EncodeHeader(uint8_t* h, uint32_t dim, uint32_t generation, uint32_t partition) {
  EncodeFileHeader(h, ShardFile::kMagic, FileHeader{ShardFile::kVersion, dim, {generation, partition, 0}});
}

Status CheckHeader(const uint8_t* h, uint32_t dim, const std::string& path) {
  FileHeader fh;
  AETHER_RETURN_IF_ERROR(DecodeFileHeader(h, ShardFile::kMagic, ShardFile::kVersion, "shard", path, &fh));
  if (fh.dim != dim)
    return Status::Corruption(fmt::format("{}: header says dim {}, store dim is {}", path, fh.dim, dim));
  return Status::Ok();
}

}  // namespace

Status ShardFile::Create(Env* env, const std::string& path, uint32_t dim, uint32_t generation, uint32_t partition,
                         bool sync, OpenMode mode) {
  // A name a backup shares (backup --incremental) is let go, not emptied.
  if (env->TypeOf(path) == FileType::kRegular) {
    AETHER_ASSIGN_OR_RETURN(uint64_t links, env->LinkCount(path));
    if (links > 1) AETHER_RETURN_IF_ERROR(env->RemoveFile(path));
  }
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, mode));
  uint8_t header[kHeaderSize];
  EncodeHeader(header, dim, generation, partition);
  AETHER_RETURN_IF_ERROR(file->Truncate(0));
  AETHER_RETURN_IF_ERROR(file->Write(0, header, kHeaderSize));
  return sync ? file->Sync() : Status::Ok();
}

static_assert(ShardFile::kHeaderSize == FileHeader::kSize);

Result<std::unique_ptr<ShardFile>> ShardFile::Open(Env* env, const std::string& path, uint32_t dim, bool writable) {
  uint8_t header[FileHeader::kSize];
  // Every change to a shard goes through a writable open: a file a backup
  // shares (backup --incremental) is made private first.
  if (writable) AETHER_RETURN_IF_ERROR(Unshare(env, path));
  AETHER_ASSIGN_OR_RETURN(auto file, OpenWithHeader(env, path, writable, header));
  AETHER_RETURN_IF_ERROR(CheckHeader(header, dim, path));
  return std::unique_ptr<ShardFile>(new ShardFile(std::move(file), dim));
}

Result<std::unique_ptr<ShardFile>> ShardFile::OpenNamed(Env* env, const std::string& path, uint32_t dim,
                                                        bool writable) {
  constexpr const char* kNamed = " (a shard the metadata names)";
  // A writable open first counts the file's links (Unshare), which of a
  // missing file is an I/O error: look first.
  if (writable && env->TypeOf(path) == FileType::kMissing) return Status::Corruption(path + ": no such file" + kNamed);
  auto file = Open(env, path, dim, writable);
  if (!file.ok() && file.status().code() == Code::kNotFound)
    return Status::Corruption(file.status().message() + kNamed);
  return file;
}

Status ShardFile::Fetch(uint64_t offset, uint64_t n, uint64_t limit, uint64_t ahead, ReadWindow* w, const uint8_t** p) {
  if (offset < w->at || offset + n > w->at + w->len) {
    const uint64_t len = std::max(n, std::min(ahead, limit - offset));
    // What the window holds from offset on is kept (a frame's header, read
    // before its length was known), the rest read after it.
    uint64_t kept = 0;
    if (offset >= w->at && offset < w->at + w->len) {
      kept = w->at + w->len - offset;
      if (offset > w->at) std::memmove(w->bytes->data(), w->bytes->data() + (offset - w->at), kept);
    }
    w->at = offset;
    w->len = 0;  // until the read succeeds
    if (w->bytes->size() < len) w->bytes->resize(len);
    AETHER_RETURN_IF_ERROR(file_->Read(offset + kept, len - kept, w->bytes->data() + kept));
    w->len = len;
  }
  *p = w->bytes->data() + (offset - w->at);
  return Status::Ok();
}

Status ShardFile::ReadFrameAt(uint64_t offset, uint64_t limit, ScanMode mode, uint64_t ahead, ReadWindow* w,
                              DecodedFrame* out, uint64_t* next) {
  auto where = [&](const Status& s) { return s.WithContext(fmt::format("{}: frame at offset {}", path(), offset)); };
  if (offset + kFrameHeaderSize > limit) return where(Status::Corruption("truncated frame header"));
  const uint8_t* p = nullptr;
  AETHER_RETURN_IF_ERROR(where(Fetch(offset, kFrameHeaderSize, limit, ahead, w, &p)));
  FrameHeader h;
  AETHER_RETURN_IF_ERROR(where(DecodeFrameHeader(p, dim_, &h)));
  if (offset + h.frame_size() > limit) return where(Status::Corruption("truncated frame"));
  const uint64_t n = mode == ScanMode::kSearch ? h.scan_size() : h.frame_size();
  AETHER_RETURN_IF_ERROR(where(Fetch(offset, n, limit, ahead, w, &p)));
  AETHER_RETURN_IF_ERROR(
      where(mode == ScanMode::kSearch ? DecodeFrameScan(p, n, dim_, out) : DecodeFrame(p, n, dim_, out)));
  *next = offset + h.frame_size();
  return Status::Ok();
}

Status ShardFile::ReadFullRows(uint64_t offset, size_t n, const uint32_t* indexes, const int64_t* row_ids, float* out) {
  auto where = [&](const Status& s, uint32_t index) {
    return s.WithContext(fmt::format("{}: frame at offset {}, record {}", path(), offset, index));
  };
  if (n == 0) return Status::Ok();
  uint8_t header[kFrameHeaderSize];
  AETHER_RETURN_IF_ERROR(where(file_->Read(offset, kFrameHeaderSize, header), indexes[0]));
  FrameHeader h;
  AETHER_RETURN_IF_ERROR(where(DecodeFrameHeader(header, dim_, &h), indexes[0]));
  const uint64_t row_size = FrameHeader::full_row_size(dim_);
  constexpr uint32_t kMaxGap = 64;  // rows further apart than this are read separately
  thread_local std::vector<uint8_t> buf;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && indexes[j] >= indexes[j - 1] && indexes[j] - indexes[j - 1] <= kMaxGap) ++j;
    const uint32_t first = indexes[i], last = indexes[j - 1];
    if (!h.quantized() || last >= h.count || first > last)
      return where(Status::Corruption(fmt::format("no full-precision row {} in a frame of {} records, codec {}", last,
                                                  h.count, h.codec)),
                   last);
    buf.resize((uint64_t(last - first) + 1) * row_size);
    AETHER_RETURN_IF_ERROR(where(file_->Read(offset + h.full_row_offset(first), buf.size(), buf.data()), first));
    for (size_t k = i; k < j; ++k)
      AETHER_RETURN_IF_ERROR(
          where(DecodeFullRow(buf.data() + uint64_t(indexes[k] - first) * row_size, dim_, row_ids[k], out + k * dim_),
                indexes[k]));
    i = j;
  }
  return Status::Ok();
}

Status ShardFile::ReadRows(uint64_t offset, size_t n, const uint32_t* indexes, const int64_t* row_ids, float* out) {
  if (n == 0) return Status::Ok();
  uint8_t header[kFrameHeaderSize];
  FrameHeader h;
  Status read = file_->Read(offset, kFrameHeaderSize, header);
  if (read.ok()) read = DecodeFrameHeader(header, dim_, &h);
  if (!read.ok()) return read.WithContext(fmt::format("{}: frame at offset {}", path(), offset));
  if (h.quantized()) return ReadFullRows(offset, n, indexes, row_ids, out);
  thread_local DecodedFrame frame;
  AETHER_RETURN_IF_ERROR(ReadFrame(offset, &frame));
  for (size_t i = 0; i < n; ++i) {
    if (indexes[i] >= frame.count || frame.row_ids[indexes[i]] != row_ids[i])
      return Status::Corruption(fmt::format("{}: frame at offset {} does not hold row {} at record {}", path(), offset,
                                            row_ids[i], indexes[i]));
    std::copy_n(frame.vector(indexes[i]), dim_, out + i * dim_);
  }
  return Status::Ok();
}

Status ShardFile::CheckLength(uint64_t end) {
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  if (size < end)
    return Status::Corruption(fmt::format("{}: file is {} bytes, its committed length is {}", path(), size, end));
  return Status::Ok();
}

Status ShardFile::ReadFrame(uint64_t offset, DecodedFrame* out) {
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  // One buffer per thread, not per file (a fresh one would be zero-filled
  // and faulted in anew).
  thread_local std::vector<uint8_t> buf;
  ReadWindow w{&buf};
  uint64_t next = 0;
  return ReadFrameAt(offset, size, ScanMode::kExact, 0, &w, out, &next);
}

Status ShardFile::Scan(uint64_t end, const std::function<Status(uint64_t, const DecodedFrame&)>& fn, ScanMode mode,
                       uint64_t read_ahead) {
  return ScanRange(kHeaderSize, end, fn, mode, read_ahead);
}

Status ShardFile::ScanRange(uint64_t begin, uint64_t end,
                            const std::function<Status(uint64_t, const DecodedFrame&)>& fn, ScanMode mode,
                            uint64_t read_ahead) {
  // A search reading ahead asks for the file's length only when its reads
  // did not reach the committed length, or one found the file shorter
  // (File::Read: a kCorruption), so a failure found first (fn's, an I/O
  // error) is the one reported, and the frames before count for nothing
  // (the search fails): a search opens a file per partition, and reads a
  // small one whole. Everything else checks first.
  const bool check_first = mode != ScanMode::kSearch || read_ahead == 0;
  if (check_first) AETHER_RETURN_IF_ERROR(CheckLength(end));
  if (begin < kHeaderSize) return Status::Corruption(fmt::format("{}: no frame starts at {}", path(), begin));
  // Reused across frames and files (a search opens a file per partition,
  // and fresh ones would be zero-filled and faulted in anew); fn must not
  // scan again itself.
  thread_local DecodedFrame frame;
  thread_local std::vector<uint8_t> buf;
  ReadWindow w{&buf};
  for (uint64_t offset = begin; offset < end;) {
    uint64_t next = 0;
    if (Status read = ReadFrameAt(offset, end, mode, read_ahead, &w, &frame, &next); !read.ok()) {
      if (!check_first && read.code() == Code::kCorruption) AETHER_RETURN_IF_ERROR(CheckLength(end));
      return read;
    }
    AETHER_RETURN_IF_ERROR(fn(offset, frame));
    offset = next;
  }
  // A quantized frame's full rows past the last read are not read.
  if (!check_first && w.at + w.len < end) AETHER_RETURN_IF_ERROR(CheckLength(end));
  return Status::Ok();
}

Status ShardFile::ScanHeaders(uint64_t end, const std::function<Status(uint64_t, const FrameHeader&)>& fn) {
  AETHER_RETURN_IF_ERROR(CheckLength(end));
  for (uint64_t offset = kHeaderSize; offset < end;) {
    auto where = [&](const Status& s) { return s.WithContext(fmt::format("{}: frame at offset {}", path(), offset)); };
    if (offset + kFrameHeaderSize > end) return where(Status::Corruption("truncated frame header"));
    uint8_t header[kFrameHeaderSize];
    AETHER_RETURN_IF_ERROR(where(file_->Read(offset, kFrameHeaderSize, header)));
    FrameHeader h;
    AETHER_RETURN_IF_ERROR(where(DecodeFrameHeader(header, dim_, &h)));
    if (offset + h.frame_size() > end) return where(Status::Corruption("truncated frame"));
    AETHER_RETURN_IF_ERROR(fn(offset, h));
    offset += h.frame_size();
  }
  return Status::Ok();
}

}  // namespace aether
