// MemoryModel: the memory model's side of the store (README "Memory
// dynamics"): its parameters (the config table, validated and audited),
// feedback on importance, the restore queue's entries, the sampled moves of
// a maintenance tick, and the audit history. It decides; the moves it asks
// for are the store's to run (StoreImpl::Maintain, dynamics.cc). Holds no
// state of its own beyond the StoreContext it is given. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aether/options.h"
#include "aether/status.h"
#include "policy/params.h"
#include "store/store_context.h"
#include "store/store_lock.h"

namespace aether {

class MemoryModel {
 public:
  MemoryModel(StoreContext* s, StoreLock* lock) : s_(s), lock_(lock) {}

  // Every parameter (defaults filled in), and resolved for the policy.
  Result<std::map<std::string, double>> GetParams();
  Result<PolicyParams> Params();
  // Sets parameters in one transaction, each change audited with `why`;
  // kInvalidArgument for an unknown key, a value out of range or an
  // inconsistent pair. Requires a writer.
  Status SetParams(const std::map<std::string, double>& values, const std::string& why);
  Status ApplyPreset(const std::string& name);
  // Moves each memory's importance toward its reward (audited); returns the
  // unknown ids. Requires a writer.
  Result<std::vector<std::string>> Feedback(const std::vector<FeedbackItem>& items);
  // Upserts restore-queue entries (row id, priority) for memories still
  // cold; a repeated request keeps the higher priority. In the caller's
  // transaction.
  Status QueueRestores(const std::vector<std::pair<int64_t, double>>& entries);
  // The tick's placement by access pattern (policy/placement.h): every
  // memory with a history, read and decided; what it decides for moves
  // and keeps, reported in `rep` (and its moves in rep->moves). `promote`
  // false (critical pressure): no promotion is decided. `roomy`: the hot
  // tier is under hot_low_watermark (the tick's count), so a memory
  // accessed within idle_descend_hours is not descended (here or by the
  // sample). `hot_count`: the tier's count at the tick's start; demotions
  // only make the room the tick needs (past the capacity, plus the
  // promotions queued here, at most restore_concurrency), the rest held.
  struct PatternPlan {
    std::vector<MemoryRef> down;                 // to descend
    std::vector<std::pair<int64_t, double>> up;  // to queue (row id, priority)
    std::set<int64_t> keep;                      // hot, to stay hot this tick
    std::vector<int64_t> decided;                // ascending: every row decided; the sample leaves them
  };
  Status PatternMoves(const PolicyParams& p, int64_t now, bool promote, bool roomy, uint64_t hot_count,
                      MaintainReport* rep, PatternPlan* plan);
  // The tick's sample: hot memories to descend (`down`) and cold ones to
  // queue (`up`, with their priorities), each chosen with probability
  // sigmoid(+-score, k) * heat; reported in `rep`. The `decided` rows (the
  // pattern's) are drawn for but left alone, like the pinned.
  Status SampleMoves(const PolicyParams& p, double heat, int64_t now, std::mt19937_64* rng, MaintainReport* rep,
                     std::vector<MemoryRef>* down, std::vector<std::pair<int64_t, double>>* up,
                     const std::vector<int64_t>& decided, bool roomy);
  Result<std::vector<HistoryEntry>> History(const std::string& id, int64_t since_ms, const std::string& trace_id);

 private:
  StoreContext* s_;
  StoreLock* lock_;
};

}  // namespace aether
