// Binary vector input for bulk ingest, with errors as precise as the JSONL
// path's (file, vector number, byte offset, reason):
//   .npy    NumPy format 1.0-3.0: dtype float32 little-endian ('<f4'), C
//           order, shape (N, D). Read as a stream (stdin works).
//   .fvecs  The TEXMEX layout: per vector an int32 little-endian D, then D
//           float32; every vector must have the same D.
// IDs come from a sidecar text file (one per line, IdFileReader) or are
// generated as PREFIX + index (the vector's 0-based position in the file).
// Not thread-safe; one reader per stream.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "aether/jsonl.h"
#include "aether/options.h"
#include "aether/status.h"

namespace aether {

enum class VectorFormat { kNpy, kFvecs };

class VectorFileReader {
 public:
  VectorFileReader(std::istream* in, std::string name, VectorFormat format)
      : in_(in), name_(std::move(name)), format_(format) {}
  // Reads the header (npy) or the first vector's dimension (fvecs). An
  // empty .fvecs file is no error: it has no vectors, and dim() is 0.
  Status Open();
  uint32_t dim() const { return dim_; }
  // Vectors the header announces (npy), or -1 when unknown (fvecs).
  int64_t declared_count() const { return declared_; }
  // Reads up to `max` vectors, appended to *out (count * dim floats); sets
  // *got to the number read (0 at the end). Values are checked: finite, and
  // not all zero under metric cosine. Errors are BadInput and name the file,
  // the vector's 0-based number and its byte offset. After a bad value the
  // vector is consumed and reading may go on; after a structural error
  // (truncation, a wrong dimension word) broken() is true and it may not.
  Status Read(size_t max, Metric metric, std::vector<float>* out, size_t* got);
  bool broken() const { return broken_; }
  // Vectors read so far.
  uint64_t count() const { return count_; }
  const std::string& name() const { return name_; }

 private:
  Status OpenNpy();
  Status Fail(const std::string& why);
  Status BadValue(uint64_t offset, const std::string& why);

  std::istream* in_;
  std::string name_;
  VectorFormat format_;
  uint32_t dim_ = 0;
  int64_t declared_ = -1;
  uint64_t count_ = 0;
  uint64_t offset_ = 0;         // bytes consumed
  bool have_dim_word_ = false;  // fvecs: the first vector's D word was read by Open
  bool broken_ = false;
};

// One id per line ("\r\n" accepted); ids are 1..kMaxIdBytes bytes of valid
// UTF-8. Errors name the file and line.
class IdFileReader {
 public:
  IdFileReader(std::istream* in, std::string name) : lines_(in, std::move(name), kMaxIdBytes) {}
  // False at end of file. Reads no further than an id can be long, and a
  // read's worth (LineReader: at most 64 KiB) past it.
  Result<bool> Next(std::string* id);
  // After the last id wanted: whether another follows (line_number() is
  // then its line). Blank lines at the end of the file are no ids.
  Result<bool> MoreIds();
  uint64_t line_number() const { return lines_.line_number(); }

 private:
  LineReader lines_;
};

}  // namespace aether
