#include "store/metrics_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "format/coding.h"

namespace aether {
namespace {

bool DecodeString(const uint8_t** p, const uint8_t* end, std::string* s) {
  if (end - *p < 2) return false;
  const uint32_t n = DecodeFixed16(*p);
  *p += 2;
  if (end - *p < int64_t(n)) return false;
  s->assign(reinterpret_cast<const char*>(*p), n);
  *p += n;
  return true;
}

bool DecodePayload(const uint8_t* p, uint32_t n, MetricsRecord* r) {
  const uint8_t* end = p + n;
  if (n < 12) return false;
  r->ts_ms = int64_t(DecodeFixed64(p));
  const uint32_t count = DecodeFixed32(p + 8);
  p += 12;
  if (count > n / 12 || count > MetricsLog::kMaxSamples) return false;  // each sample takes at least 12 bytes
  r->samples.resize(count);
  for (MetricSample& s : r->samples) {
    if (!DecodeString(&p, end, &s.name) || !DecodeString(&p, end, &s.labels) || end - p < 8) return false;
    s.value = int64_t(DecodeFixed64(p));
    p += 8;
    if (s.value < 0 || s.value > MetricsLog::kMaxValue) return false;
    if (!ValidMetricName(s.name) || !ValidMetricLabels(s.labels)) return false;
  }
  return p == end;
}

}  // namespace

Result<std::string> MetricsLog::Encode(const MetricsRecord& r) {
  std::string payload;
  PutFixed64(&payload, uint64_t(r.ts_ms));
  PutFixed32(&payload, uint32_t(r.samples.size()));
  for (const MetricSample& s : r.samples) {
    if (s.name.size() > 0xffff || s.labels.size() > 0xffff)
      return Status::InvalidArgument("metric name or labels over 65,535 bytes: " + s.name.substr(0, 64));
    PutFixed16(&payload, uint16_t(s.name.size()));
    payload += s.name;
    PutFixed16(&payload, uint16_t(s.labels.size()));
    payload += s.labels;
    PutFixed64(&payload, uint64_t(s.value));
  }
  for (const MetricSample& s : r.samples)
    if (s.value < 0 || s.value > kMaxValue)
      return Status::InvalidArgument(fmt::format("metric {} = {} outside [0, 2^40]", s.name, s.value));
  if (r.samples.size() > kMaxSamples) return Status::InvalidArgument("metrics record of over 4096 samples");
  if (payload.size() > record_log::kMaxRecordBytes)
    return Status::InvalidArgument(fmt::format("metrics record of {} bytes", payload.size()));
  return record_log::Frame(kFormat, payload);
}

Status MetricsLog::Append(Env* env, const std::string& path, const std::string& record, uint64_t new_epoch,
                          double wait_seconds) {
  if (env->TypeOf(path) != FileType::kRegular)
    return Status::FailedPrecondition(path +
                                      ": missing or not a regular file (a writer makes it); metrics not recorded");
  AETHER_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kReadWrite));
  AETHER_ASSIGN_OR_RETURN(auto lock, env->Lock(path, LockMode::kExclusive, wait_seconds));
  AETHER_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  AETHER_ASSIGN_OR_RETURN(uint64_t epoch, record_log::Epoch(env, path, kFormat));
  if (epoch == 0) {
    // Only a file a fold left empty, or with part of its header, is ours to
    // start again; anything else (a newer aether's log, damage) is left
    // for a writer to judge.
    const std::string header = record_log::Header(kFormat, 0);
    std::string head(std::min<uint64_t>(size, 16), '\0');
    if (!head.empty()) AETHER_RETURN_IF_ERROR(f->Read(0, head.size(), head.data()));
    if (size >= record_log::kHeaderSize || header.compare(0, head.size(), head) != 0)
      return Status::FailedPrecondition(path + ": not a metrics log this aether writes; metrics not recorded");
    AETHER_RETURN_IF_ERROR(record_log::Reset(env, path, kFormat, new_epoch));
    size = record_log::kHeaderSize;
  }
  if (size + record.size() > kMaxLogBytes)
    return Status::FailedPrecondition(path + ": over 64 MiB, waiting for a writer to fold it; metrics not recorded");
  return f->Write(size, record.data(), record.size());
}

Result<uint64_t> MetricsLog::Read(Env* env, const std::string& path, uint64_t from, std::vector<MetricsRecord>* out,
                                  uint64_t* skipped_bytes) {
  auto decode = [out](const uint8_t* p, uint32_t n) {
    MetricsRecord r;
    if (!DecodePayload(p, n, &r)) return false;
    out->push_back(std::move(r));
    return true;
  };
  return record_log::Read(env, path, kFormat, from, decode, skipped_bytes);
}

}  // namespace aether
