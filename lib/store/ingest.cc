// Ingest: new memories go hot up to the hot capacity (past it, with
// ingest_evict, the lowest eviction scores descend in the same migration to
// make room), the rest to the staging shard; each batch one migration
// (migration.cc).
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "aether/jsonl.h"
#include "meta/schema.h"
#include "policy/access_pattern.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

static_assert(Record::kMaxAccessTimes == kHistoryMax, "a record's access history is a stored one");

// A new memory's kept state (ingest --preserve-state, or a pin it keeps):
// what the record gives; never a last access before creation (both given
// were checked: KeptStateProblem); an unset time defaults to the other one (the
// history's last time standing for the last access), or to now; an unset
// count to the accesses the history counts.
KeptState KeptStateOf(const Record& r, bool pinned, int64_t now) {
  std::optional<int64_t> last = r.last_access_ms;
  if (!last && !r.access_times.empty()) last = r.access_times.back();
  KeptState k;
  k.created_ms = r.created_ms.value_or(std::min(now, last.value_or(now)));
  k.last_access_ms = std::max(k.created_ms, last.value_or(k.created_ms));
  k.access_count = r.access_count.value_or(int64_t(r.access_times.size()) + int64_t(r.access_times_older));
  k.pinned = pinned;
  if (!r.access_times.empty()) k.access_times = EncodeHistory(AccessHistory{r.access_times, r.access_times_older});
  return k;
}

}  // namespace

Result<bool> StoreImpl::Contains(const std::string& id) {
  AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.Find(id));
  return loc.has_value();
}

Result<std::vector<bool>> StoreImpl::ContainsEach(const std::vector<std::string>& ids) {
  std::vector<bool> out(ids.size());
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    for (size_t i = 0; i < ids.size(); ++i) {
      AETHER_ASSIGN_OR_RETURN(auto loc, tables_->memories.Find(ids[i]));
      out[i] = loc.has_value();
    }
    return Status::Ok();
  }));
  return out;
}

