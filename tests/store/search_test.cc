// Store::Search owns the memory model's side of a search: by default it
// records an access to every hit and queues the best cold hits of each query
// for restore (restore_top_n, priority 1 / (1 + rank)); with
// SearchOptions::record_access off, and in RecallCheck, it only reads. The
// expected hits, accesses and queue come from a brute-force reference kept
// by the test, never from the store.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "aether/env.h"
#include "aether/store.h"
#include "env/fault_env.h"
#include "meta/sqlite_db.h"
#include "store/layout.h"
#include "test_util.h"

using namespace aether;
using aether::test::OpenStoreOrFail;
using aether::test::TempDir;

namespace {

constexpr uint32_t kDim = 4;
constexpr size_t kMemories = 24;

// A clock the test sets.
class SetClock : public EnvWrapper {
 public:
  SetClock() : EnvWrapper(Env::Default()) {}
  int64_t NowMs() override { return now; }
  int64_t now = 1'700'000'000'000;
};

std::vector<float> VectorOf(size_t i) {
  std::vector<float> v(kDim);
  uint64_t h = 0x9e3779b97f4a7c15ull * (i + 1);
  for (uint32_t d = 0; d < kDim; ++d) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    v[d] = float(int64_t(h >> 40) % 2001 - 1000) / 100.0f;
  }
  return v;
}
std::string IdOf(size_t i) { return "m" + std::to_string(i); }

// The k nearest memories of q by exact L2, as (index) in rank order.
std::vector<size_t> BruteForce(const std::vector<float>& q, size_t k) {
  std::vector<std::pair<double, size_t>> all;
  for (size_t i = 0; i < kMemories; ++i) {
    double d = 0;
    std::vector<float> v = VectorOf(i);
    for (uint32_t j = 0; j < kDim; ++j) d += (double(v[j]) - q[j]) * (double(v[j]) - q[j]);
    all.emplace_back(d, i);
  }
  std::sort(all.begin(), all.end());
  std::vector<size_t> out;
  for (size_t r = 0; r < k; ++r) out.push_back(all[r].second);
  return out;
}

struct Access {
  uint64_t count;
  int64_t last_ms;
  bool operator==(const Access& o) const { return count == o.count && last_ms == o.last_ms; }
};

std::map<std::string, Access> Accesses(const std::string& path, Env* env) {
  auto s = OpenStoreOrFail(path, AccessMode::kRead, env);
  std::vector<std::string> ids;
  for (size_t i = 0; i < kMemories; ++i) ids.push_back(IdOf(i));
  auto got = s->Get(ids);
  REQUIRE(got.ok());
  std::map<std::string, Access> out;
  for (const auto& r : *got) {
    REQUIRE(r.has_value());
    out[r->id] = Access{r->access_count, r->last_access_ms};
  }
  return out;
}

// The restore queue, in the order a queued ascend would drain it.
std::vector<std::string> Queue(const std::string& path, Env* env) {
  auto s = OpenStoreOrFail(path, AccessMode::kWrite, env);  // a dry run plans as a writer
  MoveOptions o;
  o.queued = true;
  o.dry_run = true;
  o.evict = true;  // the hot tier is full: plan room for the whole queue
  auto rep = s->Ascend(o);
  REQUIRE_MESSAGE(rep.ok(), rep.status().ToString());
  std::vector<std::string> out;
  for (const PlannedMove& p : rep->plan)
    if (p.reason == "queued") out.push_back(p.id);
  return out;
}

// One search as `aether search` runs it: a store opened for reading.
Result<std::vector<std::vector<SearchHit>>> SearchOnce(const std::string& path, Env* env,
                                                       const std::vector<std::vector<float>>& queries,
                                                       const SearchOptions& so) {
  return OpenStoreOrFail(path, AccessMode::kRead, env)->Search(queries, so);
}

// True when no process holds WRITER: a writer could start now.
bool WriterFree(const std::string& path) {
  auto lock = Env::Default()->Lock(path + "/" + layout::kWriterLockFile, LockMode::kExclusive, 0);
  return lock.ok();
}

}  // namespace

