// Access patterns (README "Access patterns"): each memory keeps the times
// of its recent accesses (memories.access_times, at most kHistoryMax distinct
// milliseconds, format-spec/metadata_db.md "access_times"), and
// ClassifyAccesses reads them as one of five patterns, with a confidence:
//   periodic  accesses about every `period` (some missed, a little jitter);
//   bursty    runs of accesses close together (`burst_size` on average)
//             with long quiet gaps between runs;
//   decaying  gaps that grow as the memory ages (a `half_life`: the rate
//             halves every half-life);
//   steady    accesses at random at a constant rate (`rate_per_hour`);
//   cold      too few accesses to see a shape, or a silence the memory's
//             own pattern makes unlikely (its last access long past).
// Stateless and thread-safe; a classification costs well under 10 µs
// (scripts/bench-patterns). A history holds times >= 0 (ms since the
// epoch), so every difference fits an int64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aether {

// The access-times history: distinct ms times, oldest first, and how many
// times have left it (the oldest go past kHistoryMax; a time equal to one
// that left before counts again).
constexpr size_t kHistoryMax = 32;
struct AccessHistory {
  std::vector<int64_t> times;  // each >= 0, at most kHistoryMax
  uint32_t older = 0;          // times no longer held (saturates at 2^32 - 1)
  bool operator==(const AccessHistory& o) const { return times == o.times && older == o.older; }
};
// Its encoding (format-spec/metadata_db.md "access_times"): u8 version 1,
// u8 n (1..kHistoryMax), LEB128 older, i64 LE first time (>= 0), then
// n - 1 LEB128 deltas (each >= 1, the last time <= 2^63 - 1); every LEB128
// in its shortest form. At most 2 + 5 + 8 + 31 x 9 = 294 bytes.
constexpr size_t kHistoryMaxBytes = 2 + 5 + 8 + (kHistoryMax - 1) * 9;
// "" for an empty history (stored as NULL).
std::string EncodeHistory(const AccessHistory& h);
// nullopt when the bytes are not a history (damaged): a wrong version or
// count, a negative first time, a zero delta, a time past 2^63 - 1, a
// LEB128 longer than it needs, bytes missing or left over.
std::optional<AccessHistory> DecodeHistory(std::string_view blob);
// Adds t (ignored when negative): the times stay sorted and distinct; past
// kHistoryMax the oldest goes (a time older than all of a full history is
// not kept); each time not kept counts in `older`.
void PushAccess(AccessHistory* h, int64_t t);

enum class AccessPattern { kCold = 0, kSteady = 1, kPeriodic = 2, kBursty = 3, kDecaying = 4 };
const char* AccessPatternName(AccessPattern p);

struct PatternReading {
  AccessPattern pattern = AccessPattern::kCold;
  double confidence = 0;  // in [0, 1]
  // The pattern's parameter (0 for the others).
  double period_ms = 0;         // periodic: the estimated period
  double burst_size = 0;        // bursty: accesses per burst, on average
  double half_life_ms = 0;      // decaying: the estimated half-life
  int64_t decay_origin_ms = 0;  // decaying: where the decay is measured from (creation, or the first time held)
  double rate_per_hour = 0;     // steady: accesses per hour
  // The next access the pattern expects, in ms (0: none: cold, or unknown).
  int64_t next_expected_ms = 0;
};

// Reads the history at `now_ms`. A decay is measured from the memory's
// creation (`created_ms`; 0: unknown, then from the first time held), with
// the times no longer held somewhere before the first one held. Periodic
// needs 5 accesses or more.
PatternReading ClassifyAccesses(const AccessHistory& h, int64_t now_ms, int64_t created_ms = 0);

}  // namespace aether
