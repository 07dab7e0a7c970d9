#include "objstore/s3_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "objstore/digest.h"
#include "objstore/libcurl.h"
#include "objstore/xml.h"

namespace aether {

struct S3Client::Request {
  std::string method;      // GET, PUT, POST, HEAD, DELETE
  std::string object_key;  // in the bucket ("" for the bucket itself)
  std::string query;       // canonical: sorted, encoded, every parameter with '='
  const std::string* body = nullptr;
  std::string range;         // "bytes=A-B" or ""
  bool content_md5 = false;  // send Content-MD5 of the body
  std::string what;          // for messages: "GET s3://b/k"
  uint64_t max_body = UINT64_MAX;
  // CompleteMultipartUpload: S3 may answer 200 and put the error in the
  // body (after the headers are out): then it is an error, retried like
  // the status it names.
  bool error_in_ok_body = false;
};

struct S3Client::Response {
  long status = 0;
  std::string body;
  bool too_large = false;
  std::map<std::string, std::string> headers;  // names in lower case
};

namespace {

struct S3BodySink {
  std::string* body;
  uint64_t max;  // of a success's body; an error's (an S3 error document) may have up to 1 MiB
  bool* too_large;
  const Libcurl* api;
  CURL* curl;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<S3BodySink*>(user);
  long status = 0;
  r->api->easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
  const uint64_t max = status >= 200 && status < 300 ? r->max : uint64_t(1) << 20;
  if (r->body->size() + size * n > max) {
    *r->too_large = true;
    return 0;  // curl stops the transfer (CURLE_WRITE_ERROR)
  }
  // A success whose length the answer declares (within the limit): room
  // for all of it at once, not doubled as it grows.
  if (r->body->empty() && max == r->max) {
    curl_off_t declared = -1;
    r->api->easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
    if (declared > 0 && uint64_t(declared) <= max) r->body->reserve(size_t(declared));
  }
  r->body->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) headers->clear();  // a new response (after a 100 Continue)
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    const size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t\r\n");
    (*headers)[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return size * n;
}

// Failures that may pass on a retry: the network's and the body's.
bool TransientCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool TransientHttp(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// The S3 error codes of the transient statuses above, for an error sent in
// a 200's body.
bool TransientCode(const std::string& code) {
  return code == "InternalError" || code == "SlowDown" || code == "ServiceUnavailable" || code == "RequestTimeout";
}

// "the store said CODE: MESSAGE" from an S3 error body (or the HTTP status).
std::string StoreSays(long status, const std::string& body) {
  const std::string code = XmlFirst(body, "Code"), message = XmlFirst(body, "Message");
  if (code.empty()) return fmt::format("HTTP {}", status);
  return fmt::format("HTTP {} {}{}", status, code, message.empty() ? "" : ": " + message);
}

std::string Query(std::vector<std::pair<std::string, std::string>> params) {
  // Sorted by encoded name, as the canonical request wants them (libcurl
  // 7.88 signs the query as it is given).
  for (auto& [k, v] : params) k = S3Encode(k, false), v = S3Encode(v, false);
  std::sort(params.begin(), params.end());
  std::string q;
  for (const auto& [k, v] : params) q += (q.empty() ? "" : "&") + k + "=" + v;
  return q;
}

}  // namespace

std::string S3Encode(const std::string& s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/'))
      out += char(c);
    else
      out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

Result<std::unique_ptr<S3Client>> S3Client::Create(const S3Settings& settings, const S3Location& location,
                                                   const S3ClientOptions& options) {
  if (options.attempts < 1) return Status::InvalidArgument("S3 client: attempts must be at least 1");
  if (options.part_bytes < (5ull << 20) || options.multipart_threshold < options.part_bytes)
    return Status::InvalidArgument("S3 client: parts are at least 5 MiB, the threshold at least one part");
  AETHER_ASSIGN_OR_RETURN(const Libcurl* api, LoadLibcurl());
  CURL* curl = api->easy_init();
  if (!curl) return Status::Internal("curl_easy_init failed");
  return std::unique_ptr<S3Client>(new S3Client(settings, location, options, api, curl));
}

S3Client::S3Client(const S3Settings& settings, const S3Location& location, const S3ClientOptions& options,
                   const Libcurl* api, void* curl)
    : settings_(settings),
      location_(location),
      options_(options),
      api_(api),
      curl_(curl),
      jitter_state_(uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) | 1) {}

S3Client::~S3Client() { api_->easy_cleanup(static_cast<CURL*>(curl_)); }

std::string S3Client::ObjectKey(const std::string& key) const {
  return location_.prefix.empty() ? key : location_.prefix + "/" + key;
}

std::string S3Client::UriOf(const std::string& key) const { return "s3://" + location_.bucket + "/" + ObjectKey(key); }

std::string S3Client::Url(const std::string& object_key, const std::string& query) const {
  std::string url;
  if (UsesPathStyle(settings_, location_.bucket)) {
    url = settings_.endpoint + "/" + location_.bucket + "/" + S3Encode(object_key, true);
  } else {
    const size_t host = settings_.endpoint.find("//") + 2;
    url = settings_.endpoint.substr(0, host) + location_.bucket + "." + settings_.endpoint.substr(host) + "/" +
          S3Encode(object_key, true);
  }
  return query.empty() ? url : url + "?" + query;
}

// One attempt. *retry: whether a failure may pass on another.
Result<S3Client::Response> S3Client::Once(const Request& r, bool* retry) {
  CURL* c = static_cast<CURL*>(curl_);
  api_->easy_reset(c);
  Response resp;
  const std::string url = Url(r.object_key, r.query);
  const std::string sigv4 = "aws:amz:" + settings_.region + ":s3";
  const std::string userpwd = settings_.access_key + ":" + settings_.secret_key;
  const std::string empty;
  const std::string& body = r.body ? *r.body : empty;
  curl_slist* headers = nullptr;
  auto add = [&](const std::string& h) { headers = api_->slist_append(headers, h.c_str()); };
  add("x-amz-content-sha256: " + ToHex(Sha256(body)));
  if (!settings_.session_token.empty()) add("x-amz-security-token: " + settings_.session_token);
  if (r.content_md5) add("Content-MD5: " + Base64(Md5(body)));
  if (!r.range.empty()) add("Range: " + r.range);
  // No "Expect:" here to skip curl's 100-continue: libcurl 7.88 signs a
  // header it then does not send, and S3 would refuse the signature (the
  // signing test caught it).
  if (r.body) add("Content-Type: application/octet-stream");
  api_->easy_setopt(c, CURLOPT_URL, url.c_str());
  api_->easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  api_->easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  api_->easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  api_->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api_->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout_ms));
  api_->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // under 1 KiB/s for stall_seconds: cut
  api_->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, long(options_.stall_seconds));
  S3BodySink sink{&resp.body, r.max_body, &resp.too_large, api_, c};
  api_->easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  api_->easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  // The path as written: '.' and '..' segments are object names here, never
  // resolved (ParseS3Uri refuses them in a prefix; keys have none).
  api_->easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  api_->easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  api_->easy_setopt(c, CURLOPT_HEADERDATA, &resp.headers);
  char error[CURL_ERROR_SIZE] = "";
  api_->easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  if (r.method == "HEAD") {
    api_->easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (r.method != "GET") {
    api_->easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (r.method == "PUT" || r.method == "POST") {
      api_->easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      api_->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
    }
  }
  ++counters_.requests;
  const CURLcode rc = api_->easy_perform(c);
  api_->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  // Nothing the handle points to outlives this call (the header list, the
  // error buffer, the sinks on this stack).
  api_->easy_reset(c);
  api_->slist_free_all(headers);
  if (resp.too_large)
    return Status::Corruption(fmt::format("{}: the object is larger than the {} bytes expected", r.what, r.max_body));
  if (rc != CURLE_OK) {
    *retry = TransientCurl(rc);
    return Status::IOError(fmt::format("{}: {}", r.what, error[0] ? error : api_->easy_strerror(rc)));
  }
  counters_.bytes_up += body.size();
  counters_.bytes_down += resp.body.size();
  // A body shorter than it says is a cut transfer, which curl reports; a
  // proxy may also drop the length: check what was declared.
  if (auto len = resp.headers.find("content-length"); len != resp.headers.end() && r.method != "HEAD")
    if (std::to_string(resp.body.size()) != len->second) {
      *retry = true;
      return Status::IOError(
          fmt::format("{}: {} body bytes, the response declares {}", r.what, resp.body.size(), len->second));
    }
  if (resp.status >= 200 && resp.status < 300) {
    const std::string code = r.error_in_ok_body ? XmlFirst(resp.body, "Code") : "";
    if (code.empty()) return resp;
    *retry = TransientCode(code);
    return Status::IOError(fmt::format("{}: {}", r.what, StoreSays(resp.status, resp.body)));
  }
  *retry = TransientHttp(resp.status);
  const std::string says = StoreSays(resp.status, resp.body);
  if (resp.status == 404) return Status::NotFound(fmt::format("{}: {}", r.what, says));
  if (resp.status == 403) return Status::PermissionDenied(fmt::format("{}: {}", r.what, says));
  return Status::IOError(fmt::format("{}: {}", r.what, says));
}

