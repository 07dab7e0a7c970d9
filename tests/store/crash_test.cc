// In-process crash tests: the library on a real store, through a FaultEnv
// (lib/env/fault_env.h). For every operation that writes, and for every
// step n of its writes, syncs, truncates, creates, renames and removals:
//   - "dies": step n and every later one fail (the process can clean up
//     nothing, as if killed);
//   - "fails": step n alone fails (a transient I/O error), and the library
//     copes in process;
// and, with no fault at all, the operation succeeds. Each time the power
// then goes: whatever was not durable is dropped. The store is opened again
// (replaying what was left): verify finds nothing wrong; the memories are
// exactly those before the operation or those after it (vectors, payloads,
// tiers), and those after it whenever it reported success. The states come
// from a model kept by the test, never from the store itself (but the
// tiers the library chooses itself: from a fault-free run).
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <tuple>

#include "aether/env.h"
#include "aether/store.h"
#include "env/fault_env.h"
#include "test_util.h"

using namespace aether;
using aether::test::OpenStoreOrFail;
using aether::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDim = 8;

// A clock that stands still, so that a run and its faulted repeats take the
// same decisions (eviction scores, the maintenance tick).
class StillClock : public EnvWrapper {
 public:
  StillClock() : EnvWrapper(Env::Default()) {}
  int64_t NowMs() override { return 1'800'000'000'000; }
};

// What a test knows of a memory: vector, payload, tier.
using Memory = std::tuple<std::vector<float>, std::string, Tier>;
using State = std::map<std::string, Memory>;

std::vector<float> VectorFor(const std::string& id, int version) {
  std::vector<float> v(kDim);
  uint64_t h = std::hash<std::string>()(id) + uint64_t(version) * 7919;
  for (uint32_t i = 0; i < kDim; ++i) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = float(int64_t(h >> 40) % 2001 - 1000) / 100.0f;
  }
  return v;
}

// The store's memories among `ids` (those it does not have are absent).
State Read(Store* store, const std::vector<std::string>& ids) {
  auto got = store->Get(ids);
  REQUIRE_MESSAGE(got.ok(), got.status().message());
  State out;
  for (const auto& r : *got)
    if (r) out[r->id] = Memory{r->vector, r->payload_json, r->tier};
  return out;
}

// The first memory where two states differ, for messages.
std::string FirstDifference(const State& a, const State& b) {
  for (const auto& [id, m] : a) {
    auto it = b.find(id);
    if (it == b.end()) return id + " only in the first";
    if (std::get<0>(m) != std::get<0>(it->second)) return id + ": vectors differ";
    if (std::get<1>(m) != std::get<1>(it->second))
      return id + ": payload '" + std::get<1>(m) + "' vs '" + std::get<1>(it->second) + "'";
    if (std::get<2>(m) != std::get<2>(it->second)) return id + ": tiers differ";
  }
  for (const auto& [id, m] : b)
    if (!a.count(id)) return id + " only in the second";
  return "none";
}

std::string Describe(const State& s) {
  std::string out;
  for (const auto& [id, m] : s) out += id + (std::get<2>(m) == Tier::kHot ? "(hot) " : "(cold) ");
  return out;
}

// Contents only: the tiers set aside.
std::map<std::string, std::pair<std::vector<float>, std::string>> Contents(const State& s) {
  std::map<std::string, std::pair<std::vector<float>, std::string>> out;
  for (const auto& [id, m] : s) out[id] = {std::get<0>(m), std::get<1>(m)};
  return out;
}

struct Fixture {
  TempDir base{/*in_memory=*/true};
  std::string path = base / "store";
  std::vector<std::string> universe;  // every id any operation may touch
  State model;                        // the memories as the test put them

  Fixture() {
    StillClock clock;
    StoreConfig c;
    c.dim = kDim;
    REQUIRE(Store::Create(path, c, &clock).ok());
    auto store = OpenStoreOrFail(path, AccessMode::kWrite, &clock);
    std::vector<Record> batch;
    for (int i = 0; i < 40; ++i) {
      Record r;
      r.id = "a" + std::to_string(i);
      r.vector = VectorFor(r.id, 0);
      if (i % 3 == 0) r.payload_json = "{\"n\":" + std::to_string(i) + "}";
      batch.push_back(r);
      model[r.id] = Memory{r.vector, r.payload_json, Tier::kHot};
    }
    REQUIRE(store->IngestBatch(batch, DuplicatePolicy::kError).ok());
    // Cold memories under an index, more in staging, a free slot, garbage.
    MoveOptions down;
    for (int i = 20; i < 40; ++i) down.ids.push_back("a" + std::to_string(i));
    REQUIRE(store->Descend(down).ok());
    RebuildOptions ro;
    ro.partitions = 3;
    REQUIRE(store->RebuildIndex(ro).ok());
    down.ids = {"a10", "a11", "a12"};
    REQUIRE(store->Descend(down).ok());
    for (const char* id : {"a5", "a25"}) model.erase(id);
    REQUIRE(store->Delete({"a5", "a25"}).ok());
    for (int i = 10; i < 40; ++i)
      if ((i < 13 || i >= 20) && model.count("a" + std::to_string(i)))
        std::get<2>(model["a" + std::to_string(i)]) = Tier::kCold;
    for (int i = 0; i < 40; ++i) universe.push_back("a" + std::to_string(i));
    for (int i = 0; i < 6; ++i) universe.push_back("b" + std::to_string(i));
    REQUIRE(Read(store.get(), universe) == model);
  }
};

