#pragma once
// The digests and encodings S3 requests and snapshots use: raw SHA-256
// (FIPS 180-4) and MD5 (RFC 1321), as lower-case hex or as base64. Written
// here rather than taken from OpenSSL's libcrypto so that no aether process
// loads libcrypto (or libcurl) unless it talks to a bucket: each shared
// library costs every one-shot command its start time. They are integrity
// checksums (content addresses, Content-MD5, the signed payload hash), not
// the signature: libcurl signs. tests/objstore/digest_test.cc checks them
// against OpenSSL's.

#include <string>

namespace aether {

std::string Sha256(const std::string& data);  // 32 raw bytes
// Sha256 takes the x86 SHA extensions where the CPU has them (about 4x the
// speed); these two name and reach the paths for the tests.
bool Sha256HasShaNi();
std::string Sha256Portable(const std::string& data);
std::string Md5(const std::string& data);     // 16 raw bytes
std::string ToHex(const std::string& bytes);  // lower case
std::string Base64(const std::string& bytes);

}  // namespace aether
