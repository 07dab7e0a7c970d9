#include "aether/jsonl.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <new>
#include <nlohmann/json.hpp>
#include <set>

#include "format/utf8.h"

namespace aether {
namespace {

// m x 10^exp10 correctly rounded, as strtod reads it, for m < 2^53 and
// |exp10| <= 22: both are then exact doubles, and one multiplication or
// division rounds once (Clinger's fast path).
double ExactDecimal(uint64_t m, int exp10) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const double x = double(m);
  return exp10 < 0 ? x / kPow10[-exp10] : x * kPow10[exp10];
}

using nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] parse
// error at line 1, column 9: "; keep the column and the reason.
// The bytes it quotes ("last read: '...'") are the input's: when they are
// not UTF-8 (binary data), each byte from 0x80 on is written \xNN.
std::string CleanParseError(const std::string& what) {
  std::string msg = what;
  if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
  if (auto p = msg.find("parse error at line 1, "); p == 0) msg = msg.substr(23);
  if (ValidUtf8(msg)) return msg;
  std::string escaped;
  for (unsigned char c : msg) {
    if (c < 0x80)
      escaped += char(c);
    else
      fmt::format_to(std::back_inserter(escaped), "\\x{:02X}", c);
  }
  return escaped;
}

// nlohmann's DOM builder, also told of each object's keys: a repeated one
// is remembered (nlohmann would keep the last). Values pass straight
// through (no per-value callback, which cost a fifth of the parse).
// ParseJson parses one JSON object; refuses what the parser would otherwise
// let by: nesting past kMaxJsonDepth, a byte order mark (allowed only at the
// start of the input, where LineReader drops it), and a key repeated in an
// object, in the record and in its payload alike. Its DOM builder is
// nlohmann's, also told of each object's keys.
class DomCheckingKeys : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  explicit DomCheckingKeys(json* result) : Base(*result, /*allow_exceptions_=*/true) {}
  bool start_object(std::size_t n) {
    keys_.emplace_back();
    return Base::start_object(n);
  }
  bool end_object() {
    keys_.pop_back();
    return Base::end_object();
  }
  bool key(json::string_t& k) {
    if (!keys_.empty()) {
      auto& seen = keys_.back();  // objects are small: a scan beats a set
      if (duplicate.empty() && std::find(seen.begin(), seen.end(), k) != seen.end()) duplicate = k;
      seen.push_back(k);
    }
    return Base::key(k);
  }
  std::string duplicate;

 private:
  std::vector<std::vector<std::string>> keys_;
};

// ParseJson without the object requirement.
Status ParseJsonValue(const std::string& line, json* out, int max_depth = kMaxJsonDepth) {
  AETHER_RETURN_IF_ERROR(CheckJsonDepth(line, max_depth));
  if (line.compare(0, 3, "\xEF\xBB\xBF") == 0)
    return Status::BadInput("a UTF-8 byte order mark may only start the input");
  DomCheckingKeys dom(out);
  try {
    json::sax_parse(line, &dom);
  } catch (const json::exception& e) {
    std::string why = CleanParseError(e.what());
    if (why.find("ill-formed UTF-8") != std::string::npos) return Status::BadInput("invalid UTF-8: " + why);
    return Status::BadInput("malformed JSON: " + why);
  }
  if (!dom.duplicate.empty()) return Status::BadInput("duplicate key \"" + dom.duplicate + "\" in an object");
  return Status::Ok();
}

Status ParseJson(const std::string& line, json* out) {
  AETHER_RETURN_IF_ERROR(ParseJsonValue(line, out));
  if (!out->is_object()) return Status::BadInput("expected a JSON object");
  return Status::Ok();
}