// Checks each record and resolves duplicates against the store and within
// the batch, as `policy` says: what the batch writes, one per id.
Result<std::vector<StoreImpl::Planned>> StoreImpl::PlanBatch(const std::vector<Record>& batch, DuplicatePolicy policy,
                                                             IngestBatchResult* out) {
  IngestBatchResult& result = *out;
  std::vector<Planned> plan;
  std::unordered_map<std::string, size_t> in_batch;
  // Against the store: all lookups in one read transaction, a chunk of
  // records ahead at a time (found[j] is batch[found_from + j]'s).
  constexpr size_t kLookAhead = 256;
  std::vector<std::optional<MemoryRef>> found;
  size_t found_from = 0;
  std::vector<const std::string*> chunk;
  AETHER_RETURN_IF_ERROR(InReadTransaction(db_.get(), [&]() -> Status {
    for (size_t i = 0; i < batch.size(); ++i) {
      const Record& r = batch[i];
      if (r.vector.size() != config_.dim)
        return Status::InvalidArgument(
            fmt::format("record '{}' has dimension {}, store has {}", r.id, r.vector.size(), config_.dim));
      if (std::string why = VectorProblem(r.vector.data(), r.vector.size(), config_.metric,
                                          [](size_t d) { return fmt::format("vector[{}]", d); });
          !why.empty())
        return Status::InvalidArgument(fmt::format("record '{}': {}", r.id, why));
      if (r.id.empty() || r.id.size() > kMaxIdBytes)
        return Status::InvalidArgument(fmt::format("record id of {} bytes (1..{} allowed)", r.id.size(), kMaxIdBytes));
      if (!(r.importance >= 0 && r.importance <= 1))
        return Status::InvalidArgument(fmt::format("record '{}': importance {} is outside [0, 1]", r.id, r.importance));
      if (std::string why = KeptStateProblem(r); !why.empty())
        return Status::InvalidArgument(fmt::format("record '{}': {}", r.id, why));
      if (!r.payload_json.empty() && !ValidPayload(r.payload_json))
        return Status::InvalidArgument(
            fmt::format("record '{}': payload is not valid JSON (nested at most {} deep)", r.id, kMaxJsonDepth - 1));
      // A duplicate: of an earlier record of the batch, or of a stored memory.
      const auto earlier = in_batch.find(r.id);
      std::optional<MemoryRef> stored;
      if (earlier == in_batch.end()) {
        if (i >= found_from + found.size()) {
          found_from = i;
          chunk.clear();
          for (size_t j = i; j < std::min(batch.size(), i + kLookAhead); ++j) chunk.push_back(&batch[j].id);
          AETHER_RETURN_IF_ERROR(tables_->memories.FindMany(chunk, &found));
        }
        stored = std::move(found[i - found_from]);
      }
      const bool duplicate = earlier != in_batch.end() || stored;
      if (duplicate && policy == DuplicatePolicy::kError)
        return Status::BadInput("duplicate id '" + r.id + (stored ? "': already in the store" : "' within the input"));
      if (duplicate && policy == DuplicatePolicy::kStop) {
        result.stopped_at = i;
        return Status::Ok();
      }
      if (duplicate && policy == DuplicatePolicy::kSkip) {
        ++result.skipped;
        result.skipped_at.push_back(i);
        continue;
      }
      if (duplicate) ++result.replaced;  // kReplace
      if (earlier != in_batch.end()) {
        Planned& e = plan[earlier->second];
        e.record = &r;                     // in the earlier one's place
        e.pin = r.pinned.value_or(e.pin);  // the earlier record's pin passes on, as a stored one's
        continue;
      }
      Planned p{&r};
      if (stored) {
        p.replaces_row_id = stored->row_id;
        p.replaces_hot = stored->place.hot();
        AETHER_ASSIGN_OR_RETURN(auto stats, tables_->memories.Stats(stored->row_id));
        p.replaces_pinned = stats && stats->pinned;
      }
      p.pin = r.pinned.value_or(p.replaces_pinned);
      in_batch[r.id] = plan.size();
      plan.push_back(p);
    }
    return Status::Ok();
  }));
  return plan;
}

