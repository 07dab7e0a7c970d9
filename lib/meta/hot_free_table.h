// The hot_free table (format-spec/metadata_db.md): the free slots of
// hot.slots, reused lowest first. All of its SQL is here. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "meta/sqlite_db.h"

namespace aether {

class HotFreeTable {
 public:
  explicit HotFreeTable(Db* db) : db_(db) {}
  Status Free(int64_t slot);
  Status Claim(int64_t slot);
  // The lowest n free slots (fewer when there are fewer), ascending.
  Result<std::vector<int64_t>> Lowest(size_t n);
  Result<std::vector<int64_t>> All();  // ascending
  // One past the highest free slot (0: none).
  Result<uint64_t> End();
  Result<uint64_t> Count();  // free slots (SQLite counts the table's pages, not its rows)
  // Drops the run of free slots that ends at slot end - 1; returns where
  // the run began: the new end of a file `end` slots long.
  // Costs the length of the run.
  Result<uint64_t> DropTail(uint64_t end);

 private:
  Db* db_;
};

}  // namespace aether
