// IngestBatch applies the duplicate policy itself (the CLI only reports what
// it did): for every policy, random batches with ids repeated within the
// batch and ids already stored; the store's contents and the result's
// counts and indexes must equal a reference model of the policy.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "aether/store.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

namespace {

constexpr uint32_t kDim = 4;

// The policy as documented in options.h, on a map of id -> vector.
struct Expected {
  std::map<std::string, std::vector<float>> after;
  IngestBatchResult result;
  bool refused = false;  // kError with a duplicate
  uint64_t written = 0;  // memories written: one per distinct id not skipped
};

Expected Model(const std::map<std::string, std::vector<float>>& before, const std::vector<Record>& batch,
               DuplicatePolicy policy) {
  Expected e;
  e.after = before;
  e.result.stopped_at = batch.size();
  std::set<std::string> seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Record& r = batch[i];
    const bool dup = before.count(r.id) || seen.count(r.id);
    if (dup) {
      if (policy == DuplicatePolicy::kError) {
        e.refused = true;
        e.after = before;
        return e;
      }
      if (policy == DuplicatePolicy::kStop) {
        e.result.stopped_at = i;
        break;
      }
      if (policy == DuplicatePolicy::kSkip) {
        ++e.result.skipped;
        e.result.skipped_at.push_back(i);
        continue;
      }
      ++e.result.replaced;
    }
    seen.insert(r.id);
    e.after[r.id] = r.vector;
  }
  e.written = seen.size();
  return e;
}

std::map<std::string, std::vector<float>> Contents(Store* s, const std::vector<std::string>& ids) {
  auto got = s->Get(ids);
  REQUIRE(got.ok());
  std::map<std::string, std::vector<float>> out;
  for (const auto& r : *got)
    if (r) out[r->id] = r->vector;
  return out;
}

}  // namespace

TEST_CASE("IngestBatch applies every duplicate policy as the model says") {
  std::mt19937_64 rng(7);
  std::vector<std::string> universe;
  for (int i = 0; i < 12; ++i) universe.push_back("id" + std::to_string(i));
  int refused = 0, stopped = 0, skipped = 0, replaced = 0;
  for (DuplicatePolicy policy :
       {DuplicatePolicy::kError, DuplicatePolicy::kSkip, DuplicatePolicy::kReplace, DuplicatePolicy::kStop}) {
    TempDir dir;
    StoreConfig c;
    c.dim = kDim;
    c.hot_capacity = 6;  // batches spill into the cold tier
    REQUIRE(Store::Create(dir / "s", c).ok());
    OpenOptions o;
    o.access = AccessMode::kWrite;
    auto store = Store::Open(dir / "s", o);
    REQUIRE(store.ok());
    std::map<std::string, std::vector<float>> model;
    for (int round = 0; round < 25; ++round) {
      CAPTURE(int(policy));
      CAPTURE(round);
      std::vector<Record> batch(1 + rng() % 6);
      for (Record& r : batch) {
        r.id = universe[rng() % universe.size()];
        r.vector.resize(kDim);
        for (float& x : r.vector) x = float(rng() % 1000) / 10.0f;
      }
      Expected want = Model(model, batch, policy);
      auto got = (*store)->IngestBatch(batch, policy);
      if (want.refused) {
        REQUIRE(!got.ok());
        CHECK(got.status().code() == Code::kBadInput);
        CHECK(got.status().message().find("duplicate id") != std::string::npos);
        ++refused;
      } else {
        REQUIRE_MESSAGE(got.ok(), got.status().ToString());
        CHECK(got->skipped == want.result.skipped);
        CHECK(got->skipped_at == want.result.skipped_at);
        CHECK(got->replaced == want.result.replaced);
        CHECK(got->stopped_at == want.result.stopped_at);
        CHECK(got->hot + got->cold == want.written);
        stopped += want.result.stopped_at < batch.size();
        skipped += int(want.result.skipped);
        replaced += int(want.result.replaced);
      }
      CHECK(Contents(store->get(), universe) == want.after);
      model = want.after;
    }
  }
  // The random batches reached every case.
  CHECK(refused > 0);
  CHECK(stopped > 0);
  CHECK(skipped > 0);
  CHECK(replaced > 0);
}

TEST_CASE("one process's ingest batches place by the real hot count after deletes and descends in between") {
  // IngestBatch keeps the hot tier's count from one batch to the next while
  // nothing else changed the DB; a delete or a descend in between must be
  // seen. With ingest_evict (the default) and batches smaller than the
  // capacity, a batch leaves exactly min(capacity, hot before + its size)
  // hot.
  const uint64_t capacity = 6;
  TempDir dir;
  StoreConfig c;
  c.dim = kDim;
  c.hot_capacity = capacity;
  REQUIRE(Store::Create(dir / "s", c).ok());
  OpenOptions o;
  o.access = AccessMode::kWrite;
  auto store = Store::Open(dir / "s", o);
  REQUIRE(store.ok());
  std::mt19937_64 rng(11);
  std::vector<std::string> ids;
  auto hot_count = [&] {
    auto got = (*store)->Get(ids);
    REQUIRE(got.ok());
    uint64_t n = 0;
    for (const auto& r : *got) n += r && r->tier == Tier::kHot;
    return n;
  };
  int deletes = 0, descends = 0, capped = 0;
  for (int round = 0; round < 60; ++round) {
    CAPTURE(round);
    const int op = int(rng() % 3);
    if (op == 1 && !ids.empty()) {
      const std::string victim = ids[rng() % ids.size()];
      REQUIRE((*store)->Delete({victim}).ok());
      ids.erase(std::find(ids.begin(), ids.end(), victim));
      ++deletes;
      continue;
    }
    if (op == 2 && !ids.empty()) {
      MoveOptions m;
      m.ids = {ids[rng() % ids.size()]};
      REQUIRE((*store)->Descend(m).ok());
      ++descends;
      continue;
    }
    const uint64_t before = hot_count();
    std::vector<Record> batch(1 + rng() % 4);
    for (Record& r : batch) {
      r.id = "r" + std::to_string(round) + "-" + std::to_string(&r - batch.data());
      r.vector.assign(kDim, float(rng() % 100));
      ids.push_back(r.id);
    }
    REQUIRE((*store)->IngestBatch(batch, DuplicatePolicy::kError).ok());
    const uint64_t want = std::min<uint64_t>(capacity, before + batch.size());
    CHECK(hot_count() == want);
    capped += want == capacity;
  }
  CHECK(deletes > 5);
  CHECK(descends > 5);
  CHECK(capped > 5);
}

