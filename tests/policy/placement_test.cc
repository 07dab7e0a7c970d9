// Placement by access pattern, the rule itself (policy/placement.h): every
// pattern in each tier, on each side of its threshold (the lead before a
// periodic access, the burst's idle time, the half-lives of a decay), at
// and below min_confidence, and with pattern_placement off. The store's
// side (maintain running the decisions) is tests/cli/placement_test.cc.
#include "policy/placement.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "support/access_workload.h"

using namespace aether;

namespace {

constexpr int64_t kNow = 1'700'000'000'000, kMin = 60'000, kHour = 60 * kMin;

PolicyParams Defaults() { return ResolveParams({}); }

PatternReading Reading(AccessPattern pattern, double confidence) {
  PatternReading r;
  r.pattern = pattern;
  r.confidence = confidence;
  return r;
}

// The decision for `r` in each tier: {hot, cold}.
struct Both {
  PlacementDecision hot, cold;
};
Both Decide(const PatternReading& r, const PolicyParams& p, int64_t last_ms) {
  return {DecidePlacement(r, p, kNow, true, last_ms), DecidePlacement(r, p, kNow, false, last_ms)};
}

void Check(const PlacementDecision& d, PlacementAction action, const std::string& reason) {
  CHECK(d.action == action);
  CHECK(std::string(d.reason) == reason);
}

}  // namespace

TEST_CASE("placement: the defaults are on, with a lead of three ticks and a confidence floor of 0.7") {
  const PolicyParams p = Defaults();
  CHECK(p.pattern_placement == 1);
  CHECK(p.min_confidence == doctest::Approx(0.7));
  CHECK(p.pattern_lead_seconds == doctest::Approx(3 * p.tick_seconds));
  CHECK(p.burst_idle_minutes == 30);
  CHECK(p.decay_half_lives == 3);
}

TEST_CASE("placement: periodic memories go up within the lead of their next access, and are the score's otherwise") {
  const PolicyParams p = Defaults();
  const int64_t lead = int64_t(p.pattern_lead_seconds * 1000);
  PatternReading r = Reading(AccessPattern::kPeriodic, 0.9);
  r.period_ms = 6 * kHour;
  for (const int64_t ahead : {int64_t(0), kMin, lead - 1, lead}) {
    CAPTURE(ahead);
    r.next_expected_ms = kNow + ahead;
    const Both d = Decide(r, p, kNow - 6 * kHour);
    Check(d.hot, PlacementAction::kKeepHot, "periodic");
    Check(d.cold, PlacementAction::kPromote, "periodic");
    CHECK(d.cold.confidence == 0.9);
  }
  for (const int64_t ahead : {lead + 1, 3 * kHour}) {
    CAPTURE(ahead);
    r.next_expected_ms = kNow + ahead;
    const Both d = Decide(r, p, kNow - 3 * kHour);
    Check(d.hot, PlacementAction::kNone, "score");
    Check(d.cold, PlacementAction::kNone, "score");
  }
  r.next_expected_ms = 0;  // none known
  Check(Decide(r, p, kNow).cold, PlacementAction::kNone, "score");
}

TEST_CASE("placement: bursty memories stay (or go) hot while the burst runs, and come down once it is over") {
  PolicyParams p = Defaults();
  const PatternReading r = Reading(AccessPattern::kBursty, 0.8);
  const int64_t idle = int64_t(p.burst_idle_minutes * kMin);
  for (const int64_t since : {int64_t(0), idle - 1, idle}) {
    CAPTURE(since);
    const Both d = Decide(r, p, kNow - since);
    Check(d.hot, PlacementAction::kKeepHot, "burst");
    Check(d.cold, PlacementAction::kPromote, "burst");
  }
  for (const int64_t since : {idle + 1, 20 * kHour}) {
    CAPTURE(since);
    const Both d = Decide(r, p, kNow - since);
    Check(d.hot, PlacementAction::kDemote, "burst-over");
    Check(d.cold, PlacementAction::kNone, "score");  // already down
  }
  p.burst_idle_minutes = 120;  // the parameter moves the line
  Check(Decide(r, p, kNow - idle - 1).hot, PlacementAction::kKeepHot, "burst");
}