Result<S3Client::Response> S3Client::Perform(const Request& r) {
  for (int attempt = 1;; ++attempt) {
    bool retry = false;
    Result<Response> resp = Once(r, &retry);
    if (resp.ok() || !retry) return resp;
    if (attempt >= options_.attempts)
      return resp.status().WithMessage(
          fmt::format("{} (gave up after {} attempts)", resp.status().message(), options_.attempts));
    Backoff(attempt);
  }
}

// Before attempt + 1: full jitter, a uniform wait below the bound that
// doubles with each attempt (xorshift; no shared state between clients).
void S3Client::Backoff(int attempt) {
  const uint64_t bound = std::min<uint64_t>(uint64_t(options_.max_delay_ms), uint64_t(options_.base_delay_ms)
                                                                                 << std::min(attempt - 1, 20));
  jitter_state_ ^= jitter_state_ << 13, jitter_state_ ^= jitter_state_ >> 7, jitter_state_ ^= jitter_state_ << 17;
  ++counters_.retries;
  std::this_thread::sleep_for(std::chrono::milliseconds(bound ? jitter_state_ % (bound + 1) : 0));
}

Status S3Client::Put(const std::string& key, const std::string& data) {
  if (data.size() > options_.multipart_threshold)
    return PutParts(key, data.size(), [&data](uint64_t at, uint64_t n, std::string* out) {
      *out = data.substr(at, n);
      return Status::Ok();
    });
  Request r{"PUT", ObjectKey(key), "", &data, "", true, "PUT " + UriOf(key)};
  return Perform(r).status();
}

