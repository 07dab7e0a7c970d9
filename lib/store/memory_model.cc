// MemoryModel: the memory model's parameters, feedback, restore queueing,
// the tick's sampled moves, and the history (memory_model.h).
#include "store/memory_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>

#include "aether/metrics.h"
#include "meta/schema.h"
#include "policy/access_pattern.h"
#include "policy/params.h"
#include "policy/placement.h"

namespace aether {

Result<std::map<std::string, double>> MemoryModel::GetParams() {
  std::map<std::string, double> m;
  for (const ParamSpec& p : AllParams()) {
    AETHER_ASSIGN_OR_RETURN(m[p.key], s_->tables_->config.Number(p.key, p.default_value));
  }
  return m;
}

Result<PolicyParams> MemoryModel::Params() {
  AETHER_ASSIGN_OR_RETURN(auto m, GetParams());
  return ResolveParams(m);
}

namespace {

// The pressure thresholds of each reading the change touches, judged in
// the order of their levels (those judged: 0 is off): the hot fill rises
// through them, the free shares fall. A change may not add an inversion
// (one already stored, an older aether's, may be mended a key at a time);
// check_pressure_level, when set, is a level.
Status CheckPressureOrder(const std::map<std::string, double>& values, std::map<std::string, double>& next,
                          const std::map<std::string, double>& current) {
  for (const auto& reading_direction :
       {std::pair<const char*, bool>{"hot", true}, {"memory", false}, {"disk", false}, {"disk_bytes", false}}) {
    const char* reading = reading_direction.first;
    const bool rising = reading_direction.second;  // a plain local: lambdas capture it (clang, C++17)
    std::vector<std::string> keys;
    for (const char* level : {"warning", "critical", "emergency"})
      keys.push_back(fmt::format("pressure_{}_{}", reading, level));
    if (std::none_of(keys.begin(), keys.end(), [&](const std::string& k) { return values.count(k) > 0; })) continue;
    // The out-of-order pairs of judged neighbours, in `m`.
    auto inversions = [&](const std::map<std::string, double>& m, std::string* first) {
      int n = 0;
      std::string last;
      for (const std::string& k : keys) {
        const double v = m.count(k) ? m.at(k) : FindParam(k)->default_value;
        if (v == 0) continue;
        if (!last.empty()) {
          const double before = m.count(last) ? m.at(last) : FindParam(last)->default_value;
          if (rising ? v <= before : v >= before) {
            if (n++ == 0 && first)
              *first = values.count(k) ? fmt::format("{} = {} would be {} {} = {}", k, v,
                                                     rising ? "at or below" : "at or above", last, before)
                                       : fmt::format("{} = {} would be {} {} = {}", last, before,
                                                     rising ? "at or above" : "at or below", k, v);
          }
        }
        last = k;
      }
      return n;
    };
    std::string why;
    if (inversions(next, &why) > inversions(current, nullptr))
      return Status::InvalidArgument(fmt::format("{}: a worse level needs {} (0 turns a level off)", why,
                                                 rising ? "a fuller hot tier: each threshold above the one before"
                                                        : "less left: each threshold below the one before"));
  }
  if (values.count("check_pressure_level") && next["check_pressure_level"] != std::floor(next["check_pressure_level"]))
    return Status::InvalidArgument(
        fmt::format("check_pressure_level = {} is not a level (0 off, 1 warning, 2 critical, 3 emergency)",
                    next["check_pressure_level"]));
  return Status::Ok();
}

}  // namespace

Status MemoryModel::SetParams(const std::map<std::string, double>& values, const std::string& why) {
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
  AETHER_RETURN_IF_ERROR(CheckPressureOrder(values, next, current));
  // A warm capacity in a store without the warm tier would do nothing.
  if (values.count("warm_capacity_bytes") && next["warm_capacity_bytes"] >= 1)
    AETHER_RETURN_IF_ERROR(s_->WarmAllowed());
  StoreConfig capacity = s_->config_;
  capacity.hot_capacity = uint64_t(next["hot_capacity"]);
  capacity.hot_capacity_bytes = uint64_t(next["hot_capacity_bytes"]);
  if (values.count("hot_capacity") || values.count("hot_capacity_bytes")) {  // every pinned memory must fit
    AETHER_ASSIGN_OR_RETURN(uint64_t pinned, s_->tables_->memories.CountPinned());
    const uint64_t room = HotCapacityOf(capacity);
    if (room < pinned)
      return Status::FailedPrecondition(fmt::format(
          "the hot capacity would be {} memories, below the {} pinned; unpin some first (aether unpin)", room, pinned));
  }
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&]() -> Status {
    for (const auto& [key, value] : values) {
      AETHER_RETURN_IF_ERROR(s_->tables_->config.Set(key, fmt::format("{}", value)));
      AETHER_RETURN_IF_ERROR(
          s_->Audit("config", key, fmt::format("{{\"from\":{},\"to\":{},\"by\":\"{}\"}}", current[key], value, why)));
    }
    return Status::Ok();
  }));
  s_->config_.hot_capacity = capacity.hot_capacity;
  s_->config_.hot_capacity_bytes = capacity.hot_capacity_bytes;
  return Status::Ok();
}

