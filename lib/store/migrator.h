// Migrator: the journal protocol every data move follows
// (format-spec/journal.md), and its replay:
//   migration.cc       Run: intent txn -> write + sync -> written -> commit
//                      -> cleanup; the commit transaction; slot allocation
//                      and frame building for the moves that use it
//   replay.cc          Replay: what every open runs before anything else
//                      (roll back, roll forward, clean up, refuse or discard
//                      a damaged row); the RESERVE file that gives a roll
//                      back room on a full disk
//   rebuild_journal.cc a rebuild's commit, cleanup and replay (its long
//                      phase is StoreImpl::RebuildIndex, index.cc)
// It owns what it replayed and how damaged rows are handled; the store's
// shared state is the StoreContext it is given. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hot/slot_file.h"
#include "journal/journal.h"
#include "store/cold_index.h"
#include "store/store_context.h"
#include "store/store_lock.h"

namespace aether {

// Records per cold frame written by ingest and descend.
constexpr size_t kMaxFrameRecords = 1024;

// The bytes a migration writes, prepared before its intent is recorded.
struct PendingWrites {
  std::vector<SlotFile::SlotWrite> slots;
  // Frames per target shard, appended at that target's len_before.
  std::map<int64_t, std::vector<std::string>> frames;
};

// A partition rewrite's new shard (kind "rewrite"): the row's one target,
// registered only by its commit; its path follows from the partition it
// rewrites and its shard id (layout::RewrittenPartitionPath).
struct RewriteTarget {
  int64_t shard_id = 0;      // the new shard
  int64_t old_shard_id = 0;  // the shard every item leaves
  std::string path;          // store-relative
  int64_t generation = 0;
  uint32_t partition = 0;
};

class Migrator {
 public:
  // discard_damaged: OpenOptions::discard_damaged_journal.
  Migrator(StoreContext* s, StoreLock* lock, ColdIndex* index, bool discard_damaged)
      : s_(s), lock_(lock), index_(index), discard_damaged_(discard_damaged) {}

  // migration.cc. Runs one migration of an ingest, descend or ascend: `m`
  // and `items` are recorded as the intent (with also_in_intent's changes,
  // in the same transaction), `w` is written and synced, then committed.
  // Requires a writer; a failure is final for this migration (rolled back
  // at once, or by the next open's replay).
  Status Run(Migration* m, const std::vector<MigrationItem>& items, const PendingWrites& w,
             const std::function<Status()>& also_in_intent = nullptr);
  // Drops the free slots that end hot.slots and cuts the file: one
  // committed "compact" row with no items (for when there is nothing to
  // move; a move's commit drops them itself).
  Status TrimHot();
  // Cuts hot.slots to its committed length (HotSlotsInUse) if longer.
  Status CutHotFile();
  // n hot slots for new data: the lowest free ones, then past the committed
  // length (HotSlotsInUse).
  Result<std::vector<int64_t>> AllocateSlots(size_t n);
  // Encodes frames for the items listed in `which` (vectors[i] is item i's
  // vector), sets their destinations in `shard`, and records the append as
  // one of m's targets and w's frames. Each item's dst.tier, set by the
  // caller, is the tier it goes to: kCold (frames in the store's cold codec)
  // or kWarm (kWarmCodec: StoreContext::FrameCodecOf).
  Status BuildFrames(std::vector<MigrationItem>* items, const std::vector<size_t>& which,
                     const std::vector<const float*>& vectors, const ShardInfo& shard, Migration* m, PendingWrites* w);

  // migration.cc. A rewrite's target, from its row and the shards table
  // (the new shard's row once committed, else the old one's).
  Result<RewriteTarget> RewriteTargetOf(const Migration& m, const std::vector<MigrationItem>& items);

  // rebuild_journal.cc: a rebuild's commit transaction (the generation
  // switch) and its cleanup (the old generation's files).
  // `calibration`, when given, is written in the same transaction (a
  // replay has none: the generation it finishes is uncalibrated).
  Status CommitRebuild(const Migration& m, const CalibrationRow* calibration = nullptr);
  Status CleanupRebuild(const Migration& m);

  // replay.cc. Replays every journal row (retrying once with the RESERVE's
  // room on a full disk); what it did is replayed().
  Status Replay();
  const std::vector<ReplayAction>& replayed() const { return replayed_; }
  // Validates a journal row as the replay would (Journal::CheckIntegrity,
  // CheckReplayable), without acting on it.
  Status CheckJournalRow(Migration* m);
  // Cuts every file back to what the committed metadata says.
  Status TruncateToCommitted();
  // Retires every partition shard a rewrite superseded whose cleanup did not
  // finish (its row discarded as damaged): no memory in it, a newer shard
  // of the same partition. Its file goes, then its row.
  Status RetireSuperseded();
  // The RESERVE file (layout.h): created when missing and there is room;
  // released (deleted) when a roll back needs the space.
  void EnsureReserve();
  bool ReleaseReserve();

 private:
  // migration.cc
  Status CommitMigration(const Migration& m, const std::vector<MigrationItem>& items);
  Status CommitNew(const Migration& m, const MigrationItem& it);
  Status VerifyWritten(const Migration& m, const std::vector<MigrationItem>& items);
  Status DropFreeTail(uint64_t written_end);
  Status RemoveCommitted(const Migration& m);
  // A committed rewrite's cleanup: the old shard's file, then its row (no
  // live record left; gone already: nothing to do).
  Status RetireRewritten(const Migration& m, const std::vector<MigrationItem>& items);
  // replay.cc
  Status ReplayOne(Migration* m);
  Status ReplayAll();
  Status CheckReplayable(const Migration& m, const std::vector<MigrationItem>& items);
  Status CheckRewriteReplayable(const Migration& m, const std::vector<MigrationItem>& items);
  Status OldShardIntact(const Migration& m, const ShardInfo& old, const std::string& new_path);
  Status RollBackWrites(const Migration& m, const std::vector<MigrationItem>& items);
  void CountOutcome(const Migration& m, const char* outcome);
  Status DiscardDamaged(const Migration& m, size_t items, const std::string& why);
  // rebuild_journal.cc
  // Removes the files a generation consists of (its `partitions` partition
  // shards, or with 0 every pNNNNNN.shard, its centroids and their
  // temporaries), never through a link; unknown entries are left (noticed).
  Status RemoveGeneration(int64_t generation, uint32_t partitions);
  Status ReplayRebuild(const Migration& m, ReplayAction* action);
  Status CheckRebuildReplayable(const Migration& m);

  StoreContext* s_;
  StoreLock* lock_;
  ColdIndex* index_;
  const bool discard_damaged_;
  std::vector<ReplayAction> replayed_;
  bool discarded_ = false;  // a damaged row was discarded in this replay
};

}  // namespace aether
