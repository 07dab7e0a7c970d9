// StoreImpl::Backup (store.h): a consistent copy of the store, made while
// readers go on and writers wait. The store is opened for writing, so no
// other writer changes it while the copy runs; LOCK is shared again, so
// searches go on (they may append to the access log, copied under its own
// flock). What is copied is what the metadata names, each to its committed
// length: meta.db (VACUUM INTO: a compact copy of one read snapshot),
// hot.slots, every shard in `shards`, the active generation's centroids,
// and access.log. The copy is built in a hidden sibling directory, every
// file and directory synced, and renamed onto the destination.
//
// --incremental: a shard or centroids file that an earlier backup holds
// unchanged is hard-linked from it. A shard is "unchanged" when the earlier
// backup's meta.db names the same path with the same shard id and committed
// length, its file is that long, and the two files' headers and every frame
// header at the same offsets are equal byte for byte: a frame header holds
// its length, record count and a checksum that covers its record ids (row
// ids are never reused, and a row id's vector never changes) and, for the
// lossless codecs, all of its bytes (format-spec/cold_shard.md). Centroids
// are compared whole. (A shard's bytes can change under the same id and
// length: one emptied to its header by scrub and refilled.) If a link
// cannot be made (another file system, permissions), the file is copied.
// Every writable open of a shard makes a linked file private first
// (Unshare, env.h), so writing to one store never changes another's files.
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "aether/store.h"
#include "cold/frame.h"
#include "env/fault_point.h"
#include "format/coding.h"
#include "meta/config_table.h"
#include "meta/shards_table.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

// The earlier backup --incremental names: its shards by path, from its
// meta.db (read-only, under its LOCK shared).
class EarlierBackup {
 public:
  Status Open(Env* env, const std::string& dir, const StoreConfig& config, double wait) {
    env_ = env;
    dir_ = dir;
    if (env->TypeOf(dir) == FileType::kMissing) return Status::NotFound(dir + ": --incremental: no such directory");
    if (!Store::LooksLikeStore(dir, env)) return Status::InvalidArgument(dir + ": --incremental: not an aether store");
    AETHER_ASSIGN_OR_RETURN(lock_, env->Lock(dir + "/" + layout::kLockFile, LockMode::kShared, wait));
    AETHER_ASSIGN_OR_RETURN(auto db, Db::Open(dir + "/" + layout::kDbFile, false, true));
    AETHER_ASSIGN_OR_RETURN(auto dim, ConfigTable(db.get()).Get("dim"));
    AETHER_ASSIGN_OR_RETURN(auto metric, ConfigTable(db.get()).Get("metric"));
    if (dim.value_or("") != std::to_string(config.dim) || metric.value_or("") != MetricName(config.metric))
      return Status::InvalidArgument(fmt::format("{}: --incremental: a store of dim {} and metric {}, not {} and {}",
                                                 dir, dim.value_or("?"), metric.value_or("?"), config.dim,
                                                 MetricName(config.metric)));
    AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, ShardsTable(db.get()).All());
    for (const ShardInfo& info : shards) shards_[info.path] = {info.shard_id, info.file_bytes};
    return Status::Ok();
  }

  bool open() const { return env_ != nullptr; }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  // Whether the earlier backup's copy of shard `info` holds the same
  // frames (above): the headers of the file and of every frame equal.
  Result<bool> SameShard(const ShardInfo& info, File* source) {
    auto it = shards_.find(info.path);
    if (it == shards_.end() || it->second.first != info.shard_id || it->second.second != info.file_bytes) return false;
    AETHER_ASSIGN_OR_RETURN(auto theirs, OpenSized(info.path, info.file_bytes));
    if (!theirs) return false;
    const uint64_t n = info.file_bytes;
    uint8_t a[ShardFile::kHeaderSize], b[ShardFile::kHeaderSize];
    static_assert(ShardFile::kHeaderSize >= kFrameHeaderSize);
    if (n < ShardFile::kHeaderSize) return false;
    AETHER_RETURN_IF_ERROR(source->Read(0, ShardFile::kHeaderSize, a));
    AETHER_RETURN_IF_ERROR(theirs->Read(0, ShardFile::kHeaderSize, b));
    if (std::memcmp(a, b, ShardFile::kHeaderSize) != 0) return false;
    for (uint64_t at = ShardFile::kHeaderSize; at < n;) {
      if (n - at < kFrameHeaderSize) return false;
      AETHER_RETURN_IF_ERROR(source->Read(at, kFrameHeaderSize, a));
      AETHER_RETURN_IF_ERROR(theirs->Read(at, kFrameHeaderSize, b));
      if (std::memcmp(a, b, kFrameHeaderSize) != 0) return false;
      at += kFrameHeaderSize + DecodeFixed32(a + 16);  // + the payload length P
    }
    return true;
  }

  // Whether the earlier backup's file `rel` holds exactly the n bytes of
  // `source` (all read and compared: for centroids, which are small).
  Result<bool> SameBytes(const std::string& rel, File* source, uint64_t n) {
    AETHER_ASSIGN_OR_RETURN(auto theirs, OpenSized(rel, n));
    if (!theirs) return false;
    std::vector<char> a, b;
    for (uint64_t at = 0; at < n;) {
      const size_t len = size_t(std::min<uint64_t>(n - at, 1 << 20));
      a.resize(len);
      b.resize(len);
      AETHER_RETURN_IF_ERROR(source->Read(at, len, a.data()));
      AETHER_RETURN_IF_ERROR(theirs->Read(at, len, b.data()));
      if (a != b) return false;
      at += len;
    }
    return true;
  }

 private:
  // The earlier backup's regular file `rel` when it is n bytes long; else
  // nullptr.
  Result<std::unique_ptr<File>> OpenSized(const std::string& rel, uint64_t n) {
    if (env_->TypeOf(Path(rel)) != FileType::kRegular) return std::unique_ptr<File>();
    AETHER_ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(Path(rel)));
    if (size != n) return std::unique_ptr<File>();
    return env_->Open(Path(rel), OpenMode::kRead);
  }

  Env* env_ = nullptr;
  std::string dir_;
  std::unique_ptr<FileLock> lock_;
  std::map<std::string, std::pair<int64_t, uint64_t>> shards_;  // path -> (shard id, committed length)
};

