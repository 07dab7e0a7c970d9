#include "policy/placement.h"

namespace aether {

const char* PlacementActionName(PlacementAction a) {
  switch (a) {
    case PlacementAction::kKeepHot:
      return "keep-hot";
    case PlacementAction::kPromote:
      return "promote";
    case PlacementAction::kDemote:
      return "demote";
    case PlacementAction::kNone:
      break;
  }
  return "none";
}

PlacementDecision DecidePlacement(const PatternReading& r, const PolicyParams& p, int64_t now_ms, bool hot,
                                  int64_t last_ms) {
  PlacementDecision d;
  d.confidence = r.confidence;
  if (p.pattern_placement < 1) {
    d.reason = "off";
    return d;
  }
  if (r.confidence < p.min_confidence) {
    d.reason = "low-confidence";
    return d;
  }
  if (now_ms < last_ms) return d;  // a clock set back: no idle time, no lead to judge
  // Up (or stay up) for an access about to come; down for none to come.
  auto wanted = [&](const char* reason) {
    d.action = hot ? PlacementAction::kKeepHot : PlacementAction::kPromote;
    d.reason = reason;
  };
  auto unwanted = [&](const char* reason) {
    if (!hot) return;  // already where it should be
    d.action = PlacementAction::kDemote;
    d.reason = reason;
  };
  switch (r.pattern) {
    case AccessPattern::kPeriodic:
      if (r.next_expected_ms > 0 && double(r.next_expected_ms - now_ms) <= p.pattern_lead_seconds * 1e3)
        wanted("periodic");
      break;
    case AccessPattern::kBursty:
      if (double(now_ms - last_ms) <= p.burst_idle_minutes * 6e4)
        wanted("burst");
      else
        unwanted("burst-over");
      break;
    case AccessPattern::kDecaying:
      if (r.half_life_ms > 0 && double(now_ms - r.decay_origin_ms) >= p.decay_half_lives * r.half_life_ms)
        unwanted("decayed");
      break;
    case AccessPattern::kCold:
      unwanted("silent");
      break;
    case AccessPattern::kSteady:
      break;
  }
  return d;
}

}  // namespace aether
