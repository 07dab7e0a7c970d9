#include "support/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

namespace aether::test {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) out += {kHex[p[i] >> 4], kHex[p[i] & 15]};
  return out;
}

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// AWS's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper
// case); '/' kept in paths.
std::string AwsEncode(const std::string& s, bool path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (path && c == '/'))
      out += char(c);
    else
      out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

std::string Trim(const std::string& v) {
  // Leading and trailing space removed, inner runs of spaces made one.
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return Hex(out, n);
}

std::string SigV4Signature(const std::string& canonical_request, const std::string& amz_date, const std::string& region,
                           const std::string& service, const std::string& secret_key) {
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(canonical_request);
  const std::string key = Hmac(Hmac(Hmac(Hmac("AWS4" + secret_key, date), region), service), "aws4_request");
  const std::string sig = Hmac(key, to_sign);
  return Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string SigV4Problem(const std::string& head, const std::string& body, const std::string& secret_key) {
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::istringstream rl(line);
  std::string method, target;
  rl >> method >> target;
  std::map<std::string, std::string> headers;  // lower-case name -> trimmed value
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return "a header line without ':': " + line;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    headers[name] = Trim(line.substr(colon + 1));
  }
  const std::string auth = headers["authorization"];
  const std::string algo = "AWS4-HMAC-SHA256 ";
  if (auth.compare(0, algo.size(), algo) != 0) return "no AWS4-HMAC-SHA256 Authorization header: " + auth;
  auto field = [&](const std::string& name) {
    const size_t at = auth.find(name + "=");
    if (at == std::string::npos) return std::string();
    const size_t end = auth.find(',', at);
    return auth.substr(at + name.size() + 1, end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
  };
  const std::string credential = field("Credential"), signed_list = field("SignedHeaders"),
                    signature = field("Signature");
  std::vector<std::string> scope;  // KEY/DATE/REGION/SERVICE/aws4_request
  for (std::istringstream cs(credential); std::getline(cs, line, '/');) scope.push_back(line);
  if (scope.size() != 5 || scope[4] != "aws4_request") return "a malformed Credential: " + credential;
  const std::string amz_date = headers["x-amz-date"];
  if (amz_date.size() != 16 || amz_date.compare(0, 8, scope[1]) != 0) return "x-amz-date disagrees with the scope";

  std::vector<std::string> signed_names;
  for (std::istringstream ss(signed_list); std::getline(ss, line, ';');) signed_names.push_back(line);
  if (!std::is_sorted(signed_names.begin(), signed_names.end())) return "SignedHeaders not sorted: " + signed_list;
  for (const char* must : {"host", "x-amz-content-sha256", "x-amz-date"})
    if (std::find(signed_names.begin(), signed_names.end(), must) == signed_names.end())
      return std::string("not signed: ") + must;
  for (const auto& [name, value] : headers)
    if ((name.rfind("x-amz-", 0) == 0 || name == "content-md5") &&
        std::find(signed_names.begin(), signed_names.end(), name) == signed_names.end())
      return "a header sent but not signed: " + name;
  const std::string payload = headers["x-amz-content-sha256"];
  if (payload != "UNSIGNED-PAYLOAD" && payload != Sha256Hex(body))
    return "x-amz-content-sha256 is not the body's SHA-256";

  // The canonical request, rebuilt from what was sent.
  const size_t q = target.find('?');
  const std::string path = AwsEncode(Decode(target.substr(0, q)), true);
  std::vector<std::pair<std::string, std::string>> params;
  if (q != std::string::npos) {
    for (std::istringstream qs(target.substr(q + 1)); std::getline(qs, line, '&');) {
      const size_t eq = line.find('=');
      params.push_back({AwsEncode(Decode(line.substr(0, eq)), false),
                        eq == std::string::npos ? "" : AwsEncode(Decode(line.substr(eq + 1)), false)});
    }
  }
  std::sort(params.begin(), params.end());
  std::string query;
  for (const auto& [k, v] : params) query += (query.empty() ? "" : "&") + k + "=" + v;
  std::string canonical_headers;
  for (const std::string& name : signed_names) {
    if (!headers.count(name)) return "signed but not sent: " + name;
    canonical_headers += name + ":" + headers[name] + "\n";
  }
  const std::string canonical =
      method + "\n" + path + "\n" + query + "\n" + canonical_headers + "\n" + signed_list + "\n" + payload;
  const std::string want = SigV4Signature(canonical, amz_date, scope[2], scope[3], secret_key);
  if (want != signature) return "signature " + signature + ", S3 would compute " + want + " over:\n" + canonical;
  return "";
}

}  // namespace aether::test