// The copy under construction: every name it made, to remove them (and
// nothing else) if it fails.
class BackupBuilder {
 public:
  BackupBuilder(Env* env, std::string src, std::string tmp, BackupReport* rep, const ProgressFn& progress,
                uint64_t total)
      : env_(env), src_(std::move(src)), tmp_(std::move(tmp)), rep_(rep), progress_(progress), total_(total) {}
  // What it made goes unless Keep was called: an error or an exception (no
  // memory) leaves nothing of the backup behind.
  ~BackupBuilder() {
    try {
      RemoveAll();
    } catch (...) {  // no memory even for that
    }
  }
  BackupBuilder(const BackupBuilder&) = delete;
  BackupBuilder& operator=(const BackupBuilder&) = delete;
  // The backup is in place: nothing of it is removed.
  void Keep() { made_.clear(); }

  Status MakeDir(const std::string& rel) {
    return Making(rel, true, [&] { return env_->CreateDir(rel.empty() ? tmp_ : To(rel)); });
  }

  Status MakeEmpty(const std::string& rel) {
    return Making(rel, false, [&] { return env_->Open(To(rel), OpenMode::kCreateNew).status(); });
  }

  // Copies the first n bytes of `source` to rel, synced.
  Status Copy(const std::string& rel, File* source, uint64_t n) {
    std::unique_ptr<File> to;
    AETHER_RETURN_IF_ERROR(Making(rel, false, [&]() -> Status {
      AETHER_ASSIGN_OR_RETURN(to, env_->Open(To(rel), OpenMode::kCreateNew));
      return Status::Ok();
    }));
    AETHER_RETURN_IF_ERROR(CopyBytes(source, to.get(), n));
    AETHER_RETURN_IF_ERROR(to->Sync());
    rep_->files_copied++;
    rep_->bytes_copied += n;
    Advance(n);
    AETHER_FAULT_POINT("backup.mid_copy");
    return Status::Ok();
  }

