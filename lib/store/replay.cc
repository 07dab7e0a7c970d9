// The journal replay (format-spec/journal.md, "Replay"): what every open
// runs under the exclusive lock before anything else.
//
// Shape: for each journal row, oldest first:
//   1. integrity: the row's checksum, a known kind and state
//      (Journal::CheckIntegrity);
//   2. safety against the committed state (CheckReplayable): a roll back
//      may only cut files back to lengths at or above what committed
//      metadata says is live, a roll forward only extend them, a cleanup
//      only remove what no committed state names;
//   3. by state:
//        intent    -> roll back: truncate the targets to their recorded
//                     lengths, sync, delete the row;
//        written   -> verify the written data's checksums; roll forward
//                     (the live path's commit transaction) or, if the data
//                     is bad or the commit can never apply, roll back;
//        committed -> cleanup (a rewrite's: the old shard's file and
//                     row), delete the row.
// A row failing 1 or 2 is damaged or stale: replaying it could destroy
// committed data, so it is refused as corruption (the store stays readable,
// writers stop), or, with OpenOptions::discard_damaged_journal, dropped after
// cutting every file back to its committed length (DiscardDamaged), which
// needs nothing from the row. Each step is idempotent, so a crash inside the
// loop is repaired by the next open.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "aether/jsonl.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/migrator.h"

namespace aether {

Status Migrator::Replay() {
  Status s = ReplayAll();
  // A roll back writes too (it deletes journal rows): on a full disk, give
  // it the reserve's room and try once more.
  if (s.IsNoSpace() && ReleaseReserve()) s = ReplayAll();
  return s;
}

Status Migrator::ReplayAll() {
  {
    AETHER_ASSIGN_OR_RETURN(std::vector<std::string> steps, UpgradeSchema(s_->db_.get()));
    s_->schema_upgraded_.insert(s_->schema_upgraded_.end(), steps.begin(), steps.end());
  }
  Journal journal(s_->db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<Migration> all, journal.All());
  for (Migration& m : all) {
    Status s = ReplayOne(&m);
    if (!s.ok()) return s.WithContext("replaying " + Describe(m));
  }
  if (all.empty()) return Status::Ok();
  // With the journal empty, no byte past a committed length belongs to
  // anyone (a row whose items had gone astray may have left some), nor does
  // a target or item row of no migration, nor a superseded partition shard.
  AETHER_RETURN_IF_ERROR(TruncateToCommitted());
  AETHER_RETURN_IF_ERROR(RetireSuperseded());
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&] { return journal.RemoveOrphans(); }));
  if (discarded_)
    for (const std::string& litter : s_->UnregisteredGenerations())
      s_->Notice(litter +
                 ": no committed state names it (a discarded migration's?); left in place (remove it by hand "
                 "once nothing needs it)");
  discarded_ = false;
  return Status::Ok();
}