Status S3Client::PutFrom(const std::string& key, uint64_t size, const PartReader& read) {
  if (size > options_.multipart_threshold) return PutParts(key, size, read);
  std::string data;
  AETHER_RETURN_IF_ERROR(read(0, size, &data));
  return Put(key, data);
}

Status S3Client::PutParts(const std::string& key, uint64_t size, const PartReader& read) {
  const std::string what = "PUT " + UriOf(key) + " (multipart)";
  const std::string empty;
  Request start{"POST", ObjectKey(key), Query({{"uploads", ""}}), &empty, "", false, what + ": start"};
  AETHER_ASSIGN_OR_RETURN(Response started, Perform(start));
  const std::string upload_id = XmlFirst(started.body, "UploadId");
  if (upload_id.empty()) return Status::IOError(what + ": the store's answer has no UploadId");
  std::string complete = "<CompleteMultipartUpload>";
  // S3's ETag of a multipart object: the MD5 of its parts' MD5s (raw) and
  // "-" the part count. Not checked when a part's ETag is not 32 hex
  // digits; an encrypted bucket's that are (not MD5s) simply do not match.
  std::string part_md5s;
  bool md5_etags = true;
  uint64_t parts = 0;
  Md5Stream whole_md5;
  std::string chunk;
  Status s = [&]() -> Status {
    for (uint64_t at = 0, part = 1; at < size; at += options_.part_bytes, ++part) {
      AETHER_RETURN_IF_ERROR(read(at, std::min(options_.part_bytes, size - at), &chunk));
      whole_md5.Update(chunk.data(), chunk.size());
      Request put{"PUT",
                  ObjectKey(key),
                  Query({{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}),
                  &chunk,
                  "",
                  true,
                  fmt::format("{}: part {}", what, part)};
      AETHER_ASSIGN_OR_RETURN(Response done, Perform(put));
      auto etag = done.headers.find("etag");
      if (etag == done.headers.end()) return Status::IOError(fmt::format("{}: part {}: no ETag", what, part));
      complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part, XmlEscape(etag->second));
      std::string hex = etag->second;
      if (hex.size() == 34 && hex.front() == '"' && hex.back() == '"') hex = hex.substr(1, 32);
      if (hex.size() != 32 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) md5_etags = false;
      for (size_t i = 0; md5_etags && i < 32; i += 2) part_md5s += char(std::stoi(hex.substr(i, 2), nullptr, 16));
      ++parts;
    }
    complete += "</CompleteMultipartUpload>";
    Request finish{"POST", ObjectKey(key), Query({{"uploadId", upload_id}}), &complete, "", true, what + ": complete"};
    finish.error_in_ok_body = true;
    Status done = Perform(finish).status();
    // A completion that went through but whose answer was lost (a reset, a
    // timeout) is sent again and fails: S3 answers NoSuchUpload (404),
    // s3rver a 500. The upload is then the object, whose ETag says it is
    // these bytes: S3's multipart ETag, or (s3rver) the MD5 of the whole.
    // One HEAD, only when the completion failed.
    if (!done.ok() && md5_etags) {
      Result<std::optional<S3ObjectHead>> head = Head(key);
      if (head.ok() && *head && (*head)->size == size &&
          ((*head)->etag == fmt::format("{}-{}", ToHex(Md5(part_md5s)), parts) ||
           (*head)->etag == ToHex(whole_md5.Final())))
        return Status::Ok();
    }
    return done;
  }();
  if (!s.ok()) {
    Request abort{"DELETE", ObjectKey(key), Query({{"uploadId", upload_id}}), nullptr, "", false, what + ": abort"};
    (void)Perform(abort);  // best effort: the store expires abandoned uploads too
  }
  return s;
}

