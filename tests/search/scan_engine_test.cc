// The scan engine alone, in process: real slot and shard files, a fake
// liveness oracle, and a double-precision brute force over exactly the
// records the oracle calls live. Every path: per query and tiled, every
// metric, lossless and quantized frames with their re-rank, one and several
// threads; damage a live slot must report, a free slot's it must ignore.
#include "search/scan_engine.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <thread>

#include "cold/frame.h"
#include "cold/shard_file.h"
#include "env/parallel.h"
#include "hot/slot_file.h"
#include "search/tiled_scan.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

namespace {

// Live: the listed (slot, row) pairs and (shard, offset, index, row) places.
class FakeLiveness : public Liveness {
 public:
  std::map<uint64_t, int64_t> hot;  // slot -> live row
  std::set<uint64_t> free_slots;
  std::set<std::tuple<int64_t, uint64_t, uint32_t, int64_t>> cold;
  std::atomic<int> lookups{0};
  Result<bool> HotLive(uint64_t slot, int64_t row_id) override {
    ++lookups;
    auto it = hot.find(slot);
    return it != hot.end() && it->second == row_id;
  }
  Result<bool> FreeSlot(uint64_t slot) override { return free_slots.count(slot) > 0; }
  Result<bool> ColdLive(int64_t row_id, const Place& place) override {
    ++lookups;
    return cold.count({place.shard_id, uint64_t(place.frame_offset), uint32_t(place.frame_index), row_id}) > 0;
  }
};

double TrueDistance(Metric m, const std::vector<float>& q, const float* x, uint32_t dim) {
  double dot = 0, l2 = 0, qn = 0, xn = 0;
  for (uint32_t j = 0; j < dim; ++j) {
    dot += double(q[j]) * x[j];
    l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
    qn += double(q[j]) * q[j];
    xn += double(x[j]) * x[j];
  }
  if (m == Metric::kL2) return std::sqrt(l2);
  if (m == Metric::kInnerProduct) return -dot;
  return 1 - dot / std::sqrt(qn * xn);
}

struct Fixture {
  TempDir dir{/*in_memory=*/true};
  uint32_t dim = 12;
  std::mt19937_64 rng{42};
  std::map<int64_t, std::vector<float>> live_vectors;  // what the brute force sees
  FakeLiveness live;
  std::unique_ptr<SlotFile> hot;
  uint64_t hot_slots = 0;
  std::vector<ShardScan> shards;

  // Records: standard normal, or (with a centre) centre + spread * normal.
  std::vector<float> center;
  float spread = 1;
  std::vector<float> Normal() {
    std::normal_distribution<float> g(0, 1);
    std::vector<float> v(dim);
    for (auto& x : v) x = g(rng);
    return v;
  }
  std::vector<float> Random() {
    std::vector<float> v = Normal();
    if (!center.empty())
      for (uint32_t j = 0; j < dim; ++j) v[j] = center[j] + spread * v[j];
    return v;
  }

  // 300 hot slots: every third is dead (stale bytes of another row), every
  // seventh free.
  void MakeHot() {
    REQUIRE(SlotFile::Create(Env::Default(), dir / "hot.slots", dim).ok());
    auto h = SlotFile::Open(Env::Default(), dir / "hot.slots", dim, true);
    REQUIRE(h.ok());
    hot = std::move(*h);
    for (uint64_t s = 0; s < 300; ++s) {
      const int64_t row = int64_t(1299 - s);  // descending: a tie comes after the rows it beats
      auto v = Random();
      REQUIRE(hot->WriteSlot(s, row, v.data()).ok());
      if (s % 7 == 0)
        live.free_slots.insert(s);
      else if (s % 3 != 0)
        live.hot[s] = row, live_vectors[row] = v;
    }
    hot_slots = 300;
  }

