#pragma once
// The Env a store opened from a bucket reads through (aether/replica.h,
// OpenBucket): a replica directory in the local cache holds every file of
// a snapshot but its cold shards, which stay in the bucket until a command
// opens one. Then the whole object is fetched (bucket/snapshot_objects.h: one
// GET, or parallel ranged GETs for a large one; its size and SHA-256
// checked), kept under the cache's objects/ by its SHA-256, and
// read from there; the least recently opened objects go when the cache
// passes its size limit. Names, types and sizes of the shards not yet
// fetched are answered from the manifest, so the store sees every file.
//
// A store whose own cold tier is in a bucket (config cold_uri) reads its
// shards that are not on the local disk the same way; its writer
// (set_writer) gets a shard it opens to change back onto the local disk
// first (fetched, copied beside it, synced, renamed in: the same bytes its
// object holds, so nothing needs journaling), and its evictions tell the
// Env which shards left the disk (SetRemote).
//
// Thread-safe (scan workers open shards in parallel; each fetch uses its
// own S3 client from a pool, so several fetches run at once).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "aether/env.h"
#include "bucket/snapshot_objects.h"

namespace aether {

class S3Client;

// A file of the snapshot that stays in the bucket until opened.
struct BucketFile {
  uint64_t bytes = 0;
  std::string sha256;  // lower-case hex: the object objects/SHA256
  // The file's length as the Env answers it, when shorter than the object
  // (a store's shard cut since it was sent: its committed length); a file
  // brought back is cut to it. UINT64_MAX: `bytes`.
  uint64_t size = UINT64_MAX;
  uint64_t length() const { return size < bytes ? size : bytes; }
  // A replica's shard whose object is the publishing store's cold tier's
  // (the manifest's cold_uri), fetched through the Env's second connection.
  bool cold_tier = false;
};

struct BucketCounters {
  // Each shard once, however often it is opened: by where its first open
  // found it.
  uint64_t shards_cached = 0;
  uint64_t shards_fetched = 0;
  uint64_t bytes_fetched = 0;
  uint64_t requests = 0;
  uint64_t evicted = 0;  // objects removed to keep the cache under its limit
};

class BucketEnv : public EnvWrapper {
 public:
  using Connect = S3ClientPool::Connect;
  // `files`: by absolute path (replica_dir + "/" + the manifest's path).
  // `tier_connect`: the client of the cold tier a manifest names (for the
  // files marked cold_tier; none when it names none).
  BucketEnv(Env* target, std::map<std::string, BucketFile> files, std::string objects_dir, uint64_t cache_bytes,
            Connect connect, Connect tier_connect = nullptr);
  ~BucketEnv() override;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  // A remote file's name: forgotten (its object stays, for whoever names
  // it); any other: the target's.
  Status RemoveFile(const std::string& path) override;
  bool Exists(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;
  FileType TypeOf(const std::string& path) override;
  bool Writable(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<uint64_t> LinkCount(const std::string& path) override;
  // The objects of `paths` not in the cache, fetched now, `at_once` at a
  // time (a search's probed shards, before its scan opens them). From the
  // call on, this process never evicts any of them while it runs.
  Status Prefetch(const std::vector<std::string>& paths, size_t at_once) override;

  BucketCounters counters() const;

  // A writer's Env: a remote file opened to be written is brought onto the
  // local disk first (else such an open is refused).
  void set_writer(bool writer) { writer_ = writer; }
  // `path` (absolute) is now the object f, or no object's. Not while a
  // thread of this process opens files through the Env.
  void SetRemote(const std::string& path, const BucketFile& f);
  void Forget(const std::string& path);
  // A remote file's length is now `length` (its committed length after a
  // cut); nothing when it is not named.
  void SetLength(const std::string& path, uint64_t length);
  // Whether `path` is read from the bucket (named, and not on the local disk).
  bool IsRemote(const std::string& path) const { return Remote(path).has_value(); }
  // The object a remote file is read from (none: it is on the local disk,
  // or named by no object).
  std::optional<BucketFile> RemoteFile(const std::string& path) const { return Remote(path); }
  // Removes every object in the cache that `named` does not hold (objects
  // no shard names any more: a writer's collection, under the store's
  // exclusive lock). Returns how many went.
  uint64_t DropUnnamed(const std::set<std::string>& named);
  // Where the destructor leaves the counters as they were at the end
  // (after its last trim): for a report made once the store is closed.
  std::shared_ptr<const BucketCounters> final_counters() const { return final_; }

  // The cached objects this process opened, read again and checked against
  // their names (each is its content's SHA-256) and the manifest's sizes;
  // each damaged one is removed, so that the next open fetches it again.
  // Returns how many were removed: for a search that failed on damage,
  // none says the damage is elsewhere (the replica's own files). An object
  // found whole is not read again by a later call.
  Result<uint64_t> DropDamaged();

  // The first object a fetch found gone from the bucket (HTTP 404), as its
  // URI; "" when none was. A manifest never changes, so an object it names
  // is gone only when a publish --keep deleted the snapshot (a newer one
  // replaced it) or something else deleted it from the bucket.
  std::string Missing() const;

 private:
  std::optional<BucketFile> Remote(const std::string& path) const;
  // A writer's open of a remote file: its object copied to `path`.
  Status BringLocal(const std::string& path, const BucketFile& f);
  // The object's path in the cache, fetched first when it is not there.
  Result<std::string> Cached(const std::string& path, const BucketFile& f);
  void Evict();  // mu_ held

  mutable std::mutex files_mu_;  // files_ (scan workers look names up while a writer may not change them)
  std::map<std::string, BucketFile> files_;
  bool writer_ = false;
  std::string objects_dir_;
  uint64_t cache_bytes_;
  S3ClientPool pool_;
  S3ClientPool tier_pool_;              // BucketFile::cold_tier's objects
  mutable std::mutex mu_;               // the counters, eviction
  BucketCounters counters_;             // but requests: pool_'s and tier_pool_'s
  std::set<std::string> used_;          // the objects this process opened or is opening (by SHA-256)
  std::set<std::string> prefetched_;    // the objects a Prefetch was asked for (not evicted either)
  std::set<std::string> fetching_;      // the objects being looked up or fetched now
  std::set<std::string> verified_;      // found whole by DropDamaged (a fetch checks what it writes)
  std::set<std::string> found_cached_;  // counted in shards_cached (a fetch after damage moves it)
  std::condition_variable fetched_;     // one left fetching_
  std::string missing_;                 // Missing()
  std::shared_ptr<BucketCounters> final_ = std::make_shared<BucketCounters>();
};

}  // namespace aether