TEST_CASE("store search records accesses and queues restores itself, unless told not to") {
  TempDir dir;
  const std::string path = dir / "s";
  SetClock clock;
  StoreConfig c;
  c.dim = kDim;
  c.hot_capacity = 8;  // the rest land in the cold tier
  REQUIRE(Store::Create(path, c, &clock).ok());
  const size_t top_n = 2, k = 6;
  {
    auto w = OpenStoreOrFail(path, AccessMode::kWrite, &clock);
    std::vector<Record> batch;
    for (size_t i = 0; i < kMemories; ++i) batch.push_back(Record{IdOf(i), VectorOf(i), "", 0.5});
    auto r = w->IngestBatch(batch, DuplicatePolicy::kError);
    REQUIRE(r.ok());
    REQUIRE(r->cold == kMemories - 8);
    REQUIRE(w->SetParam("restore_top_n", double(top_n)).ok());
  }
  // Queries near memories of both tiers.
  std::vector<std::vector<float>> queries;
  for (size_t i : {size_t(1), size_t(12), size_t(20)}) {
    std::vector<float> q = VectorOf(i);
    q[0] += 0.25f;
    queries.push_back(q);
  }

  const auto before = Accesses(path, &clock);
  for (const auto& [id, a] : before) CHECK(a.count == 0);
  REQUIRE(Queue(path, &clock).empty());

  SUBCASE("record_access off, and the recall check, only read") {
    SearchOptions so;
    so.k = uint32_t(k);
    so.record_access = false;
    auto hits = SearchOnce(path, &clock, queries, so);
    REQUIRE(hits.ok());
    REQUIRE(OpenStoreOrFail(path, AccessMode::kRead, &clock)->RecallCheck(8, 1).ok());
    CHECK(Accesses(path, &clock) == before);
    CHECK(Queue(path, &clock).empty());
  }

  SUBCASE("by default every hit's access is recorded and the best cold hits queued") {
    clock.now += 3'600'000;
    SearchOptions so;
    so.k = uint32_t(k);
    auto hits = SearchOnce(path, &clock, queries, so);
    REQUIRE_MESSAGE(hits.ok(), hits.status().ToString());
    // The reference: hits by brute force; accesses and queue from them.
    std::map<std::string, uint64_t> want_count;
    std::map<std::string, std::pair<double, size_t>> want_queue;  // id -> (priority, ingest order)
    for (size_t q = 0; q < queries.size(); ++q) {
      std::vector<size_t> want = BruteForce(queries[q], k);
      REQUIRE((*hits)[q].size() == k);
      for (size_t r = 0; r < k; ++r) {
        const SearchHit& h = (*hits)[q][r];
        const Tier tier = want[r] < 8 ? Tier::kHot : Tier::kCold;  // the first 8 ingested fill the hot tier
        CHECK(h.id == IdOf(want[r]));
        CHECK(h.tier == tier);
        ++want_count[h.id];
        if (r < top_n && tier == Tier::kCold) {
          auto& e = want_queue[h.id];
          e = {std::max(e.first, 1.0 / double(1 + r)), want[r]};
        }
      }
    }
    REQUIRE(!want_queue.empty());  // the queries reach the cold tier
    auto after = Accesses(path, &clock);
    for (const auto& [id, a] : after) {
      auto it = want_count.find(id);
      if (it == want_count.end()) {
        CHECK(a == before.at(id));
      } else {
        CHECK(a.count == it->second);
        CHECK(a.last_ms == clock.now);
      }
    }
    std::vector<std::pair<std::pair<double, size_t>, std::string>> order;
    for (const auto& [id, e] : want_queue) order.push_back({{-e.first, e.second}, id});
    std::sort(order.begin(), order.end());
    std::vector<std::string> want_order;
    for (const auto& o : order) want_order.push_back(o.second);
    CHECK(Queue(path, &clock) == want_order);

    // A second search merges: counts grow, the queue keeps one entry each.
    clock.now += 1000;
    REQUIRE(SearchOnce(path, &clock, queries, so).ok());
    const auto again = Accesses(path, &clock);
    for (const auto& [id, n] : want_count) CHECK(again.at(id).count == 2 * n);
    CHECK(Queue(path, &clock) == want_order);
  }

  SUBCASE("a store opened for reading records without the write lock, beside other readers") {
    auto reader = OpenStoreOrFail(path, AccessMode::kRead, &clock);
    SearchOptions so;
    so.k = uint32_t(k);
    auto first = reader->Search(queries, so);
    REQUIRE(first.ok());
    CHECK(WriterFree(path));  // it never took WRITER
    OpenOptions o;
    o.env = &clock;
    o.wait_seconds = 0;
    auto other = Store::Open(path, o);  // a second reader gets in
    REQUIRE_MESSAGE(other.ok(), other.status().ToString());
    o.access = AccessMode::kWrite;
    CHECK(Store::Open(path, o).status().code() == Code::kBusy);  // a writer waits for both readers
    // With the other reader in, it records again (it appends to the log).
    auto again = reader->Search(queries, so);
    REQUIRE_MESSAGE(again.ok(), again.status().ToString());
    CHECK(WriterFree(path));
    // Both searches' accesses: readers see them now, and a writer folds them.
    std::map<std::string, uint64_t> want;
    for (const auto& hits : *first)
      for (const SearchHit& h : hits) want[h.id] += 2;
    auto seen = Accesses(path, &clock);
    reader.reset();
    other->reset();
    OpenStoreOrFail(path, AccessMode::kWrite, &clock);  // folds
    auto folded = Accesses(path, &clock);
    CHECK(seen == folded);
    for (const auto& [id, a] : folded) {
      const std::string& name = id;
      CHECK_MESSAGE(a.count == (want.count(id) ? want.at(id) : 0), name);
    }
  }

  SUBCASE("a reader records even while a damaged journal row waits for recovery") {
    // An ingest that dies after its intent leaves a row; a changed checksum
    // makes it damaged: the replay refuses it.
    {
      FaultEnv dying(&clock);
      dying.FailAt(2, /*and_after=*/true);
      auto w = OpenStoreOrFail(path, AccessMode::kWrite, &dying);
      CHECK(!w->IngestBatch({Record{"late", VectorOf(99), "", 0.5}}, DuplicatePolicy::kError).ok());
    }
    {
      auto db = Db::Open(path + "/" + layout::kDbFile, false, false);
      REQUIRE(db.ok());
      REQUIRE((*db)->Exec("UPDATE migrations SET crc = crc + 1").ok());
    }
    auto reader = OpenStoreOrFail(path, AccessMode::kRead, &clock);
    CHECK(reader->deferred_recovery().code() == Code::kCorruption);  // reads the committed state
    SearchOptions so;
    so.k = uint32_t(k);
    auto hits = reader->Search(queries, so);
    REQUIRE_MESSAGE(hits.ok(), hits.status().ToString());
    CHECK((*hits)[0].size() == k);
    CHECK(WriterFree(path));
    const std::string id = (*hits)[0][0].id;
    uint64_t returned = 0;
    for (const auto& q : *hits)
      for (const SearchHit& h : q) returned += h.id == id;
    auto got = reader->Get({id});
    REQUIRE(got.ok());
    CHECK((*got)[0]->access_count == returned);
  }
}