// An operation under test: what it does, and what it must leave (its
// contents from the model; tiers, where the library decides them, from a
// fault-free run).
struct Operation {
  std::string name;
  std::function<Status(Store*)> run;
  std::function<void(State*)> apply;  // the model's change of contents (and tiers, when the test decides them)
  bool tiers_from_run = false;        // tiers after: as a fault-free run leaves them
  // One migration: the state is exactly before or after. An operation of
  // several (maintain: sampled descends, the capacity, restores) may stop
  // between them: then the contents must still be exactly the same.
  bool atomic = true;
  // It may succeed with part of its work left for later (maintain: a
  // restore that fails is deferred, with backoff): then success says only
  // that the contents are kept.
  bool defers = false;
};

std::vector<Operation> Operations() {
  std::vector<Operation> ops;
  ops.push_back({"ingest (new, and one replaced)",
                 [](Store* s) {
                   std::vector<Record> batch;
                   for (int i = 0; i < 6; ++i) {
                     Record r{"b" + std::to_string(i), VectorFor("b" + std::to_string(i), 0), "", 0.5};
                     if (i == 2) r.payload_json = "[1,2]";
                     batch.push_back(r);
                   }
                   batch.push_back(Record{"a1", VectorFor("a1", 1), "{\"v\":2}", 0.5});
                   return s->IngestBatch(batch, DuplicatePolicy::kReplace).status();
                 },
                 [](State* m) {
                   for (int i = 0; i < 6; ++i)
                     (*m)["b" + std::to_string(i)] =
                         Memory{VectorFor("b" + std::to_string(i), 0), i == 2 ? "[1,2]" : "", Tier::kHot};
                   (*m)["a1"] = Memory{VectorFor("a1", 1), "{\"v\":2}", Tier::kHot};
                 },
                 false});
  ops.push_back({"descend",
                 [](Store* s) {
                   MoveOptions o;
                   o.ids = {"a0", "a1", "a2", "a3"};
                   return s->Descend(o).status();
                 },
                 [](State* m) {
                   for (const char* id : {"a0", "a1", "a2", "a3"}) std::get<2>((*m)[id]) = Tier::kCold;
                 },
                 false});
  ops.push_back({"ascend (from a partition and from staging)",
                 [](Store* s) {
                   MoveOptions o;
                   o.ids = {"a20", "a21", "a33", "a11"};
                   return s->Ascend(o).status();
                 },
                 [](State* m) {
                   for (const char* id : {"a20", "a21", "a33", "a11"}) std::get<2>((*m)[id]) = Tier::kHot;
                 },
                 false});
  ops.push_back({"rebuild-index",
                 [](Store* s) {
                   RebuildOptions o;
                   o.partitions = 4;
                   return s->RebuildIndex(o).status();
                 },
                 [](State*) {}, false});
  ops.push_back({"delete",
                 [](Store* s) {
                   return s->Delete({"a2", "a30", "a11"}).status();
                 },
                 [](State* m) {
                   for (const char* id : {"a2", "a30", "a11"}) m->erase(id);
                 },
                 false});
  ops.push_back({"delete --purge (scrubs)",
                 [](Store* s) {
                   return s->Delete({"a3", "a31"}, /*purge=*/true).status();
                 },
                 [](State* m) {
                   for (const char* id : {"a3", "a31"}) m->erase(id);
                 },
                 false});
  ops.push_back({"scrub", [](Store* s) { return s->Scrub().status(); }, [](State*) {}, false});
  ops.push_back({"ingest into a full hot tier (to cold)",
                 [](Store* s) {
                   AETHER_RETURN_IF_ERROR(s->SetParam("hot_capacity", 16));
                   std::vector<Record> batch;
                   for (int i = 0; i < 6; ++i)
                     batch.push_back(Record{"b" + std::to_string(i), VectorFor("b" + std::to_string(i), 0), "", 0.5});
                   return s->IngestBatch(batch, DuplicatePolicy::kError).status();
                 },
                 [](State* m) {
                   for (int i = 0; i < 6; ++i)
                     (*m)["b" + std::to_string(i)] = Memory{VectorFor("b" + std::to_string(i), 0), "", Tier::kHot};
                 },
                 true});
  ops.push_back({"ascend --evict (a descend, then an ascend)",
                 [](Store* s) {
                   AETHER_RETURN_IF_ERROR(s->SetParam("hot_capacity", 16));
                   MoveOptions o;
                   o.ids = {"a20", "a34", "a12"};
                   o.evict = true;
                   return s->Ascend(o).status();
                 },
                 [](State*) {}, true, /*atomic=*/false});
  ops.push_back({"descend in batches of 2",
                 [](Store* s) {
                   MoveOptions o;
                   o.ids = {"a0", "a1", "a2", "a3", "a4", "a6"};
                   o.batch = 2;
                   return s->Descend(o).status();
                 },
                 [](State* m) {
                   for (const char* id : {"a0", "a1", "a2", "a3", "a4", "a6"}) std::get<2>((*m)[id]) = Tier::kCold;
                 },
                 false, /*atomic=*/false});
  ops.push_back({"maintain",
                 [](Store* s) {
                   AETHER_RETURN_IF_ERROR(s->SetParam("hot_capacity", 12));
                   MaintainOptions o;
                   o.seed = 7;
                   return s->Maintain(o).status();
                 },
                 [](State*) {}, true, /*atomic=*/false, /*defers=*/true});
  return ops;
}