// Placement counts the hot tier from its slot accounting (the committed end
// less the free slots), not from its rows: through every way a slot is
// freed in the middle (delete, descend, a replaced memory) or claimed
// (ingest, ascend), each decision must see the exact count. A model keeps
// which ids are hot; Stats (the same accounting, and the shards' live
// counters for the cold tier) and verify (the rows against the files) check
// the store.
TEST_CASE("ingest and ascend place by the exact hot count through slots freed and reused in the middle") {
  TempDir dir;
  StoreConfig c;
  c.dim = kDim;
  c.hot_capacity = 20;
  REQUIRE(Store::Create(dir / "s", c).ok());
  OpenOptions o;
  o.access = AccessMode::kWrite;
  auto opened = Store::Open(dir / "s", o);
  REQUIRE(opened.ok());
  Store* s = opened->get();
  REQUIRE(s->SetParam("ingest_evict", 0).ok());  // a full tier sends new memories cold
  std::mt19937_64 rng(23);
  std::map<std::string, bool> hot;  // the model: id -> in the hot tier
  int next = 0, refused_ascends = 0, partial_ingests = 0;
  auto pick = [&](bool want_hot, size_t n) {
    std::vector<std::string> ids;
    for (const auto& [id, h] : hot)
      if (h == want_hot) ids.push_back(id);
    std::shuffle(ids.begin(), ids.end(), rng);
    if (ids.size() > n) ids.resize(n);
    return ids;
  };
  auto hot_count = [&] {
    return uint64_t(std::count_if(hot.begin(), hot.end(), [](const auto& e) { return e.second; }));
  };
  for (int step = 0; step < 300; ++step) {
    CAPTURE(step);
    const uint64_t h = hot_count(), room = c.hot_capacity - h;
    switch (rng() % 5) {
      case 0: {  // new memories, and sometimes one that replaces a stored one
        std::vector<Record> batch;
        for (size_t n = 1 + rng() % 8; batch.size() < n;) {
          const std::string id = "m" + std::to_string(next++);
          batch.push_back(Record{id, std::vector<float>(kDim, float(next)), "", 0.5});
        }
        std::string replaced;
        if (!hot.empty() && rng() % 3 == 0) {
          replaced = std::next(hot.begin(), long(rng() % hot.size()))->first;
          batch.push_back(Record{replaced, std::vector<float>(kDim, -1.f), "", 0.5});
        }
        auto r = s->IngestBatch(batch, DuplicatePolicy::kReplace);
        REQUIRE(r.ok());
        // The replaced memory's slot is freed by the same commit: it counts
        // as room; the new ones are hot up to the room, in batch order.
        const uint64_t free = room + (!replaced.empty() && hot[replaced] ? 1 : 0);
        CHECK(r->hot == std::min<uint64_t>(free, batch.size()));
        partial_ingests += r->hot > 0 && r->hot < batch.size();
        for (size_t i = 0; i < batch.size(); ++i) hot[batch[i].id] = i < r->hot;
        break;
      }
      case 1: {  // delete, hot or cold
        std::vector<std::string> ids = pick(rng() % 2, 1 + rng() % 4);
        REQUIRE(s->Delete(ids).ok());
        for (const std::string& id : ids) hot.erase(id);
        break;
      }
      case 2: {  // descend some hot ones
        MoveOptions m;
        m.ids = pick(true, 1 + rng() % 5);
        if (m.ids.empty()) break;
        REQUIRE(s->Descend(m).ok());
        for (const std::string& id : m.ids) hot[id] = false;
        break;
      }
      case 3:
      case 4: {  // ascend some cold ones: all of them when they fit, else none
        MoveOptions m;
        m.ids = pick(false, 1 + rng() % 5);
        if (m.ids.empty()) break;
        auto r = s->Ascend(m);
        CHECK(r.ok() == (m.ids.size() <= room));
        if (!r.ok()) {
          ++refused_ascends;
          break;
        }
        for (const std::string& id : m.ids) hot[id] = true;
        break;
      }
    }
    auto st = s->Stats();
    REQUIRE(st.ok());
    REQUIRE(st->hot_count == hot_count());
    REQUIRE(st->cold_count == hot.size() - hot_count());
    REQUIRE(st->hot_count <= c.hot_capacity);
    if (step % 25 == 24) {
      auto v = s->Verify();
      REQUIRE(v.ok());
      CHECK(v->problems.empty());
    }
  }
  // The walk went where it must: tiers full and partly full.
  CHECK(refused_ascends > 0);
  CHECK(partial_ingests > 0);
}
