#include "support/s3_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <regex>

namespace aether::test {
namespace {

std::string ToolsDir() {
  if (const char* t = std::getenv("AETHER_TOOLS"); t && *t) return t;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/aether";
}

bool SendAll(int fd, const std::string& data) {
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

// The proxy's header patterns, compiled once, on the thread that makes the
// proxy (its constructor asks for them before any of its threads runs):
// libstdc++ fills std::ctype<char>'s narrow() cache unsynchronized while
// it compiles a regex (GCC PR 77704), a race TSan reports when two
// workers compile their first regex at once.
struct HeaderPatterns {
  const std::regex expect{"\r\n[Ee]xpect: *100-continue\r\n"};
  const std::regex length{"\r\n[Cc]ontent-[Ll]ength: *([0-9]+)"};
  const std::regex http11{"HTTP/1\\.1\r\n"};
};
const HeaderPatterns& Patterns() {
  static const HeaderPatterns patterns;
  return patterns;
}

// Reads up to the end of the headers, then `Content-Length` bytes of body
// (requests: a client's; always delimited by length here).
bool ReadRequest(int fd, std::string* head, std::string* body) {
  std::string buf;
  char chunk[65536];
  size_t end = std::string::npos;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, size_t(n));
  }
  *head = buf.substr(0, end + 4);
  *body = buf.substr(end + 4);
  std::smatch m;
  // A client waiting for "100 Continue" before its body gets it at once
  // (the request goes upstream whole, without the Expect header).
  if (std::regex_search(*head, m, Patterns().expect)) {
    head->erase(size_t(m.position(0)) + 2, size_t(m.length(0)) - 2);
    if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
  }
  size_t want = 0;
  if (std::regex_search(*head, m, Patterns().length)) want = std::strtoull(m[1].str().c_str(), nullptr, 10);
  while (body->size() < want) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    body->append(chunk, size_t(n));
  }
  return true;
}

void Reset(int fd) {
  linger l{1, 0};  // close with RST, not FIN
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

std::string CannedError(int status, const char* reason, const char* code) {
  const std::string body = std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>") + code +
                           "</Code><Message>injected by the fault proxy</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

std::unique_ptr<S3Server> S3Server::Start(const std::string& bucket, std::string* why_not) {
  const std::string bin = ToolsDir() + "/npm/node_modules/.bin/s3rver";
  if (access(bin.c_str(), X_OK) != 0) {
    *why_not = bin + " is not installed (scripts/setup installs it with npm)";
    return nullptr;
  }
  std::unique_ptr<S3Server> s(new S3Server());
  int out[2];
  if (pipe(out) != 0) {
    *why_not = "pipe failed";
    return nullptr;
  }
  const std::string data = s->dir_.path();
  // The environment, built before the fork (the child of a threaded process
  // may only call async-signal-safe functions): s3rver 3.7.1 makes listing
  // continuation tokens with DES, which Node.js 17+ (OpenSSL 3) offers only
  // from its legacy provider.
  std::vector<std::string> env_strings = {"NODE_OPTIONS=--openssl-legacy-provider"};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "NODE_OPTIONS=", 13) != 0) env_strings.push_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {bin.c_str(), "-d", data.c_str(),         "-a",           "127.0.0.1",
                        "-p",        "0",  "--configure-bucket", bucket.c_str(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(out[0]);
    close(out[1]);
    execve(bin.c_str(), const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  close(out[1]);
  s->pid_ = pid;
  s->out_fd_ = out[0];
  // Its first line names the port it bound ("S3rver listening on
  // 127.0.0.1:PORT"); afterwards its output is drained (a full pipe would
  // block it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string seen;
  std::smatch m;
  const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  while (!std::regex_search(seen, m, listening)) {
    pollfd p{s->out_fd_, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) {
      *why_not = "s3rver did not start within 30 s; it printed: " + seen;
      return nullptr;
    }
    char buf[4096];
    const ssize_t n = read(s->out_fd_, buf, sizeof buf);
    if (n <= 0) {
      *why_not = "s3rver exited at start (can Node.js run here?); it printed: " + seen;
      return nullptr;
    }
    seen.append(buf, size_t(n));
  }
  s->port_ = std::stoi(m[1]);
  s->log_ = seen;
  S3Server* self = s.get();
  s->drain_ = std::thread([self] {
    char buf[4096];
    for (ssize_t n; (n = read(self->out_fd_, buf, sizeof buf)) > 0;) {
      std::lock_guard<std::mutex> lock(self->log_mu_);
      if (self->log_.size() < (1u << 20)) self->log_.append(buf, size_t(n));
    }
  });
  return s;
}

S3Server::~S3Server() {
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (drain_.joinable()) drain_.join();  // the pipe ends with the process group
  if (out_fd_ >= 0) close(out_fd_);
}

std::string S3Server::log() const {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_;
}

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kNone:
      return "none";
    case Fault::k500:
      return "HTTP 500";
    case Fault::k503:
      return "HTTP 503";
    case Fault::kResetBefore:
      return "reset before the server";
    case Fault::kResetAfter:
      return "reset after the server";
    case Fault::kStall:
      return "stall";
    case Fault::kTruncate:
      return "truncated body";
    case Fault::k200Error:
      return "HTTP 200 with an error";
    case Fault::kHold:
      return "held";
  }
  return "?";
}

std::vector<Fault> FaultsAfter(size_t unfaulted, Fault f, size_t times) {
  std::vector<Fault> plan(unfaulted, Fault::kNone);
  plan.insert(plan.end(), times, f);
  return plan;
}

FaultProxy::FaultProxy(int upstream_port, int stall_ms) : upstream_port_(upstream_port), stall_ms_(stall_ms) {
  Patterns();
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listen_fd_, 64);
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] {
    while (!stopping_) {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) break;
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  });
}