Status VectorFromJson(const json& v, uint32_t dim, Metric metric, std::vector<float>* out) {
  if (!v.is_array()) return Status::BadInput("\"vector\" must be an array of numbers");
  if (v.empty()) return Status::BadInput("vector is empty");
  if (dim != 0 && v.size() != dim)
    return Status::BadInput(fmt::format("vector has {} values, store dimension is {}", v.size(), dim));
  out->resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) return Status::BadInput(fmt::format("vector[{}] is not a number", i));
    double d = v[i].get<double>();
    float f = static_cast<float>(d);
    if (!std::isfinite(d)) return Status::BadInput(fmt::format("vector[{}] is not finite", i));
    if (!std::isfinite(f)) return Status::BadInput(fmt::format("vector[{}] = {} is outside the float32 range", i, d));
    (*out)[i] = f;
  }
  std::string why =
      VectorProblem(out->data(), out->size(), metric, [](size_t i) { return fmt::format("vector[{}]", i); });
  if (!why.empty()) return Status::BadInput(why);
  return Status::Ok();
}

Status IdFromJson(const json& v, std::string* out) {
  if (v.is_number_integer())  // never converted: 1, 1.0 and 1e0 would be one id or three
    return Status::BadInput(fmt::format("\"id\" must be a string; write the number {} as \"{}\"", v.dump(), v.dump()));
  if (!v.is_string()) return Status::BadInput("\"id\" must be a string");
  *out = v.get<std::string>();
  if (out->empty()) return Status::BadInput("id is empty");
  if (out->size() > kMaxIdBytes)
    return Status::BadInput(fmt::format("id is {} bytes, the limit is {}", out->size(), kMaxIdBytes));
  return Status::Ok();
}

}  // namespace

bool LineReader::Fill() {
  // Never more than the stream has ready (so a reader of a pipe or a
  // terminal waits for no more than a line needs), at most 64 KiB at once.
  constexpr std::streamsize kChunk = 64 << 10;
  buf_.clear();
  pos_ = 0;
  std::streambuf* sb = in_->rdbuf();
  if (sb == nullptr || sb->sgetc() == std::char_traits<char>::eof()) return false;
  buf_.resize(size_t(std::min(std::max<std::streamsize>(sb->in_avail(), 1), kChunk)));
  buf_.resize(size_t(sb->sgetn(buf_.data(), std::streamsize(buf_.size()))));
  return !buf_.empty();
}

