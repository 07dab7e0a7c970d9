// The maintenance tick (README "Memory dynamics"): what the MemoryModel
// (memory_model.h) samples and decides, run as moves.
//
// Shape of a tick (Maintain):
//   1. read parameters, temperature, queue depth, hot count; pressure?
//   2. temperature: decay, floor, pressure scale, cap
//   3. placement by access pattern (policy/placement.h): every memory with
//      a history read and decided (promote, keep-hot, demote, or leave it
//      to the score); then
//      sample candidates (sample_rate, max_candidates; seeded; the
//      pattern's rows drawn for but left); each moves with probability
//      sigmoid(+-score, k) * min(t, 1): hot ones down, cold ones onto the
//      restore queue
//   4. writes: importance decay + temperature + history retention + the
//      pattern's decisions in the audit log (one txn), the pattern's and
//      the sample's descends, the age policies and capacity enforcement
//      (lowest scores; the pattern's kept rows left), queueing, queue drain
//      with eviction and backoff; every move through the migration
//      protocol;
//   5. compaction of hot.slots and the cold tier (compact.cc).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "env/read_only_env.h"
#include "meta/schema.h"
#include "policy/eviction.h"
#include "policy/params.h"
#include "store/store_impl.h"

namespace aether {

// A dry run rehearses the tick: the same code, every step's changes made to
// the metadata alone, in one transaction rolled back at the end, with the
// file system read-only (ReadOnlyEnv: a step that would write fails the
// rehearsal). Moves write no data and read what exists (a descended vector
// picks its partition; a restored record's frame is checked), so the report
// is what the real tick with the same seed and clock would do, restores,
// capacity moves and compaction included.
Result<MaintainReport> StoreImpl::Maintain(const MaintainOptions& o) {
  if (!lock_->writer()) return Status::Internal("maintain on a store opened read-only");
  if (!o.dry_run) {
    // The cron tick keeps metrics.log short (a store only searched between
    // ticks otherwise folds it once it reaches kFoldBytes).
    FoldMetricsLogOrNotice(/*at_least=*/0);
    return Tick(o);
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  AETHER_RETURN_IF_ERROR(db_->BeginRehearsal());
  // Ended (rolled back, the real Env back) on every way out: an error, an
  // exception.
  struct Rehearsal {
    StoreImpl* s;
    Env* real;
    ReadOnlyEnv read_only;
    bool ended = false;
    Rehearsal(StoreImpl* store, const std::vector<ShardInfo>& shards)
        : s(store), real(store->env_), read_only(store->env_) {
      s->env_ = &read_only;
      s->rehearsal_ = true;
      for (const ShardInfo& sh : shards) s->rehearsal_cold_bytes_[sh.shard_id] = sh.file_bytes;
    }
    Status End() {
      ended = true;
      s->rehearsal_ = false;
      s->rehearsal_cold_bytes_.clear();
      s->env_ = real;
      s->index_->Invalidate();  // it may have loaded a rehearsed shard
      return s->db_->EndRehearsal();
    }
    ~Rehearsal() {  // (no memory to end it: closing the connection rolls it back)
      try {
        if (!ended) (void)End();
      } catch (...) {
      }
    }
  };
  Rehearsal rehearsal(this, shards);
  Result<MaintainReport> rep = Tick(o);
  Status ended = rehearsal.End();
  if (!rep.ok()) return rep.status().WithContext("dry run");
  if (!ended.ok()) return ended.WithContext("dry run");
  return rep;
}

Result<MaintainReport> StoreImpl::Tick(const MaintainOptions& o) {
  MaintainReport rep;
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  const int64_t now = env_->NowMs();
  // Rates are per tick_seconds: this tick applies them for the time since
  // the last one (the first, for the time since the store was made, at most
  // one interval; a clock set back, none).
  AETHER_ASSIGN_OR_RETURN(int64_t last_tick, tables_->config.Integer("last_tick_ms", -1));
  AETHER_ASSIGN_OR_RETURN(int64_t created, tables_->config.Integer("created_ms", now));
  const double interval_ms = p.tick_seconds * 1000;
  rep.ticks = last_tick < 0 ? std::clamp(double(now - created) / interval_ms, 0.0, 1.0)
                            : std::clamp(double(now - last_tick) / interval_ms, 0.0, 1e6);
  p.importance_decay = std::pow(p.importance_decay, rep.ticks);
  rep.seed = o.seed ? o.seed : env_->RandomSeed();
  std::mt19937_64 rng(rep.seed);

  AETHER_ASSIGN_OR_RETURN(rep.temperature_before, tables_->config.Number("temperature", 1.0));
  AETHER_ASSIGN_OR_RETURN(uint64_t depth, tables_->restore_queue.Depth());
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, HotMemories());
  rep.queue_depth_before = depth;
  rep.hot_capacity = HotCapacity();
  AETHER_ASSIGN_OR_RETURN(const PressureReport pressure, PressureNow(p, hot_count, depth));
  rep.pressure = pressure.level >= PressureLevel::kWarning;
  rep.pressure_level = PressureLevelName(pressure.level);
  rep.pressure_why = pressure.Why();
  rep.promotions_paused = pressure.level >= PressureLevel::kCritical;
  rep.temperature_after = NextTemperature(rep.temperature_before, rep.pressure, p, rep.ticks);
  const double heat = std::min(rep.temperature_after, 1.0);

  // Under the low watermark the hot tier has room (hot_count is the tick's:
  // nothing moves before the sample).
  const bool roomy = double(hot_count) < p.hot_low_watermark * double(HotCapacity());
  MemoryModel::PatternPlan pattern;
  AETHER_RETURN_IF_ERROR(model_->PatternMoves(p, now, !rep.promotions_paused, roomy, hot_count, &rep, &pattern));
  std::vector<MemoryRef> down;
  std::vector<std::pair<int64_t, double>> up;
  AETHER_RETURN_IF_ERROR(model_->SampleMoves(p, heat, now, &rng, &rep, &down, &up, pattern.decided, roomy));
  up.insert(up.end(), pattern.up.begin(), pattern.up.end());

  // 1. importance decay, the new temperature, the history's retention and
  // the pattern's decisions, in one transaction.
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(rep.history_pruned, PruneHistory(p));
    // Each decision the pattern made, with its reason, score and confidence
    // (a memory's history tells why it moved).
    for (const PlannedMove& m : rep.moves) {
      if (m.pattern.empty()) continue;
      AETHER_RETURN_IF_ERROR(
          Audit("placement", m.id,
                fmt::format("{{\"action\":\"{}\",\"reason\":\"{}\",\"pattern\":\"{}\",\"confidence\":{},"
                            "\"score\":{},\"next_expected_ms\":{}}}",
                            m.to == Tier::kHot ? "promote" : "demote", m.reason, m.pattern, m.confidence, m.score,
                            m.next_expected_ms)));
    }
    if (p.importance_decay != 1.0) {
      AETHER_ASSIGN_OR_RETURN(rep.importance_decayed, tables_->memories.DecayImportance(p.importance_decay));
    }
    AETHER_RETURN_IF_ERROR(tables_->config.Set("last_tick_ms", std::to_string(now)));
    return tables_->config.Set("temperature", fmt::format("{}", rep.temperature_after));
  }));
  // 2. the pattern's and the sampled descends, 3. the age policies and the
  // capacity, 4. queueing, 5. the queue drain.
  MoveOptions mo;
  MoveReport moved;
  const Tier demote_to = DemotionTier(p);
  rep.demoted_to = demote_to;
  AETHER_RETURN_IF_ERROR(DescendRows(pattern.down, demote_to, mo, &moved, pattern.down.size()));
  rep.descended_pattern = moved.moved;
  moved = MoveReport();
  AETHER_RETURN_IF_ERROR(DescendRows(down, demote_to, mo, &moved, down.size()));
  rep.descended_sampled = moved.moved;
  // What a pattern keeps hot this tick is no age policy's, capacity's or
  // restore's victim (an emergency's it still is).
  AETHER_RETURN_IF_ERROR(AgeDescend(p, pattern.keep, &rep));
  if (p.enforce_capacity >= 1) AETHER_RETURN_IF_ERROR(EnforceCapacity(p, pattern.keep, &rep));
  if (pressure.level == PressureLevel::kEmergency) AETHER_RETURN_IF_ERROR(EmergencyDescend(p, &rep));
  if (p.enforce_capacity >= 1) AETHER_RETURN_IF_ERROR(DrainWarm(p, pattern.keep, &rep));
  if (!up.empty()) AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return model_->QueueRestores(up); }));
  rep.queued = up.size();
  // Under critical pressure nothing is promoted: the queue waits.
  if (!rep.promotions_paused) AETHER_RETURN_IF_ERROR(DrainRestores(p, pattern.keep, &rep));
  // 5. compaction: the files follow the live data (compact.cc).
  AETHER_RETURN_IF_ERROR(CompactHot(p, &rep));
  AETHER_RETURN_IF_ERROR(CompactCold(p, &rep));
  AETHER_ASSIGN_OR_RETURN(depth, tables_->restore_queue.Depth());
  AETHER_ASSIGN_OR_RETURN(hot_count, HotMemories());
  rep.queue_depth_after = depth;
  rep.hot_after = hot_count;
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] {
    return Audit("maintain", "",
                 fmt::format("{{\"seed\":{},\"temperature\":{},\"descended\":{},\"restored\":{},"
                             "\"queued\":{}}}",
                             rep.seed, rep.temperature_after,
                             rep.descended_sampled + rep.descended_age + rep.descended_capacity + rep.descended_warm +
                                 rep.descended_pressure + rep.descended_pattern,
                             rep.restored, rep.queued));
  }));
  // The tick leaves every commit in meta.db itself: what a damaged WAL
  // could take is never more than one tick interval's writes.
  if (rehearsal_) return rep;
  if (Status s = Checkpoint(); !s.ok()) return s.WithContext("the tick was applied; checkpointing meta.db's WAL");
  return rep;
}