Status Migrator::ReplayOne(Migration* m) {
  Journal journal(s_->db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<MigrationItem> items, journal.Items(m));
  Status valid = journal.CheckIntegrity(m, items);
  if (valid.ok()) valid = CheckReplayable(*m, items);
  if (!valid.ok()) {
    if (!discard_damaged_)
      return Status::Corruption(valid.message() +
                                "; nothing was replayed (run `aether verify`, then `aether recover "
                                "--discard-damaged` to roll the store back to its committed state)");
    return DiscardDamaged(*m, items.size(), valid.message());
  }
  if (m->kind == "scrub") {
    // Its change is in the committed state already; what is left is the cut
    // of every file to its committed length, which ReplayAll makes anyway.
    AETHER_RETURN_IF_ERROR(TruncateToCommitted());
    AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&] { return journal.Remove(m->id); }));
    replayed_.push_back({m->id, m->kind, StateName(m->state), "cleaned up", 0});
    return Status::Ok();
  }
  if (m->kind == "rebuild") {
    ReplayAction action{m->id, m->kind, StateName(m->state), "", 0};
    AETHER_RETURN_IF_ERROR(ReplayRebuild(*m, &action));
    AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&] { return journal.Remove(m->id); }));
    replayed_.push_back(action);
    return Status::Ok();
  }
  ReplayAction action{m->id, m->kind, StateName(m->state), "", items.size()};
  switch (m->state) {
    case MigrationState::kIntent:
      action.action = "rolled back";
      break;
    case MigrationState::kWritten:
      if (Status check = VerifyWritten(*m, items); !check.ok()) {
        action.action = "rolled back (written data failed verification: " + check.message() + ")";
        break;
      }
      if (Status commit = CommitMigration(*m, items); !commit.ok()) {
        // The commit transaction changed nothing. An I/O error may pass, so
        // leave the row for the next open; a commit that can never apply is
        // rolled back rather than left to block every command.
        if (commit.code() == Code::kIOError || commit.code() == Code::kBusy) return commit;
        action.action = "rolled back (commit failed: " + commit.message() + ")";
        break;
      }
      AETHER_FAULT_POINT("replay.after_rollforward_commit");
      action.action = "rolled forward";
      break;
    case MigrationState::kCommitted:
      action.action = "cleaned up";
      break;
  }
  if (action.action.rfind("rolled back", 0) == 0) {
    AETHER_RETURN_IF_ERROR(RollBackWrites(*m, items));
    CountOutcome(*m, "rolled_back");
    AETHER_FAULT_POINT("replay.after_rollback_truncate");
  } else {
    if (action.action == "rolled forward") CountOutcome(*m, "rolled_forward");
    // A committed migration's cleanup cuts hot.slots (CutHotFile), or a
    // rewrite's removes the old shard; the row goes only after it, so a
    // crash between them replays it again.
    if (m->kind == "rewrite") AETHER_RETURN_IF_ERROR(RetireRewritten(*m, items));
    AETHER_RETURN_IF_ERROR(TruncateToCommitted());
  }
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&] { return journal.Remove(m->id); }));
  replayed_.push_back(action);
  return Status::Ok();
}

Status Migrator::CheckJournalRow(Migration* m) {
  Journal journal(s_->db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<MigrationItem> items, journal.Items(m));
  AETHER_RETURN_IF_ERROR(journal.CheckIntegrity(m, items));
  return CheckReplayable(*m, items);
}

// Replay may act on a row only if doing so cannot touch what the committed
// state says is live (journal.md, invariant 10). Checked against the
// metadata, not the row, so that a stale row (a meta.db restored from a copy
// taken mid-migration) is refused even when its checksum is good.
Status Migrator::CheckReplayable(const Migration& m, const std::vector<MigrationItem>& items) {
  auto refuse = [&](const std::string& why) { return Status::Corruption(Describe(m) + ": " + why); };
  if (m.kind == "rebuild") return CheckRebuildReplayable(m);
  if (m.kind == "scrub") {  // its replay only cuts files to their committed lengths: always safe
    if (!m.targets.empty() || !items.empty()) return refuse("a scrub moves no memory");
    return Status::Ok();
  }
  if (m.kind == "rewrite") AETHER_RETURN_IF_ERROR(CheckRewriteReplayable(m, items));
  const bool may_roll_back = m.state != MigrationState::kCommitted;
  if (may_roll_back) {
    AETHER_ASSIGN_OR_RETURN(uint64_t committed, s_->CommittedHotSlots());
    if (m.hot_slots_before < committed)
      return refuse(fmt::format("a roll back would cut {} to {} slots, but committed memories use {}", layout::kHotFile,
                                m.hot_slots_before, committed));
  }
  for (const ShardTarget& t : m.targets) {
    if (m.kind == "rewrite") break;  // its own rules, above
    auto info = s_->tables_->shards.Get(t.shard_id);
    if (!info.ok()) return refuse(fmt::format("target shard {} is not registered", t.shard_id));
    if (may_roll_back && t.len_before < info->file_bytes)
      return refuse(fmt::format("a roll back would cut {} to {} bytes, below its committed length {}", info->path,
                                t.len_before, info->file_bytes));
    if (m.state == MigrationState::kWritten && (t.len_before != info->file_bytes || t.len_after < t.len_before))
      return refuse(fmt::format("it appends {}..{} to {}, whose committed length is {}", t.len_before, t.len_after,
                                info->path, info->file_bytes));
  }
  for (const MigrationItem& it : items) {
    Tier tier;
    if (!TierFromCode(TierCode(it.dst.tier), &tier) || (it.src && !TierFromCode(TierCode(it.src->tier), &tier)))
      return refuse(fmt::format("item '{}' has an unknown tier", it.id));
    if ((it.dst.warm() || (it.src && it.src->warm())) && s_->format_version_ < 5)
      return refuse(fmt::format("item '{}' is warm in a store of format version {}", it.id, s_->format_version_));
    if (it.row_id <= 0 || it.id.empty() || it.id.size() > kMaxIdBytes || !(it.importance >= 0 && it.importance <= 1))
      return refuse(fmt::format("item {} ('{}') is not a valid memory", it.row_id, it.id));
    if (it.payload && !ValidPayload(*it.payload))
      return refuse(fmt::format("item '{}' has a payload that is not valid JSON", it.id));
    if (it.dst.in_shard()) {
      bool targeted = false;
      for (const ShardTarget& t : m.targets) targeted |= t.shard_id == it.dst.shard_id;
      if (!targeted)
        return refuse(fmt::format("item '{}' goes to shard {}, which it does not append to", it.id, it.dst.shard_id));
    } else if (it.dst.slot < 0) {
      return refuse(fmt::format("item '{}' goes to the hot tier without a slot", it.id));
    }
  }
  return Status::Ok();
}

