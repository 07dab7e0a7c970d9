// The digests S3 requests and snapshots use (objstore/digest.h) against
// OpenSSL's libcrypto as the reference, and the reason they are not taken
// from it: an `aether` process loads libcurl (and the libraries it brings)
// only when it talks to a bucket.

#include "objstore/digest.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <random>

#include "test_util.h"

using namespace aether;
using namespace aether::test;

namespace {

std::string OpenSsl(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string OpenSslBase64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), int(data.size()));
  out.resize(size_t(n));
  return out;
}

}  // namespace

TEST_CASE("digests: SHA-256, MD5 and base64 equal OpenSSL's at every length across the padding boundaries") {
  const std::string sha_ni = Sha256HasShaNi() ? "yes" : "no (the portable path twice)";
  MESSAGE("SHA-256 with the x86 SHA extensions: " << sha_ni);
  // The published examples first (FIPS 180-4 appendix, RFC 1321 A.5).
  CHECK(ToHex(Sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ToHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(ToHex(Md5("")) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(ToHex(Md5("message digest")) == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(ToHex(Md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")) ==
        "57edf4a22be3c955ac49da2e2107b67a");
  CHECK(Base64("") == "");
  CHECK(Base64("foobar") == "Zm9vYmFy");
  CHECK(Base64("fooba") == "Zm9vYmE=");
  CHECK(Base64("foob") == "Zm9vYg==");
  // Every length from 0 to 300 bytes (one, two and more blocks, each side of
  // the 55/56-byte padding edge), random bytes including high ones, then a
  // 600 KB buffer (a length field with its third byte set).
  std::mt19937_64 rng(7);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  lengths.push_back(600 * 1000 + 17);
  for (size_t n : lengths) {
    std::string data(n, '\0');
    for (char& c : data) c = char(rng());
    CAPTURE(n);
    CHECK(Sha256(data) == OpenSsl(EVP_sha256(), data));
    CHECK(Sha256Portable(data) == OpenSsl(EVP_sha256(), data));  // the path a CPU without SHA-NI takes
    CHECK(Md5(data) == OpenSsl(EVP_md5(), data));
    CHECK(Base64(data) == OpenSslBase64(data));
  }
}

TEST_CASE("digests: SHA-256 and MD5 of data given in pieces equal OpenSSL's of the whole, however it is cut") {
  std::mt19937_64 rng(11);
  for (size_t n : {size_t(0), size_t(1), size_t(55), size_t(56), size_t(63), size_t(64), size_t(65), size_t(119),
                   size_t(120), size_t(128), size_t(1000), size_t(70000)}) {
    std::string data(n, '\0');
    for (char& c : data) c = char(rng());
    const std::string want = OpenSsl(EVP_sha256(), data), want_md5 = OpenSsl(EVP_md5(), data);
    for (int cut = 0; cut < 20; ++cut) {
      CAPTURE(n);
      CAPTURE(cut);
      // Pieces of random sizes (empty ones too; the last cut takes one
      // byte at a time), through both block paths.
      auto feed = [&](BlockDigest* d) {
        std::mt19937_64 cuts{uint64_t(cut)};
        for (size_t at = 0; at < n;) {
          const size_t piece = cut == 19 ? 1 : std::min<size_t>(n - at, cuts() % (cut < 10 ? 80 : 9000));
          d->Update(data.data() + at, piece);
          at += piece;
        }
      };
      for (bool portable : {false, true}) {
        Sha256Stream s(portable);
        feed(&s);
        CHECK(s.Final() == want);
      }
      Md5Stream m;
      feed(&m);
      CHECK(m.Final() == want_md5);
    }
  }
}

TEST_CASE("libcurl is loaded only by a command that talks to a bucket: none other pays its start time") {
  TempDir dir;
  const std::string store = dir.path() + "/s";
  // The dynamic loader lists every library it loads (LD_DEBUG=files).
  const auto loaded = [](const RunResult& r) {
    return r.err.find("libcurl") != std::string::npos || r.err.find("libcrypto") != std::string::npos ||
           r.err.find("libssl") != std::string::npos;
  };
  const RunResult init = Aether({"init", store, "--dim", "2"}, "", {"LD_DEBUG=files"});
  CHECK(init.exit_code == 0);
  CHECK_FALSE(loaded(init));
  const RunResult ingest = Aether({"ingest", store}, "{\"id\":\"a\",\"vector\":[1,2]}\n", {"LD_DEBUG=files"});
  CHECK(ingest.exit_code == 0);
  CHECK_FALSE(loaded(ingest));
  const RunResult search = Aether({"search", store, "--vector", "[1,2]"}, "", {"LD_DEBUG=files"});
  CHECK(search.exit_code == 0);
  CHECK_FALSE(loaded(search));
  // The control: a pull loads it (and then fails to connect: nothing listens
  // on port 1), so the check above can see a load.
  const RunResult pull = Aether({"pull", "s3://bucket/p", dir.path() + "/replica"}, "",
                                {"LD_DEBUG=files", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_ACCESS_KEY_ID=a",
                                 "AWS_SECRET_ACCESS_KEY=b", "AWS_REGION=us-east-1"});
  CHECK(pull.exit_code != 0);
  CHECK(loaded(pull));
}
