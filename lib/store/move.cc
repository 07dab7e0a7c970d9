// Descend (hot -> cold) and ascend (cold -> hot): choosing what moves, then
// moving it in batches, each batch one migration (migration.cc).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "filter/filter.h"
#include "meta/schema.h"
#include "policy/eviction.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// Lowest eviction score first, then lowest row id.
void SortByScore(std::vector<std::pair<double, MemoryRef>>* scored) {
  std::sort(scored->begin(), scored->end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second.row_id < b.second.row_id);
  });
}

}  // namespace

// Every hot memory but the pinned with its eviction score, lowest first:
// what a policy may move.
Result<std::vector<std::pair<double, MemoryRef>>> StoreImpl::HotByScore(const std::set<int64_t>& keep,
                                                                        std::vector<std::string>* pinned) {
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
  int64_t now = env_->NowMs();
  std::vector<std::pair<double, MemoryRef>> out;
  AETHER_RETURN_IF_ERROR(tables_->memories.ForEachHot([&](const MemoryRef& m, const MemoryStats& st) {
    if (st.pinned && pinned) pinned->push_back(m.id);
    if (!st.pinned && !keep.count(m.row_id)) out.push_back({EvictionScore(w, ToAccessStats(st), now), m});
  }));
  SortByScore(&out);
  return out;
}

// The exact vectors of rows[begin, end) into data (dim each, in order): a
// hot row's from its slot, a row in a shard from its frame (each frame read
// once). In a rehearsal a record it has not written reads as zeros.
Status StoreImpl::ReadRowVectors(SlotFile* hot, const std::vector<MemoryRef>& rows, size_t begin, size_t end,
                                 std::vector<float>* data) {
  const uint32_t dim = config_.dim;
  data->assign((end - begin) * dim, 0.0f);
  std::map<std::pair<int64_t, int64_t>, DecodedFrame> frames;
  for (size_t i = begin; i < end; ++i)
    if (rows[i].place.in_shard()) frames[{rows[i].place.shard_id, rows[i].place.frame_offset}];
  // The frames come in shard order: one shard open at a time (a batch from
  // thousands of partitions would otherwise hold a descriptor for each).
  std::unique_ptr<ShardFile> shard;
  int64_t open_id = 0;
  for (auto& [key, frame] : frames) {
    if (!ColdRecordOnDisk(Place::Cold(key.first, key.second, 0))) continue;
    if (!shard || open_id != key.first) {
      shard.reset();
      AETHER_ASSIGN_OR_RETURN(ShardInfo info, tables_->shards.Get(key.first));
      AETHER_ASSIGN_OR_RETURN(shard, OpenShard(info, /*writable=*/false));
      open_id = key.first;
    }
    AETHER_RETURN_IF_ERROR(shard->ReadFrame(static_cast<uint64_t>(key.second), &frame));
  }
  for (size_t i = begin; i < end; ++i) {
    const MemoryRef& r = rows[i];
    float* out = data->data() + (i - begin) * dim;
    if (r.place.hot()) {
      AETHER_RETURN_IF_ERROR(ReadHotVector(hot, r, out));
      continue;
    }
    if (!ColdRecordOnDisk(r.place)) continue;
    const DecodedFrame& f = frames[{r.place.shard_id, r.place.frame_offset}];
    if (r.place.frame_index < 0 || uint64_t(r.place.frame_index) >= f.count ||
        f.row_ids[r.place.frame_index] != r.row_id)
      return Status::Corruption(fmt::format("shard {} frame at offset {} does not hold '{}' (row {})", r.place.shard_id,
                                            r.place.frame_offset, r.id, r.row_id));
    const float* v = f.vector(uint32_t(r.place.frame_index));
    std::copy(v, v + dim, out);
  }
  return Status::Ok();
}

