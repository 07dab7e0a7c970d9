#include "aether/vector_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "aether/jsonl.h"
#include "format/coding.h"
#include "format/utf8.h"

namespace aether {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kMaxNpyHeader = 1 << 20;

// A .npy header: the Python dict literal NumPy writes, exactly its three
// keys ('descr', 'fortran_order', 'shape'), each once, then only the
// padding (spaces, a newline). Anything else is refused rather than
// guessed at (a duplicate key, another key, text after the dict).
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::string> shape;  // the dimensions' digits
  std::string shape_text;          // as written between the parentheses
};

class NpyHeaderParser {
 public:
  explicit NpyHeaderParser(const std::string& text) : s_(text) {}

  // "" when the header is one NumPy writes; else why not.
  std::string Parse(NpyHeader* h) {
    Space();
    if (!Take('{')) return "the .npy header is not a Python dict ({...})";
    bool seen[3] = {false, false, false};
    static constexpr const char* kKeys[3] = {"descr", "fortran_order", "shape"};
    for (Space(); !Take('}'); Space()) {
      std::string key;
      if (!String(&key)) return At("a quoted key");
      const int which = int(std::find_if(kKeys, kKeys + 3, [&](const char* k) { return key == k; }) - kKeys);
      if (which == 3)
        return fmt::format("the .npy header has a key '{}' (NumPy writes only 'descr', 'fortran_order', 'shape')", key);
      if (seen[which]) return fmt::format("the .npy header has the key '{}' twice", key);
      seen[which] = true;
      Space();
      if (!Take(':')) return At("':' after '" + key + "'");
      Space();
      if (which == 0) {
        if (Peek() == '[') return "dtype is structured (a record type); save a plain float32 array";
        if (!String(&h->descr)) return At("a quoted dtype");
      } else if (which == 1) {
        if (Word("True")) {
          h->fortran_order = true;
        } else if (!Word("False")) {
          return At("True or False");
        }
      } else if (std::string why = Shape(h); !why.empty()) {
        return why;
      }
      Space();
      if (Take(',')) continue;
      Space();
      if (Peek() != '}') return At("',' or '}'");
    }
    for (int i = 0; i < 3; ++i)
      if (!seen[i]) return fmt::format("the .npy header has no '{}'", kKeys[i]);
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n')) ++pos_;
    if (pos_ != s_.size()) return fmt::format("the .npy header has text after its dict (byte {})", pos_);
    return "";
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void Space() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  bool Take(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Word(const char* w) {
    const size_t n = std::strlen(w);
    if (s_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  // A '...' or "..." string without escapes (none of NumPy's need one).
  bool String(std::string* out) {
    const char q = Peek();
    if (q != '\'' && q != '"') return false;
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) return false;
    out->assign(s_, pos_ + 1, end - pos_ - 1);
    if (out->find('\\') != std::string::npos) return false;
    pos_ = end + 1;
    return true;
  }
  // A tuple of integers: (), (N,), (N, D), ...
  std::string Shape(NpyHeader* h) {
    if (!Take('(')) return At("a shape tuple");
    const size_t start = pos_;
    const size_t close = s_.find(')', pos_);
    if (close == std::string::npos) return At("a shape tuple");
    h->shape_text.assign(s_, start, close - start);
    for (Space(); !Take(')'); Space()) {
      size_t digits = 0;
      while (pos_ + digits < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_ + digits]))) ++digits;
      if (digits == 0) return fmt::format("shape ({}) is not a tuple of sizes", h->shape_text);
      h->shape.push_back(s_.substr(pos_, digits));
      pos_ += digits;
      Space();
      if (!Take(',') && Peek() != ')') return fmt::format("shape ({}) is not a tuple of sizes", h->shape_text);
    }
    return "";
  }
  std::string At(const std::string& expected) const {
    return fmt::format("the .npy header is malformed: {} expected at byte {}", expected, pos_);
  }

  const std::string& s_;
  size_t pos_ = 0;
};

std::string ParseNpyHeader(const std::string& text, NpyHeader* h) { return NpyHeaderParser(text).Parse(h); }

