// Publish and Pull (aether/replica.h): a store's snapshot in an S3 bucket
// as content-addressed objects and a manifest; a replica directory made
// from it. The layout is format-spec/s3_snapshots.md.
#include "aether/replica.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "aether/store.h"
#include "bucket/bucket_env.h"
#include "bucket/connect.h"
#include "bucket/manifest.h"
#include "bucket/snapshot_objects.h"
#include "env/errno_status.h"
#include "env/parallel.h"
#include "objstore/digest.h"
#include "objstore/s3_client.h"
#include "store/cold_tier.h"
#include "store/layout.h"

namespace aether {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarker = kReplicaMarker;  // in a replica: the manifest it is, and its source
// In a pull's staging directory until its files are all there (then renamed
// to kMarker): the same text, so that a killed pull's directory says which
// names it made.
constexpr const char* kBuilding = kReplicaBuilding;
constexpr const char* kObjects = kObjectsDir;
constexpr size_t kTransfers = 4;  // objects a publish sends, or a pull fetches, at once

Status Errno(const std::string& what) { return ErrnoStatus(what, errno); }

// A name beside `path` for this process's own work: .NAME.aether-WHAT.PID.RANDOM
// (a pid alone may be a killed earlier process's, reused; HiddenSiblingName).
constexpr size_t kRandomTail = 9;  // ".XXXXXXXX"
std::string HiddenSibling(const fs::path& path, const std::string& what) {
  std::random_device rd;
  return (path.parent_path() / HiddenSiblingName(path.filename().string(), what, fmt::format(".{:08x}", rd())))
      .string();
}

// An absolute, normalized path without a trailing '/' ("." and "mem/" work).
fs::path Absolute(const std::string& p) {
  fs::path a = fs::absolute(fs::path(p)).lexically_normal();
  if (a.filename().empty()) a = a.parent_path();
  return a;
}

// Removes what `fn` made under `path` when it goes out of scope, unless
// released.
class Cleanup {
 public:
  explicit Cleanup(std::string path) : path_(std::move(path)) {}
  ~Cleanup() {
    if (path_.empty()) return;
    std::error_code ec;
    try {
      fs::remove_all(path_, ec);
    } catch (...) {  // no memory to walk it
    }
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

Result<std::string> ReadWhole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno(path + ": open");
  std::string out;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      close(fd);
      return Errno(path + ": read");
    }
    out.append(buf, size_t(n));
  }
  close(fd);
  return out;
}

// Creates `path` (never an existing name), writes `data`, syncs: a failed
// sync is fatal (a retried fsync may "succeed" without the data).
Status WriteNew(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(path + ": create");
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = errno == ENOSPC ? Status::NoSpace(path + ": write: no space left on device") : Errno(path + ": write");
      close(fd);
      return s;
    }
    at += size_t(n);
  }
  if (fsync(fd) != 0) {
    Status s = Errno(path + ": fsync");
    close(fd);
    return s;
  }
  if (close(fd) != 0) return Errno(path + ": close");
  return Status::Ok();
}

// The Env's: a file system that cannot sync a directory (EINVAL) is taken
// as it is, as for the store itself.
Status SyncDir(const std::string& dir) { return Env::Default()->SyncDir(dir); }

Result<std::unique_ptr<S3Client>> Connect(const std::string& uri, const S3Options& o) { return ConnectBucket(uri, o); }

}  // namespace

Status CheckS3Uri(const std::string& uri) { return ParseS3Uri(uri).status(); }

namespace {

// After a publish with --keep N: the manifests older than the newest N are
// deleted, then every object (objects/ and 64 hexadecimal digits) that none
// of the N names; any other name under the prefix stays. A kept manifest
// that cannot be read or checked stops it before anything is deleted (what
// it names is not known). Killed in between, the next one finishes the job.
Status CollectOld(S3Client* client, uint64_t keep, const std::vector<FileEntry>& published, PublishReport* rep) {
  AETHER_ASSIGN_OR_RETURN(auto manifests, ListManifests(client));
  // A store whose LIST lags behind its writes must not hide the manifest
  // just written (its objects would look unnamed).
  if (manifests.empty() || manifests.rbegin()->first < rep->sequence)
    return Status::IOError(fmt::format("the LIST of manifests/ does not show {} yet", rep->manifest));
  // The prefix's own objects a kept manifest names (a cold_tier entry's
  // object is the store's tier's: an older publish's copy here of the same
  // bytes goes).
  std::set<std::string> named;
  for (const FileEntry& f : published)
    if (!f.cold_tier) named.insert(f.sha256);
  std::vector<std::string> old;
  uint64_t kept = 0;
  for (auto it = manifests.rbegin(); it != manifests.rend(); ++it) {
    if (kept == keep) {
      old.push_back(it->second.key);
      continue;
    }
    AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> files, ReadManifest(client, it->first));
    for (const FileEntry& f : files)
      if (!f.cold_tier) named.insert(f.sha256);
    ++kept;
  }
  // A store's cold tier in the prefix (init --cold-uri, which refuses a
  // prefix with manifests, but not one that gets them later): its objects
  // share objects/, which this would delete.
  AETHER_ASSIGN_OR_RETURN(std::optional<S3ObjectHead> cold, client->Head(kColdMarkerKey));
  if (cold)
    return Status::FailedPrecondition("the prefix holds a store's cold tier (" + std::string(kColdMarkerKey) +
                                      "): nothing deleted; publish to a prefix of its own");
  for (const std::string& key : old) {
    AETHER_RETURN_IF_ERROR(client->Delete(key));
    ++rep->manifests_removed;
  }
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> objects, client->List(kObjects));
  for (const S3ObjectInfo& o : objects) {
    const std::string name = o.key.substr(std::strlen(kObjects));
    if (!IsSha256Name(name) || named.count(name)) continue;
    AETHER_RETURN_IF_ERROR(client->Delete(o.key));
    ++rep->objects_removed;
    rep->bytes_removed += o.size;
  }
  return Status::Ok();
}

}  // namespace