// Descends the lowest eviction scores until the hot tier fits its capacity.
Status StoreImpl::DescendLowestScores(uint64_t n, Tier to, const char* reason, MaintainReport* rep, uint64_t* moved,
                                      const std::set<int64_t>& keep) {
  AETHER_ASSIGN_OR_RETURN(auto scored, HotByScore(keep));
  std::vector<MemoryRef> rows;
  for (size_t i = 0; i < n && i < scored.size(); ++i) {
    rows.push_back(scored[i].second);
    rep->moves.push_back({scored[i].second.id, Tier::kHot, to, reason, scored[i].first});
  }
  MoveOptions mo;
  MoveReport report;
  AETHER_RETURN_IF_ERROR(DescendRows(rows, to, mo, &report, rows.size()));
  *moved = report.moved;
  return Status::Ok();
}

// The age policies: the hot memories idle past max_hot_idle_hours, then
// those made before max_hot_age_hours, descend (pinned ones and `keep`'s
// stay; reasons idle and age, as descend's own selections).
Status StoreImpl::AgeDescend(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep) {
  for (const bool idle : {true, false}) {
    const double hours = idle ? p.max_hot_idle_hours : p.max_hot_age_hours;
    if (hours <= 0) continue;
    MoveOptions mo;
    mo.to = DemotionTier(p);
    (idle ? mo.idle_longer_than_ms : mo.older_than_ms) = int64_t(hours * 3.6e6);
    AETHER_ASSIGN_OR_RETURN(MoveReport r, Descend(mo, keep, /*hot_only=*/true));
    rep->descended_age += r.moved;
    for (PlannedMove& m : r.plan) rep->moves.push_back(std::move(m));
  }
  return Status::Ok();
}

