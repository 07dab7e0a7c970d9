#include "hot/slot_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "format/coding.h"
#include "format/crc32c.h"
#include "format/file_header.h"

namespace aether {
namespace {

// Header (format/file_header.h): fields slot size, 0, 0.
void EncodeHeader(uint8_t* h, uint32_t dim) {
  EncodeFileHeader(h, SlotFile::kMagic, FileHeader{SlotFile::kVersion, dim, {uint32_t(SlotFile::SlotSize(dim)), 0, 0}});
}

Status CheckHeader(const uint8_t* h, uint32_t dim, const std::string& path) {
  FileHeader fh;
  AETHER_RETURN_IF_ERROR(DecodeFileHeader(h, SlotFile::kMagic, SlotFile::kVersion, "hot slot", path, &fh));
  if (fh.dim != dim || fh.fields[0] != SlotFile::SlotSize(dim))
    return Status::Corruption(
        fmt::format("{}: header says dim {}, slot size {}; store dim is {}", path, fh.dim, fh.fields[0], dim));
  return Status::Ok();
}

uint32_t SlotCrc(const uint8_t* slot, uint32_t dim) {
  // Covers the row id, the reserved word and the vector: everything but the crc.
  uint32_t c = crc32c::Value(slot, 8);
  return crc32c::Extend(c, slot + 12, SlotFile::SlotSize(dim) - 12);
}

}  // namespace

Status SlotFile::Create(Env* env, const std::string& path, uint32_t dim) {
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kCreate));
  uint8_t header[kHeaderSize];
  EncodeHeader(header, dim);
  AETHER_RETURN_IF_ERROR(file->Truncate(0));
  AETHER_RETURN_IF_ERROR(file->Write(0, header, kHeaderSize));
  return file->Sync();
}

static_assert(SlotFile::kHeaderSize == FileHeader::kSize);

Result<std::unique_ptr<SlotFile>> SlotFile::Open(Env* env, const std::string& path, uint32_t dim, bool writable) {
  uint8_t header[FileHeader::kSize];
  AETHER_ASSIGN_OR_RETURN(auto file, OpenWithHeader(env, path, writable, header));
  AETHER_RETURN_IF_ERROR(CheckHeader(header, dim, path));
  return std::unique_ptr<SlotFile>(new SlotFile(std::move(file), dim));
}

Result<uint64_t> SlotFile::SlotCount() {
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  return size < kHeaderSize ? 0 : (size - kHeaderSize) / SlotSize(dim_);
}

void SlotFile::EncodeSlot(uint8_t* dst, uint32_t dim, int64_t row_id, const float* vector) {
  EncodeFixed64(dst, static_cast<uint64_t>(row_id));
  EncodeFixed32(dst + 12, 0);
  EncodeFloats(dst + kSlotHeaderSize, vector, dim);
  EncodeFixed32(dst + 8, crc32c::Mask(SlotCrc(dst, dim)));
}

bool SlotFile::CheckSlot(const uint8_t* slot, uint32_t dim) {
  return crc32c::Unmask(DecodeFixed32(slot + 8)) == SlotCrc(slot, dim);
}

void SlotFile::CheckSlots(const uint8_t* first, uint64_t n, uint32_t dim, std::vector<uint8_t>* ok) {
  ok->resize(n);
  const uint64_t size = SlotSize(dim);
  uint64_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint8_t* s[3] = {first + i * size, first + (i + 1) * size, first + (i + 2) * size};
    uint32_t crc[3];
    const void* rest[3];
    for (int j = 0; j < 3; ++j) {
      crc[j] = crc32c::Value(s[j], 8);
      rest[j] = s[j] + 12;
    }
    crc32c::Extend3(crc, rest, size - 12);
    for (int j = 0; j < 3; ++j) (*ok)[i + j] = crc32c::Unmask(DecodeFixed32(s[j] + 8)) == crc[j];
  }
  for (; i < n; ++i) (*ok)[i] = CheckSlot(first + i * size, dim);
}

int64_t SlotFile::SlotRowId(const uint8_t* slot) { return static_cast<int64_t>(DecodeFixed64(slot)); }

Status SlotFile::WriteSlot(uint64_t slot, int64_t row_id, const float* vector) {
  std::vector<uint8_t> buf(SlotSize(dim_));
  EncodeSlot(buf.data(), dim_, row_id, vector);
  return file_->Write(SlotOffset(dim_, slot), buf.data(), buf.size());
}

Status SlotFile::WriteSlots(const std::vector<SlotWrite>& writes) {
  const uint64_t size = SlotSize(dim_);
  const size_t max_run = std::max<size_t>(1, kMaxWriteRun / size);
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < writes.size();) {
    size_t j = i + 1;
    while (j < writes.size() && j - i < max_run && writes[j].slot == writes[j - 1].slot + 1) ++j;
    buf.resize((j - i) * size);
    for (size_t k = i; k < j; ++k) EncodeSlot(buf.data() + (k - i) * size, dim_, writes[k].row_id, writes[k].vector);
    AETHER_RETURN_IF_ERROR(file_->Write(SlotOffset(dim_, writes[i].slot), buf.data(), buf.size()));
    i = j;
  }
  return Status::Ok();
}

Status SlotFile::ReadSlot(uint64_t slot, int64_t* row_id, float* vector) {
  std::vector<uint8_t> buf(SlotSize(dim_));
  AETHER_RETURN_IF_ERROR(file_->Read(SlotOffset(dim_, slot), buf.size(), buf.data()));
  if (!CheckSlot(buf.data(), dim_))
    return Status::Corruption(
        fmt::format("{}: slot {} at offset {}: checksum mismatch", path(), slot, SlotOffset(dim_, slot)));
  *row_id = SlotRowId(buf.data());
  DecodeFloats(vector, buf.data() + kSlotHeaderSize, dim_);
  return Status::Ok();
}

Status SlotFile::ReadRows(size_t n, const int64_t* slots, const int64_t* row_ids, float* out) {
  const uint64_t size = SlotSize(dim_);
  constexpr int64_t kMaxGap = 16;  // slots further apart than this are read separately
  thread_local std::vector<uint8_t> buf;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    // Unsigned: damaged metadata may hold any slot numbers (a negative one
    // is refused below), and their difference must not overflow.
    while (j < n && slots[j] > slots[j - 1] && uint64_t(slots[j]) - uint64_t(slots[j - 1]) <= uint64_t(kMaxGap)) ++j;
    if (slots[i] < 0) return Status::Corruption(fmt::format("{}: no slot {}", path(), slots[i]));
    const uint64_t first = uint64_t(slots[i]);
    buf.resize((uint64_t(slots[j - 1]) - first + 1) * size);
    AETHER_RETURN_IF_ERROR(ReadSlots(first, uint64_t(slots[j - 1]) - first + 1, buf.data()));
    for (size_t k = i; k < j; ++k) {
      const uint64_t slot = uint64_t(slots[k]);
      const uint8_t* image = buf.data() + (slot - first) * size;
      if (!CheckSlot(image, dim_))
        return Status::Corruption(
            fmt::format("{}: slot {} at offset {}: checksum mismatch", path(), slot, SlotOffset(dim_, slot)));
      if (SlotRowId(image) != row_ids[k])
        return Status::Corruption(fmt::format("{}: slot {} holds row {}, the metadata says row {}", path(), slot,
                                              SlotRowId(image), row_ids[k]));
      DecodeFloats(out + k * dim_, image + kSlotHeaderSize, dim_);
    }
    i = j;
  }
  return Status::Ok();
}

}  // namespace aether
