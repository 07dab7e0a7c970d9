// A cold shard file (format-spec/cold_shard.md): a 32-byte header followed by
// frames appended one batch at a time. The staging shard holds cold records
// no index covers yet; partition shards arrive with the index.
//
// The metadata DB records each shard's committed length; bytes past it belong
// to an unfinished migration and are truncated by the replay. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aether/env.h"
#include "cold/frame.h"

namespace aether {

constexpr uint32_t kStagingPartition = 0xFFFFFFFFu;

class ShardFile {
 public:
  static constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'C', 'O', 'L', 'D'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kHeaderSize = 32;

  // Writes a new file holding only the header and (with sync) syncs it; the
  // caller syncs the directory. kCreateNew: fails if the name exists.
  static Status Create(Env* env, const std::string& path, uint32_t dim, uint32_t generation, uint32_t partition,
                       bool sync = true, OpenMode mode = OpenMode::kCreate);
  static Result<std::unique_ptr<ShardFile>> Open(Env* env, const std::string& path, uint32_t dim, bool writable);
  // Opens a shard the metadata names (a registered shard, not a journal's
  // target): its file missing is damage to the store (kCorruption), not a
  // missing input (kNotFound), for reading and for writing alike.
  static Result<std::unique_ptr<ShardFile>> OpenNamed(Env* env, const std::string& path, uint32_t dim,
                                                      bool writable = false);

  const std::string& path() const { return file_->path(); }
  Result<uint64_t> Size() { return file_->Size(); }
  Status WriteAt(uint64_t offset, const std::string& bytes) { return file_->Write(offset, bytes.data(), bytes.size()); }
  Status Sync() { return file_->Sync(); }
  Status Truncate(uint64_t size) { return file_->Truncate(size); }

  // Reads and decodes the frame at `offset`; errors name the file and offset.
  Status ReadFrame(uint64_t offset, DecodedFrame* out);
  // Decodes every frame in [kHeaderSize, end) in order; `fn` gets a frame
  // that is reused (per thread), so it must not scan again itself. `end` must be a frame
  // boundary (the committed length). kExact gives every frame's exact
  // vectors; kSearch reads only the scan section of a quantized frame and
  // gives its approximations (DecodedFrame::approximate).
  // read_ahead: bytes read at once from a frame's start, when more than it
  // needs (the frames after it, up to `end`): for a caller that reads them
  // all (a search of lossless frames, a small partition's in one read).
  enum class ScanMode { kExact, kSearch };
  Status Scan(uint64_t end, const std::function<Status(uint64_t, const DecodedFrame&)>& fn,
              ScanMode mode = ScanMode::kExact, uint64_t read_ahead = 0);
  // The same for the frames in [begin, end); begin must be a frame boundary.
  Status ScanRange(uint64_t begin, uint64_t end, const std::function<Status(uint64_t, const DecodedFrame&)>& fn,
                   ScanMode mode = ScanMode::kExact, uint64_t read_ahead = 0);
  // Reads only the header of every frame in [kHeaderSize, end), in order
  // (one small read each: which codecs a shard holds, for `upgrade`).
  Status ScanHeaders(uint64_t end, const std::function<Status(uint64_t, const FrameHeader&)>& fn);
  // Reads full-precision row `index` of the quantized frame at `offset`,
  // checked against its checksum and `row_id`, into out[0, dim).
  Status ReadFullRow(uint64_t offset, uint32_t index, int64_t row_id, float* out) {
    return ReadFullRows(offset, 1, &index, &row_id, out);
  }
  // The same for n rows, indexes ascending, into out[i * dim, (i + 1) * dim):
  // one read per run of nearby rows (a re-rank asks for a few rows of many
  // frames, often several of one).
  Status ReadFullRows(uint64_t offset, size_t n, const uint32_t* indexes, const int64_t* row_ids, float* out);
  // The exact vectors of rows `indexes` (ascending) of the frame at `offset`,
  // whatever its codec, each checked against row_ids[i], into out[i * dim,
  // (i + 1) * dim): a quantized frame's full-precision rows alone
  // (ReadFullRows), a lossless frame decoded whole.
  Status ReadRows(uint64_t offset, size_t n, const uint32_t* indexes, const int64_t* row_ids, float* out);

 private:
  ShardFile(std::unique_ptr<File> file, uint32_t dim) : file_(std::move(file)), dim_(dim) {}
  // kCorruption naming both lengths when the file is shorter than `end`
  // (its committed length).
  Status CheckLength(uint64_t end);
  // File bytes [at, at + len) in bytes[0, len): one scan's reads.
  struct ReadWindow {
    std::vector<uint8_t>* bytes;
    uint64_t at = 0;
    uint64_t len = 0;
  };
  // Points *p at file bytes [offset, offset + n), reading them unless the
  // window holds them: max(n, min(ahead, limit - offset)) bytes from offset.
  Status Fetch(uint64_t offset, uint64_t n, uint64_t limit, uint64_t ahead, ReadWindow* w, const uint8_t** p);
  Status ReadFrameAt(uint64_t offset, uint64_t limit, ScanMode mode, uint64_t ahead, ReadWindow* w, DecodedFrame* out,
                     uint64_t* next);
  std::unique_ptr<File> file_;
  uint32_t dim_;
};

}  // namespace aether
