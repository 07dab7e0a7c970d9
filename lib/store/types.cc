// Names of the public enums, and Status formatting.
#include <fmt/format.h>

#include <cmath>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kBadInput:
      return "BadInput";
    case Code::kBusy:
      return "Busy";
    case Code::kCorruption:
      return "Corruption";
    case Code::kIOError:
      return "IOError";
    case Code::kNotSupported:
      return "NotSupported";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

namespace {

// True when every component is finite and at most kFastMax in magnitude (a
// float no greater than kMaxComponent): such a vector is in range without
// the exact loop below. NaN compares false, so it fails here. Branch-free
// blocks of 16 for the compiler to vectorize.
bool AllSmall(const float* v, size_t n) {
  constexpr float kFastMax = 9.99e14f;
  static_assert(double(kFastMax) <= kMaxComponent);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int bad = 0;
    for (size_t j = 0; j < 16; ++j) bad |= !(std::fabs(v[i + j]) <= kFastMax);
    if (bad) return false;
  }
  for (; i < n; ++i)
    if (!(std::fabs(v[i]) <= kFastMax)) return false;
  return true;
}

}  // namespace

std::string VectorProblem(const float* v, size_t n, Metric metric, const std::function<std::string(size_t)>& name) {
  // The common case, a vector in range under l2 or ip, costs one pass of
  // compares; anything else takes the exact loop, which names the problem.
  if (metric != Metric::kCosine && AllSmall(v, n)) return "";
  double norm2 = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return name(i) + " is not finite";
    if (std::fabs(v[i]) > kMaxComponent)
      return fmt::format("{} = {} is outside ±1e15, the range distances are computed in", name(i), v[i]);
    norm2 += double(v[i]) * double(v[i]);
  }
  if (metric == Metric::kCosine && norm2 == 0) return "all zeros, which has no direction under metric cosine";
  if (metric == Metric::kCosine && std::sqrt(norm2) < kMinCosineNorm)
    return fmt::format("its norm {} is below 1e-15, too close to zero for a direction under metric cosine",
                       std::sqrt(norm2));
  return "";
}

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kL2:
      return "l2";
    case Metric::kCosine:
      return "cosine";
    case Metric::kInnerProduct:
      return "ip";
  }
  return "unknown";
}

bool ParseMetric(const std::string& name, Metric* out) {
  if (name == "l2")
    *out = Metric::kL2;
  else if (name == "cosine")
    *out = Metric::kCosine;
  else if (name == "ip")
    *out = Metric::kInnerProduct;
  else
    return false;
  return true;
}

const char* ColdCodecName(ColdCodec c) {
  switch (c) {
    case ColdCodec::kZstd:
      return "zstd";
    case ColdCodec::kZstdShuffle:
      return "zstd-shuffle";
    case ColdCodec::kFloat16:
      return "float16";
    case ColdCodec::kSq8:
      return "sq8";
    case ColdCodec::kFloat32:
      return "float32";
  }
  return "?";
}

bool ParseColdCodec(const std::string& name, ColdCodec* out) {
  if (name == "zstd")
    *out = ColdCodec::kZstd;
  else if (name == "zstd-shuffle")
    *out = ColdCodec::kZstdShuffle;
  else if (name == "float16")
    *out = ColdCodec::kFloat16;
  else if (name == "sq8")
    *out = ColdCodec::kSq8;
  else if (name == "float32")
    *out = ColdCodec::kFloat32;
  else
    return false;
  return true;
}

const std::vector<std::string>& ColdCodecNames() {
  static const std::vector<std::string> names = {"zstd-shuffle", "zstd", "float16", "sq8", "float32"};
  return names;
}

const char* TierName(Tier t) { return t == Tier::kHot ? "hot" : t == Tier::kWarm ? "warm" : "cold"; }
bool ParseTier(const std::string& name, Tier* out) {
  for (Tier t : {Tier::kHot, Tier::kWarm, Tier::kCold})
    if (name == TierName(t)) return *out = t, true;
  return false;
}

}  // namespace aether