Status MemoryModel::ApplyPreset(const std::string& name) {
  auto it = Presets().find(name);
  if (it == Presets().end())
    return Status::InvalidArgument("unknown preset '" + name + "' (aggressive, conservative, default, disabled)");
  return SetParams(it->second, "preset " + name);
}

Result<std::vector<std::string>> MemoryModel::Feedback(const std::vector<FeedbackItem>& items) {
  if (!lock_->writer()) return Status::Internal("feedback on a store opened read-only");
  std::vector<std::string> missing;
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&]() -> Status {
    missing.clear();
    for (const FeedbackItem& f : items) {
      if (!(f.reward >= 0 && f.reward <= 1))
        return Status::InvalidArgument(fmt::format("reward {} for '{}' is outside [0, 1]", f.reward, f.id));
      AETHER_ASSIGN_OR_RETURN(auto m, s_->tables_->memories.Find(f.id));
      if (!m) {
        missing.push_back(f.id);
        continue;
      }
      AETHER_ASSIGN_OR_RETURN(auto stats, s_->tables_->memories.Stats(m->row_id));
      if (!stats) return Status::Internal("memory vanished during feedback");
      const int64_t row = m->row_id;
      const double before = stats->importance;
      double after = FeedbackImportance(before, f.reward);
      AETHER_RETURN_IF_ERROR(s_->tables_->memories.SetImportance(row, after));
      AETHER_RETURN_IF_ERROR(
          s_->Audit("feedback", f.id, fmt::format("{{\"reward\":{},\"from\":{},\"to\":{}}}", f.reward, before, after)));
    }
    return Status::Ok();
  }));
  CountMetric("aether_feedback_total", "", int64_t(items.size() - missing.size()));
  return missing;
}

namespace {

// Under the low watermark (`roomy`) the hot tier has room: a memory
// accessed within idle_descend_hours stays, whoever would descend it (the
// sample, the pattern).
bool HeldByRoom(const PolicyParams& p, bool roomy, int64_t now, int64_t last_access_ms) {
  return roomy && double(now - last_access_ms) < p.idle_descend_hours * 3.6e6;
}

}  // namespace