// Every warm memory but the pinned with its eviction score, lowest first
// (one pass over the memories: the warm tier has no count of its own).
Result<std::vector<std::pair<double, MemoryRef>>> StoreImpl::WarmByScore(const std::set<int64_t>& keep) {
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
  const int64_t now = env_->NowMs();
  const auto* pending = PendingOnce();
  std::vector<std::pair<double, MemoryRef>> out;
  AETHER_RETURN_IF_ERROR(tables_->memories.ForEach([&](const MemoryRef& m, const MemoryStats& st) {
    if (!m.place.warm() || st.pinned || keep.count(m.row_id)) return true;
    AccessStats a = ToAccessStats(st);
    AddPendingFrom(pending, m.row_id, &a.access_count, &a.last_access_ms);
    out.push_back({EvictionScore(w, a, now), m});
    return true;
  }));
  SortByScore(&out);
  return out;
}

// The warm memories past warm_capacity_bytes, lowest eviction scores first:
// what the policy descends to cold (none while the warm tier is off).
Result<std::vector<std::pair<double, MemoryRef>>> StoreImpl::WarmOverflow(const PolicyParams& p,
                                                                          const std::set<int64_t>& keep) {
  std::vector<std::pair<double, MemoryRef>> out;
  if (!WarmTierOn(p)) return out;
  AETHER_ASSIGN_OR_RETURN(uint64_t warm, tables_->memories.Count(Tier::kWarm));
  const uint64_t fits = uint64_t(p.warm_capacity_bytes) / WarmBytes(1);
  if (warm <= fits) return out;
  AETHER_ASSIGN_OR_RETURN(out, WarmByScore(keep));
  out.resize(std::min<size_t>(out.size(), warm - fits));
  return out;
}

// Moves `rows` into the shards' tier `to` (kWarm or kCold), in batches of
// o.batch, each one migration of `kind`: "descend" (from hot, or warm to
// cold) or "ascend" (cold to warm).
Status StoreImpl::MoveToShards(const std::vector<MemoryRef>& rows, Tier to, const char* kind, const MoveOptions& o,
                               MoveReport* report, uint64_t total) {
  if (to == Tier::kWarm) AETHER_RETURN_IF_ERROR(WarmAllowed());
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  for (size_t begin = 0; begin < rows.size(); begin += o.batch) {
    size_t end = std::min(rows.size(), begin + o.batch);
    AETHER_ASSIGN_OR_RETURN(uint64_t slot_count, hot->SlotCount());  // a commit may have cut it
    std::vector<MigrationItem> items(end - begin);
    std::vector<float> data;
    AETHER_RETURN_IF_ERROR(ReadRowVectors(hot.get(), rows, begin, end, &data));
    std::vector<const float*> vectors(end - begin);
    for (size_t i = begin; i < end; ++i) {
      MigrationItem& it = items[i - begin];
      it.row_id = rows[i].row_id;
      it.id = rows[i].id;
      it.src = rows[i].place;
      it.dst.tier = to;
      vectors[i - begin] = data.data() + (i - begin) * config_.dim;
    }
    Migration m;
    m.kind = kind;
    m.hot_slots_before = slot_count;
    AETHER_RETURN_IF_ERROR(RunToPartitions(&m, &items, vectors));
    report->moved += items.size();
    for (const ShardTarget& t : m.targets) report->bytes += t.len_after - t.len_before;
    ++report->batches;
    if (o.progress) o.progress(report->moved, total);
  }
  return Status::Ok();
}

Status StoreImpl::DescendRows(const std::vector<MemoryRef>& rows, Tier to, const MoveOptions& o, MoveReport* report,
                              uint64_t total) {
  return MoveToShards(rows, to, "descend", o, report, total);
}