// A partition rewrite (journal.md, "The rewrite migration") writes one new
// shard file, registered only by its commit, from the live records of one
// registered partition shard. Before its commit the new shard must be
// unregistered and its path no registered shard's (a roll back deletes
// that file); after it, the new shard must be registered at that path and
// the old one gone or without a live record (the cleanup deletes its file).
Status Migrator::CheckRewriteReplayable(const Migration& m, const std::vector<MigrationItem>& items) {
  auto refuse = [&](const std::string& why) { return Status::Corruption(Describe(m) + ": " + why); };
  if (m.targets.size() != 1 || items.empty())
    return refuse("a rewrite moves the records of one shard into one new shard");
  const ShardTarget& t = m.targets[0];
  if (t.len_before != ShardFile::kHeaderSize || t.len_after < t.len_before)
    return refuse(fmt::format("its new shard grows {}..{}, not from its header", t.len_before, t.len_after));
  const int64_t old_id = items[0].src ? items[0].src->shard_id : 0;
  for (const MigrationItem& it : items)
    if (!it.src || !it.src->in_shard() || it.src->shard_id != old_id || it.dst.tier != it.src->tier ||
        it.dst.shard_id != t.shard_id)
      return refuse(fmt::format("item '{}' is not a move from shard {} to shard {}", it.id, old_id, t.shard_id));
  if (old_id >= t.shard_id)
    return refuse(fmt::format("its new shard {} is not newer than shard {}", t.shard_id, old_id));
  AETHER_ASSIGN_OR_RETURN(RewriteTarget rt, RewriteTargetOf(m, items));
  auto target = s_->tables_->shards.Get(t.shard_id);
  auto old = s_->tables_->shards.Get(old_id);
  if (m.state == MigrationState::kCommitted) {
    if (!target.ok()) return refuse(fmt::format("its new shard {} is not registered", t.shard_id));
    if (target->path != rt.path)
      return refuse(fmt::format("shard {} is {}, not {}", t.shard_id, target->path, rt.path));
    if (old.ok() && (old->live != 0 || old->generation != rt.generation || old->partition != int64_t(rt.partition)))
      return refuse(fmt::format("its cleanup would delete {}, which is in use", old->path));
    return Status::Ok();
  }
  if (target.ok()) return refuse(fmt::format("its new shard {} was registered before its commit", t.shard_id));
  if (!old.ok()) return refuse(fmt::format("the shard it rewrites ({}) is not registered", old_id));
  // A roll back deletes the new file: refused unless the old file still
  // holds its committed records. An intent can only roll back; a written
  // row may roll forward from the new file instead, if what it wrote is
  // there intact (else it is refused here, as damaged, not half-replayed).
  if (Status intact = OldShardIntact(m, *old, rt.path); !intact.ok()) {
    if (m.state == MigrationState::kIntent) return intact;
    if (Status written = VerifyWritten(m, items); !written.ok())
      return refuse(intact.message() + ", and its new file cannot be rolled forward (" + written.message() + ")");
  }
  AETHER_ASSIGN_OR_RETURN(int64_t current, s_->tables_->config.IndexGeneration());
  if (old->generation != current)
    return refuse(
        fmt::format("it rewrites a shard of generation {}, but generation {} is current", old->generation, current));
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> all, s_->tables_->shards.All());
  for (const ShardInfo& info : all)
    if (info.path == rt.path) return refuse(fmt::format("a roll back would delete {}, a registered shard", rt.path));
  return Status::Ok();
}

