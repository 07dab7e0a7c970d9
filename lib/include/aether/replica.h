#pragma once
// Snapshots of a store in an S3 bucket, and read replicas made from them
// (format-spec/s3_snapshots.md).
//
// Publish takes a consistent snapshot of a live store (Store::Backup, its
// shards and centroids hard-linked from the store, so it costs little
// disk) and uploads it under s3://BUCKET/PREFIX: every file as an object
// named by its SHA-256 (objects/SHA256: written once, never overwritten;
// one already in the bucket is not sent again), then a manifest naming
// them (manifests/SEQUENCE.json, one more than the highest there). The
// manifest goes last: a publish cut short leaves the bucket's newest
// manifest as it was, plus objects no manifest names yet.
//
// Pull makes or refreshes a replica directory from the newest manifest (or
// a given one): a store like any other, for every read command. Each object
// fetched is checked against its size and SHA-256; a file the replica
// already holds with the same SHA-256 is kept rather than fetched. Pulls
// into one parent directory take turns (a flock on it). The new replica is
// built in a hidden sibling directory and swapped in whole (renameat2
// RENAME_EXCHANGE): a failed or killed pull leaves the old one; a search
// running across the swap may fail (README), to be retried.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "aether/env.h"
#include "aether/status.h"
#include "aether/store.h"