struct Tally {
  uint64_t trials = 0, failed_ops = 0, before = 0, after = 0;
};

// One trial: a copy of the base store, the operation through a FaultEnv
// failing at `step`, a power cut if it died, the store opened again.
void Trial(const Fixture& f, const Operation& op, const State& after, uint64_t step, bool dies, Tally* tally) {
  const std::string trial = op.name + " step " + std::to_string(step) + (dies ? " (dies)" : " (fails)");
  bool acknowledged = false;
  TempDir dir(/*in_memory=*/true);
  const std::string path = dir / "store";
  fs::copy(f.path, path, fs::copy_options::recursive);
  StillClock clock;
  FaultEnv env(&clock);
  env.FailAt(step, dies);
  {
    OpenOptions o;
    o.access = AccessMode::kWrite;
    o.env = &env;
    o.wait_seconds = 0;
    auto store = Store::Open(path, o);
    Status st = store.ok() ? op.run(store->get()) : store.status();
    if (!st.ok()) ++tally->failed_ops;
    acknowledged = st.ok();
    if (getenv("CRASH_TEST_DEBUG")) MESSAGE(trial, ": ", st.message());
  }
  // The power goes when the process is gone: what it did not make durable
  // is lost, whether it died or finished.
  Status dropped = env.DropUnsynced();
  REQUIRE_MESSAGE(dropped.ok(), trial, ": ", dropped.message());
  auto store = OpenStoreOrFail(path, AccessMode::kWrite, &clock);
  auto verify = store->Verify();
  REQUIRE_MESSAGE(verify.ok(), verify.status().message());
  std::string problems;
  for (const auto& p : verify->problems) problems += p + "; ";
  CHECK_MESSAGE(verify->problems.empty(), trial, ": ", problems);
  State now = Read(store.get(), f.universe);
  const bool is_before = now == f.model, is_after = now == after;
  // What the library said it did, it did, durably.
  if (acknowledged && !op.defers)
    CHECK_MESSAGE(is_after, trial, ": succeeded, then lost: ", FirstDifference(now, after));
  if (op.atomic)
    CHECK_MESSAGE((is_before || is_after), trial, ": neither before nor after: ", Describe(now),
                  "; against before: ", FirstDifference(now, f.model),
                  "; against after: ", FirstDifference(now, after));
  else
    CHECK_MESSAGE(Contents(now) == Contents(f.model), trial, ": contents changed: ", FirstDifference(now, f.model));
  ++tally->trials;
  tally->before += is_before;
  tally->after += is_after && !is_before;
}

}  // namespace

TEST_CASE("in-process crashes: every step of every writing operation, killed or failed, loses nothing") {
  Fixture f;
  for (const Operation& op : Operations()) {
    // The fault-free run: how many steps it takes, and the tiers it leaves.
    TempDir dir(/*in_memory=*/true);
    const std::string path = dir / "store";
    fs::copy(f.path, path, fs::copy_options::recursive);
    StillClock clock;
    FaultEnv counter(&clock);
    State after = f.model;
    op.apply(&after);
    {
      auto store = OpenStoreOrFail(path, AccessMode::kWrite, &counter);
      Status st = op.run(store.get());
      REQUIRE_MESSAGE(st.ok(), op.name, ": ", st.message());
      State clean = Read(store.get(), f.universe);
      REQUIRE_MESSAGE(Contents(clean) == Contents(after), op.name, ": ", Describe(clean));
      if (op.tiers_from_run) after = clean;
      REQUIRE_MESSAGE(clean == after, op.name, ": ", Describe(clean), " vs ", Describe(after));
    }
    const uint64_t steps = counter.steps();
    Tally tally;
    for (uint64_t step = 1; step <= steps; ++step)
      for (bool dies : {true, false}) Trial(f, op, after, step, dies, &tally);
    MESSAGE(op.name, ": ", steps, " steps, ", tally.trials, " trials, ", tally.failed_ops, " operations failed; ",
            tally.before, " left the state before, ", tally.after, " the state after");
    // The harness itself: with no fault, a trial ends in the state after.
    Tally clean;
    Trial(f, op, after, 0, false, &clean);
    CHECK(clean.failed_ops == 0);
    CHECK((clean.after == 1 || after == f.model));
  }
}
