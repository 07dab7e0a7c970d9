// OpenOptions::on_change_committed hears each change a handle commits to
// the store's content, and nothing of its bookkeeping: per operation, the
// commits it is documented to make (an ingest batch, a move's batch, a
// feedback, a pin), none for a dry run, none for the open, none for the
// replay of a migration a crashed process left.
#include <doctest/doctest.h>

#include <memory>

#include "aether/store.h"
#include "test_util.h"

using namespace aether;
using aether::test::TempDir;

TEST_CASE("on_change_committed: each change is heard; bookkeeping, dry runs and replays are not") {
  TempDir dir;
  const std::string path = dir / "s";
  StoreConfig config;
  config.dim = 4;
  config.hot_capacity = 64;
  REQUIRE(Store::Create(path, config).ok());
  int heard = 0;
  auto open = [&] {
    OpenOptions o;
    o.access = AccessMode::kWrite;
    o.on_change_committed = [&] { ++heard; };
    auto s = Store::Open(path, o);
    REQUIRE(s.ok());
    return std::move(*s);
  };
  std::vector<Record> batch;
  for (int i = 0; i < 20; ++i) {
    Record r;
    r.id = "m" + std::to_string(i);
    r.vector = {float(i), 1, 2, 3};
    batch.push_back(r);
  }
  {
    std::unique_ptr<Store> s = open();
    CHECK(heard == 0);  // the open (the access and metrics logs folded, hot slots recorded)
    REQUIRE(s->IngestBatch(batch, DuplicatePolicy::kError).ok());
    CHECK(heard == 1);  // the batch's commit; its intent (journal, row ids) is bookkeeping
    heard = 0;
    MaintainOptions dry;
    dry.dry_run = true;
    dry.seed = 7;
    REQUIRE(s->Maintain(dry).ok());
    CHECK(heard == 0);
    REQUIRE(s->Pin({"m1"}, /*dry_run=*/true).ok());
    CHECK(heard == 0);
    REQUIRE(s->Pin({"m1"}, /*dry_run=*/false).ok());
    CHECK(heard == 1);
    REQUIRE(s->Feedback({{"m2", 1.0}}).ok());
    CHECK(heard == 2);
    heard = 0;
    MoveOptions move;
    move.ids = {"m3", "m4", "m5"};
    auto moved = s->Descend(move);
    REQUIRE(moved.ok());
    CHECK(moved->batches >= 1);
    CHECK(uint64_t(heard) == moved->batches);  // one commit per batch
  }
  // Folding metrics.log into meta.db (maintain does it first; recover
  // too) is bookkeeping, though it commits rows.
  REQUIRE(aether::test::Aether({"stats", path}).exit_code == 0);  // a record in metrics.log
  {
    std::unique_ptr<Store> s = open();
    auto unfolded = s->Metrics();
    REQUIRE(unfolded.ok());
    CHECK(unfolded->unfolded_records > 0);
    heard = 0;
    REQUIRE(s->FoldMetrics().ok());
    auto folded = s->Metrics();
    REQUIRE(folded.ok());
    CHECK(folded->unfolded_records == 0);  // it did commit them
    CHECK(heard == 0);
  }
  // A crashed descend leaves its migration written: the next open rolls it
  // forward, which is that process's work, not this handle's.
  const auto crashed = aether::test::Aether({"descend", path, "m6", "m7"}, "", {"AETHER_FAULT=descend.after_written"});
  REQUIRE(crashed.exit_code != 0);
  heard = 0;
  {
    std::unique_ptr<Store> s = open();
    CHECK(!s->replayed().empty());
    CHECK(heard == 0);
  }
}
