#include "store/record_log.h"

#include <cstring>

#include "format/coding.h"
#include "format/crc32c.h"

namespace aether::record_log {

std::string Header(const RecordLogFormat& f, uint64_t epoch) {
  std::string h(f.magic, 8);
  PutFixed32(&h, f.version);
  PutFixed32(&h, 0);
  PutFixed64(&h, epoch);
  return h;
}

std::string Frame(const RecordLogFormat& f, const std::string& payload) {
  std::string out;
  PutFixed32(&out, f.record_magic);
  PutFixed32(&out, uint32_t(payload.size()));
  PutFixed32(&out, crc32c::Mask(crc32c::Value(payload.data(), payload.size())));
  PutFixed32(&out, 0);
  return out + payload;
}

Result<uint64_t> Epoch(Env* env, const std::string& path, const RecordLogFormat& f) {
  if (env->TypeOf(path) != FileType::kRegular) return uint64_t(0);
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size < kHeaderSize) return uint64_t(0);
  uint8_t h[kHeaderSize];
  AETHER_RETURN_IF_ERROR(file->Read(0, kHeaderSize, h));
  if (std::memcmp(h, f.magic, 8) != 0 || DecodeFixed32(h + 8) != f.version) return uint64_t(0);
  return DecodeFixed64(h + 16);
}

Status Reset(Env* env, const std::string& path, const RecordLogFormat& f, uint64_t epoch) {
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kCreate));
  AETHER_RETURN_IF_ERROR(file->Truncate(0));
  const std::string h = Header(f, epoch);
  return file->Write(0, h.data(), h.size());
}

Result<uint64_t> Read(Env* env, const std::string& path, const RecordLogFormat& f, uint64_t from,
                      const DecodeFn& decode, uint64_t* skipped_bytes) {
  AETHER_ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (from < kHeaderSize || from >= size) return std::max(from, size);
  std::string data(size - from, '\0');
  AETHER_RETURN_IF_ERROR(file->Read(from, data.size(), data.data()));
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t at = 0;
  while (at + kRecordHeaderSize <= data.size()) {
    const uint32_t magic = DecodeFixed32(p + at), n = DecodeFixed32(p + at + 4);
    const bool whole = magic == f.record_magic && n <= kMaxRecordBytes && at + kRecordHeaderSize + n <= data.size();
    if (whole && crc32c::Unmask(DecodeFixed32(p + at + 8)) == crc32c::Value(p + at + kRecordHeaderSize, n) &&
        decode(p + at + kRecordHeaderSize, n)) {
      at += kRecordHeaderSize + n;
      continue;
    }
    ++*skipped_bytes;  // torn or damaged: look for the next record
    ++at;
  }
  *skipped_bytes += data.size() - at;
  return size;
}

}  // namespace aether::record_log