Result<PublishTurn> TakePublishTurn(const std::string& store_path, double wait_seconds) {
  Env* env = Env::Default();
  // No directory there: the answer Store::Open gives (kNotFound, exit 66).
  if (!env->IsDirectory(store_path))
    return NotThere(store_path, Status::NotFound(store_path + ": no such store (see aether init)"));
  auto lock = env->Lock(store_path, LockMode::kExclusive, wait_seconds);
  if (!lock.ok() && lock.status().code() == Code::kBusy)
    return Status::Busy(
        fmt::format("{}: another publish of this store is running, or its writer is collecting its cold tier's "
                    "objects (waited {}s; see --wait)",
                    store_path, wait_seconds));
  AETHER_RETURN_IF_ERROR(lock.status());
  PublishTurn turn;
  turn.lock_ = std::move(*lock);
  return turn;
}

// The snapshot's files (in path order, as a manifest lists them) sent to
// the bucket as objects: each file's digests read a part at a time, up to
// kTransfers files at once; one LIST of objects/ (a page per 1,000) tells which are there
// already (name, size and an ETag an upload of these bytes gets); the
// others go up on up to kTransfers connections at once, each object once.
Result<std::vector<FileEntry>> SendSnapshot(const std::string& snapshot, S3Client* client,
                                            const S3ClientPool::Connect& connect, PublishReport* rep) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(snapshot, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) paths.push_back(fs::relative(it->path(), snapshot).generic_string());
  if (ec) return ErrnoStatus(snapshot, ec.value());
  std::sort(paths.begin(), paths.end());
  Env* env = Env::Default();
  std::vector<FileDigests> digests(paths.size());
  AETHER_RETURN_IF_ERROR(
      ParallelFor(paths.size(), ThreadsFor(kTransfers, paths.size()), [&](size_t i, size_t) -> Status {
        AETHER_ASSIGN_OR_RETURN(auto file, env->Open(snapshot + "/" + paths[i], OpenMode::kRead));
        AETHER_ASSIGN_OR_RETURN(digests[i], DigestFile(file.get(), client->options()));
        return Status::Ok();
      }));
  AETHER_ASSIGN_OR_RETURN(const std::vector<S3ObjectInfo> listed, client->List(kObjects));
  std::map<std::string, const S3ObjectInfo*> there;
  for (const S3ObjectInfo& o : listed) there[o.key] = &o;
  std::vector<FileEntry> files;
  std::vector<size_t> send;  // indexes of the files whose objects go up
  std::set<std::string> named;
  for (size_t i = 0; i < paths.size(); ++i) {
    const FileDigests& d = digests[i];
    files.push_back(FileEntry{paths[i], d.bytes, d.sha256});
    rep->bytes += d.bytes;
    auto t = there.find(kObjects + d.sha256);
    const bool present =
        t != there.end() && t->second->size == d.bytes && std::count(d.etags.begin(), d.etags.end(), t->second->etag);
    if (!named.insert(d.sha256).second || present) {  // a file with the bytes of an earlier one shares its object
      ++rep->objects_present;
    } else {
      send.push_back(i);
      ++rep->objects_uploaded;
      rep->bytes_uploaded += d.bytes;
    }
  }
  S3ClientPool pool(connect);
  AETHER_RETURN_IF_ERROR(ParallelFor(send.size(), ThreadsFor(kTransfers, send.size()), [&](size_t j, size_t) -> Status {
    const FileEntry& e = files[send[j]];
    AETHER_ASSIGN_OR_RETURN(auto file, env->Open(snapshot + "/" + e.path, OpenMode::kRead));
    // The bytes sent are the bytes named: hashed again as they are read (in
    // order, each once), and checked before the last of them goes, so that
    // a file changed since it was hashed never becomes the object its
    // former SHA-256 names (a later publish would take it as present, and
    // every pull would find it damaged).
    Sha256Stream sent;
    uint64_t next = 0;
    return pool.With([&](S3Client* c) {
      return c->PutFrom(kObjects + e.sha256, e.bytes, [&](uint64_t at, uint64_t n, std::string* out) -> Status {
        if (at != next) return Status::Internal(fmt::format("{}: read at {}, not at {}", e.path, at, next));
        out->resize(size_t(n));
        AETHER_RETURN_IF_ERROR(file->Read(at, size_t(n), out->data()));
        sent.Update(out->data(), out->size());
        next += n;
        if (next == e.bytes && ToHex(sent.Final()) != e.sha256)
          return Status::Corruption(fmt::format(
              "{}: changed while publish read it (its SHA-256 when hashed was {}, another when sent); nothing of "
              "it was published: run aether verify on the store",
              e.path, e.sha256));
        return Status::Ok();
      });
    });
  }));
  return files;
}

