// A store's cold tier in a bucket (config cold_uri; format-spec/cold_bucket.md).
//
// The local disk keeps the shards most recently written, up to
// cold_local_bytes; past it, the least recently written go to the bucket:
//   1. upload: each shard's committed bytes as objects/SHA256 under the
//      cold URI (content-addressed: written once, never overwritten; one
//      already there is not sent again), its length checked by a HEAD;
//   2. commit: one transaction records each as a cold_objects row;
//   3. remove: the local files go (the Env reads them from the bucket now).
// A crash before 2 leaves objects no row names (collected below); after 2,
// local files that are the objects' bytes (read as they are, removed by the
// next eviction that picks them). A shard opened to be written comes back
// onto the local disk first (BucketEnv), and stays until evicted again.
// Objects no row names (a shard deleted or rewritten, an eviction cut
// short, an older content of a shard sent again) are deleted after the
// commit that stopped naming them, only by the writer under LOCK
// exclusive: no reader runs, so none is about to fetch one.
#include "store/cold_tier.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bucket/bucket_env.h"
#include "bucket/connect.h"
#include "bucket/manifest.h"
#include "bucket/snapshot_objects.h"
#include "env/fault_point.h"
#include "journal/journal.h"
#include "policy/params.h"
#include "store/layout.h"
#include "store/store_impl.h"

namespace aether {
namespace {

constexpr char kObjects[] = "objects/";
constexpr char kMarkerFormat[] = "aether-cold-tier";

std::string ObjectKey(const std::string& sha) { return kObjects + sha; }

// The prefix's objects/ as listed: each name's size.
Result<std::map<std::string, uint64_t>> ObjectSizes(S3Client* client) {
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> listed, client->List(kObjects));
  std::map<std::string, uint64_t> size_of;
  for (const S3ObjectInfo& o : listed) size_of[o.key.substr(std::strlen(kObjects))] = o.size;
  return size_of;
}

// s3://BUCKET/PREFIX/KEY, for messages.
std::string UriOf(const std::string& uri, const std::string& key) {
  return uri.back() == '/' ? uri + key : uri + "/" + key;
}

std::string ParentOf(const std::string& path) { return path.substr(0, path.find_last_of('/')); }

// objects/SHA256 with the first `bytes` bytes of `file` (whose SHA-256 is
// `sha`), put unless a HEAD finds it with that length, then found there.
Status SendObject(S3Client* client, const std::string& uri, const std::string& sha, File* file, uint64_t bytes,
                  ColdTierReport* rep) {
  AETHER_ASSIGN_OR_RETURN(std::optional<S3ObjectHead> head, client->Head(ObjectKey(sha)));
  if (head && head->size == bytes) return Status::Ok();
  AETHER_RETURN_IF_ERROR(client->PutFrom(ObjectKey(sha), bytes, [&](uint64_t at, uint64_t n, std::string* out) {
    out->resize(n);
    return file->Read(at, n, out->data());
  }));
  AETHER_ASSIGN_OR_RETURN(head, client->Head(ObjectKey(sha)));
  if (!head || head->size != bytes)
    return Status::IOError(
        fmt::format("{}: not there with {} bytes after its upload", UriOf(uri, ObjectKey(sha)), bytes));
  ++rep->uploaded;
  rep->uploaded_bytes += bytes;
  return Status::Ok();
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

Status ClaimColdPrefix(const std::string& uri, const S3Options& s3, const std::string& store_id,
                       const std::string& tier_id, bool check_only, bool must_exist) {
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, ConnectBucket(uri, s3));
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> manifests, client->List("manifests/"));
  if (!manifests.empty())
    return Status::FailedPrecondition(
        uri + ": holds published snapshots (aether publish); a cold tier needs a prefix of its own");
  std::string text;
  Status got = client->Get(kColdMarkerKey, &text, 1 << 16);
  const nlohmann::json marker = {{"format", kMarkerFormat}, {"version", 1}, {"store", store_id}, {"tier", tier_id}};
  if (got.code() == Code::kNotFound && must_exist)
    return Status::FailedPrecondition(
        fmt::format("{}: no marker there, but this store has shards in its cold tier: is this the store's endpoint and "
                    "bucket (AWS_ENDPOINT_URL, the profile)? If the marker was deleted by hand, put back {} holding {}",
                    uri, UriOf(uri, kColdMarkerKey), marker.dump()));
  if (got.code() == Code::kNotFound) {
    if (check_only) return Status::Ok();
    return client->Put(kColdMarkerKey, marker.dump() + "\n");
  }
  AETHER_RETURN_IF_ERROR(got);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("format") || j["format"] != kMarkerFormat || !j.contains("store") ||
      !j["store"].is_string() || !j.contains("tier") || !j["tier"].is_string())
    return Status::FailedPrecondition(UriOf(uri, kColdMarkerKey) +
                                      ": not an aether cold tier's marker; give another prefix");
  if (j["store"] != store_id)
    return Status::AlreadyExists(
        fmt::format("{}: the cold tier of another store ({}); give a prefix of this store's own", uri,
                    j["store"].get<std::string>()));
  if (j["tier"] != tier_id)
    return Status::AlreadyExists(
        uri +
        ": the cold tier of another copy of this store (the same store ID: a backup or replica restored?); "
        "give this one a prefix of its own");
  return Status::Ok();
}

