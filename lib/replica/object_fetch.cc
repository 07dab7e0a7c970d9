#include "replica/object_fetch.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <thread>

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

namespace {

// The object's bytes into `file`: one GET, or its ranges by `parallel`
// threads (this one among them), each range taken in turn from a shared
// counter; the first error stops the rest from starting more.
Status FetchInto(File* file, S3ClientPool* pool, const std::string& key, uint64_t bytes, const ObjectFetchOptions& o) {
  if (bytes <= o.range_bytes)
    return pool->With([&](S3Client* c) -> Status {
      std::string data;
      AETHER_RETURN_IF_ERROR(c->Get(key, &data, bytes));  // a longer one is refused as it passes `bytes`
      return file->Write(0, data.data(), data.size());
    });
  const uint64_t ranges = (bytes + o.range_bytes - 1) / o.range_bytes;
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    Status s = pool->With([&](S3Client* c) -> Status {
      std::string data;
      for (uint64_t r; !failed.load() && (r = next.fetch_add(1)) < ranges;) {
        const uint64_t at = r * o.range_bytes, len = std::min(o.range_bytes, bytes - at);
        AETHER_RETURN_IF_ERROR(c->GetRange(key, at, len, &data));
        AETHER_RETURN_IF_ERROR(file->Write(at, data.data(), data.size()));
      }
      return Status::Ok();
    });
    if (!s.ok() && !failed.exchange(true)) {
      std::lock_guard<std::mutex> g(mu);
      first_error = s;
    }
  };
  std::vector<std::thread> helpers;
  const uint64_t threads = std::min<uint64_t>(ranges, uint64_t(std::max(1, o.parallel)));
  for (uint64_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  return failed.load() ? first_error : Status::Ok();
}

}  // namespace

Status FetchObject(Env* env, S3ClientPool* pool, const std::string& sha256, uint64_t bytes, const std::string& to,
                   const std::string& what, const ObjectFetchOptions& options, std::string* missing_uri) {
  const std::string key = "objects/" + sha256;
  const std::string tmp = TempNameFor(env, to);
  Status s = [&]() -> Status {
    AETHER_ASSIGN_OR_RETURN(auto file, env->Open(tmp, OpenMode::kCreateNew));
    Status got = FetchInto(file.get(), pool, key, bytes, options);
    // Not the manifest's object: longer than it says (refused as the body
    // passes its length) or shorter (a range past its end).
    if (got.code() == Code::kCorruption || got.code() == Code::kBadInput)
      return Status::Corruption(fmt::format("{}: not the manifest's {} bytes (for {})", got.message(), bytes, what));
    if (got.code() == Code::kNotFound) *missing_uri = pool->UriOf(key);
    AETHER_RETURN_IF_ERROR(got);
    // What is on disk is checked, not what was received: the ranges are
    // read back in order (from the page cache, as a rule).
    AETHER_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
    AETHER_ASSIGN_OR_RETURN(const std::string sha, Sha256OfFile(file.get(), size));
    if (size != bytes || sha != sha256)
      return Status::Corruption(fmt::format("{}: {} bytes with SHA-256 {}, the manifest says {} bytes with {} (for {})",
                                            pool->UriOf(key), size, sha, bytes, sha256, what));
    return file->Sync();  // a failed sync is fatal (a retried fsync may "succeed" without the data)
  }();
  if (s.ok()) s = env->Rename(tmp, to);
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);  // ours: created with O_EXCL above
    return s;
  }
  return env->SyncDir(DirOf(to));
}

}  // namespace aether
