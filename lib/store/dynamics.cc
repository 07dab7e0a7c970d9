// Memory dynamics (README "Memory dynamics"): parameters, feedback, the maintenance
// tick, and the audit history.
//
// Shape of a tick (Maintain):
//   1. read parameters, temperature, queue depth, hot count; pressure?
//   2. temperature: decay, floor, pressure scale, cap
//   3. sample candidates (sample_rate, max_candidates; seeded); each moves
//      with probability sigmoid(+-score, k) * min(t, 1): hot ones down,
//      cold ones onto the restore queue
//   4. writes: importance decay + temperature + history retention (one txn), sampled descends,
//      capacity enforcement (lowest scores), queueing, queue drain with
//      eviction and backoff; every move through the migration protocol.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "meta/schema.h"
#include "policy/eviction.h"
#include "policy/params.h"
#include "store/store_impl.h"

namespace aether {

Result<std::map<std::string, double>> StoreImpl::GetParams() {
  std::map<std::string, double> m;
  for (const ParamSpec& p : AllParams()) {
    AETHER_ASSIGN_OR_RETURN(m[p.key], tables_->config.Number(p.key, p.default_value));
  }
  return m;
}

Result<PolicyParams> StoreImpl::Params() {
  AETHER_ASSIGN_OR_RETURN(auto m, GetParams());
  return ResolveParams(m);
}

Status StoreImpl::SetParams(const std::map<std::string, double>& values, const std::string& why) {
  if (!lock_->writer()) return Status::Internal("config set on a store opened read-only");
  AETHER_ASSIGN_OR_RETURN(auto current, GetParams());
  auto next = current;
  for (const auto& [key, value] : values) {
    const ParamSpec* spec = FindParam(key);
    if (!spec) {
      std::string keys;
      for (const auto& p : AllParams()) keys += std::string(keys.empty() ? "" : ", ") + p.key;
      return Status::InvalidArgument("unknown config key '" + key + "' (keys: " + keys + ")");
    }
    if (!(value >= spec->min && value <= spec->max))
      return Status::InvalidArgument(fmt::format("{} = {} is outside [{}, {}]", key, value, spec->min, spec->max));
    next[key] = value;
  }
  if (next["min_temperature"] > next["max_temperature"])
    return Status::InvalidArgument("min_temperature must not exceed max_temperature");
  if (next["backoff_base_ms"] > next["backoff_max_ms"])
    return Status::InvalidArgument("backoff_base_ms must not exceed backoff_max_ms");
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    for (const auto& [key, value] : values) {
      AETHER_RETURN_IF_ERROR(tables_->config.Set(key, fmt::format("{}", value)));
      AETHER_RETURN_IF_ERROR(
          Audit("config", key, fmt::format("{{\"from\":{},\"to\":{},\"by\":\"{}\"}}", current[key], value, why)));
    }
    return Status::Ok();
  }));
  config_.hot_capacity = uint64_t(next["hot_capacity"]);
  return Status::Ok();
}

Status StoreImpl::ApplyPreset(const std::string& name) {
  auto it = Presets().find(name);
  if (it == Presets().end())
    return Status::InvalidArgument("unknown preset '" + name + "' (aggressive, conservative, default, disabled)");
  return SetParams(it->second, "preset " + name);
}

Result<std::vector<std::string>> StoreImpl::Feedback(const std::vector<FeedbackItem>& items) {
  if (!lock_->writer()) return Status::Internal("feedback on a store opened read-only");
  std::vector<std::string> missing;
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    missing.clear();
    for (const FeedbackItem& f : items) {
      if (!(f.reward >= 0 && f.reward <= 1))
        return Status::InvalidArgument(fmt::format("reward {} for '{}' is outside [0, 1]", f.reward, f.id));
      AETHER_ASSIGN_OR_RETURN(auto m, tables_->memories.Find(f.id));
      if (!m) {
        missing.push_back(f.id);
        continue;
      }
      AETHER_ASSIGN_OR_RETURN(auto stats, tables_->memories.Stats(m->row_id));
      if (!stats) return Status::Internal("memory vanished during feedback");
      const int64_t row = m->row_id;
      const double before = stats->importance;
      double after = FeedbackImportance(before, f.reward);
      AETHER_RETURN_IF_ERROR(tables_->memories.SetImportance(row, after));
      AETHER_RETURN_IF_ERROR(
          Audit("feedback", f.id, fmt::format("{{\"reward\":{},\"from\":{},\"to\":{}}}", f.reward, before, after)));
    }
    return Status::Ok();
  }));
  return missing;
}