Status S3Client::Get(const std::string& key, std::string* out, uint64_t max_bytes) {
  Request r{"GET", ObjectKey(key), "", nullptr, "", false, "GET " + UriOf(key)};
  r.max_body = max_bytes;
  AETHER_ASSIGN_OR_RETURN(Response resp, Perform(r));
  *out = std::move(resp.body);
  return Status::Ok();
}

Status S3Client::GetRange(const std::string& key, uint64_t offset, uint64_t len, std::string* out, uint64_t max_body) {
  std::string().swap(*out);  // its memory too: a range's worth, not held while the next one comes
  if (len == 0) return Status::Ok();
  const std::string what = fmt::format("GET {} bytes {}-{}", UriOf(key), offset, offset + len - 1);
  Request r{"GET", ObjectKey(key), "", nullptr, fmt::format("bytes={}-{}", offset, offset + len - 1), false, what};
  r.max_body = max_body;
  for (int attempt = 1;; ++attempt) {
    Result<Response> resp = Perform(r);
    if (!resp.ok()) {
      if (resp.status().message().find("HTTP 416") != std::string::npos)
        return Status::BadInput(what + ": past the end of the object");
      if (resp.status().code() == Code::kCorruption && max_body != UINT64_MAX)
        return Status::IOError(
            fmt::format("{}: the answer passed {} bytes: the server does not serve byte ranges", what, max_body));
      return resp.status();
    }
    if (resp->status == 200 && resp->body.size() >= offset + len) {  // the range was ignored: the whole object
      *out = resp->body.substr(offset, len);
      return Status::Ok();
    }
    if (resp->status == 206) {
      // The bytes the answer holds, as its Content-Range says ("bytes
      // A-B/TOTAL"); some servers send more than asked (s3rver answers
      // bytes=0-0 with the whole object): the asked part of them is taken.
      uint64_t a = 0, b = 0, total = 0;
      const std::string cr = resp->headers.count("content-range") ? resp->headers["content-range"] : "";
      const bool parsed = std::sscanf(cr.c_str(), "bytes %lu-%lu/%lu", &a, &b, &total) == 3 && a <= b;
      if (!parsed && resp->body.size() == len) {
        *out = std::move(resp->body);
        return Status::Ok();
      }
      if (parsed && resp->body.size() == b - a + 1 && a <= offset && b >= offset + len - 1) {
        if (a == offset && resp->body.size() == len)
          *out = std::move(resp->body);  // the range asked for, as asked (no copy)
        else
          *out = resp->body.substr(offset - a, len);
        return Status::Ok();
      }
      if (parsed && total < offset + len) return Status::BadInput(what + ": past the end of the object (" + cr + ")");
    }
    if (attempt >= options_.attempts)
      return Status::IOError(fmt::format("{}: HTTP {} with {} bytes, not the {} asked for (gave up after {} attempts)",
                                         what, resp->status, resp->body.size(), len, attempt));
    Backoff(attempt);
  }
}

