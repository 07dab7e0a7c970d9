// What `aether export` writes: a record as a JSONL line (the format ingest
// reads back), and the .npy form (format-spec/export_npy.md): PREFIX.npy,
// PREFIX.ids and PREFIX.meta.jsonl, written as the records stream.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "aether/options.h"
#include "aether/status.h"

namespace aether::cli {

// Appends one record's JSONL line to `line`: id, vector (with_vector; each
// component the shortest decimal that reads back to the same float),
// payload, importance, tier, times, access count.
void AppendRecord(const MemoryRecord& r, bool with_vector, fmt::memory_buffer* line);

// Writes PREFIX.npy (float32, shape (n, dim), C order), PREFIX.ids (row i's
// id on line i + 1, as `ingest --ids` reads it) and PREFIX.meta.jsonl (row
// i's record without its vector on line i + 1). They are written under
// hidden temporary names beside them and appear under their own names only
// at Finish, whole and synced; a name that exists is kAlreadyExists and is
// left alone. A PREFIX ending in ".npy" loses it (as numpy.save). Not
// thread-safe.
class NpyExport {
 public:
  explicit NpyExport(const std::string& prefix, uint32_t dim);
  // Removes the temporaries (and any name it made) unless Finish succeeded.
  ~NpyExport();
  NpyExport(const NpyExport&) = delete;
  NpyExport& operator=(const NpyExport&) = delete;

  Status Create();
  // kBadInput for an id the ids file cannot hold: one with a line break, or
  // (the first row) one starting with a byte order mark, which readers drop.
  Status Add(const MemoryRecord& r);
  // Writes the row count into the .npy header, syncs the three files, gives
  // them their names (never replacing one) and syncs the directory.
  Status Finish();
  uint64_t rows() const { return rows_; }
  const std::string& npy_path() const { return files_[0].path; }
  const std::string& ids_path() const { return files_[1].path; }
  const std::string& meta_path() const { return files_[2].path; }

 private:
  struct Out {
    std::string path;  // its name once finished
    std::string temp;  // its name while written
    std::FILE* f = nullptr;
    bool temp_made = false, published = false;
  };
  std::string NpyHeader() const;

  std::string dir_;
  uint32_t dim_;
  Out files_[3];
  bool finished_ = false;
  uint64_t rows_ = 0;
  fmt::memory_buffer line_;
};

}  // namespace aether::cli
