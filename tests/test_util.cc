#include "test_util.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "support/s3_server.h"

extern char** environ;

namespace aether::test {

std::unique_ptr<Store> OpenStoreOrFail(const std::string& path, AccessMode mode, Env* env, bool discard_damaged) {
  OpenOptions o;
  o.access = mode;
  o.env = env;
  o.wait_seconds = 0;
  o.discard_damaged_journal = discard_damaged;
  auto s = Store::Open(path, o);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

TempDir::TempDir(bool in_memory) {
  const char* base = getenv("TMPDIR");
  std::string root = base && *base ? base : "/tmp";
  if (in_memory && access("/dev/shm", W_OK) == 0) root = "/dev/shm";
  std::string tmpl = root + "/aether-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {
// argv and envp for posix_spawn; the strings live in the struct.
struct SpawnArgs {
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
};

std::vector<std::string> ChildEnv(const std::vector<std::string>& extra);

// A program that runs aether on the test's behalf (setpriv, to drop root);
// empty: aether itself.
thread_local std::vector<std::string> g_prefix;

void BuildSpawnArgs(const std::vector<std::string>& args, const std::vector<std::string>& env, SpawnArgs* out) {
  out->argv_s = g_prefix;
  out->argv_s.push_back(AETHER_BIN);
  out->argv_s.insert(out->argv_s.end(), args.begin(), args.end());
  for (auto& a : out->argv_s) out->argv.push_back(a.data());
  out->argv.push_back(nullptr);
  out->env_s = ChildEnv(env);
  for (auto& e : out->env_s) out->envp.push_back(e.data());
  out->envp.push_back(nullptr);
}

// Starts the aether binary with the given file actions (destroyed here).
pid_t SpawnWith(posix_spawn_file_actions_t* fa, const std::vector<std::string>& args,
                const std::vector<std::string>& env) {
  SpawnArgs sa;
  BuildSpawnArgs(args, env, &sa);
  pid_t pid;
  int rc = posix_spawn(&pid, sa.argv_s[0].c_str(), fa, nullptr, sa.argv.data(), sa.envp.data());
  posix_spawn_file_actions_destroy(fa);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  // AETHER_TEST_CHILD_LEAKS=0 (CI's sanitizer run): the aether processes
  // started here skip LeakSanitizer's scan at exit, a third of a short
  // ASan process's time, and record two frames of each allocation's stack
  // instead of 30 (84 ms to 69 ms a process; a report still shows the
  // faulting access's whole stack, but where the block was allocated and
  // freed only in part: rerun without it to see them). The test process
  // keeps both (the library's leaks), and so do the golden transcripts and
  // README examples, which run every command through the shell with the
  // test's own environment.
  static const bool child_leaks = [] {
    const char* v = std::getenv("AETHER_TEST_CHILD_LEAKS");
    return !(v && std::string(v) == "0");
  }();
  std::vector<std::string> env_s;
  std::string asan = "ASAN_OPTIONS=";
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (entry.rfind("AETHER_", 0) == 0) continue;  // tests set these explicitly
    if (!child_leaks && entry.rfind("ASAN_OPTIONS=", 0) == 0) {
      asan = entry + ":";
      continue;
    }
    env_s.push_back(entry);
  }
  if (!child_leaks) env_s.push_back(asan + "detect_leaks=0:malloc_context_size=2");
  // The machine's memory and disk readings pinned (tests/main_test.cc),
  // unless the test injects its own.
  if (std::none_of(extra.begin(), extra.end(),
                   [](const std::string& e) { return e.rfind("AETHER_PRESSURE=", 0) == 0; }))
    env_s.push_back("AETHER_PRESSURE=memory=0.5,disk=0.5,disk_bytes=100000000000");
  env_s.insert(env_s.end(), extra.begin(), extra.end());
  return env_s;
}
}  // namespace

namespace {

// The suite with every store's cold tier in a bucket (ColdTierRun()): the
// stores already moved there, and where they went.
struct ColdTierStores {
  std::once_flag started;
  std::mutex mu;
  std::set<std::string> moved;   // canonical paths
  std::set<std::string> copies;  // stores found with a tier they were not given here: copies of moved ones
  int next = 0;
  S3Server* server = nullptr;
};

ColdTierStores& ColdStores() {
  static ColdTierStores s;
  return s;
}

const char* kColdTierBucket = "suitecold";

// A store among `args` (a directory holding meta.db) not moved yet: moved
// now, by the commands a user would run (every shard sent out after each
// writing command from then on). Stores written by an older format stay as
// they are (upgrade would change their format: what their tests check), and
// so does a copy a test made of a moved store: it names the same prefix, so
// it may only be read (a writer's collection would delete the objects only
// the original names), which is checked. The moving commands run at the
// test's clock (its AETHER_NOW_MS), so their history sits in its timeline.
void MoveColdTiers(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  static const std::set<std::string> kReaders = {"search", "get", "verify", "stats", "list", "export", "history"};
  ColdTierStores& c = ColdStores();
  std::vector<std::string> todo;
  {
    std::lock_guard<std::mutex> g(c.mu);
    if (!c.server) return;
    for (const std::string& a : args) {
      std::error_code ec;
      if (a.empty() || a[0] == '-' || !std::filesystem::is_regular_file(a + "/meta.db", ec)) continue;
      const std::string canonical = std::filesystem::weakly_canonical(a, ec).string();
      if (ec) continue;
      if (c.copies.count(canonical) && !kReaders.count(args[0]))
        FAIL_CHECK("AETHER_TEST_COLD_TIER: aether " << args[0] << " wrote " << a
                                                    << ", a copy of a store moved to a bucket, sharing its prefix");
      if (!c.moved.insert(canonical).second) continue;
      todo.push_back(a);
    }
  }
  std::vector<std::string> clock;
  for (const std::string& e : env)
    if (e.rfind("AETHER_NOW_MS=", 0) == 0) clock.push_back(e);
  for (const std::string& store : todo) {
    const auto version = SqlRows(store, "SELECT value FROM config WHERE key = 'format_version'");
    // A cold tier in a bucket needs version 6 (a float32 store is 7).
    if (version.empty() || std::atoi(version[0].c_str()) < 6) continue;
    if (!SqlRows(store, "SELECT value FROM config WHERE key = 'cold_uri'").empty()) {
      if (!kReaders.count(args[0]))
        FAIL_CHECK("AETHER_TEST_COLD_TIER: aether " << args[0] << " wrote " << store
                                                    << ", a copy of a store moved to a bucket, sharing its prefix");
      std::lock_guard<std::mutex> g(c.mu);
      c.copies.insert(std::filesystem::weakly_canonical(store).string());
      continue;
    }
    int n;
    {
      std::lock_guard<std::mutex> g(c.mu);
      n = c.next++;
    }
    const std::string uri =
        std::string("s3://") + kColdTierBucket + "/p" + std::to_string(getpid()) + "-" + std::to_string(n);
    RunResult r = Aether({"config", store, "set", "cold_local_bytes", "0"}, "", clock);
    REQUIRE_MESSAGE(r.exit_code == 0, "moving " << store << "'s cold tier to " << uri << ": " << r.err);
    r = Aether({"upgrade", store, "--cold-uri", uri, "-q"}, "", clock);
    REQUIRE_MESSAGE(r.exit_code == 0, "moving " << store << "'s cold tier to " << uri << ": " << r.err);
    // Every shard went: the test's commands read them from the bucket.
    for (const auto& e : std::filesystem::recursive_directory_iterator(store + "/cold"))
      REQUIRE_MESSAGE(!(e.is_regular_file() && e.path().extension() == ".shard"), e.path().string() << " stayed");
  }
}

}  // namespace

bool ColdTierRun() {
  static const bool on = [] {
    const char* v = getenv("AETHER_TEST_COLD_TIER");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

// Once per process, before its first aether process: the server started,
// its address and account put into this process's environment, which the
// aether processes inherit (and the library reads, in process). Where
// s3rver cannot run, the stores stay local, with a message saying so.
void StartColdTierRun() {
  ColdTierStores& c = ColdStores();
  std::call_once(c.started, [&] {
    S3Server* server = SharedS3Server(kColdTierBucket);
    if (!server) {
      MESSAGE("AETHER_TEST_COLD_TIER: no S3 server; the stores stay on the local disk");
      return;
    }
    for (const std::string& e : S3rverEnv(server->endpoint())) {
      const size_t eq = e.find('=');
      setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    std::lock_guard<std::mutex> g(c.mu);
    c.server = server;
  });
}

RunResult Aether(const std::vector<std::string>& args, const std::string& stdin_data,
                 const std::vector<std::string>& env) {
  if (ColdTierRun()) StartColdTierRun();
  RunResult r = RunAether(args, stdin_data, env);
  if (ColdTierRun() && r.exit_code == 0 && g_prefix.empty()) MoveColdTiers(args, env);
  return r;
}

RunResult RunAether(const std::vector<std::string>& args, const std::string& stdin_data,
                    const std::vector<std::string>& env) {
  static const bool ignore_sigpipe = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)ignore_sigpipe;
  int in[2], out[2], err[2];
  // O_CLOEXEC: a child spawned meanwhile by another thread must not inherit
  // these ends (an inherited stdin write end would keep this child waiting).
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) posix_spawn_file_actions_addclose(&fa, fd);
  pid_t pid = SpawnWith(&fa, args, env);
  close(in[0]);
  close(out[1]);
  close(err[1]);

  RunResult r;
  size_t written = 0;
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (stdin_data.empty()) close(in[1]), in[1] = -1;
  std::string* sinks[2] = {&r.out, &r.err};
  int fds[2] = {out[0], err[0]};
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[3];
    int n = 0;
    for (int i = 0; i < 2; ++i) p[n++] = {fds[i], POLLIN, 0};
    p[n++] = {in[1], POLLOUT, 0};
    poll(p, n, -1);
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = read(fds[i], buf, sizeof buf);
      if (got <= 0) {
        close(fds[i]);
        fds[i] = -1;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(got));
      }
    }
    if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in[1], stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == stdin_data.size()) close(in[1]), in[1] = -1;
    }
  }
  if (in[1] >= 0) close(in[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult AetherVia(const std::vector<std::string>& prefix, const std::vector<std::string>& args,
                    const std::string& stdin_data, const std::vector<std::string>& env) {
  g_prefix = prefix;
  RunResult r = Aether(args, stdin_data, env);
  g_prefix.clear();
  return r;
}

std::vector<std::string> AsNobody(std::string* why) {
  const std::vector<std::string> prefix = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
  if (access(prefix[0].c_str(), X_OK) != 0) {
    *why = "setpriv is missing";
    return {};
  }
  const RunResult r = AetherVia(prefix, {"--version"});
  if (r.exit_code != 0) {
    *why =
        std::string("nobody cannot run ") + AETHER_BIN + " (exit " + std::to_string(r.exit_code) + ": " + r.err + ")";
    return {};
  }
  return prefix;
}

void LetOthersReach(const std::string& path) {
  for (std::filesystem::path p = path; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0) chmod(p.c_str(), (st.st_mode & 07777) | 0055);
  }
}

int SpawnAether(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = SpawnWith(&fa, args, env);
  return pid;
}

int SpawnAetherReading(const std::vector<std::string>& args, int stdin_fd, const std::string& err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  return SpawnWith(&fa, args, {});
}

int WaitAether(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> DirectoryBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "metrics.log")
      out[e.path().string().substr(dir.size())] = ReadFile(e.path().string());
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

void TruncateFile(const std::string& path, uint64_t size) { std::filesystem::resize_file(path, size); }

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

std::vector<Mem> RandomMems(size_t n, uint32_t dim, uint64_t seed, const std::string& prefix) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0, 1);
  std::vector<Mem> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].id = prefix + std::to_string(i);
    out[i].vec.resize(dim);
    for (auto& x : out[i].vec) x = gauss(rng);
  }
  return out;
}

