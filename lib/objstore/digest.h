#pragma once
// The digests and encodings S3 requests and snapshots use (OpenSSL's
// libcrypto): raw SHA-256 and MD5, as lower-case hex or as base64.

#include <string>

namespace aether {

std::string Sha256(const std::string& data);  // 32 raw bytes
std::string Md5(const std::string& data);     // 16 raw bytes
std::string ToHex(const std::string& bytes);  // lower case
std::string Base64(const std::string& bytes);

}  // namespace aether