// Runs migration m, whose items (vectors[i] is item i's vector, its dst.tier
// set) each go to the nearest partition of the current index (the staging
// shard while there is none).
Status StoreImpl::RunToPartitions(Migration* m, std::vector<MigrationItem>* items,
                                  const std::vector<const float*>& vectors) {
  PendingWrites w;
  AETHER_ASSIGN_OR_RETURN(auto groups, index_->GroupByPartition(vectors));
  for (const auto& [shard_id, which] : groups) {
    AETHER_ASSIGN_OR_RETURN(ShardInfo target, tables_->shards.Get(shard_id));
    AETHER_RETURN_IF_ERROR(migrator_->BuildFrames(items, which, vectors, target, m, &w));
  }
  return migrator_->Run(m, *items, w);
}

Status StoreImpl::AscendRows(const std::vector<MemoryRef>& rows, Tier to, const MoveOptions& o, MoveReport* report,
                             uint64_t total) {
  if (to == Tier::kWarm) return MoveToShards(rows, to, "ascend", o, report, total);
  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  for (size_t begin = 0; begin < rows.size(); begin += o.batch) {
    size_t end = std::min(rows.size(), begin + o.batch);
    std::vector<float> data;
    AETHER_RETURN_IF_ERROR(ReadRowVectors(hot.get(), rows, begin, end, &data));
    AETHER_ASSIGN_OR_RETURN(uint64_t slot_count, hot->SlotCount());
    AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> slots, migrator_->AllocateSlots(end - begin));
    std::vector<MigrationItem> items(end - begin);
    PendingWrites w;
    for (size_t i = begin; i < end; ++i) {
      MigrationItem& it = items[i - begin];
      it.row_id = rows[i].row_id;
      it.id = rows[i].id;
      it.src = rows[i].place;
      it.dst = Place::Hot(slots[i - begin]);
      w.slots.push_back({static_cast<uint64_t>(it.dst.slot), it.row_id, data.data() + (i - begin) * config_.dim});
    }
    Migration m;
    m.kind = "ascend";
    m.hot_slots_before = slot_count;
    AETHER_RETURN_IF_ERROR(migrator_->Run(&m, items, w));
    report->moved += items.size();
    report->bytes += items.size() * SlotFile::SlotSize(config_.dim);
    ++report->batches;
    if (o.progress) o.progress(report->moved, total);
  }
  return Status::Ok();
}

// Puts a descend's plan in `order` (ties: as planned): the eviction score
// (already in the plan), the last access (pending ones included) or the
// creation time, lowest first. One read transaction for the lookups.
Status StoreImpl::OrderPlan(MoveOptions::Order order, std::vector<MemoryRef>* rows, std::vector<PlannedMove>* plan) {
  std::vector<double> key(rows->size());
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    for (size_t i = 0; i < rows->size(); ++i) {
      if (order == MoveOptions::Order::kScore) {
        key[i] = (*plan)[i].score;
      } else if (order == MoveOptions::Order::kLru) {
        AETHER_ASSIGN_OR_RETURN(auto a, tables_->memories.Stats((*rows)[i].row_id));
        if (!a) return Status::Internal("memory vanished during descend planning");
        AddPendingFrom(PendingOnce(), (*rows)[i].row_id, &a->access_count, &a->last_access_ms);
        key[i] = double(a->last_access_ms);
      } else {
        AETHER_ASSIGN_OR_RETURN(auto m, tables_->memories.Stats((*rows)[i].row_id));
        if (!m) return Status::Internal("memory vanished during descend planning");
        key[i] = double(m->created_ms);
      }
    }
    return Status::Ok();
  }));
  std::vector<size_t> idx(rows->size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
  std::vector<MemoryRef> sorted_rows;
  std::vector<PlannedMove> sorted_plan;
  for (size_t i : idx) {
    sorted_rows.push_back(std::move((*rows)[i]));
    sorted_plan.push_back(std::move((*plan)[i]));
  }
  rows->swap(sorted_rows);
  plan->swap(sorted_plan);
  return Status::Ok();
}

