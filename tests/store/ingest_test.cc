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