std::string QueriesJsonl(const std::vector<Mem>& qs) {
  std::string out;
  for (const auto& q : qs) out += "{\"id\":\"" + q.id + "\",\"vector\":" + VectorJson(q.vec) + "}\n";
  return out;
}

std::string VectorJson(const std::vector<float>& v) {
  nlohmann::json j = nlohmann::json::array();
  for (float f : v) j.push_back(f);
  return j.dump();
}

std::vector<std::string> Ids(const std::vector<Mem>& mems) {
  std::vector<std::string> ids;
  for (const auto& m : mems) ids.push_back(m.id);
  return ids;
}

std::string ToJsonl(const std::vector<Mem>& mems) {
  std::string out;
  for (const auto& m : mems) out += "{\"id\":\"" + m.id + "\",\"vector\":" + VectorJson(m.vec) + "}\n";
  return out;
}

std::vector<std::pair<double, std::string>> BruteForce(const std::vector<Mem>& mems, const std::vector<float>& q,
                                                       size_t k, const std::string& metric) {
  std::vector<std::pair<double, std::string>> all;
  double qn = 0;
  for (float x : q) qn += double(x) * x;
  qn = std::sqrt(qn);
  for (const auto& m : mems) {
    double dot = 0, l2 = 0, mn = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      dot += double(q[i]) * m.vec[i];
      l2 += (double(q[i]) - m.vec[i]) * (double(q[i]) - m.vec[i]);
      mn += double(m.vec[i]) * m.vec[i];
    }
    double d = metric == "l2" ? std::sqrt(l2) : metric == "ip" ? -dot : 1 - dot / (qn * std::sqrt(mn));
    all.emplace_back(d, m.id);
  }
  std::sort(all.begin(), all.end());
  if (all.size() > k) all.resize(k);
  return all;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

