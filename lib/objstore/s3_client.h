#pragma once
// A client for one bucket prefix of an S3-compatible object store: put,
// get (whole or a byte range), head, list and delete, over libcurl with its
// AWS Signature V4 (CURLOPT_AWS_SIGV4; nothing hand-rolled).
//
// Integrity: every upload carries Content-MD5 (the store refuses a body
// that does not match it) and the SHA-256 of its body in the signed
// x-amz-content-sha256; a download is checked against the length the
// response declares and the range asked for. Large objects go up in parts
// (multipart upload), each checked the same way; an upload that fails is
// aborted (best effort: an upload whose start was retried after a lost
// answer, or whose abort fails, stays until the bucket's lifecycle rule
// for incomplete uploads removes it).
//
// Retries: a request that fails in a way that may pass (no connection, a
// timeout or stall, a reset, a truncated body, HTTP 408, 429, 500, 502,
// 503, 504) is repeated after an exponential backoff with full jitter, up
// to `attempts` times; every other answer is final. Errors name the object
// (s3://BUCKET/KEY), the operation and the store's own code and message:
// kNotFound (no such key or bucket), kPermissionDenied (403), kIOError
// (unreachable or failing after every attempt; a refused request).
//
// Not thread-safe: one client per thread (each holds a connection).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aether/status.h"
#include "objstore/s3_settings.h"

namespace aether {

struct S3ClientOptions {
  int attempts = 5;                            // tries of one request, the first included
  int base_delay_ms = 50;                      // the first backoff's upper bound; doubles each time
  int max_delay_ms = 5000;                     // the cap of one backoff
  int connect_timeout_ms = 5000;               // to open a connection
  int stall_seconds = 15;                      // a transfer under 1 KiB/s this long is cut (and retried)
  uint64_t part_bytes = 8ull << 20;            // multipart part size (S3: at least 5 MiB)
  uint64_t multipart_threshold = 16ull << 20;  // larger objects go up in parts
  int list_page = 1000;                        // keys per ListObjectsV2 page
};

// What HEAD says of an object.
struct S3ObjectHead {
  uint64_t size = 0;
  std::string etag;  // without quotes; for a single-part upload, the MD5 of the bytes in hex
};

struct S3ObjectInfo {
  std::string key;  // relative to the location's prefix
  uint64_t size = 0;
  std::string etag;  // without quotes
};

// What this client did: requests (each attempt counts), retries, bytes.
struct S3Counters {
  uint64_t requests = 0, retries = 0, bytes_up = 0, bytes_down = 0;
};

struct Libcurl;

class S3Client {
 public:
  static Result<std::unique_ptr<S3Client>> Create(const S3Settings& settings, const S3Location& location,
                                                  const S3ClientOptions& options = {});
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Keys are relative to the location's prefix (PREFIX/KEY in the bucket).
  Status Put(const std::string& key, const std::string& data);
  // Put of `size` bytes that `read` gives a part at a time (`n` bytes from
  // `at`, in order): up to multipart_threshold read at once, a larger
  // object one part in memory at a time.
  using PartReader = std::function<Status(uint64_t at, uint64_t n, std::string* out)>;
  Status PutFrom(const std::string& key, uint64_t size, const PartReader& read);
  // An object larger than max_bytes is refused (kCorruption) as soon as its
  // body passes that size, before it is all in memory.
  Status Get(const std::string& key, std::string* out, uint64_t max_bytes = UINT64_MAX);
  // Exactly `len` bytes from `offset`; a range past the end is kBadInput.
  // An answer longer than max_body (a server that ignores Range sends the
  // whole object) is refused as it passes that size: kIOError.
  Status GetRange(const std::string& key, uint64_t offset, uint64_t len, std::string* out,
                  uint64_t max_body = UINT64_MAX);
  // The object's size and ETag, or nullopt when there is none.
  Result<std::optional<S3ObjectHead>> Head(const std::string& key);
  // Every object under PREFIX/key_prefix, in key order (all pages).
  Result<std::vector<S3ObjectInfo>> List(const std::string& key_prefix = "");
  // Deleting a key that is not there succeeds (S3's own rule).
  Status Delete(const std::string& key);

  const S3Counters& counters() const { return counters_; }
  const S3Location& location() const { return location_; }
  const S3Settings& settings() const { return settings_; }
  const S3ClientOptions& options() const { return options_; }
  // s3://BUCKET/PREFIX/KEY
  std::string UriOf(const std::string& key) const;

 private:
  struct Request;
  struct Response;
  S3Client(const S3Settings& settings, const S3Location& location, const S3ClientOptions& options, const Libcurl* api,
           void* curl);
  Result<Response> Perform(const Request& r);
  Result<Response> Once(const Request& r, bool* retry);
  void Backoff(int attempt);
  Status PutParts(const std::string& key, uint64_t size, const PartReader& read);
  std::string ObjectKey(const std::string& key) const;
  std::string Url(const std::string& object_key, const std::string& query) const;

  S3Settings settings_;
  S3Location location_;
  S3ClientOptions options_;
  const Libcurl* api_;  // libcurl, loaded on first use
  void* curl_;          // CURL*
  uint64_t jitter_state_;
  S3Counters counters_;
};

// Percent-encoding as S3's canonical requests want it: every byte but
// A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as %XX.
std::string S3Encode(const std::string& s, bool keep_slash);

}  // namespace aether
