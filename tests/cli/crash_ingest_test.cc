// Kills ingest (and the replay) at every fault point and checks that the
// store holds exactly the state before or after the interrupted batch.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;

namespace {

// The store must hold exactly `before`, or exactly `before` + `batch`.
void CheckBeforeOrAfter(const std::string& store, const std::vector<Mem>& before, const std::vector<Mem>& batch) {
  std::vector<Mem> all = before;
  all.insert(all.end(), batch.begin(), batch.end());
  auto got = GetAll(store, Ids(all));
  bool is_after = got.size() == all.size();
  CHECK_MESSAGE((got.size() == before.size() || is_after), "store holds " << got.size() << " memories");
  const auto& expect = is_after ? all : before;
  for (const auto& m : expect) {
    auto it = got.find(m.id);
    REQUIRE_MESSAGE(it != got.end(), m.id << " lost");
    CHECK(it->second == m.vec);
  }
  // Every file back to exactly what the metadata says (a roll back that cut
  // to the wrong length passes every check above, not this one).
  auto v = Aether({"verify", store});
  CHECK_MESSAGE(v.exit_code == 0, v.out);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  CHECK(stats["hot_memories"].get<size_t>() + stats["cold_memories"].get<size_t>() == expect.size());
  CHECK(stats["pending_migrations"] == 0);
  auto q = RandomMems(1, 6, 555, "q")[0];
  auto hits = ParseSearchOutput(Aether({"search", store, "--vector", VectorJson(q.vec), "-k", "10", "--no-touch"}).out);
  REQUIRE(hits.size() == 1);
  CHECK(SameTopK(hits[0], BruteForce(expect, q.vec, 10, "l2")));
}

}  // namespace

TEST_CASE("ingest killed at every fault point leaves the state before or after the batch") {
  const char* points[] = {"ingest.after_intent", "ingest.mid_write",     "ingest.after_write",
                          "ingest.after_sync",   "ingest.after_written", "ingest.after_commit"};
  auto before = RandomMems(80, 6, 1, "a");
  auto batch = RandomMems(60, 6, 2, "b");
  int trials = 0;
  for (std::string point : points) {
    for (std::string capacity : {"50", "200"}) {  // the batch lands cold / hot
      CAPTURE(point);
      CAPTURE(capacity);
      TempDir dir;
      std::string store = dir / "s";
      REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", capacity}, ToJsonl(before)).exit_code == 0);
      // Free some slots so the batch reuses them, and leave cold garbage.
      REQUIRE(Aether({"delete", store, "a3", "a70"}).exit_code == 0);
      std::vector<Mem> kept;
      for (const auto& m : before)
        if (m.id != "a3" && m.id != "a70") kept.push_back(m);
      auto crashed = Aether({"ingest", "--create", store}, ToJsonl(batch), {"AETHER_FAULT=" + point});
      CHECK(crashed.exit_code == 137);
      auto rec = Aether({"recover", store, "--format", "json"});
      CHECK(rec.exit_code == 0);
      CheckBeforeOrAfter(store, kept, batch);
      ++trials;
    }
  }
  MESSAGE("ingest crash trials: " << trials);
}

TEST_CASE("a crash inside the replay is repaired by the next open") {
  auto before = RandomMems(30, 6, 3, "a");
  auto batch = RandomMems(25, 6, 4, "b");
  struct Case {
    const char* ingest_point;
    const char* replay_point;
  };
  for (Case c : {Case{"ingest.after_sync", "replay.after_rollback_truncate"},
                 Case{"ingest.after_written", "replay.after_rollforward_commit"}}) {
    CAPTURE(std::string(c.replay_point));
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, ToJsonl(before)).exit_code == 0);
    CHECK(Aether({"ingest", "--create", store}, ToJsonl(batch), {std::string("AETHER_FAULT=") + c.ingest_point})
              .exit_code == 137);
    CHECK(Aether({"stats", store}, "", {std::string("AETHER_FAULT=") + c.replay_point}).exit_code == 137);
    auto rec = Aether({"recover", store});
    CHECK(rec.exit_code == 0);
    CheckBeforeOrAfter(store, before, batch);
  }
}

TEST_CASE("recover reports what it rolled back or forward, and says when there was nothing") {
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "6"}).exit_code == 0);
  auto none = Aether({"recover", store});
  CHECK(none.exit_code == 0);
  CHECK(none.out == "");
  CHECK(none.err == "aether: nothing to recover\n");
  auto batch = RandomMems(5, 6, 9, "b");
  CHECK(Aether({"ingest", "--create", store}, ToJsonl(batch), {"AETHER_FAULT=ingest.after_intent"}).exit_code == 137);
  auto back = Aether({"recover", store});
  CHECK(back.out ==
        "migration  kind    items  state   action\n"
        "1          ingest  5      intent  rolled back\n");
  CHECK(Aether({"ingest", "--create", store}, ToJsonl(batch), {"AETHER_FAULT=ingest.after_written"}).exit_code == 137);
  auto fwd = nlohmann::json::parse(Aether({"recover", store, "--format", "json"}).out);
  CHECK(fwd["actions"][0]["action"] == "rolled forward");
  CHECK(fwd["actions"][0]["state"] == "written");
  CHECK(GetAll(store, Ids(batch)).size() == 5);
}