namespace {

bool IsStoreId(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The newest manifest under the prefix (`manifests` as listed), read and
// parsed (discarded when it does not parse; null when there is none), and
// checked to be this store's: a prefix holds one store's snapshots, so a
// manifest naming another store stops the publish (kAlreadyExists) before
// it sends anything, unless it takes the prefix over. A manifest without
// a store (an older aether's, or one that does not parse) names none.
// `sent`: whether this publish's objects are up already (the message says).
Result<nlohmann::json> NewestOwnedBy(S3Client* client, const std::map<uint64_t, S3ObjectInfo>& manifests,
                                     const std::string& store_id, const PublishOptions& options, bool sent,
                                     PublishReport* rep) {
  if (manifests.empty()) return nlohmann::json();
  const S3ObjectInfo& newest = manifests.rbegin()->second;
  std::string text;
  AETHER_RETURN_IF_ERROR(client->Get(newest.key, &text));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("store") || !j["store"].is_string()) return j;
  const std::string other = j["store"].get<std::string>();
  if (other == store_id) return j;
  if (!options.take_over)
    return Status::AlreadyExists(fmt::format(
        "{}: the newest snapshot there is another store's (store ID {}; this store's is {}), and a prefix holds "
        "one store's snapshots: publish this store under a prefix of its own, or add --take-over to make this "
        "store the one that prefix serves (its readers then follow this store); {}",
        client->UriOf(newest.key), other, store_id,
        sent ? "it was written there while this publish sent its objects, which no manifest names (that store's "
               "next publish --keep deletes them); no manifest was written"
             : "nothing was sent"));
  rep->took_over_from = other;
  return j;
}

}  // namespace

Result<PublishReport> Publish(std::unique_ptr<Store> store, const std::string& store_path, const std::string& uri,
                              const S3Options& s3, const PublishOptions& options) {
  std::optional<PublishTurn> own_turn;
  if (!options.turn) {
    AETHER_ASSIGN_OR_RETURN(PublishTurn turn, TakePublishTurn(store_path, options.wait_seconds));
    own_turn.emplace(std::move(turn));
  }
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
  PublishReport rep;
  AETHER_ASSIGN_OR_RETURN(rep.store_id, store->Id());
  if (rep.store_id.empty())  // a store an older aether made, opened for reading only
    return Status::FailedPrecondition(store_path + ": the store has no ID yet: open it for writing to publish it");
  if (!IsStoreId(rep.store_id))
    return Status::Corruption(
        fmt::format("{}/meta.db: config store_id '{}' is not a store ID (32 lower-case "
                    "hexadecimal digits)",
                    store_path, rep.store_id));
  // The snapshot: a backup beside the store, its shards and centroids
  // hard-linked from the store itself (the store never writes through a
  // shared file), removed when the upload is done or has failed.
  const std::string snapshot = HiddenSibling(Absolute(store_path), "publish");
  BackupOptions bo;
  bo.dest = snapshot;
  bo.incremental_from = store_path;
  // A cold tier in a bucket: its objects are named, not sent again, when
  // this publish reaches the bucket as the store does (readers fetch them
  // with the publish prefix's settings; the writer's collections read the
  // publish prefix with its own).
  bo.leave_cold_tier_shards_if_reached_with = s3;
  AETHER_ASSIGN_OR_RETURN(BackupReport backup, store->Backup(bo));
  Cleanup remove_snapshot(snapshot);  // ours: Backup made it under our unique name
  store.reset();                      // the snapshot is taken: writers need not wait for the upload
  rep.memories = backup.memories;
  std::vector<FileEntry> files;
  Status s = [&]() -> Status {
    // Whose the prefix is, before anything is sent.
    AETHER_ASSIGN_OR_RETURN(auto manifests, ListManifests(client.get()));
    AETHER_ASSIGN_OR_RETURN(nlohmann::json newest,
                            NewestOwnedBy(client.get(), manifests, rep.store_id, options, false, &rep));
    AETHER_ASSIGN_OR_RETURN(files, SendSnapshot(
                                       snapshot, client.get(), [uri, s3] { return Connect(uri, s3); }, &rep));
    // The shards in the store's cold tier: named there, not sent.
    for (const BackupReport::ColdTierShard& t : backup.cold_tier_shards) {
      files.push_back(FileEntry{t.path, t.bytes, t.sha256, true});
      rep.bytes += t.bytes;
      ++rep.objects_in_cold_tier;
    }
    std::sort(files.begin(), files.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    rep.files = files.size();
    // And again once it is all sent (which may take long): a manifest
    // another store wrote meanwhile stops it as above, and the new one is
    // numbered after the newest there now.
    auto newest_sequence = [&] { return manifests.empty() ? uint64_t(0) : manifests.rbegin()->first; };  // 0: none
    const uint64_t first = newest_sequence();
    AETHER_ASSIGN_OR_RETURN(manifests, ListManifests(client.get()));
    if (newest_sequence() != first) {  // (took_over_from is set, never cleared: the first check's stays)
      AETHER_ASSIGN_OR_RETURN(newest, NewestOwnedBy(client.get(), manifests, rep.store_id, options, true, &rep));
    }
    // The tier records this prefix before a manifest names its objects:
    // the writer's collections keep what a manifest recorded there names
    // (and none runs while this publish holds its turn). Again when the
    // newest manifest is this snapshot (a record deleted since is put back).
    const std::string cold_uri = backup.cold_tier_shards.empty() ? "" : backup.cold_uri;
    auto record = [&]() -> Status {
      if (cold_uri.empty()) return Status::Ok();
      AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> tier, Connect(cold_uri, s3));
      return RecordPublishPrefix(tier.get(), uri);
    };
    // The newest manifest names these very files: nothing to publish.
    const bool same_tier =
        newest.is_object() && newest.contains("cold_uri") ? newest["cold_uri"] == cold_uri : cold_uri.empty();
    if (newest.is_object() && newest.contains("files") && newest["files"] == FilesJson(files) && same_tier) {
      AETHER_RETURN_IF_ERROR(record());
      rep.sequence = manifests.rbegin()->first;
      rep.manifest = client->UriOf(manifests.rbegin()->second.key);
      rep.unchanged = true;
      return Status::Ok();
    }
    if (!manifests.empty() && manifests.rbegin()->first == UINT64_MAX)
      return Status::FailedPrecondition(client->UriOf(manifests.rbegin()->second.key) +
                                        ": the highest sequence there is; publish under another prefix");
    // A first snapshot here: the prefix may hold a store's cold tier
    // (init --cold-uri), whose objects share objects/ (its collections
    // would delete this snapshot's, and --keep the tier's). Checked after
    // the upload (objects of a snapshot no manifest names are garbage
    // there), before the manifest that would make it a publish prefix.
    if (manifests.empty()) {
      AETHER_ASSIGN_OR_RETURN(std::optional<S3ObjectHead> cold, client->Head(kColdMarkerKey));
      if (cold)
        return Status::FailedPrecondition(
            uri + ": holds a store's cold tier (init --cold-uri); publish to a prefix of its own");
    }
    AETHER_RETURN_IF_ERROR(record());
    rep.sequence = manifests.empty() ? 1 : manifests.rbegin()->first + 1;
    nlohmann::json manifest = {{"aether_manifest", ManifestVersion(cold_uri)},
                               {"sequence", rep.sequence},
                               {"created_ms", uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           std::chrono::system_clock::now().time_since_epoch())
                                                           .count())},
                               {"memories", rep.memories},
                               {"files", FilesJson(files)},
                               {"store", rep.store_id}};
    if (!cold_uri.empty()) manifest["cold_uri"] = cold_uri;
    rep.manifest = client->UriOf(ManifestKey(rep.sequence));
    return client->Put(ManifestKey(rep.sequence), manifest.dump(1) + "\n");
  }();
  if (!s.ok()) return s;
  if (options.keep > 0)
    if (Status collected = CollectOld(client.get(), options.keep, files, &rep); !collected.ok())
      rep.collect_error = collected.message();
  return rep;
}