  // A shard of frames of `codec`; records alternate live and garbage.
  void MakeShard(int64_t shard_id, uint32_t codec, size_t frames, size_t per_frame) {
    const std::string path = dir / ("s" + std::to_string(shard_id) + ".shard");
    REQUIRE(ShardFile::Create(Env::Default(), path, dim, 0, kStagingPartition).ok());
    auto f = ShardFile::Open(Env::Default(), path, dim, true);
    REQUIRE(f.ok());
    uint64_t at = ShardFile::kHeaderSize;
    for (size_t fr = 0; fr < frames; ++fr) {
      std::vector<int64_t> ids;
      std::vector<float> vecs;
      for (size_t i = 0; i < per_frame; ++i) {
        const int64_t row = shard_id * 100000 + int64_t(fr * per_frame + i);
        auto v = Random();
        ids.push_back(row);
        vecs.insert(vecs.end(), v.begin(), v.end());
        if (i % 2 == 0) {
          live.cold.insert({shard_id, at, uint32_t(i), row});
          live_vectors[row] = v;
        }
      }
      auto frame = EncodeFrame(ids.data(), vecs.data(), uint32_t(ids.size()), dim, codec);
      REQUIRE(frame.ok());
      REQUIRE((*f)->WriteAt(at, *frame).ok());
      at += frame->size();
    }
    shards.push_back(ShardScan{shard_id, path, at, 0, {}});
  }

  // RunScan's top k for the queries.
  std::vector<std::vector<Candidate>> Scan(Metric metric, const std::vector<std::vector<float>>& queries, uint32_t k,
                                           size_t threads, bool with_hot) {
    ScanContext c(metric, dim, queries, k, /*candidates=*/k * 20);
    c.env = Env::Default();
    ScanRequest r;
    r.context = &c;
    r.hot = with_hot ? hot.get() : nullptr;
    r.hot_slots = hot_slots;
    r.shards = shards;
    for (auto& s : r.shards) {
      s.queries.clear();
      for (uint32_t q = 0; q < queries.size(); ++q) s.queries.push_back(q);
    }
    r.live = &live;
    r.threads = threads;
    auto got = RunScan(r);
    REQUIRE_MESSAGE(got.ok(), got.status().ToString());
    return *got;
  }

  // Checks RunScan against the brute force for `n` queries.
  void Check(Metric metric, size_t n, size_t threads, bool with_hot) {
    std::vector<std::vector<float>> queries;
    for (size_t i = 0; i < n; ++i) queries.push_back(Normal());
    const uint32_t k = 7;
    const auto got = Scan(metric, queries, k, threads, with_hot);
    for (size_t q = 0; q < n; ++q) {
      std::vector<std::pair<double, int64_t>> want;
      for (const auto& [row, v] : live_vectors) {
        if (!with_hot && row >= 1000 && row < 1300) continue;
        want.emplace_back(TrueDistance(metric, queries[q], v.data(), dim), row);
      }
      std::sort(want.begin(), want.end());
      REQUIRE(got[q].size() == k);
      for (size_t i = 0; i < k; ++i) {
        CAPTURE(i);
        CHECK(std::abs(got[q][i].distance - want[i].first) <= 1e-5 * (1 + std::abs(want[i].first)));
        const bool tie = i + 1 < want.size() && std::abs(want[i + 1].first - want[i].first) < 1e-6;
        if (!tie) CHECK(got[q][i].row_id == want[i].second);
      }
    }
  }
};

}  // namespace

TEST_CASE("scan engine: hot blocks and lossless shards give the brute-force top-k of exactly the live records") {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    for (size_t n : {size_t(1), size_t(3), size_t(9), size_t(40)}) {  // per query and tiled
      for (size_t threads : {size_t(1), size_t(3)}) {
        CAPTURE(int(metric));
        CAPTURE(n);
        CAPTURE(threads);
        Fixture f;
        f.MakeHot();
        f.MakeShard(1, kCodecZstdShuffle, 3, 50);
        f.MakeShard(2, kCodecZstdRaw, 2, 40);
        f.Check(metric, n, threads, /*with_hot=*/true);
        f.Check(metric, n, threads, /*with_hot=*/false);
      }
    }
  }
}