std::vector<std::vector<Hit>> ParseSearchOutput(const std::string& jsonl) {
  std::vector<std::vector<Hit>> out;
  for (const auto& line : Lines(jsonl)) {
    auto j = nlohmann::json::parse(line);
    std::vector<Hit> hits;
    for (const auto& r : j.at("results"))
      hits.push_back({r.at("id").get<std::string>(), r.at("distance").get<double>(), r.at("tier").get<std::string>()});
    out.push_back(std::move(hits));
  }
  return out;
}

bool SameTopK(const std::vector<Hit>& got, const std::vector<std::pair<double, std::string>>& want, double eps) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i].distance - want[i].first) > eps * std::max(1.0, std::fabs(want[i].first))) return false;
    if (got[i].id == want[i].second) continue;
    // A different id is acceptable only at a distance tie.
    bool tie = false;
    for (const auto& w : want)
      if (w.second == got[i].id && std::fabs(w.first - want[i].first) <= eps) tie = true;
    if (!tie) return false;
  }
  return true;
}

std::map<std::string, std::vector<float>> GetAll(const std::string& store, const std::vector<std::string>& ids) {
  std::vector<std::string> args = {"get", store};
  args.insert(args.end(), ids.begin(), ids.end());
  RunResult r = Aether(args);
  std::map<std::string, std::vector<float>> out;
  for (const auto& line : Lines(r.out)) {
    auto j = nlohmann::json::parse(line);
    out[j.at("id").get<std::string>()] = j.at("vector").get<std::vector<float>>();
  }
  return out;
}

}  // namespace aether::test

