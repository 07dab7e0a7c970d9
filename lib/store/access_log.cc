#include "store/access_log.h"

#include <fmt/format.h>

#include <cstring>

#include "format/coding.h"
#include "format/crc32c.h"

namespace aether {
namespace {

std::string Header(uint64_t epoch) {
  std::string h(AccessLog::kMagic, sizeof(AccessLog::kMagic));
  PutFixed32(&h, AccessLog::kVersion);
  PutFixed32(&h, 0);
  PutFixed64(&h, epoch);
  return h;
}

// Decodes one payload; false when its counts disagree with its length.
bool DecodePayload(const uint8_t* p, uint32_t n, AccessRecord* r) {
  if (n < 16) return false;
  r->ts_ms = int64_t(DecodeFixed64(p));
  const uint64_t hits = DecodeFixed32(p + 8), restores = DecodeFixed32(p + 12);
  if (16 + hits * 8 + restores * 16 != n) return false;
  const uint8_t* q = p + 16;
  r->hits.resize(hits);
  for (uint64_t i = 0; i < hits; ++i, q += 8) r->hits[i] = int64_t(DecodeFixed64(q));
  r->restores.resize(restores);
  for (uint64_t i = 0; i < restores; ++i, q += 16) {
    double priority;
    uint64_t bits = DecodeFixed64(q + 8);
    std::memcpy(&priority, &bits, 8);
    r->restores[i] = {int64_t(DecodeFixed64(q)), priority};
  }
  return true;
}

}  // namespace

std::string AccessLog::Encode(const AccessRecord& r) {
  std::string payload;
  PutFixed64(&payload, uint64_t(r.ts_ms));
  PutFixed32(&payload, uint32_t(r.hits.size()));
  PutFixed32(&payload, uint32_t(r.restores.size()));
  for (int64_t h : r.hits) PutFixed64(&payload, uint64_t(h));
  for (const auto& [row, priority] : r.restores) {
    uint64_t bits;
    std::memcpy(&bits, &priority, 8);
    PutFixed64(&payload, uint64_t(row));
    PutFixed64(&payload, bits);
  }
  std::string out;
  PutFixed32(&out, kRecordMagic);
  PutFixed32(&out, uint32_t(payload.size()));
  PutFixed32(&out, crc32c::Mask(crc32c::Value(payload.data(), payload.size())));
  PutFixed32(&out, 0);
  return out + payload;
}

Status AccessLog::Reset(Env* env, const std::string& path, uint64_t epoch) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kCreate));
  AETHER_RETURN_IF_ERROR(f->Truncate(0));
  const std::string h = Header(epoch);
  return f->Write(0, h.data(), h.size());
}

Result<uint64_t> AccessLog::Epoch(Env* env, const std::string& path) {
  if (env->TypeOf(path) != FileType::kRegular) return uint64_t(0);
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size < kHeaderSize) return uint64_t(0);
  uint8_t h[kHeaderSize];
  AETHER_RETURN_IF_ERROR(f->Read(0, kHeaderSize, h));
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0 || DecodeFixed32(h + 8) != kVersion) return uint64_t(0);
  return DecodeFixed64(h + 16);
}

Result<bool> AccessLog::Append(Env* env, const std::string& path, uint64_t epoch, const std::string& record) {
  if (epoch == 0 || env->TypeOf(path) != FileType::kRegular) return false;
  AETHER_ASSIGN_OR_RETURN(auto lock, env->Lock(path, LockMode::kExclusive, /*wait_seconds=*/5));
  AETHER_ASSIGN_OR_RETURN(uint64_t current, Epoch(env, path));
  if (current != epoch) return false;
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kReadWrite));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  AETHER_RETURN_IF_ERROR(f->Write(size, record.data(), record.size()));
  return true;
}

Result<uint64_t> AccessLog::Read(Env* env, const std::string& path, uint64_t from, std::vector<AccessRecord>* out,
                                 uint64_t* skipped_bytes) {
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kRead));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (from < kHeaderSize || from >= size) return std::max(from, size);
  std::string data(size - from, '\0');
  AETHER_RETURN_IF_ERROR(f->Read(from, data.size(), data.data()));
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t at = 0;
  while (at + kRecordHeaderSize <= data.size()) {
    const uint32_t magic = DecodeFixed32(p + at), n = DecodeFixed32(p + at + 4);
    AccessRecord r;
    const bool whole = magic == kRecordMagic && n <= kMaxRecordBytes && at + kRecordHeaderSize + n <= data.size();
    if (whole && crc32c::Unmask(DecodeFixed32(p + at + 8)) == crc32c::Value(p + at + kRecordHeaderSize, n) &&
        DecodePayload(p + at + kRecordHeaderSize, n, &r)) {
      out->push_back(std::move(r));
      at += kRecordHeaderSize + n;
      continue;
    }
    ++*skipped_bytes;  // torn or damaged: look for the next record
    ++at;
  }
  *skipped_bytes += data.size() - at;
  return size;
}

}  // namespace aether