// Undoes an uncommitted migration's writes: every file goes back to its
// committed length. Nothing it wrote is referenced by committed metadata
// (slots it filled were free and stay free; frames lie past the committed
// lengths; a rewrite's new file is named by no shard row, and goes),
// and CheckReplayable proved the row's own recorded lengths are not below
// the committed ones, so the row and the metadata agree on what is cut;
// the metadata is what is trusted.
// A rewrite's roll back deletes its new file only while the old shard's
// file holds every committed record: with a meta.db restored from before
// the rewrite's commit, the new file is the partition's only copy.
Status Migrator::OldShardIntact(const Migration& m, const ShardInfo& old, const std::string& new_path) {
  auto size = s_->env_->FileSize(s_->Path(old.path));
  if (size.ok() && *size >= old.file_bytes) return Status::Ok();
  return Status::Corruption(fmt::format("{}: a roll back would delete {}, but {} does not hold the {} bytes committed",
                                        Describe(m), new_path, old.path, old.file_bytes));
}

Status Migrator::RollBackWrites(const Migration& m, const std::vector<MigrationItem>& items) {
  if (m.kind == "rewrite") {
    AETHER_ASSIGN_OR_RETURN(RewriteTarget rt, RewriteTargetOf(m, items));
    AETHER_ASSIGN_OR_RETURN(ShardInfo old, s_->tables_->shards.Get(rt.old_shard_id));
    AETHER_RETURN_IF_ERROR(OldShardIntact(m, old, rt.path));
    AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(rt.path));
    AETHER_RETURN_IF_ERROR(s_->env_->SyncDir(s_->Path(layout::GenerationDir(rt.generation))));
  }
  return TruncateToCommitted();
}

// Cuts every file back to what the committed metadata says: shards to their
// committed lengths, hot.slots to the slots live or free memories use.
// Whatever lies past those belongs to no committed memory.
Status Migrator::TruncateToCommitted() {
  if (s_->rehearsal_) return Status::Ok();  // the files are as they were
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, s_->CommittedHotSlots());
  AETHER_ASSIGN_OR_RETURN(auto hot, s_->OpenHot(/*writable=*/true));
  AETHER_ASSIGN_OR_RETURN(uint64_t hot_bytes, s_->env_->FileSize(hot->path()));
  if (hot_bytes > SlotFile::SlotOffset(s_->config_.dim, committed)) {
    AETHER_RETURN_IF_ERROR(hot->TruncateToSlots(committed));
    AETHER_RETURN_IF_ERROR(hot->Sync());
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, s_->tables_->shards.All());
  for (const ShardInfo& info : shards) {
    // A missing file has nothing past its committed length to cut: a
    // rewritten partition's old shard whose file its cleanup removed before
    // its row (no live record; RetireSuperseded deletes the row), or a file
    // lost to damage (verify and every reader of it report it; a discard
    // of a damaged row goes on).
    if (s_->env_->TypeOf(s_->Path(info.path)) == FileType::kMissing) continue;
    // In the bucket (a cold tier there): its object may be longer (a cut
    // committed before the file was brought back), read up to the
    // committed length only; a writer that brings it back appends there.
    if (s_->cold_env_ && s_->cold_env_->IsRemote(s_->Path(info.path))) {
      s_->cold_env_->SetLength(s_->Path(info.path), info.file_bytes);
      continue;
    }
    AETHER_ASSIGN_OR_RETURN(uint64_t size, s_->env_->FileSize(s_->Path(info.path)));
    if (size <= info.file_bytes) continue;
    AETHER_ASSIGN_OR_RETURN(auto shard, s_->OpenShard(info, /*writable=*/true));
    AETHER_RETURN_IF_ERROR(shard->Truncate(info.file_bytes));
    AETHER_RETURN_IF_ERROR(shard->Sync());
  }
  return Status::Ok();
}

