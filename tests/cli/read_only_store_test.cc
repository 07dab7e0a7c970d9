// A store the user may read but not write (another user's, world-readable;
// or its write bits removed): every reader works and prints what the owner
// sees; every writer fails with exit 77 and a message that says so; nothing
// in the store changes. Also with a dead writer's migration waiting (and its
// SQLite WAL not yet checkpointed). As root the commands run as `nobody`
// through setpriv(1); otherwise the store's write bits are removed.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

struct ReadOnly {
  std::vector<std::string> prefix;  // how to run aether as a user who may only read
  ReadOnly(const std::string& store, std::vector<std::string> as_nobody) : prefix(std::move(as_nobody)), root(store) {
    if (geteuid() == 0) {
      // nobody must reach the store: every directory on the way readable.
      LetOthersReach(store);
      for (const auto& e : fs::recursive_directory_iterator(store))
        chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
    } else {
      for (const auto& e : fs::recursive_directory_iterator(store))
        chmod(e.path().c_str(), e.is_directory() ? 0555 : 0444);
      chmod(store.c_str(), 0555);
    }
  }
  ~ReadOnly() {  // writable again, so that the temporary directory can be removed
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(root, ec))
      chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
    chmod(root.c_str(), 0755);
  }
  std::string root;
  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") const {
    return AetherVia(prefix, args, in);
  }
};

// How to run aether as a user the permissions apply to: as root, nobody
// (false, with a message, when nobody cannot run it: the test is skipped).
bool OtherUser(std::vector<std::string>* prefix) {
  if (geteuid() != 0) return true;
  std::string why;
  *prefix = AsNobody(&why);
  if (prefix->empty()) MESSAGE(why << ": skipped");
  return !prefix->empty();
}

}  // namespace

TEST_CASE("a store the user may only read: readers work, writers exit 77, nothing changes") {
  std::vector<std::string> as_nobody;  // as root: run as nobody, else as this user
  if (!OtherUser(&as_nobody)) return;
  for (bool dangling : {false, true}) {
    CAPTURE(dangling);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = RandomMems(80, 4, 12);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "40"}, ToJsonlWithPayload(mems)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "2"}).exit_code == 0);
    // What the owner's readers print, before the store turns read-only.
    const std::vector<std::vector<std::string>> readers = {
        {"search", store, "--vector", VectorJson(mems[3].vec), "--no-touch", "--with-payload"},
        {"get", store, "m1", "m50", "m79"},
        {"history", store},
    };
    std::vector<RunResult> owner;
    for (const auto& r : readers) owner.push_back(Aether(r));
    // A writer killed after its data was written: the committed state is
    // still what the owner saw; the replay waits for someone who may write.
    if (dangling)
      REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 4, 13, "late")),
                     {"AETHER_FAULT=ingest.after_written"})
                  .exit_code == 137);
    ReadOnly ro(store, as_nobody);
    const auto before = DirectoryBytes(store);

    for (size_t i = 0; i < readers.size(); ++i) {
      CAPTURE(readers[i][0]);
      auto r = ro.Run(readers[i]);
      CHECK_MESSAGE(r.exit_code == owner[i].exit_code, r.err);
      CHECK(r.out == owner[i].out);
      if (dangling) CHECK(r.err.find("may not write this store") != std::string::npos);
    }
    auto stats = ro.Run({"stats", store, "--format", "json"});
    CHECK_MESSAGE(stats.exit_code == 0, stats.err);
    auto verify = ro.Run({"verify", store});
    CHECK(verify.exit_code == (dangling ? 1 : 0));  // the waiting migration is a problem to report
    // A default search records accesses: it cannot here, says so, answers.
    auto touch = ro.Run({"search", store, "--vector", VectorJson(mems[3].vec)});
    CHECK(touch.exit_code == 0);
    CHECK(touch.err.find("accesses not recorded: " + store + ": this user may not write this store") !=
          std::string::npos);
    CHECK(ParseSearchOutput(touch.out).size() == 1);

    const std::vector<std::vector<std::string>> writers = {
        {"ingest", "--create", store}, {"delete", store, "m1"},        {"descend", store, "m1"},
        {"ascend", store, "m60"},      {"rebuild-index", store},       {"recover", store},
        {"maintain", store},           {"feedback", store, "m1", "1"}, {"config", store, "set", "sample_rate", "0.5"},
    };
    for (const auto& w : writers) {
      CAPTURE(w[0]);
      auto r = ro.Run(w, "{\"id\":\"new\",\"vector\":[1,2,3,4]}\n");
      CHECK(r.exit_code == 77);
      CHECK(r.err.find("this user may not write this store") != std::string::npos);
    }
    CHECK(DirectoryBytes(store) == before);
  }
}