Result<MaintainReport> StoreImpl::Maintain(const MaintainOptions& o) {
  if (!lock_->writer()) return Status::Internal("maintain on a store opened read-only");
  MaintainReport rep;
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, Params());
  const int64_t now = env_->NowMs();
  rep.seed = o.seed ? o.seed : env_->RandomSeed();
  std::mt19937_64 rng(rep.seed);

  AETHER_ASSIGN_OR_RETURN(rep.temperature_before, tables_->config.Number("temperature", 1.0));
  AETHER_ASSIGN_OR_RETURN(uint64_t depth, tables_->restore_queue.Depth());
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, tables_->memories.Count(Tier::kHot));
  rep.queue_depth_before = depth;
  rep.hot_capacity = config_.hot_capacity;
  rep.pressure = double(depth) >= p.pressure_queue_depth || hot_count > config_.hot_capacity;
  rep.temperature_after = NextTemperature(rep.temperature_before, rep.pressure, p);
  const double heat = std::min(rep.temperature_after, 1.0);

  std::vector<MemoryRef> down;
  std::vector<std::pair<int64_t, double>> up;
  AETHER_RETURN_IF_ERROR(SampleMoves(p, heat, now, &rng, &rep, &down, &up));
  if (o.dry_run) {  // what the sample would do; capacity and restores are not simulated
    if (p.importance_decay != 1.0) {
      AETHER_ASSIGN_OR_RETURN(rep.importance_decayed, tables_->memories.Count());
    }
    rep.descended_sampled = down.size();
    rep.queued = up.size();
    rep.hot_after = hot_count;
    rep.queue_depth_after = rep.queue_depth_before;
    return rep;
  }

  // 1. importance decay, the new temperature and the history's retention,
  // in one transaction.
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(rep.history_pruned, PruneHistory(p));
    if (p.importance_decay != 1.0) {
      AETHER_ASSIGN_OR_RETURN(rep.importance_decayed, tables_->memories.DecayImportance(p.importance_decay));
    }
    return tables_->config.Set("temperature", fmt::format("{}", rep.temperature_after));
  }));
  // 2. sampled descends, 3. the capacity, 4. queueing, 5. the queue drain.
  MoveOptions mo;
  MoveReport moved;
  AETHER_RETURN_IF_ERROR(DescendRows(down, mo, &moved, down.size()));
  rep.descended_sampled = moved.moved;
  AETHER_RETURN_IF_ERROR(EnforceCapacity(&rep));
  AETHER_RETURN_IF_ERROR(QueueRestores(up));
  rep.queued = up.size();
  AETHER_RETURN_IF_ERROR(DrainRestores(p, &rep));
  AETHER_ASSIGN_OR_RETURN(depth, tables_->restore_queue.Depth());
  AETHER_ASSIGN_OR_RETURN(hot_count, tables_->memories.Count(Tier::kHot));
  rep.queue_depth_after = depth;
  rep.hot_after = hot_count;
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] {
    return Audit("maintain", "",
                 fmt::format("{{\"seed\":{},\"temperature\":{},\"descended\":{},\"restored\":{},"
                             "\"queued\":{}}}",
                             rep.seed, rep.temperature_after, rep.descended_sampled + rep.descended_capacity,
                             rep.restored, rep.queued));
  }));
  return rep;
}