bool LineReader::Next(std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  if (broken_) return false;
  try {
    if (pos_ == buf_.size() && !Fill()) return false;
    // A chunk at a time up to the newline, so an endless line costs at most
    // max_bytes_ of memory and skip_bytes_ of reading (and a chunk).
    size_t skipped = 0;  // bytes of a too-long line after the one that passed the limit
    for (;;) {
      if (pos_ == buf_.size() && !Fill()) break;  // the end of the input ends the line
      const char* begin = buf_.data() + pos_;
      const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', buf_.size() - pos_));
      const size_t take = nl ? size_t(nl - begin) : buf_.size() - pos_;
      if (!*too_long && take <= max_bytes_ - line->size()) {
        line->append(begin, take);
      } else {
        if (!*too_long) {
          skipped = take - (max_bytes_ - line->size()) - 1;
          *too_long = true;
          line->clear();
        } else {
          skipped += take;
        }
        if (skip_bytes_ == 0 || skipped > skip_bytes_) {
          broken_ = true;  // the end is not near: stop reading here
          break;
        }
      }
      pos_ += take;
      if (nl) {
        ++pos_;
        break;
      }
    }
  } catch (const std::bad_alloc&) {
    throw;                             // out of memory, not a read error: exit 70 as everywhere
  } catch (const std::exception& e) {  // libstdc++ reports read errors (EISDIR, EIO) by throwing
    broken_ = true;
    status_ = Status::IOError(name_ + ": read: " + e.what());
    return false;
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  ++line_number_;
  if (line_number_ == 1 && line->compare(0, 3, "\xEF\xBB\xBF") == 0) line->erase(0, 3);
  return true;
}

std::string TooLongMessage(const LineReader& reader) {
  if (!reader.broken()) return fmt::format("line is longer than {} bytes (see --max-line-bytes)", reader.max_bytes());
  return fmt::format(
      "line is longer than {} bytes (see --max-line-bytes) and does not end within {} more, so "
      "reading stopped there",
      reader.max_bytes(), reader.skip_bytes());
}

bool IsBlank(const std::string& line) { return line.find_first_not_of(" \t\r\n") == std::string::npos; }

Status CheckJsonDepth(const std::string& text, int max_depth) {
  // Fewer brackets than the limit cannot nest past it (two vectorized counts).
  if (std::count(text.begin(), text.end(), '[') + std::count(text.begin(), text.end(), '{') <= max_depth)
    return Status::Ok();
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return Status::BadInput(fmt::format("arrays and objects nest deeper than {} levels", max_depth));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

Status CheckJsonValue(const std::string& text, int max_depth) {
  json j;
  return ParseJsonValue(text, &j, max_depth);
}

bool ValidPayload(const std::string& text) { return CheckJsonDepth(text).ok() && json::accept(text); }

namespace {

// The fast path for the common record, {"id": "...", "vector": [...]} with
// an optional "importance" (and for the common query, {"id"?, "vector"}),
// parsed in one pass with no allocation beyond the output. It accepts a
// line only when it is sure the general parser would accept it with the
// same result: plain ASCII ids without escapes, JSON numbers checked against
// the JSON grammar and converted with from_chars (correctly rounded, as
// strtod is), every check of the general path. Any other line (a payload,
// escapes, non-ASCII, duplicate keys, an error of any kind) returns false
// and takes the general path, which gives the error.
class FastRecordParser {
 public:
  FastRecordParser(const std::string& line, uint32_t dim, Metric metric, Record* out)
      : p_(line.data()),
        end_(line.data() + line.size()),
        dim_(dim),
        metric_(metric),
        id_(&out->id),
        vector_(&out->vector),
        importance_(&out->importance) {
    out->payload_json.clear();
  }
  // A query: no importance, the id optional.
  FastRecordParser(const std::string& line, uint32_t dim, Metric metric, Query* out)
      : p_(line.data()),
        end_(line.data() + line.size()),
        dim_(dim),
        metric_(metric),
        id_(&out->id),
        vector_(&out->vector) {
    out->id.clear();
  }

  bool Parse() {
    Ws();
    if (!Eat('{')) return false;
    bool id = false, vector = false, importance = false;
    if (importance_) *importance_ = 0.5;
    for (;;) {
      Ws();
      const char* key = nullptr;
      size_t len = 0;
      if (!PlainString(&key, &len)) return false;
      Ws();
      if (!Eat(':')) return false;
      Ws();
      if (len == 2 && std::memcmp(key, "id", 2) == 0 && !id) {
        const char* s = nullptr;
        size_t n = 0;
        if (!PlainString(&s, &n) || n == 0 || n > kMaxIdBytes) return false;
        id_->assign(s, n);
        id = true;
      } else if (len == 6 && std::memcmp(key, "vector", 6) == 0 && !vector) {
        if (!Vector()) return false;
        vector = true;
      } else if (len == 10 && std::memcmp(key, "importance", 10) == 0 && !importance && importance_) {
        double v = 0;
        if (!Number(&v) || !(v >= 0 && v <= 1)) return false;
        *importance_ = v;
        importance = true;
      } else {
        return false;
      }
      Ws();
      if (Eat('}')) break;
      if (!Eat(',')) return false;
    }
    Ws();
    return p_ == end_ && (id || !importance_) && vector;
  }

 private:
  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }
  bool Eat(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // A string of printable ASCII without escapes.
  bool PlainString(const char** s, size_t* n) {
    if (!Eat('"')) return false;
    const char* b = p_;
    while (p_ < end_ && *p_ != '"') {
      const auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c > 0x7E || c == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    *s = b;
    *n = size_t(p_ - b);
    ++p_;
    return true;
  }
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  // A JSON number, as strtod reads it (correctly rounded). Most numbers
  // have at most 15 significant digits and a small exponent: their digits
  // as an integer and the power of ten are then exact doubles, and one
  // multiplication or division rounds once, to the same double (Clinger's
  // fast path); the others go through std::from_chars.
  bool Number(double* v) {
    const char* b = p_;
    const bool negative = Eat('-');
    uint64_t mantissa = 0;
    int significant = 0, exp10 = 0;  // digits in mantissa (from the first non-zero); its power of ten
    auto digits = [&](bool fraction) {
      for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
        if (mantissa != 0 || *p_ != '0') {
          if (++significant <= 15) mantissa = mantissa * 10 + uint64_t(*p_ - '0');
        }
        if (fraction) --exp10;
      }
    };
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else {
      if (!(p_ < end_ && *p_ >= '1' && *p_ <= '9')) return false;
      digits(false);
    }
    bool integer = true;
    if (Eat('.')) {
      integer = false;
      if (!(p_ < end_ && *p_ >= '0' && *p_ <= '9')) return false;
      digits(true);
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      bool minus = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) minus = *p_++ == '-';
      if (!(p_ < end_ && *p_ >= '0' && *p_ <= '9')) return false;
      int e = 0;
      for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) e = std::min(e * 10 + (*p_ - '0'), 100000);
      exp10 += minus ? -e : e;
    }
    // (A token of at most 64 characters: its counts cannot overflow, and a
    // capped exponent cannot come back into range through a long fraction.)
    if (p_ - b <= 64 && significant <= 15 && exp10 >= -22 && exp10 <= 22) {
      const double x = ExactDecimal(mantissa, exp10);
      *v = negative && !(integer && mantissa == 0) ? -x : x;  // an integer "-0" reads as +0, as below
      return true;
    }
    auto r = std::from_chars(b, p_, *v);
    // nlohmann reads an integer literal as an integer: "-0" is then +0.
    if (integer && *v == 0) *v = 0;
    return r.ec == std::errc() && r.ptr == p_;  // out of double range: the general path reports it
  }
  bool Vector() {
    if (!Eat('[')) return false;
    std::vector<float>& v = *vector_;
    v.clear();
    if (dim_) v.reserve(dim_);
    double norm = 0;
    Ws();
    for (;;) {
      double d = 0;
      if (!Number(&d)) return false;
      const float f = static_cast<float>(d);
      if (!std::isfinite(d) || !std::isfinite(f) || std::fabs(f) > kMaxComponent) return false;
      v.push_back(f);
      norm += double(f) * f;
      Ws();
      if (Eat(']')) break;
      if (!Eat(',')) return false;
      Ws();
    }
    if (dim_ != 0 && v.size() != dim_) return false;
    return !(metric_ == Metric::kCosine && !(std::sqrt(norm) >= kMinCosineNorm));
  }

  const char* p_;
  const char* end_;
  uint32_t dim_;
  Metric metric_;
  std::string* id_;
  std::vector<float>* vector_;
  double* importance_ = nullptr;  // nullptr: a query
};

// Clears a record's kept state (a reused record keeps none of the line
// before's).
void ClearState(Record* out) {
  out->tier.reset();
  out->created_ms.reset();
  out->last_access_ms.reset();
  out->access_count.reset();
  out->pinned.reset();
  out->access_times.clear();
  out->access_times_older = 0;
}

}  // namespace