// The hot tier past its capacity descends (to warm while the warm tier is
// on), lowest eviction scores first.
Status StoreImpl::EnforceCapacity(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep) {
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, HotMemories());
  if (hot_count <= HotCapacity()) return Status::Ok();
  return DescendLowestScores(hot_count - HotCapacity(), DemotionTier(p), "capacity", rep, &rep->descended_capacity,
                             keep);
}

// The warm tier past warm_capacity_bytes descends to cold, lowest eviction
// scores first (reason "capacity"): after every demotion of the tick, so
// that the tick ends within it.
Status StoreImpl::DrainWarm(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep) {
  AETHER_ASSIGN_OR_RETURN(auto warm, WarmOverflow(p, keep));
  if (warm.empty()) return Status::Ok();
  std::vector<MemoryRef> rows;
  for (const auto& [score, loc] : warm) {
    rows.push_back(loc);
    rep->moves.push_back({loc.id, Tier::kWarm, Tier::kCold, "capacity", score});
  }
  MoveReport report;
  AETHER_RETURN_IF_ERROR(DescendRows(rows, Tier::kCold, MoveOptions(), &report, rows.size()));
  rep->descended_warm = report.moved;
  return Status::Ok();
}

// Judged again after the capacity is enforced (a hot tier past its
// capacity is already back at it), and only for a memory or hot-tier
// emergency: a descend writes cold frames before any hot slot is cut, so
// for a disk running out it would make things worse (critical's response,
// no growth of the hot tier, is what serves it).
Status StoreImpl::EmergencyDescend(const PolicyParams& p, MaintainReport* rep) {
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, HotMemories());
  AETHER_ASSIGN_OR_RETURN(const PressureReport now, PressureNow(p, hot_count));
  if (now.level != PressureLevel::kEmergency ||
      std::all_of(now.causes.begin(), now.causes.end(),
                  [](const PressureCause& c) { return c.reading.rfind("disk_free", 0) == 0; }))
    return Status::Ok();
  // The share rounded up (at least one memory a tick), less float noise:
  // 100 x 0.07 is 7, not 8.
  const uint64_t n = uint64_t(std::ceil(double(hot_count) * p.pressure_emergency_descend * (1 - 1e-12)));
  if (n == 0) return Status::Ok();
  return DescendLowestScores(n, DemotionTier(p), "pressure", rep, &rep->descended_pressure);
}

// Drains up to restore_concurrency entries of the restore queue, evicting
// to make room.
Status StoreImpl::DrainRestores(const PolicyParams& p, const std::set<int64_t>& keep, MaintainReport* rep) {
  if (p.restore_concurrency >= 1) {
    MoveOptions drain;
    drain.queued = true;
    drain.evict = true;
    drain.limit = uint64_t(p.restore_concurrency);
    AETHER_ASSIGN_OR_RETURN(MoveReport r, Ascend(drain, keep));
    rep->restored = r.moved - r.evicted;
    rep->evicted_for_restore = r.evicted;
    rep->deferred = r.deferred.size();
    rep->dropped = r.dropped.size();
    for (PlannedMove m : r.plan) {
      if (m.to == Tier::kHot) m.reason = "restore";
      rep->moves.push_back(std::move(m));
    }
  }
  return Status::Ok();
}

}  // namespace aether