TEST_CASE("placement: decaying memories come down after decay_half_lives half-lives from the decay's origin") {
  PolicyParams p = Defaults();
  PatternReading r = Reading(AccessPattern::kDecaying, 0.75);
  r.half_life_ms = 2.0 * kHour;
  const int64_t due = int64_t(p.decay_half_lives * r.half_life_ms);
  r.decay_origin_ms = kNow - due;
  Check(Decide(r, p, kNow - kMin).hot, PlacementAction::kDemote, "decayed");
  Check(Decide(r, p, kNow - kMin).cold, PlacementAction::kNone, "score");  // never up
  r.decay_origin_ms = kNow - due - kHour;
  Check(Decide(r, p, kNow - kMin).hot, PlacementAction::kDemote, "decayed");
  r.decay_origin_ms = kNow - due + 1;
  Check(Decide(r, p, kNow - kMin).hot, PlacementAction::kNone, "score");
  r.decay_origin_ms = kNow - due;
  p.decay_half_lives = 6;
  Check(Decide(r, p, kNow - kMin).hot, PlacementAction::kNone, "score");
}

TEST_CASE("placement: the decay's origin is the creation when known and before the first access, else that access") {
  // Decaying histories of the labelled workload (tests/support/access_workload.h).
  int checked = 0;
  for (const auto& w : test::AccessWorkload(/*seed=*/23, /*per_class=*/20)) {
    if (w.label != AccessPattern::kDecaying ||
        ClassifyAccesses(w.history, w.now_ms, w.created_ms).pattern != AccessPattern::kDecaying)
      continue;
    const int64_t first = w.history.times.front();
    for (const int64_t created : {w.created_ms, int64_t(0), first + 1}) {
      CAPTURE(created);
      const PatternReading r = ClassifyAccesses(w.history, w.now_ms, created);
      if (r.pattern != AccessPattern::kDecaying) continue;  // read otherwise from another origin
      ++checked;
      CHECK(r.decay_origin_ms == (created == w.created_ms && created < first ? created : first));
      // Unknown (0) or later than the first access: measured from that
      // access, never from the epoch (which would make every decay due).
      const PlacementDecision d = DecidePlacement(r, Defaults(), w.now_ms, true, w.history.times.back());
      const bool due = double(w.now_ms - r.decay_origin_ms) >= Defaults().decay_half_lives * r.half_life_ms;
      CHECK((d.action == PlacementAction::kDemote) == (due && r.confidence >= Defaults().min_confidence));
      if (created == 0) CHECK(r.decay_origin_ms == first);
    }
  }
  CHECK(checked >= 20);
}

TEST_CASE("placement: a silent memory comes down; a steady one is the score's") {
  const PolicyParams p = Defaults();
  const Both cold = Decide(Reading(AccessPattern::kCold, 0.9), p, kNow - 30 * 24 * kHour);
  Check(cold.hot, PlacementAction::kDemote, "silent");
  Check(cold.cold, PlacementAction::kNone, "score");
  const Both steady = Decide(Reading(AccessPattern::kSteady, 1.0), p, kNow - kMin);
  Check(steady.hot, PlacementAction::kNone, "score");
  Check(steady.cold, PlacementAction::kNone, "score");
}

TEST_CASE("placement: a clock set back decides nothing") {
  for (const AccessPattern pattern : {AccessPattern::kCold, AccessPattern::kPeriodic, AccessPattern::kBursty}) {
    PatternReading r = Reading(pattern, 1);
    r.next_expected_ms = kNow;
    const Both d = Decide(r, Defaults(), kNow + kMin);  // the last access after now
    Check(d.hot, PlacementAction::kNone, "score");
    Check(d.cold, PlacementAction::kNone, "score");
  }
}

TEST_CASE("placement: below min_confidence, or with pattern_placement 0, every pattern is left to the score") {
  PolicyParams p = Defaults();
  for (const AccessPattern pattern : {AccessPattern::kCold, AccessPattern::kSteady, AccessPattern::kPeriodic,
                                      AccessPattern::kBursty, AccessPattern::kDecaying}) {
    CAPTURE(AccessPatternName(pattern));
    PatternReading r = Reading(pattern, 0.7);
    r.next_expected_ms = kNow;  // every rule would act on these
    r.half_life_ms = kMin;
    r.decay_origin_ms = kNow - 10 * kHour;
    const int64_t last = pattern == AccessPattern::kBursty ? kNow : kNow - 10 * kHour;
    p = Defaults();
    const bool acts = pattern != AccessPattern::kSteady;
    CHECK((Decide(r, p, last).hot.action != PlacementAction::kNone) == acts);  // at the floor
    r.confidence = std::nextafter(0.7, 0.0);
    Check(Decide(r, p, last).hot, PlacementAction::kNone, "low-confidence");
    Check(Decide(r, p, last).cold, PlacementAction::kNone, "low-confidence");
    r.confidence = 1;
    p.pattern_placement = 0;
    Check(Decide(r, p, last).hot, PlacementAction::kNone, "off");
    Check(Decide(r, p, last).cold, PlacementAction::kNone, "off");
  }
}