namespace aether::test {

std::map<std::string, Stored> GetRecords(const std::string& store, const std::vector<std::string>& ids) {
  std::map<std::string, Stored> out;
  for (size_t begin = 0; begin < ids.size(); begin += 2000) {
    std::vector<std::string> args = {"get", store};
    args.insert(args.end(), ids.begin() + begin, ids.begin() + std::min(ids.size(), begin + 2000));
    RunResult r = Aether(args);
    for (const auto& line : Lines(r.out)) {
      auto j = nlohmann::json::parse(line);
      out[j.at("id").get<std::string>()] = {j.at("vector").get<std::vector<float>>(), j.at("payload").dump(),
                                            j.at("tier").get<std::string>()};
    }
  }
  return out;
}

std::string Export(const std::string& store) {
  auto r = Aether({"export", store});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

void Verified(const std::string& store) {
  auto v = Aether({"verify", store});
  CHECK_MESSAGE(v.exit_code == 0, store << ": " << v.out << v.err);
}

std::string ToJsonlWithPayload(const std::vector<Mem>& mems, size_t first_n) {
  std::string out;
  for (size_t i = 0; i < mems.size(); ++i)
    out += "{\"id\":\"" + mems[i].id + "\",\"vector\":" + VectorJson(mems[i].vec) +
           ",\"payload\":{\"n\":" + std::to_string(first_n + i) + ",\"tag\":\"" + mems[i].id + "\"}}\n";
  return out;
}

bool ShortRun() {
  const char* v = getenv("AETHER_TEST_SHORT");
  return v && *v && std::string(v) != "0";
}

int SweepSize(int full) { return ShortRun() ? std::max(1, (full + 2) / 3) : full; }

bool InSweep(size_t i) { return !ShortRun() || i % 3 == 0; }

std::vector<std::string> SqlRows(const std::string& store, const std::string& sql) {
  // A test may read a store an aether process is writing (WAL mode): a
  // read that meets the writer's brief exclusive moments waits for it
  // rather than failing at once, and a failure closes the connection
  // before it fails the test (it would leak otherwise) and names the error.
  sqlite3* db = nullptr;
  sqlite3_stmt* st = nullptr;
  std::vector<std::string> rows;
  std::string error;
  int rc = sqlite3_open((store + "/meta.db").c_str(), &db);
  if (rc == SQLITE_OK) sqlite3_busy_timeout(db, 30000);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
      row += (c ? "|" : "") + std::string(text ? text : "NULL");
    }
    rows.push_back(row);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) error = db ? sqlite3_errmsg(db) : "out of memory";
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (!error.empty()) FAIL(store << ": " << sql << ": " << error);
  return rows;
}

std::set<std::string> Pinned(const std::string& store) {
  std::set<std::string> p;
  for (const std::string& line : Lines(Aether({"list", store, "--where", "pinned == true", "--format", "jsonl"}).out)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j["pinned"] == true);
    p.insert(j["id"].get<std::string>());
  }
  return p;
}

std::map<std::string, std::string> Tiers(const std::string& store) {
  std::map<std::string, std::string> t;
  for (const std::string& line : Lines(Aether({"list", store, "--format", "jsonl"}).out)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    t[j["id"].get<std::string>()] = j["tier"].get<std::string>();
  }
  return t;
}

}  // namespace aether::test
