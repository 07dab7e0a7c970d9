#include "aether/jsonl.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aether {
namespace {

using nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] parse
// error at line 1, column 9: "; keep the column and the reason.
std::string CleanParseError(const std::string& what) {
  std::string msg = what;
  if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
  if (auto p = msg.find("parse error at line 1, "); p == 0) msg = msg.substr(23);
  return msg;
}

Status ParseJson(const std::string& line, json* out) {
  try {
    *out = json::parse(line);
  } catch (const json::exception& e) {
    std::string why = CleanParseError(e.what());
    if (why.find("ill-formed UTF-8") != std::string::npos)
      return Status::BadInput("invalid UTF-8: " + why);
    return Status::BadInput("malformed JSON: " + why);
  }
  if (!out->is_object()) return Status::BadInput("expected a JSON object");
  return Status::Ok();
}

Status VectorFromJson(const json& v, uint32_t dim, Metric metric, std::vector<float>* out) {
  if (!v.is_array()) return Status::BadInput("\"vector\" must be an array of numbers");
  if (v.empty()) return Status::BadInput("vector is empty");
  if (dim != 0 && v.size() != dim)
    return Status::BadInput(
        fmt::format("vector has {} values, store dimension is {}", v.size(), dim));
  out->resize(v.size());
  double norm = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) return Status::BadInput(fmt::format("vector[{}] is not a number", i));
    double d = v[i].get<double>();
    float f = static_cast<float>(d);
    if (!std::isfinite(d)) return Status::BadInput(fmt::format("vector[{}] is not finite", i));
    if (!std::isfinite(f))
      return Status::BadInput(fmt::format("vector[{}] = {} is outside the float32 range", i, d));
    (*out)[i] = f;
    norm += double(f) * f;
  }
  if (metric == Metric::kCosine && norm == 0)
    return Status::BadInput("vector is all zeros, which has no direction under metric cosine");
  return Status::Ok();
}

Status IdFromJson(const json& v, std::string* out) {
  if (!v.is_string()) return Status::BadInput("\"id\" must be a string");
  *out = v.get<std::string>();
  if (out->empty()) return Status::BadInput("id is empty");
  if (out->size() > kMaxIdBytes)
    return Status::BadInput(fmt::format("id is {} bytes, the limit is {}", out->size(), kMaxIdBytes));
  return Status::Ok();
}

}  // namespace

bool LineReader::Next(std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* sb = in_->rdbuf();
  if (sb == nullptr || sb->sgetc() == std::char_traits<char>::eof()) return false;
  // Byte by byte through the stream buffer, so an endless line costs at most
  // max_bytes_ of memory.
  for (;;) {
    int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof() || c == '\n') break;
    if (*too_long) continue;
    if (line->size() >= max_bytes_) {
      *too_long = true;
      line->clear();
      continue;
    }
    line->push_back(static_cast<char>(c));
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  ++line_number_;
  return true;
}

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r\n") == std::string::npos;
}

Status ParseRecord(const std::string& line, uint32_t dim, Metric metric, Record* out) {
  json j;
  AETHER_RETURN_IF_ERROR(ParseJson(line, &j));
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (key != "id" && key != "vector" && key != "payload" && key != "importance")
      return Status::BadInput("unknown field \"" + key + "\" (fields: id, vector, payload, importance)");
  }
  if (!j.contains("id")) return Status::BadInput("missing field \"id\"");
  if (!j.contains("vector")) return Status::BadInput("missing field \"vector\"");
  AETHER_RETURN_IF_ERROR(IdFromJson(j["id"], &out->id));
  AETHER_RETURN_IF_ERROR(VectorFromJson(j["vector"], dim, metric, &out->vector));
  out->payload_json.clear();
  if (j.contains("payload") && !j["payload"].is_null()) out->payload_json = j["payload"].dump();
  out->importance = 0.5;
  if (j.contains("importance")) {
    const json& imp = j["importance"];
    if (!imp.is_number()) return Status::BadInput("\"importance\" must be a number in [0, 1]");
    double v = imp.get<double>();
    if (!(v >= 0 && v <= 1))
      return Status::BadInput(fmt::format("importance {} is outside [0, 1]", v));
    out->importance = v;
  }
  return Status::Ok();
}

Status ParseQuery(const std::string& line, uint32_t dim, Metric metric, Query* out) {
  json j;
  AETHER_RETURN_IF_ERROR(ParseJson(line, &j));
  if (!j.contains("vector")) return Status::BadInput("missing field \"vector\"");
  out->id.clear();
  if (j.contains("id")) AETHER_RETURN_IF_ERROR(IdFromJson(j["id"], &out->id));
  return VectorFromJson(j["vector"], dim, metric, &out->vector);
}

Status ParseVector(const std::string& text, uint32_t dim, Metric metric, std::vector<float>* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::BadInput("malformed JSON: " + CleanParseError(e.what()));
  }
  return VectorFromJson(j, dim, metric, out);
}

}  // namespace aether