namespace {

// The replica in `dir` as its marker says (empty: `dir` is missing);
// kAlreadyExists for a directory that is not a replica.
Result<std::vector<FileEntry>> ReplicaFiles(const std::string& dir, const std::string& shown, uint64_t* sequence,
                                            std::string* source, bool* exists, std::string* cold_uri = nullptr) {
  struct stat st;
  *exists = lstat(dir.c_str(), &st) == 0;
  if (!*exists) return std::vector<FileEntry>();
  if (!S_ISDIR(st.st_mode))
    return Status::AlreadyExists(shown + ": not a directory (pull makes or refreshes a replica directory)");
  const std::string marker = dir + "/" + kMarker;
  if (lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::error_code ec;
    if (fs::is_empty(dir, ec)) return std::vector<FileEntry>();
    return Status::AlreadyExists(shown + ": not a replica an earlier pull made (no " + kMarker +
                                 "); pull will not replace it");
  }
  AETHER_ASSIGN_OR_RETURN(std::string text, ReadWhole(marker));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sequence") || !j["sequence"].is_number_unsigned() ||
      !j.contains("source") || !j["source"].is_string())
    return Status::Corruption(marker + ": not a replica marker");
  *sequence = j["sequence"].get<uint64_t>();
  *source = j["source"].get<std::string>();
  return ParseFiles(j, marker, cold_uri);
}

// Whether every directory between `dir` and its file `path` is a real
// directory, not a symbolic link (the file itself is opened O_NOFOLLOW):
// only then is the file the replica's own.
bool NoLinkOnTheWay(const std::string& dir, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    struct stat st;
    if (lstat((dir + "/" + path.substr(0, slash)).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  }
  return true;
}

// The old replica, swapped out to `old`, or a killed pull's staging
// directory: only the names a pull makes go (the files its marker lists,
// their fetches' temporaries, the markers, SQLite's and the store's
// by-products), then the directories they leave empty. Anything else (a
// file someone put there) stays, and the directory with it: returned.
std::string RemoveOldReplica(const std::string& old, const std::vector<FileEntry>& files) {
  // What opening the replica may add: SQLite's files, the store's lock
  // files, its reserve, its logs (a reader's metrics record, accesses).
  std::vector<std::string> names = {"meta.db-wal", "meta.db-shm", "meta.db-journal", "LOCK",       "WRITER",
                                    "GATE",        "RESERVE",     "access.log",      "metrics.log"};
  std::set<std::string> dirs;
  std::map<std::string, std::vector<std::string>> in_dir;  // the files by their directory ("" the top)
  for (const FileEntry& f : files) {
    names.push_back(f.path);
    const size_t last = f.path.rfind('/');
    in_dir[last == std::string::npos ? "" : f.path.substr(0, last)].push_back(
        last == std::string::npos ? f.path : f.path.substr(last + 1));
    for (size_t slash = f.path.find('/'); slash != std::string::npos; slash = f.path.find('/', slash + 1))
      dirs.insert(f.path.substr(0, slash));
  }
  // A killed fetch's temporaries, beside the file it was fetching.
  for (const auto& [sub, bases] : in_dir) {
    if (!sub.empty() && !NoLinkOnTheWay(old, sub + "/-")) continue;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(sub.empty() ? old : old + "/" + sub, ec)) {
      const std::string name = e.path().filename().string();
      for (const std::string& base : bases)
        // A fetch's temporary (TempNameFor), not the legacy BASE.tmp no pull makes.
        if (layout::IsRandomTempNameOf(name, base)) names.push_back(sub.empty() ? name : sub + "/" + name);
    }
  }
  // Never through a symbolic link on the way: only the replica's own files.
  // The markers last: a kill before then leaves a directory whose marker
  // still names what is left (RemoveKilledPulls).
  names.push_back(kBuilding);
  names.push_back(kMarker);
  for (const std::string& n : names)
    if (NoLinkOnTheWay(old, n)) (void)unlink((old + "/" + n).c_str());
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d)  // deepest first
    if (NoLinkOnTheWay(old, *d)) (void)rmdir((old + "/" + *d).c_str());
  if (rmdir(old.c_str()) == 0) return "";
  return old;
}

