// A labelled synthetic access workload (README "Access patterns": the
// accuracy figures): histories of the five patterns policy/access_pattern.h
// classifies, each drawn with realistic noise, from a fixed seed. Used by
// the accuracy test (tests/policy/access_pattern_test.cc) and the timing
// benchmark (scripts/bench-patterns). Deterministic across platforms (its
// own generator and distributions, no <random> distributions).
//
//   periodic  a period of 1 hour to 7 days (log-uniform); each visit jittered
//             by N(0, 3 % of the period), 10 % of visits missed, 10 % with
//             a second access 1-60 s later;
//   bursty    bursts of 3-10 accesses (exponential gaps, mean 30 s), burst
//             starts a Poisson process with a mean gap of 6 hours to 5 days;
//             now may fall inside a burst;
//   decaying  created 2-6 half-lives ago, half-life 2 hours to 3 days; a
//             Poisson rate halving every half-life from the creation, 15-50
//             accesses expected in all (at least 5 drawn);
//   steady    a Poisson process of 1 a day to 6 an hour;
//   cold      a steady, bursty or periodic history that stopped: its last
//             access at least 8 of its mean gaps and 7 days before now; or
//             1-3 accesses at least 7 days old.
// Each history keeps the last kHistoryMax access times as a store would
// (PushAccess: the ones that left it counted); a memory was created 120
// days ago but for a decaying one (its rate's origin) and a cold one of a
// few accesses (up to 10 days before its first).
//
// Its bias, to weigh the accuracy it gives: the decaying class is drawn
// from the very model the classifier fits (an exponential rate from the
// creation it is told), the steady one is that test's null model, and the
// classes sit well away from the classifier's thresholds (30 s within a
// burst against hours between; double hits under a tenth of the period;
// stopped histories silent for 8 gaps and a week). No hard cases: bursts
// of 2, periods under ten minutes, clock skew.
#pragma once

#include <cstdint>
#include <vector>

#include "policy/access_pattern.h"

namespace aether::test {

struct LabelledHistory {
  AccessPattern label;
  AccessHistory history;
  int64_t now_ms;
  int64_t created_ms;  // the memory's creation
  double param;        // period_ms, mean burst size, half_life_ms, rate per hour; 0 for cold
};

std::vector<LabelledHistory> AccessWorkload(uint64_t seed, size_t per_class);

}  // namespace aether::test
