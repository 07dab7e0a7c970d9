#include "bucket/bucket_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "bucket/cache_counters.h"
#include "env/parallel.h"
#include "objstore/digest.h"

namespace aether {
namespace {

namespace fs = std::filesystem;

// A remote file as the store sees it: the cached object, read-only, no
// longer than the file's length (a shard cut since it was sent).
class CutFile : public File {
 public:
  CutFile(std::unique_ptr<File> object, uint64_t length) : object_(std::move(object)), length_(length) {}
  const std::string& path() const override { return object_->path(); }
  Status Read(uint64_t offset, size_t n, void* out) override {
    // The cached object may be longer (what was cut since was sent): its
    // bytes past the file's length are not the file's.
    if (n > 0 && (offset >= length_ || n > length_ - offset))
      return Status::Corruption(fmt::format("{}: unexpected end of file at offset {}", path(), length_));
    return object_->Read(offset, n, out);
  }
  Status Write(uint64_t, const void*, size_t) override { return Refused(); }
  Status Sync() override { return Refused(); }
  Status Truncate(uint64_t) override { return Refused(); }
  Result<uint64_t> Size() override {
    AETHER_ASSIGN_OR_RETURN(uint64_t size, object_->Size());
    return std::min(size, length_);
  }

 private:
  Status Refused() const { return Status::PermissionDenied(path() + ": a cached object is never written"); }
  std::unique_ptr<File> object_;
  uint64_t length_;
};

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

BucketEnv::BucketEnv(Env* target, std::map<std::string, BucketFile> files, std::string objects_dir,
                     uint64_t cache_bytes, Connect connect, Connect tier_connect)
    : EnvWrapper(target),
      files_(std::move(files)),
      objects_dir_(std::move(objects_dir)),
      cache_bytes_(cache_bytes),
      pool_(std::move(connect)),
      tier_pool_(std::move(tier_connect)) {}

// The command is done with its objects: the cache goes back under its limit
// (best effort: a cache that cannot be trimmed now is trimmed by the next).
// Then its figures go into the cache's running totals (best effort too).
BucketEnv::~BucketEnv() {
  std::lock_guard<std::mutex> g(mu_);
  used_.clear();
  prefetched_.clear();
  Evict();
  counters_.requests = pool_.requests() + tier_pool_.requests();
  const BucketCounters& c = *final_ = counters_;
  (void)AddBucketCacheTotals(
      Parent(objects_dir_),
      BucketCacheTotals{0, 1, c.shards_cached, c.shards_fetched, c.bytes_fetched, c.requests, c.evicted},
      target()->NowMs());
}

std::optional<BucketFile> BucketEnv::Remote(const std::string& path) const {
  std::optional<BucketFile> f;
  {
    std::lock_guard<std::mutex> g(files_mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return f;
    f = it->second;
  }
  // A file on the local disk is its own (a replica's: none of the shards;
  // a store's: a shard not evicted, or brought back to be written).
  if (target()->TypeOf(path) != FileType::kMissing) f.reset();
  return f;
}

void BucketEnv::SetRemote(const std::string& path, const BucketFile& f) {
  std::lock_guard<std::mutex> g(files_mu_);
  files_[path] = f;
}

void BucketEnv::SetLength(const std::string& path, uint64_t length) {
  std::lock_guard<std::mutex> g(files_mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.size = length;
}

void BucketEnv::Forget(const std::string& path) {
  std::lock_guard<std::mutex> g(files_mu_);
  files_.erase(path);
}

Status BucketEnv::RemoveFile(const std::string& path) {
  if (!Remote(path)) AETHER_RETURN_IF_ERROR(target()->RemoveFile(path));
  Forget(path);  // a file brought back and removed: no object names it any more
  return Status::Ok();
}

// The object, fetched into the cache when it is not there, copied to a
// temporary beside `path`, synced and renamed to it; the directory synced.
Status BucketEnv::BringLocal(const std::string& path, const BucketFile& f) {
  // The cached copy is checked whole as it is copied (its SHA-256): a
  // damaged one goes, and the object is fetched again (a few times). Only
  // the file's length is copied (past it: a cut committed since it was sent).
  for (int attempt = 0;; ++attempt) {
    AETHER_ASSIGN_OR_RETURN(std::string cached, Cached(path, f));
    auto opened = target()->Open(cached, OpenMode::kRead);
    // Evicted by another process's trim between the fetch and the open:
    // fetched again.
    if (!opened.ok() && opened.status().code() == Code::kNotFound && attempt < 3) continue;
    AETHER_RETURN_IF_ERROR(opened.status());
    std::unique_ptr<File> from = std::move(*opened);
    const std::string tmp = TempNameFor(target(), path);
    bool damaged = false;
    Status s = [&]() -> Status {
      AETHER_ASSIGN_OR_RETURN(auto to, target()->Open(tmp, OpenMode::kCreateNew));
      Sha256Stream sha;
      std::string buf;
      for (uint64_t at = 0; at < f.bytes;) {
        const size_t n = size_t(std::min<uint64_t>(f.bytes - at, 1u << 20));
        buf.resize(n);
        AETHER_RETURN_IF_ERROR(from->Read(at, n, buf.data()));
        sha.Update(buf.data(), n);
        if (at < f.length())
          AETHER_RETURN_IF_ERROR(to->Write(at, buf.data(), size_t(std::min<uint64_t>(n, f.length() - at))));
        at += n;
      }
      if (ToHex(sha.Final()) != f.sha256) {
        damaged = true;
        return Status::Corruption(cached + ": not the bytes of its object (SHA-256 differs)");
      }
      AETHER_RETURN_IF_ERROR(to->Sync());  // a failed sync is fatal
      return target()->Rename(tmp, path);
    }();
    if (s.ok()) return target()->SyncDir(Parent(path));
    (void)target()->RemoveFile(tmp);
    if (!damaged || attempt > 2) return s;
    AETHER_RETURN_IF_ERROR(target()->RemoveFile(cached));
  }
}

Result<std::unique_ptr<File>> BucketEnv::Open(const std::string& path, OpenMode mode) {
  const std::optional<BucketFile> f = Remote(path);
  if (!f) return target()->Open(path, mode);
  if (mode != OpenMode::kRead) {
    if (!writer_)
      return Status::PermissionDenied(path + ": a store read from a bucket is read-only (publish from the writer)");
    AETHER_RETURN_IF_ERROR(BringLocal(path, *f));
    return target()->Open(path, mode);
  }
  // Another process may evict the object between the fetch and the open:
  // then it is fetched again (a few times).
  for (int attempt = 0;; ++attempt) {
    AETHER_ASSIGN_OR_RETURN(std::string cached, Cached(path, *f));
    auto file = target()->Open(cached, OpenMode::kRead);
    if (file.ok() && f->length() < f->bytes)
      return std::unique_ptr<File>(std::make_unique<CutFile>(std::move(*file), f->length()));
    if (file.ok() || file.status().code() != Code::kNotFound || attempt == 3) return file;
  }
}

Status BucketEnv::Prefetch(const std::vector<std::string>& paths, size_t at_once) {
  std::vector<std::pair<const std::string*, BucketFile>> wanted;
  std::set<std::string> seen;  // an object once, whatever names it
  for (const std::string& path : paths)
    if (std::optional<BucketFile> f = Remote(path); f && seen.insert(f->sha256).second) wanted.emplace_back(&path, *f);
  {
    // Not evicted by this process's trims after each fetch, before the
    // scan (or this prefetch) comes to them.
    std::lock_guard<std::mutex> g(mu_);
    prefetched_.insert(seen.begin(), seen.end());
  }
  return ParallelFor(wanted.size(), ThreadsFor(at_once, wanted.size()),
                     [&](size_t i, size_t) -> Status { return Cached(*wanted[i].first, wanted[i].second).status(); });
}

Result<std::string> BucketEnv::Cached(const std::string& path, const BucketFile& f) {
  const std::string cached = objects_dir_ + "/" + f.sha256;
  bool first = false;  // this process's first open of the object: counted
  {
    // From now on this process never evicts it (Evict skips what it uses).
    // One fetch of an object at a time: a second opener waits for it.
    std::unique_lock<std::mutex> g(mu_);
    first = used_.insert(f.sha256).second;
    fetched_.wait(g, [&] { return !fetching_.count(f.sha256); });
    fetching_.insert(f.sha256);
  }
  struct Done {
    BucketEnv* env;
    const std::string& sha;
    ~Done() {
      {
        std::lock_guard<std::mutex> g(env->mu_);
        env->fetching_.erase(sha);
      }
      env->fetched_.notify_all();
    }
  } done{this, f.sha256};
  if (target()->TypeOf(cached) == FileType::kRegular) {
    auto size = target()->FileSize(cached);
    if (size.ok() && *size == f.bytes) {
      std::error_code ec;  // the LRU clock: when it was last opened (best effort)
      fs::last_write_time(cached, fs::file_time_type::clock::now(), ec);
      std::lock_guard<std::mutex> g(mu_);
      if (first) {
        ++counters_.shards_cached;
        found_cached_.insert(f.sha256);
      }
      return cached;
    }
  }
  std::string missing;
  // Named in messages as the snapshot names it (cold/...), not by the
  // replica's path, where it never is.
  const size_t cold = path.rfind("/cold/");
  const std::string what = cold == std::string::npos ? path : path.substr(cold + 1);
  Status got = FetchObject(target(), f.cold_tier ? &tier_pool_ : &pool_, f.sha256, f.bytes, cached, what,
                           ObjectFetchOptions(), &missing);
  std::lock_guard<std::mutex> g(mu_);
  if (!missing.empty() && missing_.empty()) missing_ = missing;
  AETHER_RETURN_IF_ERROR(got);
  verified_.insert(f.sha256);  // checked before it was written
  // Counted where its first open found it, unless that copy was then found
  // damaged and this is its fetch: then it was not a hit.
  const bool was_hit = !first && found_cached_.erase(f.sha256) > 0;
  if (was_hit) --counters_.shards_cached;
  if (first || was_hit) ++counters_.shards_fetched;
  counters_.bytes_fetched += f.bytes;
  Evict();
  return cached;
}

// Least recently opened first, until the cache holds at most cache_bytes_;
// never an object this process uses (its search needs them all, so while
// it runs the cache may pass the limit by those; the destructor trims it).
// Objects of another process's replica share the directory and the limit.
void BucketEnv::Evict() {
  struct Entry {
    fs::file_time_type when;
    uint64_t bytes;
    std::string path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  auto hex = [](const std::string& s) { return s.find_first_not_of("0123456789abcdef") == std::string::npos; };
  for (const auto& e : fs::directory_iterator(objects_dir_, ec)) {
    std::error_code ec2;
    const std::string name = e.path().filename().string();
    // A killed fetch's temporary (SHA256.XXXXXXXXXXXXXXXX.tmp) goes once
    // nobody writes it.
    if (name.size() == 85 && hex(name.substr(0, 64)) && name[64] == '.' && hex(name.substr(65, 16)) &&
        name.compare(81, 4, ".tmp") == 0) {
      const auto written = e.last_write_time(ec2);
      const int64_t age_ms = ec2 ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(now - written).count();
      if (AbandonedTemporary(target(), e.path().string(), age_ms)) (void)target()->RemoveFile(e.path().string());
      continue;
    }
    // Objects only: 64 lower-case hex digits, a regular file (a link is not
    // followed); anything else stays.
    if (!IsSha256Name(name) || !fs::is_regular_file(e.symlink_status(ec2))) continue;
    const uint64_t bytes = e.file_size(ec2);
    if (ec2) continue;
    entries.push_back({e.last_write_time(ec2), bytes, e.path().string()});
    total += bytes;
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.when < b.when; });
  for (const Entry& e : entries) {
    if (total <= cache_bytes_) break;
    const std::string sha = e.path.substr(e.path.size() - 64);
    if (used_.count(sha) || prefetched_.count(sha)) continue;
    if (target()->RemoveFile(e.path).ok()) {
      total -= e.bytes;
      ++counters_.evicted;
    }
  }
}

uint64_t BucketEnv::DropUnnamed(const std::set<std::string>& named) {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t dropped = 0;
  std::error_code ec;
  std::vector<std::string> gone;
  for (const auto& e : fs::directory_iterator(objects_dir_, ec)) {
    const std::string name = e.path().filename().string();
    std::error_code ec2;
    if (!IsSha256Name(name) || !fs::is_regular_file(e.symlink_status(ec2)) || named.count(name)) continue;
    gone.push_back(name);
  }
  for (const std::string& name : gone)
    if (target()->RemoveFile(objects_dir_ + "/" + name).ok()) {
      used_.erase(name);
      prefetched_.erase(name);
      verified_.erase(name);
      ++dropped;
    }
  return dropped;
}

std::string BucketEnv::Missing() const {
  std::lock_guard<std::mutex> g(mu_);
  return missing_;
}

bool BucketEnv::Exists(const std::string& path) { return Remote(path) || target()->Exists(path); }

bool BucketEnv::IsDirectory(const std::string& path) { return !Remote(path) && target()->IsDirectory(path); }

FileType BucketEnv::TypeOf(const std::string& path) {
  return Remote(path) ? FileType::kRegular : target()->TypeOf(path);
}

bool BucketEnv::Writable(const std::string& path) { return !Remote(path) && target()->Writable(path); }

Result<std::vector<std::string>> BucketEnv::ListDir(const std::string& dir) {
  AETHER_ASSIGN_OR_RETURN(std::vector<std::string> names, target()->ListDir(dir));
  std::set<std::string> have(names.begin(), names.end());
  std::vector<std::string> named;
  {
    std::lock_guard<std::mutex> g(files_mu_);
    for (const auto& [path, f] : files_)
      if (Parent(path) == dir) named.push_back(path);
  }
  for (const std::string& path : named)
    if (Remote(path)) {
      const std::string name = path.substr(dir.size() + 1);
      if (have.insert(name).second) names.push_back(name);
    }
  return names;
}

Result<uint64_t> BucketEnv::FileSize(const std::string& path) {
  if (std::optional<BucketFile> f = Remote(path)) return f->length();
  return target()->FileSize(path);
}

Result<uint64_t> BucketEnv::LinkCount(const std::string& path) {
  if (Remote(path)) return uint64_t(1);
  return target()->LinkCount(path);
}

Result<uint64_t> BucketEnv::DropDamaged() {
  std::map<std::string, uint64_t> bytes_of;  // by SHA-256: the used ones not yet found whole
  {
    std::lock_guard<std::mutex> g(mu_);
    std::lock_guard<std::mutex> g2(files_mu_);
    for (const auto& [path, f] : files_)
      if (used_.count(f.sha256) && !verified_.count(f.sha256)) bytes_of[f.sha256] = f.bytes;
  }
  uint64_t dropped = 0;
  for (const auto& [sha, bytes] : bytes_of) {
    const std::string cached = objects_dir_ + "/" + sha;
    if (target()->TypeOf(cached) != FileType::kRegular) continue;  // gone, or not ours (a link is never read)
    auto file = target()->Open(cached, OpenMode::kRead);
    if (!file.ok() && file.status().code() == Code::kNotFound) continue;  // evicted by another process meanwhile
    AETHER_RETURN_IF_ERROR(file.status());
    AETHER_ASSIGN_OR_RETURN(const uint64_t size, (*file)->Size());
    AETHER_ASSIGN_OR_RETURN(const std::string got, Sha256OfFile(file->get(), size));
    if (size == bytes && got == sha) {
      std::lock_guard<std::mutex> g(mu_);
      verified_.insert(sha);  // not read again by a later round
      continue;
    }
    AETHER_RETURN_IF_ERROR(target()->RemoveFile(cached));
    ++dropped;
  }
  return dropped;
}

BucketCounters BucketEnv::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  BucketCounters c = counters_;
  c.requests = pool_.requests() + tier_pool_.requests();
  return c;
}

}  // namespace aether