Status StoreImpl::OpenColdTier(const OpenOptions& opt) {
  AETHER_ASSIGN_OR_RETURN(std::optional<std::string> uri, tables_->config.Get("cold_uri"));
  if (!uri || uri->empty()) return Status::Ok();
  if (format_version_ < 6)
    return Status::Corruption(fmt::format("{}: cold_uri set in a store of format version {}", dir_, format_version_));
  const std::string cache = Path(layout::kColdCacheDir);
  const FileType t = env_->TypeOf(cache);
  if (t != FileType::kDirectory && t != FileType::kMissing)
    return Status::FailedPrecondition(cache + ": not a directory (a link?); aether keeps fetched shards there");
  std::map<std::string, BucketFile> files;
  AETHER_ASSIGN_OR_RETURN(std::vector<ColdObject> rows, tables_->cold_objects.All());
  for (const ColdObject& r : rows) files[Path(r.path)] = BucketFile{r.bytes, r.sha256, r.file_bytes};
  AETHER_ASSIGN_OR_RETURN(double cache_bytes,
                          tables_->config.Number("cold_cache_bytes", FindParam("cold_cache_bytes")->default_value));
  cold_uri_ = *uri;
  cold_s3_ = opt.s3;
  cold_env_ = std::make_shared<BucketEnv>(env_, std::move(files), cache + "/objects", uint64_t(cache_bytes),
                                          [u = cold_uri_, s3 = cold_s3_] { return ConnectBucket(u, s3); });
  cold_env_->set_writer(opt.access == AccessMode::kWrite);
  cold_local_env_ = env_;
  cold_rows_seen_ = rows.size();
  env_ = cold_env_.get();
  // Where fetched shards go, made by the first command that may need it
  // (one that may not write the store fails when it fetches, naming why).
  if (!rows.empty() && writable_) (void)EnsureColdCache();
  return Status::Ok();
}

Status StoreImpl::CheckColdPrefix() {
  AETHER_ASSIGN_OR_RETURN(std::string id, tables_->config.Require("store_id"));
  AETHER_ASSIGN_OR_RETURN(std::string tier, tables_->config.Require("cold_tier_id"));
  AETHER_ASSIGN_OR_RETURN(uint64_t rows, tables_->cold_objects.Count());
  return ClaimColdPrefix(cold_uri_, cold_s3_, id, tier, /*check_only=*/false, /*must_exist=*/rows > 0);
}

namespace {

bool SameS3(const S3Options& a, const S3Options& b) {
  return a.endpoint == b.endpoint && a.region == b.region && a.profile == b.profile && a.addressing == b.addressing;
}

}  // namespace