FaultProxy::~FaultProxy() {
  Release();  // a held request goes on, so that its worker ends
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);  // the workers take it too: join outside it
    workers.swap(workers_);
  }
  for (auto& w : workers) w.join();
}

void FaultProxy::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
  }
  release_.notify_all();
}

void FaultProxy::ReleaseHeld() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++releases_;
  }
  release_.notify_all();
}

void FaultProxy::Plan(std::vector<Fault> faults) {
  std::lock_guard<std::mutex> lock(mu_);
  plan_.assign(faults.begin(), faults.end());
}

std::vector<std::pair<std::string, std::string>> FaultProxy::Recorded() {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}

Fault FaultProxy::Next() {
  std::lock_guard<std::mutex> lock(mu_);
  if (plan_.empty()) return Fault::kNone;
  const Fault f = plan_.front();
  plan_.pop_front();
  return f;
}

// One request per connection: the answer says "Connection: close".
void FaultProxy::Serve(int fd) {
  std::string head, body;
  if (!ReadRequest(fd, &head, &body)) return (void)close(fd);
  ++requests_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    recorded_.push_back({head, body});
  }
  const Fault fault = Next();
  switch (fault) {
    case Fault::k500:
      SendAll(fd, CannedError(500, "Internal Server Error", "InternalError"));
      return (void)close(fd);
    case Fault::k503:
      SendAll(fd, CannedError(503, "Slow Down", "SlowDown"));
      return (void)close(fd);
    case Fault::k200Error:
      SendAll(fd, CannedError(200, "OK", "InternalError"));
      return (void)close(fd);
    case Fault::kResetBefore:
      return Reset(fd);
    case Fault::kStall:
      std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms_));
      return (void)close(fd);
    case Fault::kHold: {
      std::unique_lock<std::mutex> lock(mu_);
      const uint64_t at = releases_;  // before held_ counts it: a ReleaseHeld seen after it releases this one
      ++held_;
      release_.wait(lock, [&] { return released_ || releases_ != at; });
      break;
    }
    default:
      break;
  }
  // Upstream as HTTP/1.0: the answer ends where the connection does (no
  // chunks); it goes back with its length declared.
  const bool is_head = head.rfind("HEAD ", 0) == 0;
  std::string up_head =
      std::regex_replace(head, Patterns().http11, "HTTP/1.0\r\n", std::regex_constants::format_first_only);
  const int up = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(upstream_port_));
  std::string answer;
  if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && SendAll(up, up_head + body)) {
    char chunk[65536];
    for (ssize_t n; (n = recv(up, chunk, sizeof chunk, 0)) > 0;) answer.append(chunk, size_t(n));
  }
  close(up);
  const size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return Reset(fd);  // the server failed: so does the proxy
  if (fault == Fault::kResetAfter) return Reset(fd);
  std::string status_line = answer.substr(0, answer.find("\r\n"));
  status_line.replace(0, 8, "HTTP/1.1");
  std::string out = status_line + "\r\n", declared;
  const std::string headers = answer.substr(0, end + 2);
  for (size_t at = headers.find("\r\n") + 2; at < headers.size();) {
    const size_t eol = headers.find("\r\n", at);
    const std::string line = headers.substr(at, eol - at);
    at = eol + 2;
    std::string lower = line;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("content-length:", 0) == 0) {
      declared = line;
      continue;
    }
    if (lower.rfind("connection:", 0) == 0 || lower.rfind("transfer-encoding:", 0) == 0) continue;
    out += line + "\r\n";
  }
  std::string payload = answer.substr(end + 4);
  if (is_head)
    out += (declared.empty() ? "Content-Length: 0" : declared) + "\r\n";
  else
    out += "Content-Length: " + std::to_string(payload.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (fault == Fault::kTruncate) payload.resize(payload.size() / 2);
  SendAll(fd, out + payload);
  close(fd);
}

S3Server* SharedS3Server(const std::string& bucket) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<S3Server>> servers;
  static std::map<std::string, std::string> why;
  std::lock_guard<std::mutex> lock(mu);
  if (!servers.count(bucket)) servers[bucket] = S3Server::Start(bucket, &why[bucket]);
  if (!servers[bucket]) MESSAGE("skipped: no S3 server: " << why[bucket]);
  return servers[bucket].get();
}

S3Settings S3rverSettings(const std::string& endpoint) {
  S3Settings s;
  s.endpoint = endpoint;
  s.region = "us-east-1";
  s.access_key = "S3RVER";
  s.secret_key = "S3RVER";
  s.addressing = S3Addressing::kPath;
  return s;
}

std::vector<std::string> S3rverEnv(const std::string& endpoint) {
  return {"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
          "AWS_REGION=us-east-1"};
}

std::unique_ptr<S3Client> S3rverClient(const std::string& endpoint, const std::string& bucket,
                                       const std::string& prefix, const S3ClientOptions& o) {
  auto c = S3Client::Create(S3rverSettings(endpoint), S3Location{bucket, prefix}, o);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(*c);
}

}  // namespace aether::test