// The float32 filters against the exact top k (Distance, ties by row id)
// over the live records, with those distances, on every path (per query,
// tiled): a filter that rejected a row its rounding could not rule out
// changes the list. Two worlds where rounding is as large as the
// differences between distances:
//  - records crowded round a distant centre (relative rounding); hot rows
//    come in descending row id, so a tie comes after the rows it beats;
//  - records and queries at 1e-23, whose squares and products are subnormal
//    floats (absolute rounding); not cosine, whose input needs a norm of at
//    least 1e-15.
TEST_CASE("scan engine: the float filters never lose a row when distances are within rounding of each other") {
  for (const std::string world : {"crowded", "subnormal"}) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
      if (world == "subnormal" && metric == Metric::kCosine) continue;
      for (size_t n : {size_t(1), size_t(3), size_t(9)}) {
        CAPTURE(world);
        CAPTURE(int(metric));
        CAPTURE(n);
        Fixture f;
        float query_scale = 1;
        if (world == "crowded") {
          f.dim = 96;
          f.center.assign(f.dim, 0.0f);
          for (uint32_t j = 0; j < f.dim; ++j) f.center[j] = 40.0f + float(j % 5);
          f.spread = 1e-5f;
        } else {
          f.dim = 4;
          f.center.assign(f.dim, 0.0f);
          f.spread = query_scale = 3e-23f;
        }
        f.MakeHot();
        f.MakeShard(1, kCodecZstdShuffle, 3, 50);
        std::vector<std::vector<float>> queries;
        for (size_t i = 0; i < n; ++i) {
          queries.push_back(f.Normal());
          for (float& v : queries.back()) v *= query_scale;
        }
        const uint32_t k = 10;
        const auto got = f.Scan(metric, queries, k, 2, /*with_hot=*/true);
        for (size_t q = 0; q < n; ++q) {
          CAPTURE(q);
          const PreparedQuery pq = Prepare(queries[q].data(), f.dim);
          std::vector<Candidate> want;
          for (const auto& [row, v] : f.live_vectors)
            want.push_back(Candidate{Distance(metric, pq, v.data(), f.dim), row});
          std::sort(want.begin(), want.end());
          want.resize(k);
          REQUIRE(got[q].size() == k);
          for (size_t i = 0; i < k; ++i) {
            CAPTURE(i);
            CHECK(got[q][i].row_id == want[i].row_id);
            CHECK(got[q][i].distance == want[i].distance);
          }
        }
      }
    }
  }
}

TEST_CASE("scan engine: quantized frames are re-ranked at full precision; dead candidates never surface") {
  for (uint32_t codec : {kCodecFloat16, kCodecSq8}) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
      for (size_t n : {size_t(1), size_t(12)}) {
        CAPTURE(codec);
        CAPTURE(int(metric));
        CAPTURE(n);
        Fixture f;
        f.MakeShard(5, codec, 4, 64);
        f.MakeShard(6, kCodecZstdShuffle, 1, 30);
        f.Check(metric, n, 2, /*with_hot=*/false);
      }
    }
  }
}

TEST_CASE("scan engine: a damaged live slot is corruption, a damaged free slot is ignored") {
  Fixture f;
  f.MakeHot();
  const uint64_t slot_size = SlotFile::SlotSize(f.dim);
  // Slot 7 is free (7 % 7 == 0), slot 8 live.
  for (uint64_t slot : {uint64_t(7), uint64_t(8)}) {
    CAPTURE(slot);
    test::FlipByte(f.dir / "hot.slots", SlotFile::SlotOffset(f.dim, slot) + slot_size - 1);
    std::vector<std::vector<float>> qs = {f.Random()};
    ScanContext c(Metric::kL2, f.dim, qs, 5, 20);
    c.env = Env::Default();
    ScanRequest r;
    r.context = &c;
    r.hot = f.hot.get();
    r.hot_slots = f.hot_slots;
    r.live = &f.live;
    auto got = RunScan(r);
    if (slot == 7) {
      CHECK(got.ok());
    } else {
      REQUIRE(!got.ok());
      CHECK(got.status().code() == Code::kCorruption);
      CHECK(got.status().message().find("slot 8") != std::string::npos);
    }
    test::FlipByte(f.dir / "hot.slots", SlotFile::SlotOffset(f.dim, slot) + slot_size - 1);  // undo
  }
}

