// The one open path every command takes: lock, config, journal replay.
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "aether/store.h"
#include "env/errno_status.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// The directory `path` names, links resolved ("" when it does not resolve).
std::string Resolved(const std::string& path) {
  std::unique_ptr<char, decltype(&free)> real(realpath(path.c_str(), nullptr), &free);
  return real ? std::string(real.get()) : std::string();
}

bool SameDirectory(const struct stat& a, const std::string& path) {
  struct stat b;
  return stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// cold/, index/ or an entry of cold/ (a generation directory) that is a
// link into another store: refused before anything is opened. aether
// writes, cuts and deletes the files under them (a descend appends to the
// staging shard, a rebuild makes and removes generations and centroids),
// so through such a link it would change that store's files. "Into
// another store": its target is a directory holding a meta.db (not this
// store's), or that directory's cold/ or index/ or anything under them.
// A link to a directory of its own (a generation moved to another disk)
// is fine, wherever that lies.
Status CheckLinksIntoOtherStores(Env* env, const std::string& store) {
  std::vector<std::string> links;
  for (const char* d : {layout::kColdDir, layout::kIndexDir})
    if (env->TypeOf(store + "/" + d) == FileType::kSymlink) links.emplace_back(d);
  const std::string cold = store + "/" + layout::kColdDir;
  if (env->IsDirectory(cold)) {  // through a link too: cold/ moved whole
    auto entries = env->ListDir(cold);
    if (entries.ok())
      for (const std::string& e : *entries)
        if (env->TypeOf(cold + "/" + e) == FileType::kSymlink) links.push_back(std::string(layout::kColdDir) + "/" + e);
  }
  if (links.empty()) return Status::Ok();
  struct stat own;
  if (stat(store.c_str(), &own) != 0) return Status::Ok();  // what opens the store next fails on its own
  for (const std::string& rel : links) {
    const std::string target = Resolved(store + "/" + rel);
    // The target and each directory above it, up to this store's own (a
    // link within the store) or the root; for each, the first component
    // of the rest of the target's path.
    std::string at = target, first;
    while (at.size() > 1 && !SameDirectory(own, at)) {
      const bool harmful = first.empty() || first == layout::kColdDir || first == layout::kIndexDir;
      if (harmful && Store::LooksLikeStore(at, env))
        return Status::FailedPrecondition(fmt::format(
            "{}/{}: a link into another store ({}): aether writes and deletes files under it, so it would change "
            "that store's; point it at a directory of this store's own, or replace it with the directory itself",
            store, rel, at));
      const size_t slash = at.rfind('/');
      first = at.substr(slash + 1);
      at = at.substr(0, std::max<size_t>(slash, 1));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<StoreImpl>> StoreImpl::Open(const std::string& path, const OpenOptions& opt) {
  auto impl = std::make_unique<StoreImpl>();
  impl->shared_env_ = opt.shared_env;
  impl->env_ = opt.shared_env ? opt.shared_env.get() : opt.env ? opt.env : Env::Default();
  impl->dir_ = path;
  impl->trace_id_ = opt.trace_id;
  impl->lock_ = std::make_unique<StoreLock>(impl->env_, path, opt.wait_seconds);
  impl->set_on_notice(opt.on_notice);
  Env* env = impl->env_;
  if (!env->IsDirectory(path)) return NotThere(path, Status::NotFound(path + ": no such store (see aether init)"));
  if (!env->Exists(impl->Path(layout::kDbFile)))
    return NotThere(impl->Path(layout::kDbFile),
                    Status::NotFound(path + ": not an aether store (no " + layout::kDbFile + ")"));
  AETHER_RETURN_IF_ERROR(CheckLinksIntoOtherStores(env, path));
  // SQLite opens these itself: one that is no regular file (a FIFO would
  // hang a read-only open for ever) is refused as aether's own files are.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string f = impl->Path(layout::kDbFile) + suffix;
    const FileType t = env->TypeOf(f);
    if (t != FileType::kRegular && t != FileType::kMissing && t != FileType::kSymlink)
      return Status::IOError(f + ": not a regular file");
  }

  // A store this user may only read: readers read it (locks and the DB are
  // opened read-only), writers stop here with a clear error.
  impl->writable_ =
      env->Writable(path) && env->Writable(impl->Path(layout::kDbFile)) && env->Writable(impl->Path(layout::kHotFile));
  if (!impl->writable_) {
    // A file system mounted read-only refuses every user alike: not a
    // permission the user could be given.
    struct statvfs fs;
    impl->why_not_writable_ = statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY)
                                  ? "the file system holding this store is mounted read-only"
                                  : "this user may not write this store (no write permission on it or its files)";
  }
  if (opt.access == AccessMode::kWrite && !impl->writable_)
    return Status::PermissionDenied(path + ": " + impl->why_not_writable_ +
                                    "; commands that only read (search --no-touch, get, stats, verify) still work");

  // Locks (format-spec/README.md, "Concurrency"): writers hold WRITER for
  // the whole run and LOCK exclusively (a rebuild only shares LOCK while it
  // builds); readers share LOCK.
  if (opt.access == AccessMode::kWrite) AETHER_RETURN_IF_ERROR(impl->lock_->TakeWriter());
  LockMode mode = opt.access == AccessMode::kWrite ? LockMode::kExclusive : LockMode::kShared;
  AETHER_RETURN_IF_ERROR(impl->lock_->SetMode(mode));
  AETHER_ASSIGN_OR_RETURN(impl->db_, Db::Open(impl->Path(layout::kDbFile), /*create=*/false,
                                              /*reader=*/opt.access == AccessMode::kRead));
  impl->tables_ = std::make_unique<Tables>(impl->db_.get());
  AETHER_ASSIGN_OR_RETURN(impl->config_, LoadConfig(impl->db_.get(), Store::kFormatVersion, &impl->format_version_));
  // Every part reads shards through env_: a cold tier in a bucket first.
  AETHER_RETURN_IF_ERROR(impl->OpenColdTier(opt));
  impl->index_ = std::make_unique<ColdIndex>(impl->env_, path, impl->config_, impl->tables_.get());
  impl->migrator_ =
      std::make_unique<Migrator>(impl.get(), impl->lock_.get(), impl->index_.get(), opt.discard_damaged_journal);
  impl->model_ = std::make_unique<MemoryModel>(impl.get(), impl->lock_.get());
  {  // a parameter (absent: 0), kept beside the count it limits
    // A value that is no number (a damaged row) is no limit, not a store
    // that no command opens, config set included.
    auto bytes = impl->tables_->config.Number("hot_capacity_bytes", 0);
    impl->config_.hot_capacity_bytes =
        bytes.ok() && *bytes > 0 && *bytes <= 1e15 ? uint64_t(*bytes) : 0;  // NaN fails every test
  }
  AETHER_RETURN_IF_ERROR(impl->tables_->audit_log.UseFormat(impl->format_version_));

  AETHER_ASSIGN_OR_RETURN(uint64_t pending, Journal(impl->db_.get()).Count());
  if (mode == LockMode::kExclusive) {
    AETHER_ASSIGN_OR_RETURN(impl->schema_upgraded_, UpgradeSchema(impl->db_.get()));
    AETHER_RETURN_IF_ERROR(impl->tables_->audit_log.UseFormat(impl->format_version_));
    if (pending > 0) AETHER_RETURN_IF_ERROR(impl->migrator_->Replay());
    AETHER_RETURN_IF_ERROR(impl->RecordHotSlots());
    impl->FoldAccessLogOrNotice();
    impl->migrator_->EnsureReserve();
    return impl;
  }
  if (pending == 0) return impl;
  if (!impl->writable_) {  // a dead writer's migration waits for a user who may replay it
    impl->deferred_recovery_ =
        Status::PermissionDenied(path + ": migrations wait to be replayed, and " + impl->why_not_writable_);
    return impl;
  }
  // A reader found a journal row. If a live writer holds WRITER (a rebuild in
  // its build phase), the row is not dangling and the committed state is
  // readable as is. Otherwise its owner is dead: replay, then read.
  if (Status writer = impl->lock_->TakeWriter(/*wait=*/0); !writer.ok()) {
    if (writer.code() == Code::kBusy) return impl;
    return writer;
  }
  AETHER_RETURN_IF_ERROR(impl->lock_->SetMode(LockMode::kExclusive));
  // A replay may bring a shard back from the bucket to cut it (a rebuild's
  // cleanup): it writes as the dead writer would have.
  if (impl->cold_env_) impl->cold_env_->set_writer(true);
  Status replayed = impl->migrator_->Replay();
  if (impl->cold_env_) impl->cold_env_->set_writer(false);
  if (Status s = replayed; !s.ok()) {
    // The committed state does not depend on the journal (an uncommitted
    // migration's bytes lie past the committed lengths, a committed one's
    // are visible, and the replay never cuts below either): a reader that
    // cannot finish the recovery now (disk full, I/O error, no write
    // permission, a damaged journal row) still reads. The next writer replays
    // or reports.
    if (s.code() != Code::kIOError && s.code() != Code::kCorruption && s.code() != Code::kPermissionDenied) return s;
    impl->deferred_recovery_ = s;
  }
  AETHER_RETURN_IF_ERROR(impl->lock_->SetMode(LockMode::kShared));
  impl->lock_->DropWriter();
  return impl;
}

// meta.db closes before the locks go (members die before the base's): a
// writer's connection checkpoints the WAL when it closes, and a checkpoint
// racing the next writer is SQLite 3.40's WAL-reset bug. A writer
// checkpoints only a WAL past kWalCheckpointBytes; a smaller one waits for
// a later writer (two syncs saved per command; every process opening the
// DB reads the WAL once).
// (A path that cannot be made for lack of memory skips the checkpoint: a
// destructor must not throw.)
StoreImpl::~StoreImpl() {
  if (db_ && lock_ && lock_->writer()) {
    try {
      auto wal = env_->FileSize(Path(layout::kDbFile) + "-wal");
      if (wal.ok() && *wal > layout::kWalCheckpointBytes) db_->CheckpointOnClose();
    } catch (...) {
    }
  }
  tables_.reset();
  db_.reset();
  // A cold tier in a bucket: the cache trimmed (the Env's destructor) while
  // this process still holds the store's locks.
  if (cold_env_) {
    env_ = cold_local_env_;
    try {
      cold_env_.reset();
    } catch (...) {
    }
  }
}

Status StoreImpl::Checkpoint() {
  // Only the writer checkpoints (WRITER keeps every other writer out).
  if (!lock_->writer()) return Status::Internal("checkpoint on a store opened read-only");
  // With readers in (LOCK shared), a passive one: it never waits for them.
  if (!lock_->exclusive()) return db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
  AETHER_ASSIGN_OR_RETURN(Stmt st, db_->Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  AETHER_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row && st.Int(0) != 0)  // busy: something held the WAL (nothing of ours can)
    return Status::Busy(db_->path() + ": the WAL could not be checkpointed (another connection is using it)");
  return Status::Ok();
}

Status StoreImpl::YieldToReaders() {
  if (!lock_->writer()) return Status::Internal("YieldToReaders on a store opened read-only");
  return lock_->SetMode(LockMode::kShared);
}

Status StoreImpl::EnsureExclusive() {
  if (lock_->exclusive()) return Status::Ok();
  const bool reader = !lock_->writer();
  Status s = lock_->TakeWriter();
  if (s.ok()) s = lock_->SetMode(LockMode::kExclusive);
  if (!s.ok()) {
    // Busy: a reader stays a reader, never a writer without both locks: it
    // lets WRITER go and tries once for a shared LOCK again (a command
    // exits now; a library caller that still finds LOCK taken holds none,
    // as before this call).
    if (reader) (void)BackToReader(/*wait=*/0);
    return s;
  }
  if (cold_env_) cold_env_->set_writer(true);  // it may bring shards back to change them now
  // Another writer may have come and died while we held no lock. A replay
  // that fails (a damaged row) leaves a reader a reader: both locks are
  // held, so LOCK goes back to shared safely.
  Db::Bookkeeping bookkeeping(db_.get());  // another process's work, finished
  Status replayed = migrator_->Replay();
  if (!replayed.ok() && reader) (void)BackToReader();
  // What searches recorded while the store was shared counts from now on
  // (an ingest's eviction reads the scores).
  if (replayed.ok()) FoldAccessLogOrNotice();
  return replayed;
}

Status StoreImpl::BackToReader(double wait) {
  Status s = lock_->SetMode(LockMode::kShared, wait);  // WRITER still held: no writer can come between
  lock_->DropWriter();
  return s;
}

// The committed length of hot.slots, recorded (a store an older aether made
// has no hot_slots key; one it wrote to may have a stale one) and the file
// cut to it (bytes past it are no one's: an older aether's, or a cut a crash
// left undone). One stat and two index lookups when all is in order.
Status StoreImpl::RecordHotSlots() {
  AETHER_ASSIGN_OR_RETURN(int64_t recorded, tables_->config.Integer("hot_slots", -1));
  AETHER_ASSIGN_OR_RETURN(uint64_t committed, HotSlotsInUse());
  if (recorded < 0 || uint64_t(recorded) != committed)
    AETHER_RETURN_IF_ERROR(
        InTransaction(db_.get(), [&] { return tables_->config.Set("hot_slots", std::to_string(committed)); }));
  return migrator_->CutHotFile();
}

}  // namespace aether