// Reads exactly n bytes; false on a short read (end of input).
bool ReadFully(std::istream* in, void* dst, size_t n, size_t* got) {
  in->read(static_cast<char*>(dst), std::streamsize(n));
  *got = size_t(in->gcount());
  return *got == n;
}

}  // namespace

Status VectorFileReader::Fail(const std::string& why) {
  broken_ = true;
  return Status::BadInput(name_ + ": " + why);
}

Status VectorFileReader::BadValue(uint64_t offset, const std::string& why) {
  // The vector is consumed: the next Read goes on with the one after it.
  offset_ = offset + (format_ == VectorFormat::kFvecs ? 4 : 0) + 4ull * dim_;
  ++count_;
  return Status::BadInput(fmt::format("{}: vector {} (byte {}): {}", name_, count_ - 1, offset, why));
}

Status VectorFileReader::Open() {
  if (format_ == VectorFormat::kNpy) return OpenNpy();
  uint8_t word[4];
  size_t got = 0;
  if (!ReadFully(in_, word, 4, &got)) {
    if (got == 0) return Status::Ok();  // no vectors: dim() stays 0
    return Fail(fmt::format("truncated: {} bytes, a vector starts with a 4-byte dimension", got));
  }
  int32_t d = static_cast<int32_t>(DecodeFixed32(word));
  if (d <= 0 || d > 65536)
    return Fail(fmt::format("vector 0 (byte 0): dimension {} is outside 1..65536 (is this really .fvecs?)", d));
  dim_ = uint32_t(d);
  offset_ = 4;
  have_dim_word_ = true;
  return Status::Ok();
}

Status VectorFileReader::OpenNpy() {
  uint8_t pre[10];
  size_t got = 0;
  if (!ReadFully(in_, pre, 8, &got)) {
    if (got == 0) return Fail("empty file (no .npy preamble)");
    if (std::memcmp(pre, kNpyMagic, std::min<size_t>(got, 6)) == 0)
      return Fail(fmt::format("truncated: {} bytes, a .npy preamble is at least 10", got));
  }
  if (std::memcmp(pre, kNpyMagic, 6) != 0) return Fail("not a .npy file (no \\x93NUMPY magic)");
  const int major = pre[6];
  size_t header_len = 0, fixed = 0;
  if (major == 1) {
    if (!ReadFully(in_, pre + 8, 2, &got)) return Fail("truncated .npy preamble");
    header_len = DecodeFixed16(pre + 8);
    fixed = 10;
  } else if (major == 2 || major == 3) {
    uint8_t len[4];
    if (!ReadFully(in_, len, 4, &got)) return Fail("truncated .npy preamble");
    header_len = DecodeFixed32(len);
    fixed = 12;
  } else {
    return Fail(fmt::format(".npy format version {}.{} is not supported (1.0 to 3.0 are)", major, pre[7]));
  }
  if (header_len > kMaxNpyHeader) return Fail(fmt::format(".npy header of {} bytes is implausible", header_len));
  std::string header(header_len, '\0');
  if (!ReadFully(in_, header.data(), header_len, &got)) return Fail("truncated .npy header");
  offset_ = fixed + header_len;
  NpyHeader h;
  if (std::string why = ParseNpyHeader(header, &h); !why.empty()) return Fail(why);
  if (h.descr != "<f4" && h.descr != "=f4")
    return Fail(fmt::format("dtype '{}' is not little-endian float32 '<f4' (convert with .astype('<f4'))", h.descr));
  if (h.fortran_order) return Fail("the array is in Fortran order; save a C-ordered copy (np.ascontiguousarray)");
  if (h.shape.size() != 2)
    return Fail(fmt::format("shape ({}) is not two-dimensional (N vectors, D values)", h.shape_text));
  uint64_t n = 0, d = 0;
  for (auto [text, value] : {std::pair{h.shape[0], &n}, std::pair{h.shape[1], &d}}) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
    if (ec != std::errc() || end != text.data() + text.size())  // digits only: too large for 64 bits
      return Fail(fmt::format("shape ({}): {} is implausible", h.shape_text, text));
  }
  if (d == 0 || d > 65536) return Fail(fmt::format("dimension {} is outside 1..65536", d));
  if (n > (1ull << 40)) return Fail(fmt::format("{} vectors is implausible", n));
  dim_ = uint32_t(d);
  declared_ = int64_t(n);
  return Status::Ok();
}