Result<IngestBatchResult> StoreImpl::IngestBatch(const std::vector<Record>& batch, DuplicatePolicy policy) {
  if (!lock_->writer()) return Status::Internal("ingest on a store opened read-only");
  AETHER_RETURN_IF_ERROR(EnsureExclusive());  // after YieldToReaders
  IngestBatchResult result;
  result.stopped_at = batch.size();

  AETHER_ASSIGN_OR_RETURN(std::vector<Planned> plan, PlanBatch(batch, policy, &result));
  if (plan.empty()) return result;
  // Pinned records first, whatever their tier (those replacing a hot memory
  // first of all: their room is sure, below); records kept cold or warm
  // (Record::tier) last: the rest compete for the hot tier's room.
  std::stable_partition(plan.begin(), plan.end(), [](const Planned& p) { return p.pin; });
  std::stable_partition(plan.begin(), plan.end(), [](const Planned& p) { return p.pin && p.replaces_hot; });
  const size_t may_be_hot =
      size_t(std::stable_partition(
                 plan.begin(), plan.end(),
                 [](const Planned& p) { return p.pin || !p.record->tier || *p.record->tier == Tier::kHot; }) -
             plan.begin());
  AETHER_RETURN_IF_ERROR(CheckPinRoom(plan));

  // Placement: hot up to the capacity (counting slots this batch frees);
  // with ingest_evict, the lowest eviction scores of the hot tier descend
  // to make room for the new memories (the newest are hot); the rest cold.
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_count, IngestHotCount());
  int64_t freed = std::count_if(plan.begin(), plan.end(), [](const Planned& p) { return p.replaces_hot; });
  int64_t after_release = hot_count - freed;
  uint64_t room = HotCapacity() > uint64_t(after_release) ? HotCapacity() - after_release : 0;
  size_t n_hot = std::min<size_t>(room, may_be_hot);
  AETHER_ASSIGN_OR_RETURN(PolicyParams params, model_->Params());
  // Under critical pressure (or worse) no new memory is placed hot.
  AETHER_ASSIGN_OR_RETURN(const PressureReport pressure, PressureNow(params, hot_count));
  const bool hot_refused = pressure.level >= PressureLevel::kCritical;
  // What would have gone hot without the pressure, evictions included.
  const size_t would_be_hot =
      params.ingest_evict >= 1 ? std::max(n_hot, std::min<size_t>(may_be_hot, HotCapacity())) : n_hot;
  if (hot_refused && would_be_hot > 0) {
    result.pressure_cold = fmt::format("{}: {}", PressureLevelName(pressure.level), pressure.Why());
    n_hot = 0;
  }
  for (const Planned& p : plan) result.unpinned += p.replaces_pinned && !p.pin;
  // A pinned record that replaces a hot memory takes its room whatever the
  // pressure or the capacity (the tier does not grow); the pinned go first.
  n_hot = std::max<size_t>(
      n_hot, std::count_if(plan.begin(), plan.end(), [](const Planned& p) { return p.pin && p.replaces_hot; }));
  std::vector<MemoryRef> victims;
  const size_t hot_wanted = std::min<size_t>(may_be_hot, HotCapacity());
  if (!hot_refused && params.ingest_evict >= 1 && n_hot < hot_wanted) {
    AETHER_ASSIGN_OR_RETURN(victims, Victims(plan, hot_wanted - n_hot));
    n_hot += victims.size();
  }

  AETHER_ASSIGN_OR_RETURN(auto hot, OpenHot(/*writable=*/false));
  AETHER_ASSIGN_OR_RETURN(uint64_t slot_count, hot->SlotCount());
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> slots, migrator_->AllocateSlots(n_hot));
  AETHER_ASSIGN_OR_RETURN(int64_t next_row_id, tables_->config.Integer("next_row_id", -1));
  if (next_row_id < 1) return Status::Corruption(db_->path() + ": config next_row_id is missing or not positive");

  Migration m;
  m.kind = "ingest";
  m.hot_slots_before = slot_count;
  std::vector<MigrationItem> items(plan.size());
  std::vector<const float*> vectors(plan.size());
  PendingWrites w;
  const int64_t now = env_->NowMs();  // a kept state's defaults
  for (size_t i = 0; i < plan.size(); ++i) {
    MigrationItem& it = items[i];
    const Record& r = *plan[i].record;
    it.row_id = next_row_id + static_cast<int64_t>(i);
    it.id = r.id;
    it.importance = r.importance;
    if (!r.payload_json.empty()) it.payload = r.payload_json;
    it.replaces_row_id = plan[i].replaces_row_id;
    if (r.keeps_state() || plan[i].pin) it.kept = KeptStateOf(r, plan[i].pin, now);
    if (plan[i].pin && i >= n_hot) ++result.pinned_cold;
    vectors[i] = r.vector.data();
    if (i < n_hot) {
      it.dst = Place::Hot(slots[i]);
      w.slots.push_back({static_cast<uint64_t>(slots[i]), it.row_id, vectors[i]});
    } else {
      it.dst.tier = r.tier == std::optional<Tier>(Tier::kWarm) ? Tier::kWarm : Tier::kCold;
      result.warm += it.dst.warm();
    }
  }
  if (result.warm > 0) AETHER_RETURN_IF_ERROR(WarmAllowed());
  // The victims descend into the staging shard beside the new cold ones
  // (warm while the warm tier is on), freed by the same migration's commit.
  std::vector<float> victim_data(victims.size() * config_.dim);
  for (size_t v = 0; v < victims.size(); ++v) {
    MigrationItem it;
    it.row_id = victims[v].row_id;
    it.id = victims[v].id;
    it.src = victims[v].place;
    it.dst.tier = DemotionTier(params);  // warm while the warm tier is on
    float* data = victim_data.data() + v * config_.dim;
    AETHER_RETURN_IF_ERROR(ReadHotVector(hot.get(), victims[v], data));
    items.push_back(std::move(it));
    vectors.push_back(data);
  }
  if (n_hot < plan.size() || !victims.empty()) {
    AETHER_ASSIGN_OR_RETURN(ShardInfo staging, tables_->shards.Get(layout::kStagingShardId));
    std::vector<size_t> cold;
    for (size_t i = n_hot; i < items.size(); ++i) cold.push_back(i);
    AETHER_RETURN_IF_ERROR(migrator_->BuildFrames(&items, cold, vectors, staging, &m, &w));
  }
  AETHER_RETURN_IF_ERROR(migrator_->Run(&m, items, w, [&] {
    Db::Bookkeeping bookkeeping(db_.get());  // row ids reserved with the intent: never reused
    return tables_->config.Set("next_row_id", std::to_string(next_row_id + int64_t(plan.size())));
  }));
  result.hot = n_hot;
  result.cold = plan.size() - n_hot - result.warm;
  result.evicted = victims.size();
  result.evicted_warm = DemotionTier(params) == Tier::kWarm ? victims.size() : 0;
  // The replaced hot memories and the victims left the tier, n_hot came in.
  // The batch is committed: a failure to read the version only costs the
  // next batch a count.
  ingest_hot_count_.n = uint64_t(after_release) - victims.size() + n_hot;
  auto version = db_->ContentVersion();
  ingest_hot_count_.version = version.ok() ? *version : std::make_pair(int64_t(-1), int64_t(-1));
  return result;
}

