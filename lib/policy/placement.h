// Placement that predicts (README "Placement by access pattern"): what a
// memory's access pattern (access_pattern.h) says maintain should do with
// it, before the eviction score has its say:
//   periodic  promote (or keep hot) within pattern_lead_seconds of the next
//             expected access;
//   bursty    keep hot (or promote) while a burst runs, i.e. the last
//             access is within burst_idle_minutes; demote once it is over;
//   decaying  demote once decay_half_lives half-lives have passed since the
//             decay's origin (the memory's creation, or its first access
//             held when the creation is unknown or later);
//   cold      demote ("silent": the memory's own pattern makes its silence
//             unlikely);
//   steady    nothing: the score decides.
// A reading below min_confidence decides nothing either (the score does),
// and pattern_placement 0 turns all of it off; so does a clock set back
// (now before the last access). Stateless; thread-safe.
#pragma once

#include <cstdint>

#include "policy/access_pattern.h"
#include "policy/params.h"

namespace aether {

enum class PlacementAction { kNone = 0, kKeepHot = 1, kPromote = 2, kDemote = 3 };
const char* PlacementActionName(PlacementAction a);  // "none", "keep-hot", "promote", "demote"

struct PlacementDecision {
  PlacementAction action = PlacementAction::kNone;
  // Why: "periodic", "burst", "burst-over", "decayed", "silent"; for no
  // action, "score" (a steady pattern, one the rule leaves alone, a clock
  // set back) or "low-confidence" (below min_confidence), or "off"
  // (pattern_placement 0).
  const char* reason = "score";
  double confidence = 0;  // the pattern reading's
};

// The decision for a memory with pattern reading `r` at `now_ms`: `hot`
// is where it is, `last_ms` its last access held.
PlacementDecision DecidePlacement(const PatternReading& r, const PolicyParams& p, int64_t now_ms, bool hot,
                                  int64_t last_ms);

}  // namespace aether