// A damaged row is not trusted for anything: the files are cut back to the
// committed state (TruncateToCommitted), which undoes whatever an
// uncommitted migration appended and changes nothing after a committed one.
// What only the row could name (a half-written or superseded index
// generation, a rewrite's new file) is left in place and reported; a shard a
// committed rewrite superseded is retired (RetireSuperseded).
Status Migrator::DiscardDamaged(const Migration& m, size_t items, const std::string& why) {
  AETHER_RETURN_IF_ERROR(TruncateToCommitted());
  AETHER_RETURN_IF_ERROR(RetireSuperseded());
  Journal journal(s_->db_.get());
  AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(journal.Remove(m.id));
    return s_->Audit("discard", "",
                     fmt::format("{{\"migration\":{},\"reason\":{}}}", m.id, nlohmann::json(why).dump()));
  }));
  replayed_.push_back({m.id, m.kind, StateName(m.state), "discarded (" + why + ")", items});
  CountOutcome(m, "discarded");
  discarded_ = true;  // what it leaves is reported once every row is replayed (ReplayAll)
  return Status::Ok();
}

Status Migrator::RetireSuperseded() {
  if (s_->rehearsal_) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> all, s_->tables_->shards.All());
  std::map<std::pair<int64_t, int64_t>, int64_t> newest;  // (generation, partition) -> shard id
  for (const ShardInfo& sh : all)
    if (!sh.staging())
      newest[{sh.generation, sh.partition}] = std::max(newest[{sh.generation, sh.partition}], sh.shard_id);
  for (const ShardInfo& sh : all) {
    if (sh.staging() || sh.live != 0 || newest[{sh.generation, sh.partition}] == sh.shard_id) continue;
    AETHER_ASSIGN_OR_RETURN(uint64_t placed, s_->tables_->memories.CountInShard(sh.shard_id));
    if (placed != 0) continue;  // counts that lie: verify's to report
    if (!layout::IsPartitionPathOf(sh.path, sh.generation, sh.partition)) {
      s_->Notice(sh.path + ": a superseded shard not named as a partition of its generation; left in place");
      continue;
    }
    AETHER_RETURN_IF_ERROR(s_->RemoveOwnedFile(sh.path));
    AETHER_RETURN_IF_ERROR(s_->env_->SyncDir(s_->Path(layout::GenerationDir(sh.generation))));
    AETHER_RETURN_IF_ERROR(InTransaction(s_->db_.get(), [&] { return s_->tables_->shards.Delete(sh.shard_id); }));
  }
  return Status::Ok();
}

void Migrator::EnsureReserve() {
  std::string path = s_->Path(layout::kReserveFile);
  if (s_->env_->TypeOf(path) != FileType::kMissing) return;
  std::string tmp = TempNameFor(s_->env_, path);
  Status s = [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(auto f, s_->env_->Open(tmp, OpenMode::kCreateNew));
    const std::string zeros(64 << 10, '\0');  // written, not fallocated: the blocks must be real
    for (uint64_t at = 0; at < layout::kReserveBytes; at += zeros.size())
      AETHER_RETURN_IF_ERROR(f->Write(at, zeros.data(), zeros.size()));
    return s_->env_->Rename(tmp, path);  // no fsync: a reserve lost in a crash is made again
  }();
  if (!s.ok()) (void)s_->env_->RemoveFile(tmp);  // ours (O_EXCL); no room now: the next writer tries again
}

bool Migrator::ReleaseReserve() {
  std::string path = s_->Path(layout::kReserveFile);
  if (!lock_->writer() || s_->env_->TypeOf(path) != FileType::kRegular) return false;
  return s_->env_->RemoveFile(path).ok();
}

}  // namespace aether
