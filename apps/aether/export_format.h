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
// i's record without its vector on line i + 1). Each file is created new
// (an existing name is kAlreadyExists, and is left alone); the .npy header
// gets its row count at Finish. Not thread-safe.
class NpyExport {
 public:
  NpyExport(std::string prefix, uint32_t dim) : prefix_(std::move(prefix)), dim_(dim) {}
  // Removes the files it made unless Finish succeeded.
  ~NpyExport();
  NpyExport(const NpyExport&) = delete;
  NpyExport& operator=(const NpyExport&) = delete;

  Status Create();
  // kBadInput for an id with a line break (the ids file could not hold it).
  Status Add(const MemoryRecord& r);
  // Writes the row count into the .npy header, flushes and syncs all three.
  Status Finish();
  uint64_t rows() const { return rows_; }
  std::string npy_path() const { return prefix_ + ".npy"; }
  std::string ids_path() const { return prefix_ + ".ids"; }
  std::string meta_path() const { return prefix_ + ".meta.jsonl"; }

 private:
  Status WriteError(const std::string& path) const;
  std::string NpyHeader() const;

  std::string prefix_;
  uint32_t dim_;
  std::FILE* npy_ = nullptr;
  std::FILE* ids_ = nullptr;
  std::FILE* meta_ = nullptr;
  bool npy_made_ = false, ids_made_ = false, meta_made_ = false, finished_ = false;
  uint64_t rows_ = 0;
  fmt::memory_buffer line_;
};

}  // namespace aether::cli