  // Copies file `rel` of the store, all of it (the caller holds what keeps
  // it from changing).
  Status CopyWhole(const std::string& rel) {
    AETHER_ASSIGN_OR_RETURN(auto from, env_->Open(From(rel), OpenMode::kRead));
    AETHER_ASSIGN_OR_RETURN(uint64_t n, from->Size());
    return Copy(rel, from.get(), n);
  }

  // Links rel to the earlier backup's file; copies `source` instead when
  // the link cannot be made (another file system, no permission).
  Status Link(const std::string& rel, const std::string& existing, File* source, uint64_t n) {
    if (Status s = Making(rel, false, [&] { return env_->Link(existing, To(rel)); }); !s.ok())
      return Copy(rel, source, n);
    rep_->files_linked++;
    rep_->bytes_linked += n;
    Advance(n);
    return Status::Ok();
  }

  // A name another writer (SQLite) is about to make in the new directory
  // (which this process made, so nobody else writes there).
  void Expect(const std::string& rel) { made_.push_back({rel, false}); }
  // Counts a file made that way.
  void Made(uint64_t n) {
    rep_->files_copied++;
    rep_->bytes_copied += n;
    Advance(n);
  }

  // Syncs every directory made, deepest first.
  Status SyncDirs() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it)
      if (it->second) AETHER_RETURN_IF_ERROR(env_->SyncDir(it->first.empty() ? tmp_ : To(it->first)));
    return Status::Ok();
  }

  // Removes what it made, newest first: never a name it did not make.
  void RemoveAll() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      const std::string path = it->first.empty() ? tmp_ : To(it->first);
      (void)(it->second ? env_->RemoveDir(path) : env_->RemoveFile(path));
    }
    made_.clear();
  }

  std::string To(const std::string& rel) const { return tmp_ + "/" + rel; }
  std::string From(const std::string& rel) const { return src_ + "/" + rel; }

 private:
  // Makes rel, recorded first: a make that throws once the name exists
  // (no memory for its File object) leaves it recorded, for RemoveAll. The
  // names are in this process's own new directory, which nobody else
  // writes (its root was checked missing first); one there already is not
  // ours, and is dropped from the record.
  template <typename Make>
  Status Making(const std::string& rel, bool directory, Make&& make) {
    made_.push_back({rel, directory});
    Status s = make();
    // Dropped when not made: a name taken, or nothing there (a link that
    // failed); one made before a later step failed stays recorded.
    if (!s.ok() &&
        (s.code() == Code::kAlreadyExists || env_->TypeOf(rel.empty() ? tmp_ : To(rel)) == FileType::kMissing))
      made_.pop_back();
    return s;
  }

  void Advance(uint64_t n) {
    done_ += n;
    if (progress_) progress_(done_, total_);
  }

  Env* env_;
  std::string src_, tmp_;
  BackupReport* rep_;
  const ProgressFn& progress_;
  uint64_t total_, done_ = 0;
  std::vector<std::pair<std::string, bool>> made_;  // (relative path, is a directory); "" is the root
};

// Whether directory `dir` is `root` or under it: `root` (by device and
// inode: through links and bind mounts too) is `dir` or one of its
// ancestors.
bool Inside(const std::string& dir, const std::string& root) {
  struct stat r, d;
  if (stat(root.c_str(), &r) != 0) return false;
  char* resolved = realpath(dir.c_str(), nullptr);
  std::string at = resolved ? resolved : dir;
  free(resolved);
  for (;;) {
    if (stat(at.c_str(), &d) == 0 && d.st_dev == r.st_dev && d.st_ino == r.st_ino) return true;
    if (at.empty() || at == "/" || at == ".") return false;
    const size_t slash = at.find_last_of('/');
    at = slash == std::string::npos ? "." : slash == 0 ? "/" : at.substr(0, slash);
  }
}

}  // namespace