TEST_CASE("ParallelFor runs every item once, on at most the threads asked, and returns the first error") {
  for (size_t threads : {size_t(1), size_t(2), size_t(5)}) {
    std::vector<std::atomic<int>> runs(1000);
    std::mutex mu;
    std::set<size_t> workers;
    Status s = ParallelFor(runs.size(), threads, [&](size_t i, size_t w) {
      ++runs[i];
      std::lock_guard<std::mutex> l(mu);
      workers.insert(w);
      return Status::Ok();
    });
    CHECK(s.ok());
    for (auto& r : runs) CHECK(r == 1);
    CHECK(workers.size() <= threads);
    CHECK(*workers.rbegin() < threads);
    std::atomic<int> after{0};
    Status e = ParallelFor(1000, threads, [&](size_t i, size_t) {
      if (i == 10) return Status::IOError("item 10");
      if (i > 500) ++after;
      return Status::Ok();
    });
    CHECK(e.message() == "item 10");
    CHECK(after < 490);  // the others stopped taking items
  }
  CHECK(ThreadsFor(3, 100) == 3);
  CHECK(ThreadsFor(3, 2) == 2);
  CHECK(ThreadsFor(0, 0) == 1);
  CHECK(ThreadsFor(0, 1000) >= 1);
}

// An exception on any worker (std::bad_alloc where memory runs out) must
// reach the caller as if it had been thrown on its own thread: escaping a
// worker thread it would end the process (std::terminate, SIGABRT) instead
// of the command's "out of memory" (exit 70) with its store whole.
TEST_CASE("ParallelFor: an exception on any worker is rethrown to the caller once every worker has stopped") {
  for (size_t threads : {size_t(1), size_t(2), size_t(5)}) {
    for (size_t thrower = 0; thrower < threads; ++thrower) {
      CAPTURE(threads);
      CAPTURE(thrower);
      std::atomic<int> running{0};
      std::atomic<bool> thrown{false};
      bool caught = false;
      try {
        Status s = ParallelFor(1000, threads, [&](size_t, size_t w) {
          ++running;
          if (w == thrower && !thrown.exchange(true)) {  // its first item
            --running;
            throw std::bad_alloc();
          }
          // The others wait until it has thrown (never for ever: a worker
          // that could not start takes no items).
          for (int spin = 0; spin < 20000 && !thrown; ++spin) std::this_thread::yield();
          --running;
          return Status::Ok();
        });
        CHECK(s.ok());
      } catch (const std::bad_alloc&) {
        caught = true;
        CHECK(running == 0);  // every worker had stopped
      }
      CHECK(thrown);
      CHECK(caught);
    }
  }
}

// The tiled scan visits the rows at or below SmallestAt's value first:
// the value of that rank among the rows, as a sort gives it, by the short
// list (a usual first) and by nth_element (a large one) alike, ties and
// infinities included.
TEST_CASE("scan engine: SmallestAt is the value of that rank among the rows, as a sort gives it") {
  std::mt19937 rng(3);
  for (size_t n : {size_t(3), size_t(40), size_t(129), size_t(600)}) {
    for (int trial = 0; trial < 30; ++trial) {
      std::uniform_int_distribution<int> pick(0, trial % 2 ? 6 : 1 << 20);
      std::vector<float> lower(n + 5);
      for (auto& x : lower) x = float(pick(rng)) - 2.0f;
      if (trial % 3 == 0) lower[rng() % n] = -INFINITY;
      if (trial % 5 == 0) lower[rng() % n] = INFINITY;
      std::vector<uint32_t> rows;  // a subset, in row order, as the scan passes them
      for (uint32_t i = 0; i < lower.size(); ++i)
        if (rng() % 4 != 0 || rows.size() < 2) rows.push_back(i);
      std::vector<float> sorted;
      for (uint32_t i : rows) sorted.push_back(lower[i]);
      std::sort(sorted.begin(), sorted.end());
      std::vector<float> scratch;
      for (uint32_t first : {1u, 2u, 10u, 40u, 64u, 65u, 300u}) {
        if (first >= rows.size()) continue;
        CAPTURE(n);
        CAPTURE(first);
        CHECK(SmallestAt(lower.data(), rows.data(), rows.size(), first, &scratch) == sorted[first - 1]);
      }
    }
  }
}