Status ParseRecord(const std::string& line, uint32_t dim, Metric metric, Record* out, bool ignore_unknown,
                   bool preserve_state) {
  ClearState(out);
  if (FastRecordParser(line, dim, metric, out).Parse()) return Status::Ok();
  return ParseRecordGeneral(line, dim, metric, out, ignore_unknown, preserve_state);
}

namespace {

bool IsStateField(const std::string& key) {
  return key == "tier" || key == "created_ms" || key == "last_access_ms" || key == "access_count" || key == "pinned" ||
         key == "access_history";
}

// A kept-state statistic: an integer in [0, max] (Record::kMaxKeptTime,
// kMaxKeptCount).
Status StateInteger(const json& j, const char* key, int64_t max, std::optional<int64_t>* out) {
  out->reset();
  if (!j.contains(key)) return Status::Ok();
  const json& v = j[key];
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(max)
                                           : v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= max;
  if (!fits) return Status::BadInput(fmt::format("\"{}\" must be an integer in [0, {}], not {}", key, max, v.dump()));
  *out = v.get<int64_t>();
  return Status::Ok();
}

// export's "access_history": {"times": [ms, ...], "older": n}: its shape
// and each value's bounds; how the times agree with each other and with
// the rest of the state is KeptStateProblem's.
Status AccessHistoryFromJson(const json& j, Record* out) {
  if (!j.contains("access_history")) return Status::Ok();
  const json& h = j["access_history"];
  const char* shape = "\"access_history\" must be {\"times\": [ms, ...], \"older\": n}";
  if (!h.is_object() || !h.contains("times") || !h["times"].is_array()) return Status::BadInput(shape);
  for (const auto& [key, value] : h.items()) {
    (void)value;
    if (key != "times" && key != "older") return Status::BadInput(fmt::format("{}, not with \"{}\"", shape, key));
  }
  if (h["times"].size() > Record::kMaxAccessTimes)
    return Status::BadInput(
        fmt::format("the access history holds {} times (at most {})", h["times"].size(), Record::kMaxAccessTimes));
  std::optional<int64_t> v;
  for (const json& t : h["times"]) {
    AETHER_RETURN_IF_ERROR(StateInteger(json{{"access time", t}}, "access time", Record::kMaxKeptTime, &v));
    out->access_times.push_back(*v);
  }
  AETHER_RETURN_IF_ERROR(StateInteger(h, "older", UINT32_MAX, &v));
  out->access_times_older = uint32_t(v.value_or(0));
  return Status::Ok();
}

}  // namespace

