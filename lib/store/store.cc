// aether::Store (the public facade, each call handed to StoreImpl or one of
// its parts), store creation (atomic: built aside, renamed into place), and
// the removal of what the store owns, never through a link.
#include "aether/store.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "env/fault_point.h"
#include "filter/filter.h"
#include "meta/schema.h"
#include "objstore/s3_settings.h"
#include "store/cold_tier.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

std::string Parent(const std::string& path) {
  auto p = path.find_last_of('/');
  if (p == std::string::npos) return ".";
  return p == 0 ? "/" : path.substr(0, p);
}

std::string Base(const std::string& path) {
  auto p = path.find_last_of('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

// Builds a complete store in `tmp` (every file synced).
Status BuildStore(Env* env, const std::string& tmp, const StoreConfig& config) {
  AETHER_RETURN_IF_ERROR(env->CreateDir(tmp));
  AETHER_RETURN_IF_ERROR(env->CreateDir(tmp + "/" + layout::kColdDir));
  AETHER_RETURN_IF_ERROR(env->CreateDir(tmp + "/" + layout::kIndexDir));
  AETHER_RETURN_IF_ERROR(SlotFile::Create(env, tmp + "/" + layout::kHotFile, config.dim));
  AETHER_RETURN_IF_ERROR(ShardFile::Create(env, tmp + "/" + layout::kStagingShard, config.dim, 0, kStagingPartition));
  for (const char* lock_file : {layout::kLockFile, layout::kWriterLockFile, layout::kGateLockFile}) {
    AETHER_ASSIGN_OR_RETURN(auto lock, env->Open(tmp + "/" + lock_file, OpenMode::kCreate));
  }
  AETHER_RETURN_IF_ERROR(CreateMetricsLog(env, tmp + "/" + layout::kMetricsLog));
  {
    AETHER_ASSIGN_OR_RETURN(auto db, Db::Open(tmp + "/" + layout::kDbFile, true, false));
    AETHER_RETURN_IF_ERROR(CreateSchema(db.get(), config, FormatVersionFor(config.codec), env->NowMs()));
    AETHER_RETURN_IF_ERROR(
        ShardsTable(db.get()).InsertStaging(layout::kStagingShardId, layout::kStagingShard, ShardFile::kHeaderSize));
    AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    db->CheckpointOnClose();
  }  // closing the only connection checkpoints the WAL into meta.db and removes it
  AETHER_RETURN_IF_ERROR(env->SyncDir(tmp + "/" + layout::kColdDir));
  AETHER_RETURN_IF_ERROR(env->SyncDir(tmp + "/" + layout::kIndexDir));
  return env->SyncDir(tmp);
}

// Removes root/rel when it is what aether made there: a regular file (or,
// with `directory`, an empty directory) reached from root through real
// directories only. Anything else (a link anywhere on the way, a directory
// where a file belongs, an entry nobody expects) is left in place and
// described in *notice. A missing name is fine.
Status RemoveOwned(Env* env, const std::string& root, const std::string& rel, bool directory, std::string* notice) {
  size_t slash = 0;
  while ((slash = rel.find('/', slash)) != std::string::npos) {
    const std::string parent = rel.substr(0, slash++);
    const FileType t = env->TypeOf(root + "/" + parent);
    if (t == FileType::kMissing) return Status::Ok();
    if (t != FileType::kDirectory) {
      *notice = parent + ": not a directory (a link?); " + rel + " left in place";
      return Status::Ok();
    }
  }
  const std::string path = root + "/" + rel;
  const FileType t = env->TypeOf(path);
  if (t == FileType::kMissing) return Status::Ok();
  if (!directory && t == FileType::kRegular) return env->RemoveFile(path);
  if (directory && t == FileType::kDirectory) {
    AETHER_ASSIGN_OR_RETURN(auto entries, env->ListDir(path));
    if (entries.empty()) return env->RemoveDir(path);
    std::sort(entries.begin(), entries.end());
    std::string list;
    for (const auto& e : entries) list += (list.empty() ? "" : ", ") + e;
    *notice = rel + ": holds entries aether did not make (" + list + "); left in place";
    return Status::Ok();
  }
  *notice =
      rel + ": " + (t == FileType::kSymlink ? "a symbolic link" : "not what aether made there") + "; left in place";
  return Status::Ok();
}

// Removes what BuildStore made in `dir` (an init that did not finish).
void RemoveStoreTree(Env* env, const std::string& dir) {
  if (env->TypeOf(dir) != FileType::kDirectory) return;  // never through a link
  std::string notice;
  for (const char* f :
       {layout::kStagingShard, layout::kHotFile, layout::kLockFile, layout::kWriterLockFile, layout::kGateLockFile,
        layout::kMetricsLog, layout::kDbFile, "meta.db-wal", "meta.db-shm", "meta.db-journal"})
    (void)RemoveOwned(env, dir, f, false, &notice);
  for (const char* d : {layout::kColdDir, layout::kIndexDir}) (void)RemoveOwned(env, dir, d, true, &notice);
  (void)env->RemoveDir(dir);
}

}  // namespace

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

Status CheckNewStorePath(Env* env, const std::string& path) {
  // A store is renamed onto its name when complete: `.` or `..` (mem/.)
  // names a directory by where it is, which no rename can replace (and
  // which may be a shell's working directory).
  if (Base(path) == "." || Base(path) == "..")
    return Status::AlreadyExists(path + ": ends in '" + Base(path) +
                                 "' (a store is made as a new directory under its own name: give that name)");
  if (env->TypeOf(path) == FileType::kSymlink)
    return Status::AlreadyExists(path +
                                 ": a symbolic link (a store is made as a new directory, never through a link: "
                                 "give the path it points to)");
  if (!env->Exists(path)) return Status::Ok();
  if (Store::LooksLikeStore(path, env)) return Status::AlreadyExists(path + ": already an aether store");
  if (!env->IsDirectory(path)) return Status::AlreadyExists(path + ": exists and is not a directory");
  AETHER_ASSIGN_OR_RETURN(auto entries, env->ListDir(path));
  if (!entries.empty()) return Status::AlreadyExists(path + ": directory is not empty and is not an aether store");
  return Status::Ok();
}

Status CheckParentDirectory(const std::string& path, const std::string& why) {
  const std::string parent = Parent(path);
  struct stat st;
  if (stat(parent.c_str(), &st) == 0) {  // through a link to it, as the user named it
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::NotFound(parent + ": not a directory (" + why + ")");
  }
  // Missing, or a dangling or looping link: the user named no directory.
  // Another failure (a directory on the way the user may not search) is
  // left to the step that meets it, which says so (77 for permission).
  if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
    return Status::NotFound(parent + ": no such directory (" + why + ")");
  return Status::Ok();
}

std::string HiddenSibling(const std::string& path, const std::string& what) {
  return Parent(path) + "/" + HiddenSiblingName(Base(path), what);
}

namespace {

// The new store's cold tier: its ID made and recorded, the prefix checked
// to be nobody's (the store is not in place yet: no one else reads it).
// The marker is written once the store is in place (ClaimForMadeStore): a
// kill between the two leaves a store whose next writer claims the
// prefix, where claiming first left a marker naming a store that never
// came to be, refusing every later init there.
Status PrepareNewStoreTier(const std::string& tmp, const std::string& uri, const S3Options& s3, std::string* id,
                           std::string* tier) {
  AETHER_ASSIGN_OR_RETURN(auto db, Db::Open(tmp + "/" + layout::kDbFile, false, false));
  AETHER_ASSIGN_OR_RETURN(*id, ConfigTable(db.get()).Require("store_id"));
  AETHER_ASSIGN_OR_RETURN(*tier, NewRandomId());
  AETHER_RETURN_IF_ERROR(ClaimColdPrefix(uri, s3, *id, *tier, /*check_only=*/true));
  AETHER_RETURN_IF_ERROR(InTransaction(db.get(), [&] { return ConfigTable(db.get()).Set("cold_tier_id", *tier); }));
  AETHER_RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  db->CheckpointOnClose();
  return Status::Ok();
}

// The store in place, its prefix claimed. Failing, the store stays (it may
// be a directory the user made): its next writer claims the prefix, or, if
// another store took it meanwhile, says so on every eviction.
Status ClaimForMadeStore(const std::string& path, const std::string& uri, const S3Options& s3, const std::string& id,
                         const std::string& tier) {
  AETHER_FAULT_POINT("cold.before_claim");
  Status s = ClaimColdPrefix(uri, s3, id, tier);
  if (s.ok()) return s;
  const bool taken = s.code() == Code::kAlreadyExists || s.code() == Code::kFailedPrecondition;
  return s.WithContext(fmt::format(
      "{} is made, but its cold tier's prefix is not claimed ({})", path,
      taken ? "another store or a publish took it meanwhile: remove this new, empty store and init one with a "
              "prefix of its own"
            : "its first eviction or maintain claims it; until then another store could take it"));
}

}  // namespace

// Creation is atomic: the store is built in a hidden sibling directory and
// renamed onto `path` (which may be missing or an empty directory), so a
// crash leaves either nothing or a complete store.
Status StoreImpl::Create(const std::string& raw_path, const StoreConfig& config, Env* env, const S3Options& s3) {
  std::string path = StripTrailingSlashes(raw_path);
  if (path.empty()) return Status::InvalidArgument("an empty store path (name the directory to make)");
  if (config.dim == 0) return Status::InvalidArgument("--dim must be at least 1");
  if (config.dim > 65536) return Status::InvalidArgument("--dim must be at most 65536");
  AETHER_RETURN_IF_ERROR(CheckNewStorePath(env, path));
  AETHER_RETURN_IF_ERROR(CheckParentDirectory(path, "a store is made in one; its parents are not made"));
  std::string tmp = HiddenSibling(path, "init");
  const std::string parent = Parent(path);  // nothing to allocate once the store is in place
  RemoveStoreTree(env, tmp);                // an earlier init of this pid that died
  // Whatever stops the build, an error or an exception (no memory), takes
  // its half-made tree away (nothing is there once it was renamed).
  struct Cleanup {
    Env* env;
    const std::string& tmp;
    ~Cleanup() {
      try {
        RemoveStoreTree(env, tmp);
      } catch (...) {  // no memory even for that: the next init of this pid removes it
      }
    }
  } cleanup{env, tmp};
  Status s = config.cold_uri.empty() ? Status::Ok() : ParseS3Uri(config.cold_uri).status();
  if (s.ok()) s = BuildStore(env, tmp, config);
  // A cold tier in a bucket: its prefix checked before the store is in
  // place (another store's prefix, an unreachable bucket: no store made),
  // claimed once it is.
  std::string id, tier;
  if (s.ok() && !config.cold_uri.empty()) s = PrepareNewStoreTier(tmp, config.cold_uri, s3, &id, &tier);
  if (s.ok()) s = env->Rename(tmp, path);
  if (s.ok()) s = env->SyncDir(parent);
  if (s.ok() && !config.cold_uri.empty()) s = ClaimForMadeStore(path, config.cold_uri, s3, id, tier);
  return s;
}

Status StoreContext::RemoveOwnedFile(const std::string& rel) {
  std::string notice;
  AETHER_RETURN_IF_ERROR(RemoveOwned(env_, dir_, rel, false, &notice));
  if (!notice.empty()) Notice(notice);
  return Status::Ok();
}

Status StoreContext::RemoveOwnedDir(const std::string& rel) {
  std::string notice;
  AETHER_RETURN_IF_ERROR(RemoveOwned(env_, dir_, rel, true, &notice));
  if (!notice.empty()) Notice(notice);
  return Status::Ok();
}

// ---- the public facade ----

namespace {

// A writing operation that succeeded: a cold tier in a bucket is settled
// (Store::SettleColdTier; a failure there is a notice, the operation's
// result stands).
// A dry run changes nothing, the tier's shards included.
template <typename T>
Result<T> Settled(StoreImpl* impl, Result<T> r, bool dry_run = false) {
  if (r.ok() && !dry_run) impl->SettleColdTierOrNotice();
  return r;
}

// A store whose cold tier is in a bucket: a read that met a damaged copy in
// cold-cache/ (Corruption) has the damaged copies removed and runs again,
// fetching them anew (a few times at most); damage elsewhere stays an
// error. (A writer brings a shard back checking its copy: BucketEnv.)
template <typename F>
auto Healed(StoreImpl* impl, const F& read) -> decltype(read()) {
  auto r = read();
  for (int i = 0; i < 3 && !r.ok() && r.status().code() == Code::kCorruption && impl->cold_env_; ++i) {
    Result<uint64_t> dropped = impl->cold_env_->DropDamaged();
    if (!dropped.ok() || *dropped == 0) break;
    impl->Notice(fmt::format("{} damaged cached shard{} removed from {} and fetched again ({})", *dropped,
                             *dropped == 1 ? "" : "s", layout::kColdCacheDir, r.status().message()));
    r = read();
  }
  return r;
}

}  // namespace

Store::Store(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Status Store::Create(const std::string& path, const StoreConfig& config, Env* env, const S3Options& s3) {
  AETHER_RETURN_IF_ERROR(CheckEnvironment());
  return StoreImpl::Create(path, config, env ? env : Env::Default(), s3);
}

bool Store::LooksLikeStore(const std::string& path, Env* env) {
  env = env ? env : Env::Default();
  return env->IsDirectory(path) && env->Exists(path + "/" + layout::kDbFile);
}

Status Store::CheckTraceId(const std::string& trace_id, const std::string& source) {
  if (ValidTraceId(trace_id)) return Status::Ok();
  if (trace_id.size() > kMaxTraceIdBytes)
    return Status::InvalidArgument(fmt::format("{}: a trace id is at most {} characters (this one has {})", source,
                                               kMaxTraceIdBytes, trace_id.size()));
  auto bad = std::find_if(trace_id.begin(), trace_id.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
  return Status::InvalidArgument(fmt::format("{}: a trace id is printable ASCII without spaces (byte 0x{:02x} is not)",
                                             source, unsigned(static_cast<unsigned char>(*bad))));
}

namespace {

// The store's directory as every file of this open names it: the path as
// given, unless a link is on the way (a store under a linked directory, or
// named by a link to its directory); then its real path, resolved once, so
// that a link moved while the command runs (a cron job flipping
// mem-latest) cannot send some of its files to another store.
std::string ResolvedStorePath(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (!resolved) return path;  // missing or unreadable: the open says so
  const std::string real = resolved;
  free(resolved);
  std::error_code ec;
  const std::string plain = StripTrailingSlashes(std::filesystem::absolute(path, ec).lexically_normal().string());
  return !ec && plain == real ? path : real;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const OpenOptions& options) {
  AETHER_RETURN_IF_ERROR(CheckEnvironment());
  AETHER_RETURN_IF_ERROR(CheckTraceId(options.trace_id));
  AETHER_ASSIGN_OR_RETURN(auto impl, StoreImpl::Open(ResolvedStorePath(StripTrailingSlashes(path)), options));
  impl->db_->OnChangeCommitted(options.on_change_committed);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

const StoreConfig& Store::config() const { return impl_->config_; }
Result<std::string> Store::Id() {
  AETHER_ASSIGN_OR_RETURN(std::optional<std::string> id, impl_->tables_->config.Get("store_id"));
  return id.value_or("");
}
const std::vector<ReplayAction>& Store::replayed() const { return impl_->replayed(); }
const Status& Store::deferred_recovery() const { return impl_->deferred_recovery(); }
const std::vector<std::string>& Store::notices() const { return impl_->notices(); }
bool Store::writable() const { return impl_->writable_; }
const std::string& Store::why_not_writable() const { return impl_->why_not_writable_; }
Status Store::YieldToReaders() { return impl_->YieldToReaders(); }

Result<IngestBatchResult> Store::IngestBatch(const std::vector<Record>& batch, DuplicatePolicy policy) {
  auto r = impl_->IngestBatch(batch, policy);
  if (r.ok()) CountMetric("aether_ingested_total", "", int64_t(r->hot + r->cold));
  return Settled(impl_.get(), std::move(r));
}
Result<bool> Store::Contains(const std::string& id) { return impl_->Contains(id); }
Result<std::vector<bool>> Store::ContainsEach(const std::vector<std::string>& ids) { return impl_->ContainsEach(ids); }
Result<std::vector<std::vector<SearchHit>>> Store::Search(const std::vector<std::vector<float>>& queries,
                                                          const SearchOptions& options) {
  auto hits = Healed(impl_.get(), [&] { return impl_->Search(queries, options); });
  if (!hits.ok()) return hits;
  // The search's metrics (aether/metrics.h); the library's own searches
  // (recall checks) are not counted.
  int64_t hot = 0, warm = 0, cold = 0;
  for (const auto& q : *hits)
    for (const SearchHit& h : q) ++(h.tier == Tier::kHot ? hot : h.tier == Tier::kWarm ? warm : cold);
  CountMetric("aether_search_queries_total", "", int64_t(queries.size()));
  if (hot) CountMetric("aether_search_results_total", "tier=\"hot\"", hot);
  if (warm) CountMetric("aether_search_results_total", "tier=\"warm\"", warm);
  if (cold) CountMetric("aether_search_results_total", "tier=\"cold\"", cold);
  if (options.partial) {
    const auto partial = std::count(options.partial->begin(), options.partial->end(), uint8_t(1));
    if (partial) CountMetric("aether_search_partial_total", "", int64_t(partial));
  }
  return hits;
}
Result<std::vector<std::string>> Store::Feedback(const std::vector<FeedbackItem>& items) {
  return impl_->model().Feedback(items);
}
Result<MaintainReport> Store::Maintain(const MaintainOptions& o) {
  auto r = impl_->Maintain(o);
  if (r.ok() && !o.dry_run && impl_->cold_tier()) {  // a tick collects the objects no shard names
    auto settled = impl_->SettleColdTier(/*collect=*/true);
    if (!settled.ok()) impl_->Notice("cold tier: " + settled.status().message() + " (the next writer tries again)");
    if (settled.ok() && settled->collect_deferred)
      impl_->Notice(
          "cold tier: a publish of this store is running, so no object was collected (the next writer "
          "collects them)");
  }
  return r;
}
Result<std::map<std::string, double>> Store::GetParams() { return impl_->model().GetParams(); }
Status Store::SetParam(const std::string& key, double value) { return impl_->model().SetParams({{key, value}}, "set"); }
Status Store::ApplyPreset(const std::string& name) { return impl_->model().ApplyPreset(name); }
Result<std::vector<HistoryEntry>> Store::History(const std::string& id, int64_t since_ms, const std::string& trace_id) {
  return impl_->model().History(id, since_ms, trace_id);
}
Result<std::vector<std::optional<MemoryRecord>>> Store::Get(const std::vector<std::string>& ids) {
  return Healed(impl_.get(), [&] { return impl_->Get(ids); });
}
Status Store::List(const ListOptions& options, const std::function<Status(const MemoryRecord&)>& fn) {
  return impl_->List(options, fn);
}
Result<BackupReport> Store::Backup(const BackupOptions& options) { return impl_->Backup(options); }

Status Store::Export(const ExportOptions& options, const std::function<Status(const MemoryRecord&)>& fn) {
  return impl_->Export(options, fn);
}
Status Store::CheckFilter(const std::string& where) { return Filter::Parse(where).status(); }
Result<UpdateReport> Store::Update(const std::vector<UpdateItem>& items, bool dry_run, const ProgressFn& progress) {
  return impl_->Update(items, dry_run, progress);
}
Result<std::vector<std::string>> Store::Delete(const std::vector<std::string>& ids, bool purge, ScrubReport* scrub) {
  AETHER_ASSIGN_OR_RETURN(auto missing, impl_->Delete(ids, purge));
  if (!purge) return missing;
  AETHER_ASSIGN_OR_RETURN(ScrubReport r, impl_->Scrub());
  if (scrub) *scrub = r;
  return Settled(impl_.get(), Result<std::vector<std::string>>(std::move(missing)));
}
Result<ScrubReport> Store::Scrub() { return Settled(impl_.get(), impl_->Scrub()); }
Status Store::Checkpoint() { return impl_->Checkpoint(); }
Result<StoreStats> Store::Stats() { return impl_->Stats(); }
Result<MetricsReport> Store::Metrics(int64_t since_ms) { return impl_->Metrics(since_ms); }
Status Store::FoldMetrics() { return impl_->FoldMetricsLog(0); }
Result<MoveReport> Store::Descend(const MoveOptions& o) { return Settled(impl_.get(), impl_->Descend(o), o.dry_run); }
Result<MoveReport> Store::Ascend(const MoveOptions& o) { return Settled(impl_.get(), impl_->Ascend(o), o.dry_run); }
Result<PinReport> Store::Pin(const std::vector<std::string>& ids, bool dry_run) {
  return Settled(impl_.get(), impl_->Pin(ids, dry_run), dry_run);
}
Result<PinReport> Store::Unpin(const std::vector<std::string>& ids, bool dry_run) {
  return Settled(impl_.get(), impl_->Unpin(ids, dry_run), dry_run);
}
Result<EnqueueReport> Store::Enqueue(const std::vector<std::string>& ids, double priority) {
  return impl_->Enqueue(ids, priority);
}
Result<VerifyReport> Store::Verify(const ProgressFn& progress) {
  auto rep = impl_->Verify(progress);
  // Damage found in cold-cache/ is the cache's: its copies go, and the
  // shards are read again from the bucket.
  for (int i = 0; i < 3 && rep.ok() && !rep->problems.empty() && impl_->cold_env_; ++i) {
    Result<uint64_t> dropped = impl_->cold_env_->DropDamaged();
    if (!dropped.ok() || *dropped == 0) break;
    impl_->Notice(fmt::format("{} damaged cached shard{} removed from {} and fetched again", *dropped,
                              *dropped == 1 ? "" : "s", layout::kColdCacheDir));
    rep = impl_->Verify(progress);
  }
  if (rep.ok() && !rep->problems.empty())
    CountMetric("aether_corruption_found_total", "", int64_t(rep->problems.size()));
  return rep;
}
Result<RebuildReport> Store::RebuildIndex(const RebuildOptions& o) {
  return Settled(impl_.get(), impl_->RebuildIndex(o));
}
Result<ColdTierReport> Store::SettleColdTier(bool collect) { return impl_->SettleColdTier(collect); }
Result<UpgradeReport> Store::Upgrade(const UpgradeOptions& o) { return impl_->Upgrade(o); }
Result<RecallReport> Store::RecallCheck(uint64_t queries, uint64_t seed) { return impl_->RecallCheck(queries, seed); }

}  // namespace aether
