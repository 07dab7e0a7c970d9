// Reading JSONL input (ingest records and search queries) with errors that
// name the file, the line and the reason:
//   "batch.jsonl:17: vector has 767 values, store dimension is 768"
// Not thread-safe; one LineReader per input stream.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <string>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

constexpr size_t kMaxIdBytes = 1024;
constexpr size_t kDefaultMaxLineBytes = 64u << 20;
// How deeply arrays and objects may nest in any JSON aether reads (a record
// and its payload, a query, a feedback line, --vector). Deeper input is
// refused before it is parsed: the parsers and printers recurse per level.
constexpr int kMaxJsonDepth = 128;

// BadInput ("nesting is deeper than 128 levels") when arrays and objects in
// `text` nest deeper than max_depth; counts brackets outside strings, so it
// is linear and needs no stack.
Status CheckJsonDepth(const std::string& text, int max_depth = kMaxJsonDepth);
// Ok when `text` is one JSON value as aether reads JSON everywhere; else
// BadInput saying why (without location): nesting past max_depth, a byte
// order mark, malformed JSON or invalid UTF-8 (with the parser's position),
// or a key repeated in an object (nlohmann would keep the last).
Status CheckJsonValue(const std::string& text, int max_depth = kMaxJsonDepth);
// True when `text` is one valid JSON value within kMaxJsonDepth: what a
// stored payload must be.
bool ValidPayload(const std::string& text);

// Writing numbers that read back: the double nearest the shortest decimal
// that reads back as f (as fmt's "{}" prints f and strtod reads it), for
// finite f (others as double(f)); what a JSON writer given that double
// prints reads back, through a double, as f. Except for one float32
// magnitude, 7.038531e-26 (ShortestDecimalMisreads; checked over every
// finite float32), which reads back that way as its neighbour: for it,
// double(f), whose own digits read back.
double ShortestDecimalValue(float f);
bool ShortestDecimalMisreads(float f);

// Reads lines of at most max_bytes. A longer line is reported (too_long) as
// soon as it passes the limit; its rest is then skipped only if its end comes
// within skip_bytes more bytes (0: never), otherwise reading stops there
// (broken()), so an endless line (/dev/zero, a stuck pipe) never hangs a
// reader. A UTF-8 byte order mark is dropped at the start of the input (and
// is an error anywhere else: ParseRecord and ParseQuery reject it). A read
// error stops reading too, with status() saying why. Never throws.
class LineReader {
 public:
  LineReader(std::istream* in, std::string name, size_t max_bytes = kDefaultMaxLineBytes, size_t skip_bytes = 0)
      : in_(in), name_(std::move(name)), max_bytes_(max_bytes), skip_bytes_(skip_bytes) {}
  // False at the end of input and once reading stopped (broken()).
  // *too_long is set when the line exceeded the limit (its content is then
  // discarded).
  bool Next(std::string* line, bool* too_long);
  uint64_t line_number() const { return line_number_; }
  const std::string& name() const { return name_; }
  size_t max_bytes() const { return max_bytes_; }
  size_t skip_bytes() const { return skip_bytes_; }
  // True once nothing more can be read: a too-long line whose end was not
  // found, or a read error.
  bool broken() const { return broken_; }
  // Ok, or the read error that stopped reading ("FILE: read: ...").
  const Status& status() const { return status_; }

 private:
  // Reads what the stream has ready (at least a byte) into buf_, which
  // must be used up; false at the end of the stream. May throw.
  bool Fill();

  std::istream* in_;
  std::string name_;
  size_t max_bytes_, skip_bytes_;
  std::string buf_;  // read from the stream, not yet returned: [pos_, end)
  size_t pos_ = 0;
  uint64_t line_number_ = 0;
  bool broken_ = false;
  Status status_;
};

// The message for a too-long line (without location).
std::string TooLongMessage(const LineReader& reader);

// What is wrong with a record's kept state (Record::created_ms, ...: their
// bounds, a last access before creation, an access history's times out of
// bounds, order or count, or after the last access); empty when nothing.
// The parser and IngestBatch both ask it.
std::string KeptStateProblem(const Record& r);

// Parses one ingest line. `dim` is the store dimension (0: not yet known,
// the record's length is taken). Errors are BadInput without location; the
// caller prepends "file:line".
// A fast path takes the common record shape; anything else goes to the
// general parser (nlohmann/json), which gives every error message.
// ignore_unknown: top-level fields other than the four are skipped (their
// JSON must still be valid) instead of being an error. preserve_state:
// export's "tier" ("hot"/"cold"), "created_ms", "last_access_ms",
// "access_count", "pinned" and "access_history" (as KeptStateProblem
// allows) fill Record's kept state (without it they are unknown fields; with
// ignore_unknown alone, skipped).
Status ParseRecord(const std::string& line, uint32_t dim, Metric metric, Record* out, bool ignore_unknown = false,
                   bool preserve_state = false);
// The general parser alone: ParseRecord must agree with it on every line
// (tests/input/jsonl_test.cc checks this on generated and truncated lines).
Status ParseRecordGeneral(const std::string& line, uint32_t dim, Metric metric, Record* out,
                          bool ignore_unknown = false, bool preserve_state = false);

struct Query {
  std::string id;  // empty when the line gave none
  std::vector<float> vector;
};
// Parses one query line, through the same fast path as ParseRecord.
Status ParseQuery(const std::string& line, uint32_t dim, Metric metric, Query* out);
// The general parser alone, for tests (as ParseRecordGeneral).
Status ParseQueryGeneral(const std::string& line, uint32_t dim, Metric metric, Query* out);
// Parses a bare JSON array of numbers (search --vector).
Status ParseVector(const std::string& text, uint32_t dim, Metric metric, std::vector<float>* out);

// True for lines that hold only white space (skipped in JSONL input).
bool IsBlank(const std::string& line);

}  // namespace aether