Result<std::set<std::string>> StoreImpl::ColdTierShardsToName(const std::optional<S3Options>& reached_with,
                                                              const std::vector<ShardInfo>& shards, BackupReport* rep) {
  std::set<std::string> left;
  if (!reached_with || !cold_env_ || !SameS3(*reached_with, cold_s3_)) return left;
  std::vector<BackupReport::ColdTierShard> remote;  // read from the bucket, the object its committed bytes
  for (const ShardInfo& info : shards) {
    const std::optional<BucketFile> f = cold_env_->RemoteFile(Path(info.path));
    if (f && f->bytes == info.file_bytes && f->length() == f->bytes) remote.push_back({info.path, f->bytes, f->sha256});
  }
  if (remote.empty()) return left;  // (a shard cut since it was sent is copied)
  // The prefix is this store's tier (its marker there: not another
  // endpoint's or bucket's of the same name), and each object named is
  // there with its length: a shard whose object is not is copied (fetched,
  // or failing clearly), never named for readers to miss.
  AETHER_RETURN_IF_ERROR(CheckColdPrefix());
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, ConnectBucket(cold_uri_, cold_s3_));
  AETHER_ASSIGN_OR_RETURN(const auto size_of, ObjectSizes(client.get()));
  rep->cold_uri = cold_uri_;
  for (BackupReport::ColdTierShard& s : remote) {
    if (auto it = size_of.find(s.sha256); it == size_of.end() || it->second != s.bytes) continue;
    left.insert(s.path);
    rep->cold_tier_shards.push_back(std::move(s));
  }
  return left;
}

Status StoreImpl::EnsureColdCache() {
  Env* local = cold_local_env_;
  for (const std::string& d : {Path(layout::kColdCacheDir), Path(layout::kColdCacheDir) + "/objects"}) {
    const FileType t = local->TypeOf(d);
    if (t == FileType::kDirectory) continue;
    if (t != FileType::kMissing) return Status::FailedPrecondition(d + ": not a directory (a link?)");
    AETHER_RETURN_IF_ERROR(local->CreateDir(d));
  }
  return Status::Ok();
}

// A shard in the bucket that was cut since it was sent (emptied of its
// garbage by scrub or upgrade, the staging shard by a replayed rebuild):
// its committed bytes are sent as a new object, which its row names from
// then on; the old object (holding the bytes the cut dropped, deleted
// memories' among them) goes with the collection that follows.
Status StoreImpl::ResendCutShards(const std::vector<ColdObject>& rows, ColdTierReport* rep) {
  std::unique_ptr<S3Client> client;
  std::vector<int64_t> stale;  // local shards cut since they were sent
  for (const ColdObject& r : rows) {
    const std::string path = Path(r.path);
    if (r.file_bytes >= r.bytes) continue;
    if (!cold_env_->IsRemote(path)) {
      stale.push_back(r.shard_id);
      continue;
    }
    if (!client) {
      AETHER_RETURN_IF_ERROR(CheckColdPrefix());
      AETHER_ASSIGN_OR_RETURN(client, ConnectBucket(cold_uri_, cold_s3_));
    }
    // The object through the cache, the cached copy checked whole first: a
    // damaged one must not become the shard's object.
    std::unique_ptr<File> file;
    for (int attempt = 0;; ++attempt) {
      AETHER_ASSIGN_OR_RETURN(file, env_->Open(path, OpenMode::kRead));
      AETHER_ASSIGN_OR_RETURN(std::string whole, Sha256OfFile(file.get(), r.bytes));
      if (whole == r.sha256) break;
      AETHER_ASSIGN_OR_RETURN(uint64_t dropped, cold_env_->DropDamaged());
      if (attempt > 0 || dropped == 0)
        return Status::Corruption(
            fmt::format("{}: the copy of {} read is not its bytes", r.path, UriOf(cold_uri_, ObjectKey(r.sha256))));
    }
    AETHER_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(file.get(), r.file_bytes));
    AETHER_RETURN_IF_ERROR(SendObject(client.get(), cold_uri_, sha, file.get(), r.file_bytes, rep));
    AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] {
      Db::Bookkeeping bookkeeping(db_.get());
      return tables_->cold_objects.Put(r.shard_id, r.file_bytes, sha);
    }));
    cold_env_->SetRemote(path, BucketFile{r.file_bytes, sha, r.file_bytes});
    ++rep->replaced;
  }
  // A shard brought back and cut (a rebuild emptying the staging shard):
  // its file is the truth, and the row would keep the old object (and the
  // bytes the cut dropped) in the bucket.
  if (!stale.empty()) {
    AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
      Db::Bookkeeping bookkeeping(db_.get());
      for (int64_t id : stale) AETHER_RETURN_IF_ERROR(tables_->cold_objects.Delete(id));
      return Status::Ok();
    }));
    rep->replaced += stale.size();
  }
  return Status::Ok();
}