Status VectorFileReader::Read(size_t max, Metric metric, std::vector<float>* out, size_t* got_out) {
  *got_out = 0;
  const size_t row_bytes = 4ull * dim_;
  std::vector<uint8_t> raw;
  if (broken_) return Fail("cannot read past an earlier error");
  // A .npy file declares its count: room for the vectors this call will
  // return, at once (and at least twice the room before: repeated calls
  // grow it geometrically). Other formats grow with what they hold.
  if (format_ == VectorFormat::kNpy) {
    const size_t expect = std::min<size_t>(max, size_t(std::max<int64_t>(0, declared_ - int64_t(count_))));
    if (const size_t need = out->size() + expect * dim_; need > out->capacity())
      out->reserve(std::max(need, 2 * out->capacity()));
  }
  for (size_t i = 0; i < max; ++i) {
    // Where this vector starts (for .fvecs, at its dimension word).
    const uint64_t vec_offset = have_dim_word_ ? offset_ - 4 : offset_;
    if (format_ == VectorFormat::kNpy) {
      if (int64_t(count_) == declared_) {
        char extra;
        if (in_->read(&extra, 1); in_->gcount() == 1)
          return Fail(
              fmt::format("data continues after the {} vectors the header declares (byte {})", declared_, offset_));
        return Status::Ok();
      }
    } else if (!have_dim_word_) {
      uint8_t word[4];
      size_t got = 0;
      if (!ReadFully(in_, word, 4, &got)) {
        if (got == 0) return Status::Ok();  // clean end
        return Fail(fmt::format("vector {} (byte {}): truncated dimension word", count_, vec_offset));
      }
      int32_t d = static_cast<int32_t>(DecodeFixed32(word));
      if (d != int32_t(dim_))
        return Fail(fmt::format("vector {} (byte {}): dimension {}, the file's first vector has {}", count_, vec_offset,
                                d, dim_));
      offset_ += 4;
    }
    have_dim_word_ = false;
    raw.resize(row_bytes);
    size_t got = 0;
    if (!ReadFully(in_, raw.data(), row_bytes, &got)) {
      if (format_ == VectorFormat::kNpy)
        return Fail(fmt::format("vector {} (byte {}): truncated; the header declares {} vectors of {} values", count_,
                                vec_offset, declared_, dim_));
      return Fail(fmt::format("vector {} (byte {}): truncated: {} of {} bytes", count_, vec_offset, got, row_bytes));
    }
    const size_t base = out->size();
    out->resize(base + dim_);
    float* v = out->data() + base;
    DecodeFloats(v, raw.data(), dim_);
    std::string why = VectorProblem(v, dim_, metric, [](size_t j) { return fmt::format("value {}", j); });
    if (!why.empty()) {
      out->resize(base);
      return BadValue(vec_offset, why);
    }
    offset_ += row_bytes;
    ++count_;
    ++*got_out;
  }
  return Status::Ok();
}

Result<bool> IdFileReader::Next(std::string* id) {
  bool too_long = false;
  if (!lines_.Next(id, &too_long)) {
    AETHER_RETURN_IF_ERROR(lines_.status());
    return false;
  }
  auto fail = [&](const std::string& why) {
    return Status::BadInput(fmt::format("{}:{}: {}", lines_.name(), lines_.line_number(), why));
  };
  if (too_long) return fail(fmt::format("id is longer than the limit of {} bytes", kMaxIdBytes));
  if (id->empty()) return fail("id is empty");
  if (!ValidUtf8(*id)) return fail("id is not valid UTF-8");
  return true;
}

Result<bool> IdFileReader::MoreIds() {
  std::string line;
  bool too_long = false;
  while (lines_.Next(&line, &too_long))
    if (too_long || !line.empty()) return true;
  AETHER_RETURN_IF_ERROR(lines_.status());
  return false;
}

}  // namespace aether