std::string KeptStateProblem(const Record& r) {
  auto outside = [](const std::optional<int64_t>& v, int64_t max) { return v && (*v < 0 || *v > max); };
  if (outside(r.created_ms, Record::kMaxKeptTime))
    return fmt::format("created_ms {} is outside [0, {}]", *r.created_ms, Record::kMaxKeptTime);
  if (outside(r.last_access_ms, Record::kMaxKeptTime))
    return fmt::format("last_access_ms {} is outside [0, {}]", *r.last_access_ms, Record::kMaxKeptTime);
  if (outside(r.access_count, Record::kMaxKeptCount))
    return fmt::format("access_count {} is outside [0, {}]", *r.access_count, Record::kMaxKeptCount);
  if (r.created_ms && r.last_access_ms && *r.last_access_ms < *r.created_ms)
    return fmt::format("last_access_ms {} is before created_ms {}", *r.last_access_ms, *r.created_ms);
  const std::vector<int64_t>& t = r.access_times;
  if (t.size() > Record::kMaxAccessTimes)
    return fmt::format("the access history holds {} times (at most {})", t.size(), Record::kMaxAccessTimes);
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 0 || t[i] > Record::kMaxKeptTime)
      return fmt::format("access time {} is outside [0, {}]", t[i], Record::kMaxKeptTime);
    if (i > 0 && t[i] <= t[i - 1])
      return fmt::format("access times must be distinct and ascending: {} after {}", t[i], t[i - 1]);
  }
  if (t.empty() && r.access_times_older > 0) return "an access history with times gone but none held";
  if (!t.empty() && r.last_access_ms && t.back() > *r.last_access_ms)
    return fmt::format("access time {} is after last_access_ms {}", t.back(), *r.last_access_ms);
  return "";
}

