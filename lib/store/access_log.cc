#include "store/access_log.h"

#include <fmt/format.h>

#include <cstring>

#include "format/coding.h"
#include "store/record_log.h"

namespace aether {
namespace {

constexpr RecordLogFormat kFormat{AccessLog::kMagic, AccessLog::kVersion, AccessLog::kRecordMagic};

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
  return record_log::Frame(kFormat, payload);
}

Status AccessLog::Reset(Env* env, const std::string& path, uint64_t epoch) {
  return record_log::Reset(env, path, kFormat, epoch);
}

Result<uint64_t> AccessLog::Epoch(Env* env, const std::string& path) { return record_log::Epoch(env, path, kFormat); }

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
  auto decode = [out](const uint8_t* p, uint32_t n) {
    AccessRecord r;
    if (!DecodePayload(p, n, &r)) return false;
    out->push_back(std::move(r));
    return true;
  };
  return record_log::Read(env, path, kFormat, from, decode, skipped_bytes);
}

}  // namespace aether
