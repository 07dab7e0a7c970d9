#include "bucket/snapshot_objects.h"

#include <fmt/format.h>

#include <algorithm>

#include "env/parallel.h"
#include "objstore/digest.h"
#include "objstore/s3_client.h"

namespace aether {

S3ClientPool::S3ClientPool(Connect connect) : connect_(std::move(connect)) {}

S3ClientPool::~S3ClientPool() = default;

Status S3ClientPool::With(const std::function<Status(S3Client*)>& fn) {
  std::unique_ptr<S3Client> client;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) {
    if (!connect_) return Status::Internal("an object of a bucket no connection was given for");
    AETHER_ASSIGN_OR_RETURN(client, connect_());
    std::lock_guard<std::mutex> g(mu_);
    base_uri_ = client->UriOf("");
  }
  const uint64_t before = client->counters().requests;
  Status s = fn(client.get());
  std::lock_guard<std::mutex> g(mu_);
  requests_ += client->counters().requests - before;
  idle_.push_back(std::move(client));
  return s;
}

uint64_t S3ClientPool::requests() const {
  std::lock_guard<std::mutex> g(mu_);
  return requests_;
}

std::string S3ClientPool::UriOf(const std::string& key) const {
  std::lock_guard<std::mutex> g(mu_);
  return base_uri_.empty() ? "" : base_uri_ + key;
}

bool AbandonedTemporary(Env* env, const std::string& path, int64_t age_ms) {
  if (age_ms < kAbandonedAfterMs || env->TypeOf(path) != FileType::kRegular) return false;
  auto lock = env->Lock(path, LockMode::kExclusive, 0);
  return lock.ok();  // released as it goes: the caller removes a name nobody writes
}

bool IsSha256Name(const std::string& name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<std::string> Sha256OfFile(File* file, uint64_t n) {
  Sha256Stream sha;
  std::vector<char> buf(size_t(std::min<uint64_t>(n, 4u << 20)));
  for (uint64_t at = 0; at < n;) {
    const size_t len = size_t(std::min<uint64_t>(buf.size(), n - at));
    AETHER_RETURN_IF_ERROR(file->Read(at, len, buf.data()));
    sha.Update(buf.data(), len);
    at += len;
  }
  return ToHex(sha.Final());
}

Result<FileDigests> DigestFile(File* file, const S3ClientOptions& o) {
  FileDigests d;
  AETHER_ASSIGN_OR_RETURN(d.bytes, file->Size());
  Sha256Stream sha;
  Md5Stream md5;
  std::string part_md5s, part;
  uint64_t parts = 0;
  for (uint64_t at = 0; at < d.bytes; at += o.part_bytes, ++parts) {
    part.resize(size_t(std::min(o.part_bytes, d.bytes - at)));
    AETHER_RETURN_IF_ERROR(file->Read(at, part.size(), part.data()));
    sha.Update(part.data(), part.size());
    md5.Update(part.data(), part.size());
    if (d.bytes > o.multipart_threshold) part_md5s += Md5(part);  // for a multipart upload's ETag
  }
  d.sha256 = ToHex(sha.Final());
  d.etags.push_back(ToHex(md5.Final()));
  if (d.bytes > o.multipart_threshold) d.etags.push_back(fmt::format("{}-{}", ToHex(Md5(part_md5s)), parts));
  return d;
}

namespace {

// A local step's error: a name gone from under the fetch (ENOENT) is an I/O
// error here, never kNotFound, which says the bucket lacks the object.
Status Local(Status s) { return s.code() == Code::kNotFound ? Status::IOError(s.message()) : s; }

// The object's bytes into the temporary `tmp` (`file`): one GET, or its
// ranges on up to `parallel` workers (ParallelFor), each with a client and
// a handle on the file of its own.
Status FetchInto(Env* env, const std::string& tmp, File* file, S3ClientPool* pool, const std::string& key,
                 uint64_t bytes, const ObjectFetchOptions& o) {
  if (bytes <= o.range_bytes)
    return pool->With([&](S3Client* c) -> Status {
      std::string data;
      AETHER_RETURN_IF_ERROR(c->Get(key, &data, bytes));  // a longer one is refused as it passes `bytes`
      return Local(file->Write(0, data.data(), data.size()));
    });
  const size_t ranges = size_t((bytes + o.range_bytes - 1) / o.range_bytes);
  const size_t threads = ThreadsFor(size_t(std::max(1, o.parallel)), ranges);
  std::vector<std::unique_ptr<File>> handles(threads);  // worker 0 writes through `file`
  return ParallelFor(ranges, threads, [&](size_t r, size_t w) -> Status {
    if (w > 0 && !handles[w]) {
      auto opened = env->Open(tmp, OpenMode::kReadWrite);
      AETHER_RETURN_IF_ERROR(Local(opened.status()));
      handles[w] = std::move(*opened);
    }
    File* out = w > 0 ? handles[w].get() : file;
    return pool->With([&](S3Client* c) -> Status {
      const uint64_t at = r * o.range_bytes, len = std::min(o.range_bytes, bytes - at);
      std::string data;
      AETHER_RETURN_IF_ERROR(c->GetRange(key, at, len, &data, /*max_body=*/len));
      return Local(out->Write(at, data.data(), data.size()));
    });
  });
}

}  // namespace

Status FetchObject(Env* env, S3ClientPool* pool, const std::string& sha256, uint64_t bytes, const std::string& to,
                   const std::string& what, const ObjectFetchOptions& options, std::string* missing_uri) {
  const std::string key = "objects/" + sha256;
  const std::string tmp = TempNameFor(env, to);
  std::unique_ptr<FileLock> writing;
  Status s = [&]() -> Status {
    auto created = env->Open(tmp, OpenMode::kCreateNew);
    AETHER_RETURN_IF_ERROR(Local(created.status()));
    std::unique_ptr<File> file = std::move(*created);
    // Held while this process writes it: a temporary whose flock another
    // can take was left by a killed fetch (AbandonedTemporary).
    auto held = env->Lock(tmp, LockMode::kExclusive, 0);
    AETHER_RETURN_IF_ERROR(Local(held.status()));
    writing = std::move(*held);
    Status got = FetchInto(env, tmp, file.get(), pool, key, bytes, options);
    // Not the manifest's object: longer than it says (refused as the body
    // passes its length) or shorter (a range past its end).
    if (got.code() == Code::kCorruption || got.code() == Code::kBadInput)
      return Status::Corruption(fmt::format("{}: not the manifest's {} bytes (for {})", got.message(), bytes, what));
    if (got.code() == Code::kNotFound && missing_uri) *missing_uri = pool->UriOf(key);
    AETHER_RETURN_IF_ERROR(got);
    // What is on disk is checked, not what was received: the ranges are
    // read back in order (from the page cache, as a rule).
    AETHER_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
    AETHER_ASSIGN_OR_RETURN(const std::string sha, Sha256OfFile(file.get(), size));
    if (size != bytes || sha != sha256)
      return Status::Corruption(fmt::format("{}: {} bytes with SHA-256 {}, the manifest says {} bytes with {} (for {})",
                                            pool->UriOf(key), size, sha, bytes, sha256, what));
    return Local(file->Sync());  // a failed sync is fatal (a retried fsync may "succeed" without the data)
  }();
  if (s.ok()) s = Local(env->Rename(tmp, to));
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);  // ours: created with O_EXCL above
    return s;
  }
  return Local(env->SyncDir(DirOf(to)));
}

}  // namespace aether
