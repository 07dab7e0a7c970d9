#pragma once
// The digests and encodings S3 requests and snapshots use: raw SHA-256
// (FIPS 180-4) and MD5 (RFC 1321), as lower-case hex or as base64. Written
// here rather than taken from OpenSSL's libcrypto so that no aether process
// loads libcrypto (or libcurl) unless it talks to a bucket: each shared
// library costs every one-shot command its start time. They are integrity
// checksums (content addresses, Content-MD5, the signed payload hash), not
// the signature: libcurl signs. tests/objstore/digest_test.cc checks them
// against OpenSSL's.

#include <cstddef>
#include <cstdint>
#include <string>

namespace aether {

std::string Sha256(const std::string& data);  // 32 raw bytes
// Sha256 takes the x86 SHA extensions where the CPU has them (about 4x the
// speed); these two name and reach the paths for the tests.
bool Sha256HasShaNi();
std::string Sha256Portable(const std::string& data);
// SHA-256 of data given in pieces (a file read or fetched a part at a
// time): the same digest as Sha256 of the pieces joined.
class Sha256Stream {
 public:
  explicit Sha256Stream(bool portable = false);  // portable: never the SHA extensions (for the tests)
  void Update(const void* data, size_t n);
  std::string Final();  // 32 raw bytes; the stream is spent

 private:
  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t buf_[64] = {};
  size_t buffered_ = 0;  // bytes of a block begun in buf_
  uint64_t total_ = 0;   // bytes given
  void (*blocks_)(uint32_t*, const uint8_t*, size_t);
};
std::string Md5(const std::string& data);     // 16 raw bytes
std::string ToHex(const std::string& bytes);  // lower case
std::string Base64(const std::string& bytes);

}  // namespace aether