Result<MoveReport> StoreImpl::Descend(const MoveOptions& o, const std::set<int64_t>& keep, bool hot_only) {
  if (!lock_->writer()) return Status::Internal("descend on a store opened read-only");
  if (o.batch == 0) return Status::InvalidArgument("--batch must be at least 1");
  if (!o.where.empty()) AETHER_RETURN_IF_ERROR(Filter::Parse(o.where).status());  // whole, before it is combined
  // --policy demotes where the policies do (warm while the warm tier is
  // on); everything else to cold unless told.
  Tier to = Tier::kCold;
  if (o.to) {
    to = *o.to;
  } else if (o.policy) {
    AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
    to = DemotionTier(p);
  }
  if (to != Tier::kWarm && to != Tier::kCold) return Status::InvalidArgument("descend --to is warm or cold");
  if (to == Tier::kWarm) AETHER_RETURN_IF_ERROR(WarmAllowed());
  // What moves down to `to`: hot memories, and to cold warm ones too.
  auto above = [&](const Place& p) { return p.hot() || (to == Tier::kCold && !hot_only && p.warm()); };
  MoveReport report;
  std::vector<MemoryRef> rows;
  auto plan = [&](const MemoryRef& loc, const char* reason, double score) {
    rows.push_back(loc);
    report.plan.push_back({loc.id, loc.place.tier, to, reason, score});
  };
  if (!o.ids.empty()) {
    // Named ids: only their own scores (never a scan of the hot tier), all
    // lookups in one read transaction.
    AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
    const EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
    const int64_t now = env_->NowMs();
    AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
      std::set<std::string> seen;
      for (const std::string& id : o.ids) {
        if (!seen.insert(id).second) continue;
        AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.Find(id));
        if (!loc) {
          report.not_found.push_back(id);
        } else if (!above(loc->place)) {
          report.already.push_back(id);
        } else {
          AETHER_ASSIGN_OR_RETURN(auto a, AccessStatsOf(loc->row_id));
          if (!a) return Status::Internal("memory vanished during descend planning");
          if (a->pinned)
            report.pinned.push_back(id);
          else
            plan(*loc, "requested", EvictionScore(w, *a, now));
        }
      }
      return Status::Ok();
    }));
  } else if (!o.where.empty() || o.idle_longer_than_ms >= 0 || o.older_than_ms >= 0) {
    // The hot memories the filter (and the idle and age conditions, as
    // conditions of the same filter) match, in slot order, scored.
    AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
    const EvictionWeights w{p.alpha, p.beta, p.gamma, p.delta};
    const int64_t now = env_->NowMs();
    std::vector<std::string> conditions;
    if (!o.where.empty()) conditions.push_back("(" + o.where + ")");
    if (o.idle_longer_than_ms >= 0)
      conditions.push_back(fmt::format("last_access_ms < {}", now - o.idle_longer_than_ms));
    if (o.older_than_ms >= 0) conditions.push_back(fmt::format("created_ms < {}", now - o.older_than_ms));
    std::string filter;
    for (const std::string& c : conditions) filter += (filter.empty() ? "" : " and ") + c;
    const char* reason = !o.where.empty() ? "where" : o.idle_longer_than_ms >= 0 ? "idle" : "age";
    AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
      AETHER_ASSIGN_OR_RETURN(Selection selected,
                              Select(filter, to == Tier::kCold && !hot_only ? TierFilter::kAll : TierFilter::kHot));
      for (const MemoryRef& loc : selected.rows()) {
        if (!above(loc.place)) continue;
        AETHER_ASSIGN_OR_RETURN(auto a, AccessStatsOf(loc.row_id));
        if (!a) return Status::Internal("memory vanished during descend planning");
        if (a->pinned)
          report.pinned.push_back(loc.id);
        else if (!keep.count(loc.row_id))
          plan(loc, reason, EvictionScore(w, *a, now));
      }
      return Status::Ok();
    }));
  } else if (o.all || o.policy) {
    // --all reports the pinned it keeps.
    AETHER_ASSIGN_OR_RETURN(auto scored, HotByScore(keep, o.all ? &report.pinned : nullptr));
    if (o.all) {
      for (const auto& [score, loc] : scored) plan(loc, "all", score);
      if (to == Tier::kCold) {
        AETHER_ASSIGN_OR_RETURN(auto warm, WarmByScore(keep));
        for (const auto& [score, loc] : warm) plan(loc, "all", score);
      }
    } else {
      // Over the capacity counting the pinned, which stay: the rest descend
      // as far as they can.
      AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, HotMemories());
      const uint64_t over = hot_count > HotCapacity() ? hot_count - HotCapacity() : 0;
      for (size_t i = 0; i < over && i < scored.size(); ++i) plan(scored[i].second, "policy", scored[i].first);
    }
  }
  if (o.order != MoveOptions::Order::kPlanned) AETHER_RETURN_IF_ERROR(OrderPlan(o.order, &rows, &report.plan));
  if (o.limit > 0 && rows.size() > o.limit) {
    rows.resize(o.limit);
    report.plan.resize(o.limit);
  }
  if (o.dry_run) return report;
  AETHER_RETURN_IF_ERROR(DescendRows(rows, to, o, &report, rows.size()));
  return report;
}

