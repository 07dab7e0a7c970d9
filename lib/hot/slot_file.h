// The hot tier's slot file (format-spec/hot_slots.md): a 32-byte header and
// fixed-size slots, each holding one memory's row id, a checksum and its
// float32 vector uncompressed.
//
// Written only with positional writes, extended at the end, truncated only by
// the journal replay under the exclusive store lock; read with positional
// reads too (never mapped: env.h says why). Which slots are live is decided
// by the metadata DB, never by the file. Not thread-safe, except ReadSlots.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aether/env.h"

namespace aether {

class SlotFile {
 public:
  static constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'H', 'O', 'T', '\0'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kHeaderSize = 32;
  static constexpr uint64_t kSlotHeaderSize = 16;

  static uint64_t SlotSize(uint32_t dim) { return kSlotHeaderSize + 4ull * dim; }
  static uint64_t SlotOffset(uint32_t dim, uint64_t slot) { return kHeaderSize + slot * SlotSize(dim); }

  // Writes a new file holding only the header and syncs it.
  static Status Create(Env* env, const std::string& path, uint32_t dim);
  static Result<std::unique_ptr<SlotFile>> Open(Env* env, const std::string& path, uint32_t dim, bool writable);

  uint32_t dim() const { return dim_; }
  const std::string& path() const { return file_->path(); }
  // Whole slots in the file (a torn trailing slot is not counted).
  Result<uint64_t> SlotCount();

  Status WriteSlot(uint64_t slot, int64_t row_id, const float* vector);
  // One slot's new content.
  struct SlotWrite {
    uint64_t slot;
    int64_t row_id;
    const float* vector;
  };
  // Writes each slot: one pwrite per run of consecutive ascending slots (at
  // most kMaxWriteRun bytes each), so a batch of new slots costs a few
  // system calls, not one per memory.
  Status WriteSlots(const std::vector<SlotWrite>& writes);
  static constexpr uint64_t kMaxWriteRun = 4u << 20;
  Status Sync() { return file_->Sync(); }
  Status TruncateToSlots(uint64_t slots) { return file_->Truncate(SlotOffset(dim_, slots)); }
  // Reads and checks one slot: Corruption on a checksum mismatch.
  Status ReadSlot(uint64_t slot, int64_t* row_id, float* vector);
  // Reads slots `slots` (ascending), each checked against its checksum and
  // row_ids[i], into out[i * dim, (i + 1) * dim): one pread per run of
  // nearby slots. Safe to call from several threads at once.
  Status ReadRows(size_t n, const int64_t* slots, const int64_t* row_ids, float* out);
  // Reads the raw images of slots [first, first + n) into out (n *
  // SlotSize bytes), unchecked: the scan checks the slots it uses. One pread;
  // safe to call from several threads at once.
  Status ReadSlots(uint64_t first, uint64_t n, uint8_t* out) {
    return file_->Read(SlotOffset(dim_, first), n * SlotSize(dim_), out);
  }

  // Encodes / decodes a slot image of SlotSize(dim) bytes.
  static void EncodeSlot(uint8_t* dst, uint32_t dim, int64_t row_id, const float* vector);
  // Returns false when the slot's checksum does not match.
  static bool CheckSlot(const uint8_t* slot, uint32_t dim);
  // CheckSlot for n consecutive slot images, three at a time (interleaved
  // CRCs): (*ok)[i] is 1 when slot i matches its checksum.
  static void CheckSlots(const uint8_t* first, uint64_t n, uint32_t dim, std::vector<uint8_t>* ok);
  static int64_t SlotRowId(const uint8_t* slot);
  static const float* SlotVector(const uint8_t* slot) { return reinterpret_cast<const float*>(slot + kSlotHeaderSize); }

 private:
  SlotFile(std::unique_ptr<File> file, uint32_t dim) : file_(std::move(file)), dim_(dim) {}
  std::unique_ptr<File> file_;
  uint32_t dim_;
};

}  // namespace aether
