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
// A digest of data given in pieces (a file read or fetched a part at a
// time): the same as of the pieces joined. What SHA-256 and MD5 share:
// 64-byte blocks; the message padded with a 1 bit, zeros and its length.
class BlockDigest {
 public:
  void Update(const void* data, size_t n);

 protected:
  using Blocks = void (*)(uint32_t* h, const uint8_t* blocks, size_t n);
  BlockDigest(Blocks blocks, bool big_endian_length) : blocks_(blocks), big_endian_(big_endian_length) {}
  void Pad();  // the padding and length, fed to the blocks: then h_ is the digest

  uint32_t h_[8] = {};
  Blocks blocks_;

 private:
  bool big_endian_;
  uint8_t buf_[64] = {};
  size_t buffered_ = 0;  // bytes of a block begun in buf_
  uint64_t total_ = 0;   // bytes given
};

class Sha256Stream : public BlockDigest {
 public:
  explicit Sha256Stream(bool portable = false);  // portable: never the SHA extensions (for the tests)
  std::string Final();                           // 32 raw bytes; the stream is spent
};

class Md5Stream : public BlockDigest {
 public:
  Md5Stream();
  std::string Final();  // 16 raw bytes; the stream is spent
};

std::string Md5(const std::string& data);     // 16 raw bytes
std::string ToHex(const std::string& bytes);  // lower case
std::string Base64(const std::string& bytes);

}  // namespace aether