// What ascend's ids or --where select: the memories below `to` (cold ones,
// and to hot warm ones too), the rest reported; a selection in file order.
Status StoreImpl::AscendSelection(const MoveOptions& o, Tier to, std::vector<MemoryRef>* rows, MoveReport* report) {
  auto below = [&](const Place& p) { return p.cold() || (to == Tier::kHot && p.warm()); };
  if (!o.where.empty()) {
    return InReadTransaction(db_.get(), [&]() -> Status {
      AETHER_ASSIGN_OR_RETURN(Selection selected, Select(o.where, TierFilter::kAll));
      for (const MemoryRef& loc : selected.rows())
        if (below(loc.place)) rows->push_back(loc);
      return Status::Ok();
    });
  }
  std::set<std::string> seen;
  for (const std::string& id : o.ids) {
    if (!seen.insert(id).second) continue;
    AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.Find(id));
    if (!loc)
      report->not_found.push_back(id);
    else if (!below(loc->place))
      report->already.push_back(id);
    else
      rows->push_back(*loc);
  }
  return Status::Ok();
}

Result<MoveReport> StoreImpl::Ascend(const MoveOptions& o, const std::set<int64_t>& keep) {
  if (!lock_->writer()) return Status::Internal("ascend on a store opened read-only");
  if (o.batch == 0) return Status::InvalidArgument("--batch must be at least 1");
  if (o.idle_longer_than_ms >= 0 || o.older_than_ms >= 0 || o.order != MoveOptions::Order::kPlanned)
    return Status::InvalidArgument(
        "idle, age and order selections are descend's (ascend takes ids, --queued or --where)");
  const Tier to = o.to.value_or(Tier::kHot);
  if (to != Tier::kHot && to != Tier::kWarm) return Status::InvalidArgument("ascend --to is hot or warm");
  if (to == Tier::kWarm) AETHER_RETURN_IF_ERROR(WarmAllowed());
  if (to == Tier::kWarm && (o.queued || o.evict))
    return Status::InvalidArgument("--queued and --evict ascend to hot (the restore queue, the hot tier's room)");
  AETHER_ASSIGN_OR_RETURN(PolicyParams params, model_->Params());
  MoveReport report;
  std::vector<MemoryRef> rows;
  if (o.queued) {
    AETHER_RETURN_IF_ERROR(LoadDueQueue(&rows, &report));
  } else {
    AETHER_RETURN_IF_ERROR(AscendSelection(o, to, &rows, &report));
  }
  if (o.limit > 0 && rows.size() > o.limit) rows.resize(o.limit);
  if (to == Tier::kWarm) {  // the warm tier's room is maintain's to keep
    for (const auto& r : rows)
      report.plan.push_back({r.id, r.place.tier, to, !o.where.empty() ? "where" : "requested", 0});
    if (o.dry_run) return report;
    AETHER_RETURN_IF_ERROR(AscendRows(rows, to, o, &report, rows.size()));
    return report;
  }

  // Room in the hot tier; make more with --evict, else refuse (or, for the
  // queue, defer what does not fit).
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, HotMemories());
  uint64_t room = HotCapacity() > uint64_t(hot_count) ? HotCapacity() - hot_count : 0;
  std::vector<MemoryRef> evict;
  if (rows.size() > room) {
    if (o.evict) {
      // Evicting makes room up to the capacity, no further: at most
      // `capacity` memories can be hot afterwards, the pinned among them
      // (no eviction moves those). What cannot fit even then is deferred
      // (queued) or refuses the request whole (ids), so that every id is
      // accounted for.
      AETHER_ASSIGN_OR_RETURN(uint64_t pinned, tables_->memories.CountPinned(Tier::kHot));
      const uint64_t unpinned_room = HotCapacity() - std::min(HotCapacity(), pinned);
      const size_t up = std::min<uint64_t>(rows.size(), unpinned_room);
      if (up < rows.size()) {
        if (!o.queued)
          return Status::FailedPrecondition(fmt::format(
              "ascending {} memories needs {} hot slots, but the hot capacity is {}{}; raise it "
              "(aether config STORE set {} N)",
              rows.size(), rows.size(), HotCapacity(),
              pinned ? fmt::format(" of which {} hold pinned memories (aether unpin)", pinned) : std::string(),
              HotCapacityKey()));
        std::vector<MemoryRef> later(rows.begin() + long(up), rows.end());
        rows.resize(up);
        if (!o.dry_run) AETHER_RETURN_IF_ERROR(DeferQueued(later, "hot capacity too small", &report));
      }
      AETHER_ASSIGN_OR_RETURN(auto scored, HotByScore(keep));
      uint64_t over =
          uint64_t(hot_count) + rows.size() > HotCapacity() ? uint64_t(hot_count) + rows.size() - HotCapacity() : 0;
      // `keep` (the rows a pin or this tick's pattern keeps) may leave too
      // few to evict: what would not fit stays queued as it is (no failed
      // attempt: the next tick may have room), and with nothing that fits
      // nothing is evicted.
      if (over > scored.size() && o.queued) {
        rows.resize(rows.size() - std::min<size_t>(rows.size(), over - scored.size()));
        over = rows.empty() ? 0 : scored.size();
      }
      for (size_t i = 0; i < over && i < scored.size(); ++i) {
        evict.push_back(scored[i].second);
        report.plan.push_back({scored[i].second.id, Tier::kHot, DemotionTier(params), "evict", scored[i].first});
      }
    } else if (o.queued) {
      std::vector<MemoryRef> later(rows.begin() + room, rows.end());
      rows.resize(room);
      if (!o.dry_run) AETHER_RETURN_IF_ERROR(DeferQueued(later, "hot tier full (use --evict)", &report));
    } else {
      return Status::FailedPrecondition(
          fmt::format("ascending {} memories needs {} free hot slots, but only {} of the hot capacity {} are free; "
                      "use --evict to descend the lowest-scoring memories first, or raise the hot capacity",
                      rows.size(), rows.size(), room, HotCapacity()));
    }
  }
  for (const auto& r : rows)
    report.plan.push_back({r.id, r.place.tier, Tier::kHot,
                           o.queued           ? "queued"
                           : !o.where.empty() ? "where"
                                              : "requested",
                           0});
  if (o.dry_run) return report;
  uint64_t total = evict.size() + rows.size();
  AETHER_RETURN_IF_ERROR(DescendRows(evict, DemotionTier(params), o, &report, total));
  report.evicted = report.moved;
  Status s = AscendRows(rows, Tier::kHot, o, &report, total);
  if (o.queued && report.moved > report.evicted)
    CountMetric("aether_restores_total", "outcome=\"done\"", int64_t(report.moved - report.evicted));
  if (!s.ok() && o.queued && s.code() != Code::kBusy) {
    // The failed batch was rolled back; what is still cold stays queued with backoff.
    std::vector<MemoryRef> left;
    for (const auto& r : rows) {
      AETHER_ASSIGN_OR_RETURN(auto now, tables_->memories.FindRow(r.row_id));
      if (now && now->place.in_shard()) left.push_back(r);
    }
    AETHER_RETURN_IF_ERROR(DeferQueued(left, s.message(), &report));
  }
  AETHER_RETURN_IF_ERROR(s);
  return report;
}

