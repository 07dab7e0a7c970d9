#include "bucket/cache_counters.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "format/coding.h"
#include "format/crc32c.h"

namespace aether {
namespace {

constexpr char kMagic[8] = {'A', 'E', 'T', 'H', 'C', 'C', 'N', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kCrcAt = 72;  // the masked CRC-32C of bytes [0, 72)

Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

// Reads the record at offset 0, and a byte past it when the file is longer
// (which Decode then refuses, as it does a short one).
std::string ReadRecord(int fd) {
  std::string bytes(kCacheCountersBytes + 1, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = pread(fd, bytes.data() + got, bytes.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  bytes.resize(got);
  return bytes;
}

// An open that failed: a link (never followed) and a socket said plainly.
Status OpenError(const std::string& path) {
  if (errno == ELOOP) return Status::FailedPrecondition(path + ": a symbolic link (not followed; left as it is)");
  if (errno == ENXIO) return Status::FailedPrecondition(path + ": not a regular file (left as it is)");
  return Errno(path + ": open");
}

// The counters file opened with `flags` (never through a link, never
// waiting on a FIFO) and found to be a regular file of one name (not a
// hard link to another's file); closed with the object. kNotFound when it
// is missing.
struct CountersFile {
  int fd = -1;
  struct stat st {};
  ~CountersFile() {
    if (fd >= 0) close(fd);
  }
};
Status OpenCounters(const std::string& path, int flags, CountersFile* f) {
  f->fd = open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (f->fd < 0 && errno == ENOENT) return Status::NotFound(path + ": missing");
  if (f->fd < 0) return OpenError(path);
  if (fstat(f->fd, &f->st) != 0) return Errno(path + ": fstat");
  if (!S_ISREG(f->st.st_mode))
    return Status::FailedPrecondition(path + ": not a regular file (left as it is; no totals are kept while it is)");
  if (f->st.st_nlink != 1)
    return Status::FailedPrecondition(path +
                                      ": has other names (hard links; left as it is, no totals kept while it has)");
  return Status::Ok();
}

// A flock of `fd` (LOCK_EX or LOCK_SH), waiting a second at most: the
// holders hold it for one read and write of 80 bytes.
Status LockBriefly(int fd, int how, const std::string& path) {
  for (int i = 0; i < 100; ++i) {
    if (flock(fd, how | LOCK_NB) == 0) return Status::Ok();
    if (errno != EWOULDBLOCK && errno != EINTR) return Errno(path + ": flock");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Busy(path + ": another process held it for a second");
}

}  // namespace

std::string EncodeBucketCacheTotals(const BucketCacheTotals& t) {
  std::string out(kMagic, sizeof(kMagic));
  PutFixed32(&out, kVersion);
  PutFixed32(&out, 0);
  PutFixed64(&out, uint64_t(t.since_ms));
  for (uint64_t v : {t.opens, t.shards_cached, t.shards_fetched, t.bytes_fetched, t.requests, t.evicted})
    PutFixed64(&out, v);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out.data(), out.size())));
  PutFixed32(&out, 0);
  return out;
}

bool DecodeBucketCacheTotals(const std::string& bytes, BucketCacheTotals* t) {
  if (bytes.size() != kCacheCountersBytes || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (DecodeFixed32(p + 8) != kVersion || DecodeFixed32(p + 12) != 0 || DecodeFixed32(p + 76) != 0) return false;
  if (crc32c::Unmask(DecodeFixed32(p + kCrcAt)) != crc32c::Value(p, kCrcAt)) return false;
  t->since_ms = int64_t(DecodeFixed64(p + 16));
  uint64_t* fields[] = {&t->opens, &t->shards_cached, &t->shards_fetched, &t->bytes_fetched, &t->requests, &t->evicted};
  for (size_t i = 0; i < 6; ++i) *fields[i] = DecodeFixed64(p + 24 + 8 * i);
  return true;
}

Status AddBucketCacheTotals(const std::string& cache_dir, const BucketCacheTotals& delta, int64_t now_ms) {
  const std::string path = cache_dir + "/" + kCacheCountersFile;
  CountersFile file;
  AETHER_RETURN_IF_ERROR(OpenCounters(path, O_RDWR | O_CREAT, &file));
  const int fd = file.fd;
  AETHER_RETURN_IF_ERROR(LockBriefly(fd, LOCK_EX, path));
  BucketCacheTotals t;
  if (!DecodeBucketCacheTotals(ReadRecord(fd), &t)) t = BucketCacheTotals{now_ms};
  // Saturating: a total at its limit stays there rather than wrap to 0.
  auto add = [](uint64_t* total, uint64_t d) { *total = *total > UINT64_MAX - d ? UINT64_MAX : *total + d; };
  add(&t.opens, delta.opens);
  add(&t.shards_cached, delta.shards_cached);
  add(&t.shards_fetched, delta.shards_fetched);
  add(&t.bytes_fetched, delta.bytes_fetched);
  add(&t.requests, delta.requests);
  add(&t.evicted, delta.evicted);
  const std::string bytes = EncodeBucketCacheTotals(t);
  if (pwrite(fd, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size())) return Errno(path + ": write");
  if (file.st.st_size > off_t(bytes.size()) && ftruncate(fd, off_t(bytes.size())) != 0)
    return Errno(path + ": truncate");
  return Status::Ok();  // (the flock goes with the descriptor)
}

Result<BucketCacheTotals> ReadBucketCacheTotals(const std::string& cache_dir) {
  const std::string path = cache_dir + "/" + kCacheCountersFile;
  CountersFile file;
  const Status opened = OpenCounters(path, O_RDONLY, &file);
  if (opened.code() == Code::kNotFound) return BucketCacheTotals{};
  AETHER_RETURN_IF_ERROR(opened);
  AETHER_RETURN_IF_ERROR(LockBriefly(file.fd, LOCK_SH, path));  // never half of an add
  const std::string bytes = ReadRecord(file.fd);
  BucketCacheTotals t;
  if (bytes.empty()) return t;  // made by an add that has not written yet
  if (!DecodeBucketCacheTotals(bytes, &t))
    return Status::Corruption(fmt::format(
        "{}: not a counters record of {} bytes (damaged; the totals start again when this command closes the cache)",
        path, kCacheCountersBytes));
  return t;
}

}  // namespace aether