// Run by the writer after its command, with the journal empty: no
// migration is under way, and no reader writes beside the shards (only a
// replay does, under LOCK exclusive), so any such temporary is a dead
// process's. A bring-back's copy is as large as its shard, and nothing
// else would ever remove it. Best effort: what cannot be listed or removed
// now (noted) is left for the next writer, and the eviction goes on.
Status StoreImpl::RemoveDeadShardTemporaries(const std::vector<ShardInfo>& shards) {
  std::map<std::string, std::set<std::string>> names_in;  // directory -> shard file names
  for (const ShardInfo& sh : shards) {
    const size_t slash = sh.path.rfind('/');
    if (slash == std::string::npos) continue;
    names_in[sh.path.substr(0, slash)].insert(sh.path.substr(slash + 1));
  }
  Env* local = cold_local_env_;
  for (const auto& [dir, names] : names_in) {
    if (local->TypeOf(Path(dir)) != FileType::kDirectory) continue;
    auto entries = local->ListDir(Path(dir));
    if (!entries.ok()) {
      Notice(entries.status().message() + " (its dead temporaries, if any, stay until the next writer)");
      continue;
    }
    for (const std::string& n : *entries) {
      // Only the random form aether writes ("NAME.tmp" was never made
      // beside a shard: not aether's).
      const size_t at = n.find(".shard.");
      if (at == std::string::npos) continue;
      const std::string base = n.substr(0, at + 6);
      if (!names.count(base) || !layout::IsRandomTempNameOf(n, base)) continue;
      Status removed = RemoveOwnedFile(dir + "/" + n);
      if (!removed.ok()) Notice(removed.message() + " (a dead temporary; the next writer tries again)");
    }
  }
  return Status::Ok();
}