// Samples the tick's candidates: each memory with probability sample_rate;
// if that is more than max_candidates, a uniformly random subset of them
// (so the cap does not favour old row ids). Then decides each one's move:
// with probability sigmoid(+-score, k) * heat, hot ones down, cold ones
// onto the restore queue.
Status StoreImpl::SampleMoves(const PolicyParams& p, double heat, int64_t now, std::mt19937_64* rng,
                              MaintainReport* rep, std::vector<MemoryRef>* down,
                              std::vector<std::pair<int64_t, double>>* up) {
  std::uniform_real_distribution<double> u01(0, 1);
  EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
  struct Cand {
    MemoryRef m;
    AccessStats stats;
  };
  std::vector<Cand> cands;
  if (p.sample_rate > 0 && p.max_candidates >= 1) {
    AETHER_RETURN_IF_ERROR(tables_->memories.ForEach([&](const MemoryRef& m, const MemoryStats& st) {
      if (u01(*rng) >= p.sample_rate) return true;
      AccessStats a = ToAccessStats(st);
      a.importance *= p.importance_decay;
      cands.push_back({m, a});
      return true;
    }));
  }
  if (cands.size() > uint64_t(p.max_candidates)) {
    std::shuffle(cands.begin(), cands.end(), *rng);
    cands.resize(uint64_t(p.max_candidates));
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.m.row_id < b.m.row_id; });
  }
  for (const Cand& c : cands) {
    double score = EvictionScore(w, c.stats, now);
    bool hot = c.m.place.hot();
    double prob = (hot ? Sigmoid(-score, p.sigmoid_k) : Sigmoid(score, p.sigmoid_k)) * heat;
    (hot ? rep->hot_candidates : rep->cold_candidates)++;
    if (u01(*rng) >= prob) continue;
    if (hot) {
      down->push_back(c.m);
      rep->moves.push_back({c.m.id, Tier::kHot, Tier::kCold, "sampled", score});
    } else {
      up->emplace_back(c.m.row_id, prob);
      rep->moves.push_back({c.m.id, Tier::kCold, Tier::kHot, "queued", score});
    }
  }
  return Status::Ok();
}

// Descends the lowest eviction scores until the hot tier fits its capacity.
Status StoreImpl::EnforceCapacity(MaintainReport* rep) {
  MoveOptions mo;
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, tables_->memories.Count(Tier::kHot));
  if (hot_count > config_.hot_capacity) {
    AETHER_ASSIGN_OR_RETURN(auto scored, HotByScore());
    std::vector<MemoryRef> over;
    for (size_t i = 0; i < hot_count - config_.hot_capacity && i < scored.size(); ++i) {
      over.push_back(scored[i].second);
      rep->moves.push_back({scored[i].second.id, Tier::kHot, Tier::kCold, "capacity", scored[i].first});
    }
    MoveReport cap;
    AETHER_RETURN_IF_ERROR(DescendRows(over, mo, &cap, over.size()));
    rep->descended_capacity = cap.moved;
  }
  return Status::Ok();
}

// Drains up to restore_concurrency entries of the restore queue, evicting
// to make room.
Status StoreImpl::DrainRestores(const PolicyParams& p, MaintainReport* rep) {
  if (p.restore_concurrency >= 1) {
    MoveOptions drain;
    drain.queued = true;
    drain.evict = true;
    drain.limit = uint64_t(p.restore_concurrency);
    AETHER_ASSIGN_OR_RETURN(MoveReport r, Ascend(drain));
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

// Upserts restore-queue entries (row id, priority) for memories that are
// still cold; a repeated request keeps the higher priority.
Status StoreImpl::QueueRestores(const std::vector<std::pair<int64_t, double>>& entries) {
  if (entries.empty()) return Status::Ok();
  int64_t now = env_->NowMs();
  return InTransaction(db_.get(), [&]() -> Status {
    for (const auto& [row, priority] : entries)
      AETHER_RETURN_IF_ERROR(tables_->restore_queue.PutIfCold(row, priority, now));
    return Status::Ok();
  });
}

Result<std::vector<HistoryEntry>> StoreImpl::History(const std::string& id, int64_t since_ms) {
  return tables_->audit_log.Since(id, since_ms);
}

}  // namespace aether