// The staging directories of killed pulls in `parent`
// (`.NAME.aether-pull.PID.RANDOM`, NAME one that `ours` accepts). Called
// with the lock every pull into `parent` holds while it runs (the parent's
// flock; a bucket search's cache: the cache's), so none is a running
// pull's. Each (a directory this user owns, not a symbolic link) is
// emptied of the names a pull makes, as its marker (replica.json, or
// replica.json.building while the files were fetched) lists them, the
// markers last, and removed when that leaves it empty. One without either
// marker (an old replica a pull left with someone's files, already named in
// a warning) is removed only when empty; one whose marker cannot be read
// is left whole. Returns those that stay although a marker named them.
std::vector<std::string> RemoveKilledPulls(const std::string& parent,
                                           const std::function<bool(const std::string&)>& ours) {
  static const std::regex kStaging(R"(\.(.+)\.aether-pull\.[0-9]+\.[0-9a-f]{8})");
  std::vector<std::string> kept;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, kStaging) || !ours(m[1].str())) continue;
    const std::string path = e.path().string();
    struct stat own;
    if (lstat(path.c_str(), &own) != 0 || !S_ISDIR(own.st_mode) || own.st_uid != geteuid()) continue;  // not ours
    std::optional<Result<std::vector<FileEntry>>> files;
    for (const char* marker : {kMarker, kBuilding}) {
      struct stat st;
      if (files || lstat((path + "/" + marker).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      auto text = ReadWhole(path + "/" + marker);
      const nlohmann::json j = text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
      files = text.ok() ? ParseFiles(j, path) : Result<std::vector<FileEntry>>(text.status());
    }
    if (!files) {
      (void)rmdir(path.c_str());  // only when empty
    } else if (!files->ok()) {
      kept.push_back(path);  // a marker that does not say what is ours: nothing removed
    } else if (std::string left = RemoveOldReplica(path, **files); !left.empty()) {
      kept.push_back(left);
    }
  }
  return kept;
}

}  // namespace

