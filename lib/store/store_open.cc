// The one open path every command takes: lock, config, journal replay.
#include <fmt/format.h>

#include "aether/store.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {

Result<std::unique_ptr<StoreImpl>> StoreImpl::Open(const std::string& path,
                                                   const OpenOptions& opt) {
  auto impl = std::make_unique<StoreImpl>();
  impl->env_ = opt.env ? opt.env : Env::Default();
  impl->dir_ = path;
  impl->access_ = opt.access;
  impl->wait_seconds_ = opt.wait_seconds;
  Env* env = impl->env_;
  if (!env->IsDirectory(path)) return Status::NotFound(path + ": no such store (see aether init)");
  if (!env->Exists(impl->Path(layout::kDbFile)))
    return Status::NotFound(path + ": not an aether store (no " + layout::kDbFile + ")");

  LockMode mode = opt.access == AccessMode::kWrite ? LockMode::kExclusive : LockMode::kShared;
  AETHER_ASSIGN_OR_RETURN(impl->lock_, env->Lock(impl->Path(layout::kLockFile), mode, opt.wait_seconds));
  AETHER_ASSIGN_OR_RETURN(impl->db_, Db::Open(impl->Path(layout::kDbFile), /*create=*/false,
                                              /*reader=*/opt.access == AccessMode::kRead));
  AETHER_ASSIGN_OR_RETURN(impl->config_,
                          LoadConfig(impl->db_.get(), Store::kFormatVersion, &impl->format_version_));

  AETHER_ASSIGN_OR_RETURN(int64_t pending, impl->db_->QueryInt("SELECT COUNT(*) FROM migrations"));
  if (pending > 0) {
    // A migration is dangling only if its owner is dead; holding the
    // exclusive lock proves that. Readers take it just for the replay.
    if (mode == LockMode::kShared) {
      impl->lock_.reset();
      AETHER_ASSIGN_OR_RETURN(impl->lock_, env->Lock(impl->Path(layout::kLockFile),
                                                     LockMode::kExclusive, opt.wait_seconds));
    }
    AETHER_RETURN_IF_ERROR(impl->ReplayJournal());
    if (mode == LockMode::kShared) {
      impl->lock_.reset();
      AETHER_ASSIGN_OR_RETURN(impl->lock_, env->Lock(impl->Path(layout::kLockFile),
                                                     LockMode::kShared, opt.wait_seconds));
    }
  }
  return impl;
}

Status StoreImpl::EnsureExclusive() {
  if (lock_ && lock_->mode() == LockMode::kExclusive) return Status::Ok();
  lock_.reset();
  AETHER_ASSIGN_OR_RETURN(lock_, env_->Lock(Path(layout::kLockFile), LockMode::kExclusive,
                                            wait_seconds_));
  access_ = AccessMode::kWrite;
  // Another writer may have come and died while we held no lock.
  return ReplayJournal();
}

// The recovery loop. Shape: for each journal row, oldest first, by state:
//   intent    -> roll back: truncate the target files to their recorded
//                lengths, sync, delete the row;
//   written   -> verify the written data's checksums; roll forward (the same
//                commit transaction the live path runs) or, if the data is
//                bad, roll back;
//   committed -> cleanup: delete the row.
// Each step is idempotent, so a crash inside the loop is repaired by the
// next open. Requires the exclusive lock.
Status StoreImpl::ReplayJournal() {
  Journal journal(db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<Migration> all, journal.All());
  for (const Migration& m : all) {
    Status s = ReplayOne(m);
    if (!s.ok()) return s.WithContext(fmt::format("replaying migration {} ({})", m.id, m.kind));
  }
  return Status::Ok();
}

Status StoreImpl::ReplayOne(const Migration& m) {
  if (m.kind != "ingest" && m.kind != "descend" && m.kind != "ascend")
    return Status::Corruption("unknown migration kind '" + m.kind + "'");
  Journal journal(db_.get());
  AETHER_ASSIGN_OR_RETURN(std::vector<MigrationItem> items, journal.Items(m.id));
  ReplayAction action{m.id, m.kind, StateName(m.state), "", items.size()};
  switch (m.state) {
    case MigrationState::kIntent:
      action.action = "rolled back";
      break;
    case MigrationState::kWritten:
      if (Status check = VerifyWritten(m, items); !check.ok()) {
        action.action = "rolled back (written data failed verification: " + check.message() + ")";
        break;
      }
      if (Status commit = CommitMigration(m, items); !commit.ok()) {
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
    AETHER_RETURN_IF_ERROR(RollBackWrites(m));
    AETHER_FAULT_POINT("replay.after_rollback_truncate");
  }
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return journal.Remove(m.id); }));
  replayed_.push_back(action);
  return Status::Ok();
}

}  // namespace aether