Result<uint64_t> StoreImpl::IngestHotCount() {
  AETHER_ASSIGN_OR_RETURN(auto version, db_->ContentVersion());
  if (version == ingest_hot_count_.version) return ingest_hot_count_.n;
  ingest_hot_count_.version = {-1, -1};
  return HotMemories();
}

// At most the hot capacity pinned (as `pin` keeps it): the store's pins,
// less those the batch replaces, and the batch's.
Status StoreImpl::CheckPinRoom(const std::vector<Planned>& plan) {
  int64_t change = 0;
  for (const Planned& p : plan) change += int64_t(p.pin) - int64_t(p.replaces_pinned);
  if (change <= 0) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(uint64_t pinned, tables_->memories.CountPinned());
  const uint64_t total = pinned + uint64_t(change);
  if (total <= HotCapacity()) return Status::Ok();
  const auto first = std::find_if(plan.begin(), plan.end(), [](const Planned& p) { return p.pin; });
  return Status::FailedPrecondition(fmt::format(
      "the batch holding record '{}' pins {} more memories, {} in all with the {} pinned already, more than the hot "
      "capacity {}; raise it (aether config STORE set {} N) or unpin some (aether unpin)",
      first->record->id, change, total, pinned, HotCapacity(), HotCapacityKey()));
}

// The n lowest eviction scores of the hot tier, none that the batch
// replaces (their slots are freed anyway).
Result<std::vector<MemoryRef>> StoreImpl::Victims(const std::vector<Planned>& plan, size_t n) {
  std::unordered_set<int64_t> replaced;
  for (const Planned& p : plan)
    if (p.replaces_hot) replaced.insert(p.replaces_row_id);
  AETHER_ASSIGN_OR_RETURN(auto scored, HotByScore());
  std::vector<MemoryRef> out;
  for (size_t i = 0; i < scored.size() && out.size() < n; ++i)
    if (!replaced.count(scored[i].second.row_id)) out.push_back(scored[i].second);
  return out;
}

}  // namespace aether