namespace {

// Whether the replica's file `from` still holds f's bytes, then given to
// `to`: shards and centroids, which a store never writes through a second
// name, are linked; files written in place (meta.db, hot.slots, access.log)
// are copied, checked as they are read and synced. Read a part at a time.
bool KeepOwnCopy(const std::string& from, const std::string& to, const FileEntry& f) {
  Env* env = Env::Default();
  auto file = env->Open(from, OpenMode::kRead);
  if (!file.ok()) return false;
  auto size = (*file)->Size();
  if (!size.ok() || *size != f.bytes) return false;
  if (f.path.rfind("cold/", 0) == 0 || f.path.rfind("index/", 0) == 0) {
    auto sha = Sha256OfFile(file->get(), f.bytes);
    return sha.ok() && *sha == f.sha256 && link(from.c_str(), to.c_str()) == 0;
  }
  auto copy = env->Open(to, OpenMode::kCreateNew);
  if (!copy.ok()) return false;
  Sha256Stream sha;
  std::vector<char> buf(size_t(std::min<uint64_t>(f.bytes, 4u << 20)));
  bool ok = true;
  for (uint64_t at = 0; ok && at < f.bytes;) {
    const size_t len = size_t(std::min<uint64_t>(buf.size(), f.bytes - at));
    ok = (*file)->Read(at, len, buf.data()).ok() && (*copy)->Write(at, buf.data(), len).ok();
    sha.Update(buf.data(), len);
    at += len;
  }
  if (ok && ToHex(sha.Final()) == f.sha256 && (*copy)->Sync().ok()) return true;
  copy->reset();
  (void)env->RemoveFile(to);  // ours: made above with O_EXCL
  return false;
}

// lazy_cold: the shards (cold/) stay in the bucket; OpenBucket's env fetches
// each when it is opened.
// *chosen (when given): the manifest it went for, once chosen (0 before).
Result<PullReport> PullInto(const std::string& uri, const std::string& dir_in, const S3Options& s3, uint64_t sequence,
                            bool lazy_cold, bool lock_parent = true, uint64_t* chosen = nullptr) {
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
  Env* env = Env::Default();
  S3ClientPool pool([uri, s3] { return Connect(uri, s3); });  // the objects' fetches
  const fs::path dp = Absolute(dir_in);
  const std::string dir = dp.string(), parent = dp.parent_path().string();
  std::string shown = dir_in;  // for messages: as the user wrote it
  while (shown.size() > 1 && shown.back() == '/') shown.pop_back();
  // One pull at a time into this parent directory: a flock on it, held to
  // the end (a second pull waits, then finds the replica up to date).
  const int parent_fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) {
    if (errno == ENOENT) return Status::NotFound(parent + ": no such directory (pull makes DIR, not its parents)");
    return Errno(parent + ": open");
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{parent_fd};
  if (lock_parent && flock(parent_fd, LOCK_EX) != 0) return Errno(parent + ": flock");
  PullReport rep;
  const std::string base = dp.filename().string();
  // The NAME of this DIR's staging directories (and DIR itself: an older
  // aether's, which never shortened it).
  const std::string stem = SiblingStem(base, "pull", kRandomTail);
  if (lock_parent)  // a cache's replicas: OpenBucket, under the cache's lock
    rep.killed_kept = RemoveKilledPulls(parent, [&](const std::string& name) { return name == stem || name == base; });

  bool exists = false;
  uint64_t have_sequence = 0;
  std::string have_source;
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> have, ReplicaFiles(dir, shown, &have_sequence, &have_source, &exists));
  const bool replica = exists && !have.empty();  // else missing, or an empty directory
  AETHER_ASSIGN_OR_RETURN(auto manifests, ListManifests(client.get()));
  if (manifests.empty()) return Status::NotFound(uri + ": no manifest (nothing published there)");
  if (sequence == 0) sequence = manifests.rbegin()->first;
  if (!manifests.count(sequence)) return Status::NotFound(fmt::format("{}: no manifest {}", uri, sequence));
  if (chosen) *chosen = sequence;
  rep.sequence = sequence;
  rep.manifest = client->UriOf(ManifestKey(sequence));
  if (replica && have_sequence == sequence && have_source == uri) {  // a manifest never changes
    rep.up_to_date = true;
    rep.files = have.size();
    for (const FileEntry& f : have) rep.bytes += f.bytes;
    return rep;
  }
  std::string cold_uri;  // the cold tier whose objects the manifest names, if any
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> files, ReadManifest(client.get(), sequence, &cold_uri));
  S3ClientPool tier_pool([cold_uri, s3] { return Connect(cold_uri, s3); });
  rep.files = files.size();
  for (const FileEntry& f : files) rep.bytes += f.bytes;
  std::map<std::string, std::string> have_sha;
  for (const FileEntry& f : have) have_sha[f.path] = f.sha256;

  // Built beside the directory, with its permissions, then swapped in whole.
  const std::string staging = HiddenSibling(dp, "pull");
  if (mkdir(staging.c_str(), 0755) != 0) return Errno(staging + ": mkdir");
  Cleanup remove_staging(staging);  // ours, until it is the replica
  struct stat dir_stat;
  if (exists && lstat(dir.c_str(), &dir_stat) == 0 && chmod(staging.c_str(), dir_stat.st_mode & 07777) != 0)
    return Errno(staging + ": chmod");
  // First, what it will hold: if this pull is killed, the next one removes
  // what it made, and only that (RemoveKilledPulls).
  nlohmann::json marker = {{"source", uri}, {"sequence", sequence}, {"files", FilesJson(files)}};
  if (!cold_uri.empty()) marker["cold_uri"] = cold_uri;
  AETHER_RETURN_IF_ERROR(WriteNew(staging + "/" + kBuilding, marker.dump(1) + "\n"));
  AETHER_RETURN_IF_ERROR(SyncDir(staging));
  std::set<std::string> dirs = {staging};
  std::vector<const FileEntry*> wanted;  // the files this pull writes (a cache's replica: not the shards)
  for (const FileEntry& f : files) {
    for (fs::path up = fs::path(staging + "/" + f.path).parent_path(); up.string().size() > staging.size();
         up = up.parent_path())
      if (dirs.insert(up.string()).second) {
        std::error_code ec;
        fs::create_directories(up, ec);
        if (ec) return ErrnoStatus(up.string(), ec.value());
      }
    if (!(lazy_cold && f.path.rfind("cold/", 0) == 0)) wanted.push_back(&f);
  }
  // Each from the replica's own copy, when it still holds these bytes (a
  // search on it may have changed meta.db or access.log), or fetched; up
  // to kTransfers at once.
  std::vector<char> kept(wanted.size(), 0);
  AETHER_RETURN_IF_ERROR(
      ParallelFor(wanted.size(), ThreadsFor(kTransfers, wanted.size()), [&](size_t i, size_t) -> Status {
        const FileEntry& f = *wanted[i];
        const std::string to = staging + "/" + f.path;
        if (auto h = have_sha.find(f.path); h != have_sha.end() && h->second == f.sha256 &&
                                            NoLinkOnTheWay(dir, f.path) && KeepOwnCopy(dir + "/" + f.path, to, f)) {
          kept[i] = 1;
          return Status::Ok();
        }
        return FetchObject(env, f.cold_tier ? &tier_pool : &pool, f.sha256, f.bytes, to, f.path, ObjectFetchOptions(),
                           nullptr);
      }));
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (kept[i]) {
      ++rep.files_kept;
    } else {
      ++rep.objects_fetched;
      rep.bytes_fetched += wanted[i]->bytes;
    }
  }
  if (rename((staging + "/" + kBuilding).c_str(), (staging + "/" + kMarker).c_str()) != 0)
    return Errno(staging + "/" + kMarker + ": rename from " + kBuilding);
  for (const std::string& d : dirs) AETHER_RETURN_IF_ERROR(SyncDir(d));

  if (replica) {
    // One step: the new replica takes the name, the old one the hidden name.
    if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0)
      return Errno(dir + ": exchange with " + staging);
  } else if (rename(staging.c_str(), dir.c_str()) != 0) {  // onto nothing, or onto an empty directory
    return Errno(dir + ": rename from " + staging);
  }
  remove_staging.Release();
  AETHER_RETURN_IF_ERROR(SyncDir(parent));
  if (replica) rep.left_behind = RemoveOldReplica(staging, have);
  return rep;
}