// A store on a file system mounted read-only (a snapshot, a recovery
// mount): no user may write it, so the errors say the mount is read-only,
// not that this user lacks a permission. Needs mount(2) (root with
// CAP_SYS_ADMIN): skipped with a message otherwise.
TEST_CASE("a store on a file system mounted read-only: readers work, writers exit 77 naming the mount") {
  for (bool dangling : {false, true}) {
    CAPTURE(dangling);
    TempDir dir;
    const std::string mnt = dir / "mnt", store = mnt + "/s";
    fs::create_directories(mnt);
    if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=16m") != 0) {
      MESSAGE("mount(2) of a tmpfs refused (" << std::strerror(errno) << "): skipped");
      return;
    }
    struct Unmount {
      std::string path;
      ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
    } unmount{mnt};
    auto mems = RandomMems(60, 4, 15);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "30", "-q"}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "2", "-q"}).exit_code == 0);
    const std::vector<std::string> query = {"search", store, "--vector", VectorJson(mems[3].vec), "--no-touch"};
    const RunResult want = Aether(query);
    if (dangling)
      REQUIRE(Aether({"ingest", store}, ToJsonl(RandomMems(5, 4, 16, "late")), {"AETHER_FAULT=ingest.after_written"})
                  .exit_code == 137);
    REQUIRE(mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
    const std::string ro = "the file system holding this store is mounted read-only";

    const RunResult read = Aether(query);
    CHECK_MESSAGE(read.exit_code == 0, read.err);
    CHECK(read.out == want.out);
    if (dangling)
      CHECK_MESSAGE(read.err.find("migrations wait to be replayed, and " + ro) != std::string::npos, read.err);
    const RunResult touch = Aether({"search", store, "--vector", VectorJson(mems[3].vec)});
    CHECK(touch.exit_code == 0);
    CHECK(touch.out == want.out);
    CHECK_MESSAGE(touch.err.find("accesses not recorded: " + store + ": " + ro) != std::string::npos, touch.err);
    for (const std::vector<std::string>& w : std::vector<std::vector<std::string>>{{"ingest", store},
                                                                                   {"delete", store, "m1"},
                                                                                   {"maintain", store},
                                                                                   {"rebuild-index", store},
                                                                                   {"recover", store}}) {
      CAPTURE(w[0]);
      const RunResult r = Aether(w, "{\"id\":\"new\",\"vector\":[1,2,3,4]}\n");
      CHECK(r.exit_code == 77);
      CHECK_MESSAGE(r.err.find(ro) != std::string::npos, r.err);
      CHECK(r.err.find("this user may not") == std::string::npos);
    }
  }
}

// A store behind a directory this user may not search (a home directory
// of mode 700, say) is there, just out of reach: every command says so
// (77), instead of "no such store" (66), which sends the user looking for
// a store that exists. A store that is missing is still 66.
TEST_CASE("a store behind a directory this user may not enter: every command exits 77 saying so, not 66") {
  std::vector<std::string> as_nobody;  // as root: run as nobody, else as this user
  if (!OtherUser(&as_nobody)) return;
  TempDir dir;
  const std::string locked = dir / "locked", store = locked + "/s";
  fs::create_directories(locked);
  REQUIRE(Aether({"ingest", "--create", store, "-q"}, ToJsonl(RandomMems(20, 4, 14))).exit_code == 0);
  const auto before = DirectoryBytes(store);
  if (!as_nobody.empty())  // nobody reaches dir, not what is in locked
    LetOthersReach(dir.path());
  chmod(locked.c_str(), as_nobody.empty() ? 0600 : 0700);
  const std::vector<std::string> s3 = {"AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s", "AWS_REGION=us-east-1",
                                       "AWS_ENDPOINT_URL=http://127.0.0.1:1"};
  const std::vector<std::vector<std::string>> commands = {
      {"stats", store},
      {"search", store, "--vector", "[1,2,3,4]"},
      {"get", store, "m1"},
      {"verify", store},
      {"export", store},
      {"ingest", store},
      {"descend", store, "--all"},
      {"publish", store, "s3://bucket-x/p"},
  };
  for (const auto& args : commands) {
    CAPTURE(args[0]);
    const RunResult r = AetherVia(as_nobody, args, ToJsonl(RandomMems(1, 4, 15, "n")), s3);
    CHECK(r.exit_code == 77);
    CHECK_MESSAGE(r.err.find(store + ": this user may not reach it") != std::string::npos, r.err);
  }
  const RunResult missing = AetherVia(as_nobody, {"stats", dir / "nothere"});
  CHECK(missing.exit_code == 66);
  CHECK(missing.err.find("no such store") != std::string::npos);
  chmod(locked.c_str(), 0755);
  CHECK(DirectoryBytes(store) == before);
}