// Sends shards to the bucket (least recently written first) until the local
// ones hold at most `budget` bytes: upload, commit, remove.
Status StoreImpl::EvictCold(uint64_t budget, ColdTierReport* rep) {
  Env* local = cold_local_env_;
  // A migration still journaled (its replay may cut or grow shards):
  // nothing leaves the disk until it is done.
  AETHER_ASSIGN_OR_RETURN(uint64_t pending, Journal(db_.get()).Count());
  if (pending > 0) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, tables_->shards.All());
  AETHER_RETURN_IF_ERROR(RemoveDeadShardTemporaries(shards));
  AETHER_ASSIGN_OR_RETURN(std::vector<ColdObject> rows, tables_->cold_objects.All());
  std::map<int64_t, const ColdObject*> row_of;
  for (const ColdObject& r : rows) row_of[r.shard_id] = &r;
  AETHER_RETURN_IF_ERROR(ResendCutShards(rows, rep));
  struct OnDisk {
    const ShardInfo* info;
    int64_t mtime;
  };
  std::vector<OnDisk> on_disk;
  uint64_t total = 0;
  for (const ShardInfo& info : shards) {
    if (local->TypeOf(Path(info.path)) != FileType::kRegular) continue;
    on_disk.push_back({&info, MtimeNs(Path(info.path))});
    total += info.file_bytes;
  }
  rep->local_bytes = total;
  if (total <= budget) return Status::Ok();
  std::sort(on_disk.begin(), on_disk.end(), [](const OnDisk& a, const OnDisk& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.info->shard_id < b.info->shard_id;
  });
  AETHER_RETURN_IF_ERROR(CheckColdPrefix());  // files leave the disk only for this tier's prefix
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, ConnectBucket(cold_uri_, cold_s3_));
  struct Sent {
    const ShardInfo* info;
    std::string sha;
  };
  std::vector<Sent> sent;
  for (const OnDisk& d : on_disk) {
    if (total <= budget) break;
    const ShardInfo& info = *d.info;
    AETHER_ASSIGN_OR_RETURN(auto file, local->Open(Path(info.path), OpenMode::kRead));
    AETHER_ASSIGN_OR_RETURN(uint64_t size, file->Size());
    if (size < info.file_bytes)
      return Status::Corruption(
          fmt::format("{}: {} bytes, shorter than its committed length {}", info.path, size, info.file_bytes));
    AETHER_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(file.get(), info.file_bytes));
    auto row = row_of.find(info.shard_id);
    if (row != row_of.end() && row->second->sha256 != sha) ++rep->replaced;
    AETHER_RETURN_IF_ERROR(SendObject(client.get(), cold_uri_, sha, file.get(), info.file_bytes, rep));
    sent.push_back({&info, sha});
    total -= info.file_bytes;
  }
  AETHER_FAULT_POINT("cold.after_upload");
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    Db::Bookkeeping bookkeeping(db_.get());  // the same memories, elsewhere
    for (const Sent& s : sent)
      AETHER_RETURN_IF_ERROR(tables_->cold_objects.Put(s.info->shard_id, s.info->file_bytes, s.sha));
    return Status::Ok();
  }));
  AETHER_FAULT_POINT("cold.after_commit");
  std::set<std::string> dirs;
  for (const Sent& s : sent) {
    const std::string path = Path(s.info->path);
    AETHER_RETURN_IF_ERROR(local->RemoveFile(path));
    cold_env_->SetRemote(path, BucketFile{s.info->file_bytes, s.sha, s.info->file_bytes});
    dirs.insert(ParentOf(path));
    ++rep->evicted;
    rep->evicted_bytes += s.info->file_bytes;
    AETHER_FAULT_POINT("cold.mid_remove");
  }
  for (const std::string& d : dirs) AETHER_RETURN_IF_ERROR(local->SyncDir(d));
  rep->local_bytes = total;
  return Status::Ok();
}

// Deletes every objects/SHA256 under the cold URI that no row names, nor a
// manifest of this store's publishes (a replica reads those).
Status StoreImpl::CollectColdObjects(ColdTierReport* rep) {
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, ConnectBucket(cold_uri_, cold_s3_));
  AETHER_RETURN_IF_ERROR(CheckColdPrefix());  // still this tier's
  // A publish of this store holds its turn (a flock on the store's
  // directory, aether/replica.h) from before its snapshot to after its
  // manifest: the objects that snapshot names may be named by no row now
  // and by no manifest yet. Nothing is deleted while one runs.
  auto turn = cold_local_env_->Lock(dir_, LockMode::kExclusive, 0);
  if (!turn.ok() && turn.status().code() == Code::kBusy) {
    rep->collect_deferred = true;
    return Status::Ok();
  }
  AETHER_RETURN_IF_ERROR(turn.status());
  // The changes that stopped naming objects may have committed unsynced
  // (a rewrite's cleanup): a synced commit makes the WAL durable up to here
  // first, so that no power cut brings back a row naming a deleted object.
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] {
    Db::Bookkeeping bookkeeping(db_.get());
    return tables_->config.Set("cold_collected_ms", std::to_string(env_->NowMs()));
  }));
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> listed, client->List(kObjects));
  AETHER_ASSIGN_OR_RETURN(std::set<std::string> named, tables_->cold_objects.Named());
  // The cache's copies of them too (deleted memories' bytes among them).
  cold_env_->DropUnnamed(named);
  AETHER_ASSIGN_OR_RETURN(std::set<std::string> published,
                          NamedByPublishes(client.get(), cold_uri_,
                                           [s3 = cold_s3_](const std::string& uri) { return ConnectBucket(uri, s3); }));
  named.insert(published.begin(), published.end());
  for (const S3ObjectInfo& o : listed) {
    const std::string name = o.key.substr(std::strlen(kObjects));
    if (!IsSha256Name(name) || named.count(name)) continue;
    AETHER_RETURN_IF_ERROR(client->Delete(o.key));
    ++rep->collected;
    rep->collected_bytes += o.size;
    AETHER_FAULT_POINT("cold.mid_collect");
  }
  return Status::Ok();
}