Result<BackupReport> StoreImpl::Backup(const BackupOptions& o) {
  if (!lock_->writer()) return Status::Internal("backup needs the store opened for writing");
  const std::string dest = StripTrailingSlashes(o.dest);
  if (dest.empty()) return Status::InvalidArgument("backup: an empty destination");
  if (env_->TypeOf(dest) == FileType::kSymlink)
    return Status::AlreadyExists(dest + ": a symbolic link (backup makes a new directory, never through a link)");
  AETHER_RETURN_IF_ERROR(CheckNewStorePath(env_, dest));
  AETHER_RETURN_IF_ERROR(CheckParentDirectory(dest, "backup makes DEST, not its parents"));
  if (Inside(DirOf(dest), dir_))  // through links too
    return Status::AlreadyExists(dest +
                                 ": inside the store it would copy (a store's directory holds its own files "
                                 "only: give a path outside it)");
  // Writers wait (this process holds WRITER); readers go on.
  AETHER_RETURN_IF_ERROR(YieldToReaders());
  EarlierBackup earlier;  // (after LOCK is shared: it may be this store)
  if (!o.incremental_from.empty())
    AETHER_RETURN_IF_ERROR(
        earlier.Open(env_, StripTrailingSlashes(o.incremental_from), config_, lock_->wait_seconds()));
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  AETHER_ASSIGN_OR_RETURN(std::vector<int64_t> generations, tables_->generations.Active());
  BackupReport rep;
  AETHER_ASSIGN_OR_RETURN(rep.memories, tables_->memories.Count());
  // The shards left in the bucket (publish names their objects).
  AETHER_ASSIGN_OR_RETURN(const std::set<std::string> left,
                          ColdTierShardsToName(o.leave_cold_tier_shards_if_reached_with, shards, &rep));
  uint64_t total = 0;
  for (const ShardInfo& info : shards)
    if (!left.count(info.path)) total += info.file_bytes;
  for (const char* f : {layout::kDbFile, layout::kHotFile, layout::kAccessLog})
    if (auto n = env_->FileSize(Path(f)); n.ok()) total += *n;

  const std::string tmp = HiddenSibling(dest, "backup");
  if (env_->TypeOf(tmp) != FileType::kMissing)
    return Status::AlreadyExists(tmp + ": exists (a backup of this process id that did not finish?); remove it");
  BackupBuilder b(env_, dir_, tmp, &rep, o.progress, total);
  Status s = [&]() -> Status {
    AETHER_RETURN_IF_ERROR(b.MakeDir(""));
    AETHER_RETURN_IF_ERROR(b.MakeDir(layout::kColdDir));
    AETHER_RETURN_IF_ERROR(b.MakeDir(layout::kIndexDir));
    for (const char* f : {layout::kLockFile, layout::kWriterLockFile, layout::kGateLockFile})
      AETHER_RETURN_IF_ERROR(b.MakeEmpty(f));
    // meta.db: one read snapshot, compacted, synced.
    {
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) b.Expect(layout::kDbFile + std::string(suffix));
      AETHER_ASSIGN_OR_RETURN(Stmt vacuum, db_->Prepare("VACUUM INTO ?"));
      vacuum.Bind(1, SqlitePath(b.To(layout::kDbFile)));
      AETHER_RETURN_IF_ERROR(vacuum.Run().WithContext("meta.db: VACUUM INTO the backup"));
      {  // WAL mode, as every store's (VACUUM INTO writes a rollback-journal DB)
        AETHER_ASSIGN_OR_RETURN(auto copy, Db::Open(b.To(layout::kDbFile), false, false));
        // A cold tier in a bucket: the copy gets every shard on its own disk
        // and no bucket (two stores naming one prefix would each collect
        // the objects only the other names), nor the tier's ID, which a
        // store whose upgrade --cold-uri was cut short holds without a
        // cold_uri (a copy keeping it could take that prefix too).
        AETHER_ASSIGN_OR_RETURN(std::optional<std::string> tier, tables_->config.Get("cold_tier_id"));
        if (!config_.cold_uri.empty() || tier)
          AETHER_RETURN_IF_ERROR(InTransaction(copy.get(), [&]() -> Status {
            AETHER_RETURN_IF_ERROR(ConfigTable(copy.get()).Remove("cold_uri"));
            AETHER_RETURN_IF_ERROR(ConfigTable(copy.get()).Remove("cold_tier_id"));
            return ColdObjectsTable(copy.get()).Clear();
          }));
        AETHER_RETURN_IF_ERROR(copy->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
        copy->CheckpointOnClose();
      }  // closing the only connection removes the WAL
      AETHER_ASSIGN_OR_RETURN(auto copy, env_->Open(b.To(layout::kDbFile), OpenMode::kReadWrite));
      AETHER_RETURN_IF_ERROR(copy->Sync());
      AETHER_ASSIGN_OR_RETURN(uint64_t n, copy->Size());
      b.Made(n);
    }
    AETHER_RETURN_IF_ERROR(b.CopyWhole(layout::kHotFile));
    std::set<std::string> dirs;
    for (const ShardInfo& info : shards) {
      const auto slash = info.path.find_last_of('/');
      const std::string dir = info.path.substr(0, slash);
      if (dir != layout::kColdDir && dirs.insert(dir).second) AETHER_RETURN_IF_ERROR(b.MakeDir(dir));
      if (env_->TypeOf(Path(info.path)) == FileType::kMissing && info.live == 0)
        continue;  // a superseded shard whose cleanup removed its file before its row (replay.cc)
      if (left.count(info.path)) continue;
      AETHER_ASSIGN_OR_RETURN(auto from, env_->Open(Path(info.path), OpenMode::kRead));
      AETHER_ASSIGN_OR_RETURN(uint64_t size, from->Size());
      if (size < info.file_bytes)
        return Status::Corruption(
            fmt::format("{}: {} bytes, shorter than its committed length {}", info.path, size, info.file_bytes));
      bool same = false;
      if (earlier.open()) {
        AETHER_ASSIGN_OR_RETURN(same, earlier.SameShard(info, from.get()));
      }
      AETHER_RETURN_IF_ERROR(same ? b.Link(info.path, earlier.Path(info.path), from.get(), info.file_bytes)
                                  : b.Copy(info.path, from.get(), info.file_bytes));
    }
    for (int64_t g : generations) {
      const std::string rel = std::string(layout::kIndexDir) + "/" + layout::CentroidsName(g);
      AETHER_ASSIGN_OR_RETURN(auto from, env_->Open(Path(rel), OpenMode::kRead));
      AETHER_ASSIGN_OR_RETURN(uint64_t n, from->Size());
      bool same = false;
      if (earlier.open()) {
        AETHER_ASSIGN_OR_RETURN(same, earlier.SameBytes(rel, from.get(), n));
      }
      AETHER_RETURN_IF_ERROR(same ? b.Link(rel, earlier.Path(rel), from.get(), n) : b.Copy(rel, from.get(), n));
    }
    // The access log, under its appenders' flock (searches append to it).
    if (env_->TypeOf(Path(layout::kAccessLog)) == FileType::kRegular) {
      AETHER_ASSIGN_OR_RETURN(auto held,
                              env_->Lock(Path(layout::kAccessLog), LockMode::kShared, lock_->wait_seconds()));
      AETHER_RETURN_IF_ERROR(b.CopyWhole(layout::kAccessLog));
    }
    // The store directory's permissions (what guards every file in it).
    struct stat st;
    if (stat(dir_.c_str(), &st) == 0 && chmod(tmp.c_str(), st.st_mode & 07777) != 0)
      return Status::IOError(tmp + ": chmod: " + std::strerror(errno));
    AETHER_RETURN_IF_ERROR(b.SyncDirs());
    AETHER_FAULT_POINT("backup.before_rename");
    AETHER_RETURN_IF_ERROR(env_->Rename(tmp, dest));
    return env_->SyncDir(DirOf(dest));
  }();
  if (!s.ok()) return s;  // b removes what it made
  b.Keep();
  return rep;
}

}  // namespace aether
