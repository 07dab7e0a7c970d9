#pragma once
// An independent check of AWS Signature Version 4 on a raw HTTP request, as
// S3 checks it: the canonical request rebuilt from what was sent (the path
// and query decoded and encoded again by AWS's rules, the query sorted, the
// signed headers' values trimmed), the signing key derived from the
// secret, the signature compared. The client signs with libcurl's
// implementation; this one is the test's own, itself checked against the
// examples of AWS's S3 documentation.

#include <string>

namespace aether::test {

// "" when the request's Authorization header is a valid Signature V4 for
// this secret key (and the signed x-amz-content-sha256 is the body's
// SHA-256, and every x-amz-* header and Content-MD5 is signed); else what is
// wrong. `head` is the request line and headers, as sent.
std::string SigV4Problem(const std::string& head, const std::string& body, const std::string& secret_key);

// The signature of the canonical request and signing parts given, for the
// documentation's examples: hex.
std::string SigV4Signature(const std::string& canonical_request, const std::string& amz_date, const std::string& region,
                           const std::string& service, const std::string& secret_key);

std::string Sha256Hex(const std::string& data);

}  // namespace aether::test