Result<ColdTierReport> StoreImpl::SettleColdTier(bool collect) {
  ColdTierReport rep;
  if (!cold_env_) return rep;
  rep.uri = cold_uri_;
  if (!lock_->writer() || !lock_->exclusive() || rehearsal_) return rep;
  AETHER_RETURN_IF_ERROR(EnsureColdCache());
  AETHER_ASSIGN_OR_RETURN(double budget,
                          tables_->config.Number("cold_local_bytes", FindParam("cold_local_bytes")->default_value));
  AETHER_ASSIGN_OR_RETURN(uint64_t rows_before, tables_->cold_objects.Count());
  AETHER_RETURN_IF_ERROR(EvictCold(uint64_t(budget), &rep));
  // Rows that went with their shards since the last settle (or the open),
  // or replaced by a newer content's: objects no row may name any more.
  // (Those of an eviction cut short before its commit: by maintain's.)
  // (And one a publish deferred: config cold_collect_due, until a writer's
  // collection runs.)
  AETHER_ASSIGN_OR_RETURN(std::optional<std::string> due, tables_->config.Get("cold_collect_due"));
  if (collect || due || rep.replaced > 0 || rows_before < cold_rows_seen_) {
    AETHER_RETURN_IF_ERROR(CollectColdObjects(&rep));
    if (rep.collect_deferred != due.has_value())
      AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] {
        Db::Bookkeeping bookkeeping(db_.get());
        return rep.collect_deferred ? tables_->config.Set("cold_collect_due", "1")
                                    : tables_->config.Remove("cold_collect_due");
      }));
  }
  AETHER_ASSIGN_OR_RETURN(cold_rows_seen_, tables_->cold_objects.Count());
  return rep;
}

void StoreImpl::SettleColdTierOrNotice() {
  if (!cold_env_) return;
  auto settled = SettleColdTier(false);
  if (!settled.ok())
    Notice("cold tier " + cold_uri_ + ": " + settled.status().message() +
           " (the shards stay on the local disk; the next writer tries again)");
}

Status StoreImpl::ColdObjectProblems(std::vector<std::string>* problems) {
  if (!cold_env_) return Status::Ok();
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, ConnectBucket(cold_uri_, cold_s3_));
  AETHER_ASSIGN_OR_RETURN(const auto size_of, ObjectSizes(client.get()));
  AETHER_ASSIGN_OR_RETURN(std::vector<ColdObject> rows, tables_->cold_objects.All());
  for (const ColdObject& r : rows) {
    if (!IsSha256Name(r.sha256)) {
      problems->push_back(fmt::format("{}: its cold object's name '{}' is no SHA-256", r.path, r.sha256));
      continue;
    }
    // A shard on the local disk is read from its file: its row may be of
    // an older content (until the next eviction replaces it).
    if (cold_env_->IsRemote(Path(r.path)) && r.file_bytes > r.bytes)
      problems->push_back(
          fmt::format("{}: committed length {} past its cold object's {} bytes", r.path, r.file_bytes, r.bytes));
    auto it = size_of.find(r.sha256);
    if (it == size_of.end())
      problems->push_back(
          fmt::format("{}: its object {} is not in the bucket", r.path, UriOf(cold_uri_, ObjectKey(r.sha256))));
    else if (it->second != r.bytes)
      problems->push_back(fmt::format("{}: its object {} holds {} bytes, not {}", r.path,
                                      UriOf(cold_uri_, ObjectKey(r.sha256)), it->second, r.bytes));
  }
  return Status::Ok();
}

}  // namespace aether
