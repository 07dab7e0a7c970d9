#pragma once
// The objects of a snapshot (objects/SHA256, format-spec/s3_snapshots.md):
// the digests `publish` compares with an object already in the bucket, and
// fetching one into a local file.
//
// A fetch is whole or nothing, in bounded memory: an object up to one
// range long in one GET; a larger one in ranged GETs (bytes=A-B) of
// `range_bytes`, several at once, each written at its offset of a new
// temporary beside the destination. The temporary is then read back and
// its length and SHA-256 checked against the manifest's, synced, and
// renamed to the destination. A fetch holds at most `parallel` ranges in
// memory, never the object (an answer longer than its range, as from a
// server that ignores Range, is refused as it passes the range's size).
//
// Used by `pull` (every file of a snapshot) and by a bucket search's cache
// (a cold shard when a search first opens it): a large staging shard, which
// every search probes, comes down in parallel streams.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aether/env.h"
#include "aether/status.h"

namespace aether {

class S3Client;
struct S3ClientOptions;

// S3 clients for requests run at once: a client is not thread-safe (each
// holds a connection), so each thread takes one of its own and gives it
// back; idle ones keep their connections for the next.
class S3ClientPool {
 public:
  using Connect = std::function<Result<std::unique_ptr<S3Client>>()>;
  explicit S3ClientPool(Connect connect);
  ~S3ClientPool();
  // Runs `fn` with a client no other thread uses meanwhile; its requests
  // (every attempt) are added to requests().
  Status With(const std::function<Status(S3Client*)>& fn);
  uint64_t requests() const;
  // s3://BUCKET/PREFIX/KEY, once a client was made ("" before).
  std::string UriOf(const std::string& key) const;

 private:
  Connect connect_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<S3Client>> idle_;
  uint64_t requests_ = 0;
  std::string base_uri_;  // UriOf("")
};

struct ObjectFetchOptions {
  uint64_t range_bytes = 8ull << 20;  // larger objects come in ranges of this size
  int parallel = 4;                   // ranges of one object fetched at once
};

// Writes the snapshot's object `sha256` (lower-case hex, `bytes` long) to
// `to` through `env` (the name replaced whole, its directory synced).
// `what` names the file it is for in messages. Errors: kNotFound only when
// the bucket has no such object (*missing_uri, when given, set to its URI);
// kCorruption when the bytes are not the manifest's (a longer object's
// first `bytes` bytes fetched in ranges are taken when they are); the
// client's errors; kIOError and the like for the local steps. On an error
// before the rename, nothing is left at `to` by this fetch and its
// temporary is removed; only the directory's sync comes after the rename.
Status FetchObject(Env* env, S3ClientPool* pool, const std::string& sha256, uint64_t bytes, const std::string& to,
                   const std::string& what, const ObjectFetchOptions& options, std::string* missing_uri);

// A snapshot file's size, SHA-256 (hex), and the ETags an upload of it by
// S3Client::PutFrom may have: the MD5 of the bytes (hex) for a single-part
// object; for a multipart one S3's (the MD5 of the parts' MD5s, "-", the
// part count) and s3rver's (the MD5 of the bytes). One read of the file, a
// part at a time.
struct FileDigests {
  uint64_t bytes = 0;
  std::string sha256;
  std::vector<std::string> etags;
};
Result<FileDigests> DigestFile(File* file, const S3ClientOptions& o);

// Whether `path`, a fetch's temporary (FetchObject's NAME.XXXXXXXXXXXXXXXX.tmp)
// last written `age_ms` ago, was left by a fetch that was killed: a regular
// file, untouched for kAbandonedAfterMs, whose flock (held by a live fetch
// from its creation to its rename) can be had at once.
constexpr int64_t kAbandonedAfterMs = 60 * 1000;
bool AbandonedTemporary(Env* env, const std::string& path, int64_t age_ms);

// Whether `name` is an object's name: 64 lower-case hexadecimal digits
// (a SHA-256), as under objects/ in a bucket and in a cache.
bool IsSha256Name(const std::string& name);

// The SHA-256 (lower-case hex) of the file's first `n` bytes, read a part
// at a time.
Result<std::string> Sha256OfFile(File* file, uint64_t n);

}  // namespace aether
