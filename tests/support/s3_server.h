#pragma once
// A real S3 implementation on loopback for the object-store tests: s3rver
// (npm; scripts/setup installs it) on 127.0.0.1 at a port it picks, its
// data in a temporary directory; and a fault proxy between a client and it
// that answers the next requests with injected failures (HTTP 500 or 503,
// a connection reset before or after the request reached the server, a
// stall, a body cut short).

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "objstore/s3_client.h"
#include "test_util.h"

namespace aether::test {

class S3Server {
 public:
  // nullptr, with *why_not set, when s3rver is not installed or Node.js
  // cannot run it. s3rver is looked for in $AETHER_TOOLS/npm (default
  // ~/.cache/aether/npm), where scripts/setup installs it.
  static std::unique_ptr<S3Server> Start(const std::string& bucket, std::string* why_not);
  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // What s3rver printed (its request log): for failure messages.
  std::string log() const;

 private:
  S3Server() = default;
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  mutable std::mutex log_mu_;
  std::string log_;
  std::thread drain_;
};

enum class Fault {
  kNone,
  k500,          // HTTP 500 InternalError, the request not forwarded
  k503,          // HTTP 503 SlowDown, not forwarded
  kResetBefore,  // the connection reset, the request not forwarded
  kResetAfter,   // forwarded (the server acted on it), then the connection reset
  kStall,        // no answer for stall_ms, then the connection closed
  kTruncate,     // forwarded; the answer's body cut to half its declared length
  k200Error,     // HTTP 200 with an InternalError body (as S3 may answer CompleteMultipartUpload), not forwarded
  kHold,         // held until FaultProxy::Release(), then forwarded (something happens meanwhile)
};
const char* FaultName(Fault f);
// A plan for FaultProxy::Plan: `unfaulted` requests forwarded, then the
// next `times` meet `f`.
std::vector<Fault> FaultsAfter(size_t unfaulted, Fault f, size_t times = 1);

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port, int stall_ms = 2500);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The next requests meet these faults in turn; then none.
  void Plan(std::vector<Fault> faults);
  // Requests received so far (each attempt of a client counts).
  int requests() const { return requests_; }
  // Requests a kHold has held so far (released or not).
  int held() const { return held_; }
  // Forwards the requests kHold holds, and from now on any it meets.
  void Release();
  // Forwards the requests kHold holds now; a kHold met later holds its
  // request again (a reader held round after round).
  void ReleaseHeld();
  // Every request received: its request line and headers, and its body.
  std::vector<std::pair<std::string, std::string>> Recorded();

 private:
  void Serve(int fd);
  Fault Next();

  int upstream_port_;
  int stall_ms_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<int> held_{0};
  bool released_ = false;  // mu_
  uint64_t releases_ = 0;  // mu_: ReleaseHeld calls so far
  std::condition_variable release_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::deque<Fault> plan_;
  std::vector<std::pair<std::string, std::string>> recorded_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// The server of `bucket`, started once per test process on first use;
// nullptr (with a doctest MESSAGE saying why) where it cannot run.
S3Server* SharedS3Server(const std::string& bucket);
// s3rver's built-in account (S3RVER), us-east-1, path-style requests.
S3Settings S3rverSettings(const std::string& endpoint);
// What an aether process needs in its environment to reach `endpoint` so.
std::vector<std::string> S3rverEnv(const std::string& endpoint);
// A client of s3://bucket/prefix at `endpoint`; failing to make one fails
// the test.
std::unique_ptr<S3Client> S3rverClient(const std::string& endpoint, const std::string& bucket,
                                       const std::string& prefix, const S3ClientOptions& o = S3ClientOptions());

}  // namespace aether::test