// Due restore-queue entries, highest priority first; entries whose memory is
// gone or already hot are removed.
Status StoreImpl::LoadDueQueue(std::vector<MemoryRef>* rows, MoveReport* report) {
  (void)report;
  AETHER_ASSIGN_OR_RETURN(auto due, tables_->restore_queue.DueAt(env_->NowMs()));
  std::vector<int64_t> stale;
  for (auto& d : due) {
    if (d.memory && d.memory->place.in_shard())
      rows->push_back(std::move(*d.memory));
    else
      stale.push_back(d.row_id);
  }
  if (stale.empty()) return Status::Ok();
  Db::Bookkeeping bookkeeping(db_.get());
  return InTransaction(db_.get(), [&]() -> Status {
    for (int64_t r : stale) AETHER_RETURN_IF_ERROR(tables_->restore_queue.Remove(r));
    return Status::Ok();
  });
}

// Records a failed restore attempt: exponential backoff, dropped after the
// maximum number of retries.
Status StoreImpl::DeferQueued(const std::vector<MemoryRef>& rows, const std::string& error, MoveReport* report) {
  AETHER_ASSIGN_OR_RETURN(PolicyParams p, model_->Params());
  double max_retries = p.max_retries, base = p.backoff_base_ms, cap = p.backoff_max_ms;
  int64_t now = env_->NowMs();
  Db::Bookkeeping bookkeeping(db_.get());  // the aftermath of a failure, not a change it made
  return InTransaction(db_.get(), [&]() -> Status {
    for (const auto& r : rows) {
      AETHER_ASSIGN_OR_RETURN(int64_t before, tables_->restore_queue.Attempts(r.row_id));
      const int attempts = int(before) + 1;
      if (attempts >= int(max_retries)) {
        AETHER_RETURN_IF_ERROR(tables_->restore_queue.Remove(r.row_id));
        report->dropped.push_back(r.id);
        CountMetric("aether_restores_total", "outcome=\"dropped\"");
        continue;
      }
      AETHER_RETURN_IF_ERROR(tables_->restore_queue.Defer(
          r.row_id, attempts, now + BackoffDelayMs(int64_t(base), int64_t(cap), attempts), error));
      report->deferred.push_back(r.id);
    }
    return Status::Ok();
  });
}

Result<EnqueueReport> StoreImpl::Enqueue(const std::vector<std::string>& ids, double priority) {
  if (!lock_->writer()) return Status::Internal("enqueue on a store opened read-only");
  EnqueueReport report;
  int64_t now = env_->NowMs();
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    report = EnqueueReport();
    for (const std::string& id : ids) {
      AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.Find(id));
      if (!loc) {
        report.not_found.push_back(id);
        continue;
      }
      if (!loc->place.in_shard()) {
        report.already_hot.push_back(id);
        continue;
      }
      AETHER_RETURN_IF_ERROR(tables_->restore_queue.Put(loc->row_id, priority, now));
      ++report.queued;
      CountMetric("aether_restores_total", "outcome=\"queued\"");
    }
    return Status::Ok();
  }));
  return report;
}

}  // namespace aether