// Samples the tick's candidates: each memory with probability sample_rate;
// if that is more than max_candidates, a uniformly random subset of them
// (so the cap does not favour old row ids). Then decides each one's move:
// with probability sigmoid(+-score, k) * heat, hot ones down, cold ones
// onto the restore queue.
Status MemoryModel::SampleMoves(const PolicyParams& p, double heat, int64_t now, std::mt19937_64* rng,
                                MaintainReport* rep, std::vector<MemoryRef>* down,
                                std::vector<std::pair<int64_t, double>>* up, const std::vector<int64_t>& decided,
                                bool roomy) {
  std::uniform_real_distribution<double> u01(0, 1);
  EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
  struct Cand {
    MemoryRef m;
    AccessStats stats;
  };
  std::vector<Cand> cands;
  if (p.sample_rate > 0 && p.max_candidates >= 1) {
    AETHER_RETURN_IF_ERROR(s_->tables_->memories.ForEach([&](const MemoryRef& m, const MemoryStats& st) {
      if (u01(*rng) >= p.sample_rate) return true;
      AccessStats a = s_->ToAccessStats(st);
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
    const double draw = u01(*rng);  // drawn for every candidate: pins change no other draw
    if ((hot && c.stats.pinned) || std::binary_search(decided.begin(), decided.end(), c.m.row_id)) continue;
    (hot ? rep->hot_candidates : rep->cold_candidates)++;
    if (draw >= prob) continue;
    if (hot && HeldByRoom(p, roomy, now, c.stats.last_access_ms)) continue;
    if (hot) {
      down->push_back(c.m);
      rep->moves.push_back({c.m.id, Tier::kHot, s_->DemotionTier(p), "sampled", score});
    } else {
      up->emplace_back(c.m.row_id, prob);
      rep->moves.push_back({c.m.id, c.m.place.tier, Tier::kHot, "queued", score});
    }
  }
  return Status::Ok();
}

// Every memory with a history is read (a few µs each: bench-patterns) and
// decided; pinned ones stay as they are. A promotion goes on the restore
// queue above every sampled entry (their priorities are at most 1), so the
// drain takes it first; one already there from an earlier tick's decision
// (priority above 1) is not queued or logged again, and under critical
// pressure (`promote` false) none is made. A demotion only makes room the
// tick needs: the hot tier's count past its capacity, plus the promotions
// queued here (at most restore_concurrency: what the drain restores). The
// pattern's demotions (lowest scores first) then stand in for the score's
// victims; with room to spare, a memory the pattern expects no access for
// stays hot (hot and unused costs nothing; demoted and searched again
// costs a hit). A demotion also waits, like the sample's, while the hot
// tier is under its low watermark and the memory was accessed within
// idle_descend_hours.
Status MemoryModel::PatternMoves(const PolicyParams& p, int64_t now, bool promote, bool roomy, uint64_t hot_count,
                                 MaintainReport* rep, PatternPlan* plan) {
  if (p.pattern_placement < 1) return Status::Ok();
  EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
  AETHER_ASSIGN_OR_RETURN(const auto queued, s_->tables_->restore_queue.Priorities());
  struct Demote {
    MemoryRef m;
    PlannedMove move;
  };
  std::vector<Demote> demotes;
  AETHER_RETURN_IF_ERROR(s_->tables_->memories.ForEachWithHistory(
      [&](const MemoryRef& m, const MemoryStats& st, const std::string& stored) {
        if (st.pinned) return;
        // A history that does not decode (verify reports it) is read as none.
        const std::optional<AccessHistory> h = DecodeHistory(stored);
        if (!h || h->times.empty()) return;
        ++rep->pattern_read;
        const PatternReading r = ClassifyAccesses(*h, now, st.created_ms);
        const PlacementDecision d = DecidePlacement(r, p, now, m.place.hot(), h->times.back());
        if (d.action == PlacementAction::kNone) {
          rep->pattern_low_confidence += std::string_view(d.reason) == "low-confidence";
          return;
        }
        if (d.action == PlacementAction::kPromote && !promote) return;
        if (d.action == PlacementAction::kDemote && HeldByRoom(p, roomy, now, st.last_access_ms)) return;
        if (d.action != PlacementAction::kDemote) plan->decided.push_back(m.row_id);
        if (d.action == PlacementAction::kKeepHot) {
          plan->keep.insert(m.row_id);
          ++rep->pattern_kept;
          return;
        }
        if (d.action == PlacementAction::kPromote) {
          auto q = queued.find(m.row_id);
          if (q != queued.end() && q->second > 1) return;  // queued by an earlier tick's decision
        }
        AccessStats a = s_->ToAccessStats(st);
        a.importance *= p.importance_decay;
        PlannedMove move{m.id, Tier::kHot, s_->DemotionTier(p), d.reason, EvictionScore(w, a, now)};
        move.pattern = AccessPatternName(r.pattern);
        move.confidence = d.confidence;
        move.next_expected_ms = r.next_expected_ms;
        if (d.action == PlacementAction::kDemote) {
          demotes.push_back({m, std::move(move)});
          return;
        }
        std::swap(move.from, move.to);
        plan->up.emplace_back(m.row_id, 1 + d.confidence);
        ++rep->pattern_queued;
        rep->moves.push_back(std::move(move));
      }));
  // The drain restores at most restore_concurrency a tick.
  const uint64_t wanted = hot_count + std::min<uint64_t>(plan->up.size(), uint64_t(p.restore_concurrency));
  const uint64_t need = wanted > s_->HotCapacity() ? wanted - s_->HotCapacity() : 0;
  std::stable_sort(demotes.begin(), demotes.end(),
                   [](const Demote& a, const Demote& b) { return a.move.score < b.move.score; });
  rep->pattern_held += demotes.size() - std::min<uint64_t>(need, demotes.size());
  demotes.resize(std::min<uint64_t>(need, demotes.size()));
  for (Demote& dm : demotes) {
    plan->decided.push_back(dm.m.row_id);
    plan->down.push_back(dm.m);
    rep->moves.push_back(std::move(dm.move));
  }
  std::sort(plan->decided.begin(), plan->decided.end());  // SampleMoves searches it
  return Status::Ok();
}

// Upserts restore-queue entries (row id, priority) for memories that are
// still cold; a repeated request keeps the higher priority.
Status MemoryModel::QueueRestores(const std::vector<std::pair<int64_t, double>>& entries) {
  const int64_t now = s_->env_->NowMs();
  for (const auto& [row, priority] : entries)
    AETHER_RETURN_IF_ERROR(s_->tables_->restore_queue.PutIfCold(row, priority, now));
  if (entries.empty()) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, Params());
  AETHER_ASSIGN_OR_RETURN(uint64_t dropped, s_->tables_->restore_queue.CapAt(uint64_t(p.restore_queue_max)));
  if (dropped) CountMetric("aether_restores_total", "outcome=\"dropped\"", int64_t(dropped));
  return Status::Ok();
}

Result<std::vector<HistoryEntry>> MemoryModel::History(const std::string& id, int64_t since_ms,
                                                       const std::string& trace_id) {
  return s_->tables_->audit_log.Since(id, since_ms, trace_id);
}

}  // namespace aether