Result<std::optional<S3ObjectHead>> S3Client::Head(const std::string& key) {
  Request r{"HEAD", ObjectKey(key), "", nullptr, "", false, "HEAD " + UriOf(key)};
  Result<Response> resp = Perform(r);
  if (!resp.ok() && resp.status().code() == Code::kNotFound) return std::optional<S3ObjectHead>();
  if (!resp.ok()) return resp.status();
  auto len = resp->headers.find("content-length");
  if (len == resp->headers.end()) return Status::IOError(r.what + ": no Content-Length");
  S3ObjectHead head;
  head.size = std::strtoull(len->second.c_str(), nullptr, 10);
  if (auto etag = resp->headers.find("etag"); etag != resp->headers.end()) {
    head.etag = etag->second;
    if (head.etag.size() >= 2 && head.etag.front() == '"' && head.etag.back() == '"')
      head.etag = head.etag.substr(1, head.etag.size() - 2);
  }
  return std::optional<S3ObjectHead>(head);
}

Result<std::vector<S3ObjectInfo>> S3Client::List(const std::string& key_prefix) {
  std::vector<S3ObjectInfo> out;
  const std::string full = ObjectKey(key_prefix);
  const size_t strip = location_.prefix.empty() ? 0 : location_.prefix.size() + 1;
  std::string token;
  for (int page = 1;; ++page) {
    std::vector<std::pair<std::string, std::string>> params = {
        {"list-type", "2"}, {"max-keys", std::to_string(options_.list_page)}, {"prefix", full}};
    if (!token.empty()) params.push_back({"continuation-token", token});
    Request r{"GET",
              "",
              Query(params),
              nullptr,
              "",
              false,
              fmt::format("LIST s3://{}/{}* (page {})", location_.bucket, full, page)};
    AETHER_ASSIGN_OR_RETURN(Response resp, Perform(r));
    for (const std::string& item : XmlBlocks(resp.body, "Contents")) {
      S3ObjectInfo info;
      const std::string k = XmlFirst(item, "Key");
      if (k.compare(0, full.size(), full) != 0)
        return Status::IOError(fmt::format("{}: the store listed '{}', outside the prefix", r.what, k));
      info.key = k.substr(strip);
      info.size = std::strtoull(XmlFirst(item, "Size").c_str(), nullptr, 10);
      for (char c : XmlFirst(item, "ETag"))  // "..." (unescaped from &quot;)
        if (c != '"') info.etag += c;
      out.push_back(std::move(info));
    }
    if (XmlFirst(resp.body, "IsTruncated") != "true") break;
    token = XmlFirst(resp.body, "NextContinuationToken");
    if (token.empty()) return Status::IOError(r.what + ": a truncated listing without a continuation token");
  }
  return out;
}

Status S3Client::Delete(const std::string& key) {
  Request r{"DELETE", ObjectKey(key), "", nullptr, "", false, "DELETE " + UriOf(key)};
  Result<Response> resp = Perform(r);
  if (!resp.ok() && resp.status().code() == Code::kNotFound) return Status::Ok();
  return resp.status();
}

}  // namespace aether