namespace aether {

struct PublishReport {
  std::string manifest;  // s3://BUCKET/PREFIX/manifests/SEQUENCE.json
  uint64_t sequence = 0;
  bool unchanged = false;  // the newest manifest already names this snapshot: none written
  uint64_t memories = 0;
  uint64_t files = 0, bytes = 0;  // the snapshot
  uint64_t objects_uploaded = 0, bytes_uploaded = 0;
  uint64_t objects_present = 0;  // already in the bucket: not sent
  // Shards in the store's own cold tier (a bucket): named by the manifest
  // there, not sent (counted in files and bytes).
  uint64_t objects_in_cold_tier = 0;
  // PublishOptions::keep: what was deleted, and why it stopped ("" when it
  // did not; the publish itself is done either way).
  uint64_t manifests_removed = 0, objects_removed = 0, bytes_removed = 0;
  std::string collect_error;
  std::string store_id;  // Store::Id, the manifest's `store`
  // PublishOptions::take_over: the store whose snapshot was the newest
  // there ("" when it was this store's, or a manifest without a store).
  std::string took_over_from;
};

// Publishes of one store take turns: two at once would write the same
// sequence, and one's --keep would delete objects the other is about to
// name. A turn is an exclusive flock(2) on the store's directory, held
// while this object lives (a store whose cold tier is in a bucket takes it
// too, without waiting, to collect: so that no object a snapshot names
// goes before its manifest is there). Take it before opening the store (Publish
// takes one itself otherwise, with the store open: a writer would then
// wait while it waits).
class PublishTurn {
 private:
  friend Result<PublishTurn> TakePublishTurn(const std::string& store_path, double wait_seconds);
  std::unique_ptr<FileLock> lock_;  // Env::Lock on the store's directory
};
// kBusy after `wait_seconds` while another process holds the turn.
Result<PublishTurn> TakePublishTurn(const std::string& store_path, double wait_seconds);

struct PublishOptions {
  // 0: every manifest stays. N: after the publish, the manifests older than
  // the newest N are deleted, then the objects none of those N names (the
  // objects of deleted snapshots, and of publishes killed before their
  // manifest). A reader still on a deleted snapshot fails clearly (404)
  // and reads a newer one when run again.
  uint64_t keep = 0;
  // The caller's turn (TakePublishTurn), or none: Publish takes one,
  // kBusy after wait_seconds.
  const PublishTurn* turn = nullptr;
  double wait_seconds = 5.0;
  // A prefix holds one store's snapshots: when the newest manifest there
  // names another store, publish stops (kAlreadyExists) before it sends
  // anything, unless this is set; then this store's snapshot becomes the
  // newest, and what follows the prefix (pull, search s3://) follows this
  // store from then on.
  bool take_over = false;
};

// kInvalidArgument, naming what is wrong, unless uri is s3://BUCKET[/PREFIX]
// with a valid bucket name.
Status CheckS3Uri(const std::string& uri);

// `store` opened for writing (a backup's lock), at `store_path`. It is
// closed once the snapshot is taken: writers wait for the snapshot only,
// not for the upload.
Result<PublishReport> Publish(std::unique_ptr<Store> store, const std::string& store_path, const std::string& uri,
                              const S3Options& s3, const PublishOptions& options = {});

struct PullReport {
  std::string manifest;
  uint64_t sequence = 0;
  bool up_to_date = false;  // the replica already was that manifest: nothing changed
  uint64_t files = 0, bytes = 0;
  uint64_t objects_fetched = 0, bytes_fetched = 0;
  uint64_t files_kept = 0;  // the replica's own, unchanged (shards and centroids linked, the rest copied)
  // The old replica's hidden directory when it held something a pull did
  // not make (left there, with that, to look at); empty when it is gone.
  std::string left_behind;
  // Staging directories killed pulls left beside DIR that hold files a
  // pull did not make: emptied of what it made, left there with those.
  std::vector<std::string> killed_kept;
};

// What a reader of the newest snapshot says when the bucket lacks an object
// that manifest names (kCorruption: deleted by hand, or by the --keep of
// another store publishing to the prefix; a publish mends it), `what` being
// the failed GET; and when --keep deleted each of kReplacedRetries + 1
// snapshots under it in turn (kBusy: read again later).
Status BucketLostObject(const std::string& uri, uint64_t sequence, const std::string& what);
Status BucketReplacedTooOften(const std::string& uri);
constexpr int kReplacedRetries = 5;

// `sequence` 0: the newest manifest (when a publish --keep deletes it
// between the LIST that names it and the GETs of its files, the one that
// replaced it is pulled instead). `dir` is created, or must be a replica
// an earlier pull made (its replica.json); any other directory is refused
// and left alone.
Result<PullReport> Pull(const std::string& uri, const std::string& dir, const S3Options& s3, uint64_t sequence = 0);

// Reading a store straight from a bucket (`aether search s3://...`): the
// newest snapshot, with only a cache on local disk. Each open LISTs the
// manifests (and again when a publish --keep deletes the newest while it
// is pulled: the one that replaced it is read); a new one gets its replica
// in the cache (its small files: meta.db, hot.slots, the centroids;
// replicas of older manifests that no process reads are removed). The cold
// shards stay in the bucket until a search opens one, which is then fetched
// whole (one GET, or ranges of 8 MiB at once for a large one; size and
// SHA-256 checked) into the cache's objects/ and read from there; the least
// recently opened go first when the cache passes max_bytes. README
// "Searching a bucket" has the cost model; format-spec/s3_snapshots.md the
// cache's layout.
struct BucketCacheOptions {
  // "": ${XDG_CACHE_HOME:-$HOME/.cache}/aether/s3/BUCKET-H (H: 16 hex digits
  // of the URI's SHA-256), made with its parents when missing; a directory
  // given here is made when missing, but not its parents (kNotFound).
  std::string dir;
  uint64_t max_bytes = uint64_t(1) << 30;  // the shards kept (--cache-bytes)
};
struct BucketReadCounters {
  uint64_t shards_cached = 0;   // shards opened, found in the cache (each once)
  uint64_t shards_fetched = 0;  // shards opened, fetched (each once)
  uint64_t bytes_fetched = 0;
  uint64_t requests = 0;  // GETs of shards, retries included
  uint64_t evicted = 0;   // objects removed to keep the cache under max_bytes
};
// The running totals of a bucket search's cache directory, over every
// process that read the bucket through it (CACHE/counters;
// format-spec/s3_snapshots.md): what `stats s3://BUCKET/PREFIX` shows.
struct BucketCacheTotals {
  int64_t since_ms = 0;         // when these totals began (0: none yet)
  uint64_t opens = 0;           // stores opened through the cache (bucket commands, and their re-opens)
  uint64_t shards_cached = 0;   // cold shards each first found in the cache
  uint64_t shards_fetched = 0;  // cold shards each fetched from the bucket
  uint64_t bytes_fetched = 0;
  uint64_t requests = 0;  // GETs of shard objects, retries included
  uint64_t evicted = 0;   // objects removed to keep the cache under its limit
};

// The totals so far: all zero when the file is missing; kCorruption naming
// it when it is damaged (the next add starts it again).
Result<BucketCacheTotals> ReadBucketCacheTotals(const std::string& cache_dir);

struct OpenedBucket {
  std::unique_ptr<Store> store;  // read-only
  uint64_t sequence = 0;         // the manifest it is
  bool refreshed = false;        // the cache's replica moved to it now
  uint64_t bytes_pulled = 0;     // small files fetched to do so
  std::string cache_dir;
  std::string replica_dir;                       // the store's directory in it
  std::function<BucketReadCounters()> counters;  // so far; once the store is closed, all of them
  // After a search failed on damage (kCorruption): the cached shards it
  // opened are checked against their SHA-256 and the damaged ones removed,
  // so that the search, run again, fetches them afresh. How many were
  // removed (0: the damage is not in a cached shard; 0 too once the store
  // is closed).
  std::function<Result<uint64_t>()> drop_damaged;
  // After a search failed: the first shard object the bucket no longer had
  // (HTTP 404), as its URI; "" when none was missing. A manifest never
  // changes, so the snapshot was deleted (publish --keep on the writer,
  // once a newer one replaced it: open the bucket again to read that) or
  // the bucket lost an object ("" too once the store is closed).
  std::function<std::string()> missing;
};
// open.access must be kRead.
Result<OpenedBucket> OpenBucket(const std::string& uri, const S3Options& s3, const BucketCacheOptions& cache,
                                OpenOptions open);

}  // namespace aether