constexpr const char* kCacheMarker = "aether-cache";  // in a bucket search's cache directory
constexpr const char* kCacheReplica = "replica-";     // + SEQUENCE-ETAG: a manifest's replica there

// A bucket search's cache directory: made (with its objects/ and marker)
// when missing or empty; one that holds other things without the marker
// is not aether's to fill or trim (kAlreadyExists). No symbolic link.
// `dir` made when missing: with its parents for the default place
// (~/.cache/aether/s3/...), alone for one the user named (--cache-dir), as
// init, backup and pull make theirs: a mistyped parent makes nothing.
Status PrepareCache(const std::string& dir, bool make_parents) {
  std::error_code ec;
  if (!make_parents) {
    const std::string parent = fs::path(dir).parent_path().string();
    struct stat st;
    if (!parent.empty() && stat(parent.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
      return Status::NotFound(parent + ": no such directory (--cache-dir is made, not its parents)");
  }
  fs::create_directories(dir, ec);
  if (ec && (ec.value() == ENOTDIR || ec.value() == EEXIST))  // a file there, or on the way
    return Status::AlreadyExists(dir + ": not a directory (a file is there or on the way): no cache there");
  if (ec) return ErrnoStatus(dir, ec.value());
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::AlreadyExists(dir + ": not a directory (a symbolic link is not followed): no cache there");
  const std::string marker = dir + "/" + kCacheMarker;
  // Another search on the same new cache may make the marker meanwhile (it
  // is then there when looked at again): searches started together on an
  // empty directory all use it.
  auto marked_meanwhile = [&] { return lstat(marker.c_str(), &st) == 0 && S_ISREG(st.st_mode); };
  if (lstat(marker.c_str(), &st) != 0) {
    if (!fs::is_empty(dir, ec) && !marked_meanwhile())
      return Status::AlreadyExists(dir + ": not a cache aether made (no " + kCacheMarker +
                                   "); give a new or empty directory");
    if (Status made = WriteNew(marker, "a bucket search's cache (aether search s3://...)\n");
        !made.ok() && !marked_meanwhile())
      return made;
  } else if (!S_ISREG(st.st_mode)) {
    return Status::AlreadyExists(marker + ": not a regular file");
  }
  const std::string objects = dir + "/objects";
  if (mkdir(objects.c_str(), 0755) != 0 && errno != EEXIST) return Errno(objects + ": mkdir");
  if (lstat(objects.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::AlreadyExists(objects + ": not a directory (a symbolic link is not followed)");
  return Status::Ok();
}

// Removes the cache's replicas of older manifests that no process has open
// (a store's readers hold a shared flock on its LOCK): only the names a
// pull makes, as RemoveOldReplica does. Best effort.
void RemoveUnreadReplicas(const std::string& dir, const std::string& keep) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    std::error_code ec2;
    if (name == keep || name.rfind(kCacheReplica, 0) != 0 || !e.is_directory(ec2) || e.is_symlink(ec2)) continue;
    auto lock = Env::Default()->Lock(e.path().string() + "/LOCK", LockMode::kExclusive, 0);
    if (!lock.ok()) continue;  // being read
    uint64_t sequence = 0;
    std::string source;
    bool exists = false;
    auto files = ReplicaFiles(e.path().string(), name, &sequence, &source, &exists);
    if (files.ok()) (void)RemoveOldReplica(e.path().string(), *files);
  }
}

}  // namespace

Status BucketLostObject(const std::string& uri, uint64_t sequence, const std::string& what) {
  return Status::Corruption(
      fmt::format("{}: the newest manifest ({}) names an object the bucket no longer has ({}; deleted by hand, or by "
                  "the --keep of another store publishing to this prefix, or, for a shard in the writer's cold "
                  "tier, its collection by an aether that does not read the tier's publishes/ records?): publish "
                  "again from the writer, which uploads what the publish prefix lacks (a shard missing from the "
                  "cold tier itself: run aether verify on the writer)",
                  uri, sequence, what));
}

// A reader moves on to the snapshot that replaced the one it read at most
// kReplacedRetries times: each time a newer one was published meanwhile, so
// only a writer publishing faster than a reader reads runs out of them.
Status BucketReplacedTooOften(const std::string& uri) {
  return Status::Busy(
      fmt::format("{}: {} newer snapshots were published while this reader read each one, and --keep deleted each "
                  "under it: read again when the writer publishes less often",
                  uri, kReplacedRetries + 1));
}

Result<PullReport> Pull(const std::string& uri, const std::string& dir, const S3Options& s3, uint64_t sequence) {
  if (sequence != 0) return PullInto(uri, dir, s3, sequence, false);
  for (int replaced = 0;; ++replaced) {
    uint64_t newest = 0;
    Result<PullReport> pulled = PullInto(uri, dir, s3, 0, false, true, &newest);
    if (pulled.ok() || pulled.status().code() != Code::kNotFound || newest == 0) return pulled;
    AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
    AETHER_ASSIGN_OR_RETURN(auto manifests, ListManifests(client.get()));
    if (manifests.empty()) return pulled;
    if (manifests.rbegin()->first == newest) return BucketLostObject(uri, newest, pulled.status().message());
    if (replaced == kReplacedRetries) return BucketReplacedTooOften(uri);
  }
}

Result<OpenedBucket> OpenBucket(const std::string& uri, const S3Options& s3, const BucketCacheOptions& cache,
                                OpenOptions open) {
  AETHER_ASSIGN_OR_RETURN(S3Location loc, ParseS3Uri(uri));
  if (open.access != AccessMode::kRead)
    return Status::InvalidArgument(uri + ": a store in a bucket is read here, never written (publish writes it)");
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
  std::string dir = cache.dir;
  if (dir.empty()) {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg == '/')
      dir = xdg;
    else if (home && *home == '/')
      dir = std::string(home) + "/.cache";
    else
      return Status::InvalidArgument(uri + ": no cache directory (set HOME or XDG_CACHE_HOME, or give --cache-dir)");
    // One cache per endpoint, region and URI: the same name elsewhere is
    // another bucket.
    const S3Settings& st = client->settings();
    dir += "/aether/s3/" + loc.bucket + "-" + ToHex(Sha256(st.endpoint + "\n" + st.region + "\n" + uri)).substr(0, 16);
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  AETHER_RETURN_IF_ERROR(PrepareCache(dir, /*make_parents=*/cache.dir.empty()));
  // Through any link on the way (~/.cache may be one): the store's files
  // are opened without following links.
  std::error_code ec;
  const std::string abs = fs::canonical(dir, ec).string();
  if (ec) return ErrnoStatus(dir, ec.value());

  // The cache's lock, held until the store is open: the LIST, a new
  // manifest's replica, the removal of replicas no reader holds.
  const int fd = ::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno(dir + ": open");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (flock(fd, LOCK_EX) != 0) return Errno(dir + ": flock");
  (void)RemoveKilledPulls(abs, [](const std::string& name) { return name.rfind(kCacheReplica, 0) == 0; });

  // The newest manifest's replica, pulled unless the cache has it. A
  // publish --keep may delete that snapshot between the LIST and the GETs
  // of its files: then the one that replaced it is read.
  OpenedBucket out;
  out.cache_dir = dir;
  std::string name, replica;
  Status gone = Status::Ok();  // the last pull's 404, of the replica `name`
  for (int replaced = 0;; ++replaced) {
    AETHER_ASSIGN_OR_RETURN(auto manifests, ListManifests(client.get()));
    if (manifests.empty()) return Status::NotFound(uri + ": no manifest (nothing published there)");
    // Named by sequence and ETag: a prefix published afresh (its sequence
    // starting again) never meets an older replica of the same number.
    std::string etag;
    for (char c : manifests.rbegin()->second.etag)
      if (std::isalnum(static_cast<unsigned char>(c)) && etag.size() < 32) etag += c;
    const std::string newest = fmt::format("{}{:020}-{}", kCacheReplica, manifests.rbegin()->first, etag);
    if (!gone.ok() && newest == name) return BucketLostObject(uri, out.sequence, gone.message());
    if (!gone.ok() && replaced > kReplacedRetries) return BucketReplacedTooOften(uri);
    out.sequence = manifests.rbegin()->first;
    name = newest;
    replica = abs + "/" + name;
    struct stat st;
    if (lstat((replica + "/" + kMarker).c_str(), &st) == 0) break;
    Result<PullReport> pulled = PullInto(uri, replica, s3, out.sequence, /*lazy_cold=*/true, /*lock_parent=*/false);
    if (pulled.ok()) {
      out.refreshed = true;
      out.bytes_pulled = pulled->bytes_fetched;
      break;
    }
    if (pulled.status().code() != Code::kNotFound) return pulled.status();
    gone = pulled.status();
  }
  out.replica_dir = replica;
  RemoveUnreadReplicas(abs, name);

  uint64_t have_sequence = 0;
  std::string source;
  bool exists = false;
  std::string cold_uri;
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> files,
                          ReplicaFiles(replica, replica, &have_sequence, &source, &exists, &cold_uri));
  std::map<std::string, BucketFile> remote;
  for (const FileEntry& f : files)
    if (f.path.rfind("cold/", 0) == 0)
      remote[replica + "/" + f.path] = BucketFile{f.bytes, f.sha256, UINT64_MAX, f.cold_tier};
  BucketEnv::Connect tier;
  if (!cold_uri.empty()) tier = [cold_uri, s3] { return Connect(cold_uri, s3); };
  auto env = std::make_shared<BucketEnv>(
      open.env ? open.env : Env::Default(), std::move(remote), abs + "/objects", cache.max_bytes,
      [uri, s3] { return Connect(uri, s3); }, std::move(tier));
  open.env = nullptr;
  open.shared_env = env;
  auto opened = Store::Open(replica, open);
  if (!opened.ok() && opened.status().code() == Code::kCorruption)
    return opened.status().WithMessage(opened.status().message() + " (in a bucket search's cache: remove " + dir +
                                       " and search again)");
  AETHER_ASSIGN_OR_RETURN(out.store, std::move(opened));
  // The store keeps the env; these counters must not (a weak reference).
  out.counters = [weak = std::weak_ptr<BucketEnv>(env), end = env->final_counters()] {
    const std::shared_ptr<BucketEnv> e = weak.lock();
    const BucketCounters c = e ? e->counters() : *end;
    return BucketReadCounters{c.shards_cached, c.shards_fetched, c.bytes_fetched, c.requests, c.evicted};
  };
  out.drop_damaged = [weak = std::weak_ptr<BucketEnv>(env)]() -> Result<uint64_t> {
    const std::shared_ptr<BucketEnv> e = weak.lock();
    if (!e) return uint64_t(0);
    return e->DropDamaged();
  };
  out.missing = [weak = std::weak_ptr<BucketEnv>(env)] {
    const std::shared_ptr<BucketEnv> e = weak.lock();
    return e ? e->Missing() : std::string();
  };
  return out;
}

}  // namespace aether