Status ParseRecordGeneral(const std::string& line, uint32_t dim, Metric metric, Record* out, bool ignore_unknown,
                          bool preserve_state) {
  json j;
  AETHER_RETURN_IF_ERROR(ParseJson(line, &j));
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (ignore_unknown || key == "id" || key == "vector" || key == "payload" || key == "importance") continue;
    if (IsStateField(key) && preserve_state) continue;
    return Status::BadInput(
        "unknown field \"" + key + "\" (fields: id, vector, payload, importance; " +
        (preserve_state      ? std::string("with --preserve-state also tier, created_ms, last_access_ms, access_count, "
                                                "pinned, access_history; ")
         : IsStateField(key) ? std::string("--preserve-state restores export's tier, created_ms, last_access_ms, "
                                           "access_count, pinned and access_history; ")
                             : std::string()) +
        "--ignore-unknown skips others)");
  }
  ClearState(out);
  if (preserve_state) {
    if (j.contains("tier")) {
      const json& t = j["tier"];
      Tier tier = Tier::kHot;
      if (!t.is_string() || !ParseTier(t.get<std::string>(), &tier))
        return Status::BadInput("\"tier\" must be \"hot\", \"warm\" or \"cold\", not " + t.dump());
      out->tier = tier;
    }
    AETHER_RETURN_IF_ERROR(StateInteger(j, "created_ms", Record::kMaxKeptTime, &out->created_ms));
    AETHER_RETURN_IF_ERROR(StateInteger(j, "last_access_ms", Record::kMaxKeptTime, &out->last_access_ms));
    AETHER_RETURN_IF_ERROR(StateInteger(j, "access_count", Record::kMaxKeptCount, &out->access_count));
    if (j.contains("pinned")) {
      if (!j["pinned"].is_boolean())
        return Status::BadInput("\"pinned\" must be true or false, not " + j["pinned"].dump());
      out->pinned = j["pinned"].get<bool>();
    }
    AETHER_RETURN_IF_ERROR(AccessHistoryFromJson(j, out));
    if (std::string why = KeptStateProblem(*out); !why.empty()) return Status::BadInput(why);
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
    if (!(v >= 0 && v <= 1)) return Status::BadInput(fmt::format("importance {} is outside [0, 1]", v));
    out->importance = v;
  }
  return Status::Ok();
}

Status ParseQuery(const std::string& line, uint32_t dim, Metric metric, Query* out) {
  if (FastRecordParser(line, dim, metric, out).Parse()) return Status::Ok();
  return ParseQueryGeneral(line, dim, metric, out);
}

Status ParseQueryGeneral(const std::string& line, uint32_t dim, Metric metric, Query* out) {
  json j;
  AETHER_RETURN_IF_ERROR(ParseJson(line, &j));
  for (const auto& [key, value] : j.items()) {  // the same rule as records: no field goes unread
    (void)value;
    if (key != "id" && key != "vector") return Status::BadInput("unknown field \"" + key + "\" (fields: id, vector)");
  }
  if (!j.contains("vector")) return Status::BadInput("missing field \"vector\"");
  out->id.clear();
  if (j.contains("id")) AETHER_RETURN_IF_ERROR(IdFromJson(j["id"], &out->id));
  return VectorFromJson(j["vector"], dim, metric, &out->vector);
}

Status ParseVector(const std::string& text, uint32_t dim, Metric metric, std::vector<float>* out) {
  json j;
  AETHER_RETURN_IF_ERROR(CheckJsonDepth(text));
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::BadInput("malformed JSON: " + CleanParseError(e.what()));
  }
  return VectorFromJson(j, dim, metric, out);
}

bool ShortestDecimalMisreads(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return (bits & 0x7fffffffu) == 0x15ae43fdu;
}

// The shortest decimal's digits and exponent from Dragonbox (fmt's own,
// which "{}" prints) read without text: at most 9 digits, exact in a
// double. Exponents past ExactDecimal's (values below about 1e-13 or above
// 1e31) go through the text.
double ShortestDecimalValue(float f) {
  if (ShortestDecimalMisreads(f) || f == 0 || !std::isfinite(f)) return double(f);
  const auto dec = fmt::detail::dragonbox::to_decimal(std::fabs(f));
  if (dec.exponent >= -22 && dec.exponent <= 22) {
    const double v = ExactDecimal(dec.significand, dec.exponent);
    return std::signbit(f) ? -v : v;
  }
  char text[64];
  const char* end = fmt::format_to_n(text, sizeof text, "{}", f).out;
  double d = 0;
  std::from_chars(text, end, d);
  return d;
}

}  // namespace aether
