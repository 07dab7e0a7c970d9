// Disk full, for real: the store lives on a small tmpfs this test mounts
// (skipped, with a message, where mounting is not allowed); a filler file
// leaves 0 to 1 MiB free. ingest, descend, ascend, rebuild-index and backup either
// succeed or fail with the I/O exit code and "No space left"/"disk is full";
// then verify passes and the memories are exactly as before (a failed
// command) or after (a finished one); once the filler is gone the same
// command succeeds. The write-failure fault point version of this is
// io_error_test.cc (AETHER_FAIL_IO).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

class Tmpfs {
 public:
  Tmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    std::string cmd = "mount -t tmpfs -o size=" + size + " aether-test '" + dir + "' 2>/dev/null";
    mounted_ = std::system(cmd.c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) std::system(("umount -l '" + dir_ + "'").c_str());
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs st;
  REQUIRE(statvfs(dir.c_str(), &st) == 0);
  return uint64_t(st.f_bavail) * st.f_bsize;
}

// Fills the file system until `leave` bytes are free.
void Fill(const std::string& mount, uint64_t leave) {
  uint64_t free = FreeBytes(mount);
  int fd = open((mount + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  if (free > leave) REQUIRE(posix_fallocate(fd, 0, off_t(free - leave)) == 0);
  close(fd);
}

}  // namespace

TEST_CASE("a full disk: commands fail cleanly, verify passes, the same command succeeds after space is freed" *
          doctest::test_suite("sweep")) {
  TempDir dir;
  Tmpfs tmpfs(dir / "mnt", "24m");
  if (!tmpfs.mounted()) {
    MESSAGE(
        "cannot mount a tmpfs here (not root?): skipping the real full-disk test; "
        "io_error_test covers failing writes through AETHER_FAIL_IO");
    return;
  }
  const std::string mnt = dir / "mnt", pristine = dir / "pristine", store = mnt + "/s";
  auto base = RandomMems(3000, 32, 41, "a");
  auto extra = RandomMems(3000, 32, 42, "b");
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "1500"}, ToJsonl(base)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", pristine, "--seed", "2"}).exit_code == 0);
  WriteFile(dir / "extra.jsonl", ToJsonl(extra));
  std::vector<std::string> ids = Ids(base);
  for (const auto& m : extra) ids.push_back(m.id);
  auto reference = GetRecords(pristine, ids);
  REQUIRE(reference.size() == base.size());

  struct Op {
    const char* name;
    std::vector<std::string> args;
  };
  std::vector<std::string> cold_ids, hot_ids;
  for (const auto& [id, r] : reference) (r.tier == "cold" ? cold_ids : hot_ids).push_back(id);
  std::vector<std::string> ascend = {"ascend", store, "--evict", "--batch", "100"};
  ascend.insert(ascend.end(), cold_ids.begin(), cold_ids.begin() + 600);
  const std::vector<Op> ops = {
      {"ingest", {"ingest", "--create", store, dir / "extra.jsonl", "--batch", "1000"}},
      {"descend", {"descend", store, "--all", "--batch", "500"}},
      {"ascend", ascend},
      {"rebuild-index", {"rebuild-index", store, "--seed", "3"}},
      {"backup", {"backup", store, mnt + "/bk"}},
  };
  int trials = 0, full = 0;
  const std::vector<uint64_t> all_leaves = {0, 4096, 16384, 65536, 262144, 1048576};
  std::vector<uint64_t> leaves;  // a short run: every third, the full disk first
  for (size_t i = 0; i < all_leaves.size(); i += all_leaves.size() / size_t(SweepSize(int(all_leaves.size()))))
    leaves.push_back(all_leaves[i]);
  for (const Op& op : ops) {
    for (uint64_t leave : leaves) {
      CAPTURE(op.name);
      CAPTURE(leave);
      ++trials;
      fs::remove_all(store);
      fs::remove_all(mnt + "/bk");
      fs::remove(mnt + "/filler");
      REQUIRE(std::system(("cp -a '" + pristine + "' '" + store + "'").c_str()) == 0);
      Fill(mnt, leave);
      auto r = Aether(op.args);
      bool failed = r.exit_code != 0;
      if (failed) {
        ++full;
        CHECK_MESSAGE(r.exit_code == 74, r.err);
        bool says_full =
            r.err.find("No space left") != std::string::npos || r.err.find("disk is full") != std::string::npos;
        CHECK_MESSAGE(says_full, r.err);
      }
      // A backup that failed left nothing: no copy, no hidden directory.
      if (failed && op.name == std::string("backup"))
        for (const auto& e : fs::directory_iterator(mnt))
          CHECK_MESSAGE((e.path().filename() == "s" || e.path().filename() == "filler"), e.path());
      // Whatever happened, the store is consistent, even with the disk full.
      auto v = Aether({"verify", store});
      CHECK_MESSAGE(v.exit_code == 0, v.out << v.err);
      auto now = GetRecords(store, ids);
      size_t extra_found = 0;
      for (const auto& m : extra) extra_found += now.count(m.id);
      for (const auto& m : base) CHECK(now[m.id] == reference[m.id]);
      CHECK(extra_found % 1000 == 0);  // whole batches only
      // Space back: the same command finishes the job.
      fs::remove(mnt + "/filler");
      if (failed) {
        auto again = Aether(op.args);
        CHECK_MESSAGE((again.exit_code == 0 || (op.name == std::string("ingest") && again.exit_code == 65)), again.err);
        if (op.name == std::string("ingest") && again.exit_code == 65)  // batches that made it are duplicates now
          CHECK(Aether({"ingest", "--create", store, dir / "extra.jsonl", "--on-duplicate", "skip"}).exit_code == 0);
      }
      CHECK(Aether({"verify", store}).exit_code == 0);
      now = GetRecords(store, ids);
      for (const auto& m : base) CHECK(now[m.id] == reference[m.id]);
      if (op.name == std::string("ingest"))
        for (const auto& m : extra) CHECK(now[m.id].vec == m.vec);
      if (op.name == std::string("backup")) {
        CHECK(Aether({"verify", mnt + "/bk"}).exit_code == 0);
        CHECK(GetRecords(mnt + "/bk", ids) == reference);
      }
      if (op.name == std::string("descend"))
        for (const auto& m : base) CHECK(now[m.id].tier == "cold");
    }
  }
  MESSAGE("full-disk trials: " << trials << ", " << full << " hit the full disk");
  CHECK(full >= trials / 2);  // the sizes really are too small
}

TEST_CASE("no inode left: the error says so (df shows free space); verify passes; freed, the command succeeds") {
  TempDir dir;
  const std::string mount = dir / "mnt", store = mount + "/s";
  Tmpfs tmpfs(mount, "64m,nr_inodes=300");
  if (!tmpfs.mounted()) {
    MESSAGE("cannot mount a tmpfs here (not root?): skipped");
    return;
  }
  auto mems = RandomMems(300, 4, 61);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100", "-q"}, ToJsonl(mems)).exit_code == 0);
  const std::vector<std::string> query = {"search", store, "--vector", VectorJson(mems[7].vec), "--no-touch"};
  const RunResult want = Aether(query);
  REQUIRE(want.exit_code == 0);
  // Every inode taken by empty files: plenty of room for data remains.
  fs::create_directories(mount + "/fill");
  int made = 0;
  for (;; ++made) {
    const int fd = open((mount + "/fill/" + std::to_string(made)).c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0) {
      REQUIRE(errno == ENOSPC);
      break;
    }
    close(fd);
  }
  REQUIRE(FreeBytes(mount) > (32u << 20));
  // An index needs a directory and a file per partition.
  const RunResult failed = Aether({"rebuild-index", store, "--partitions", "8"});
  CHECK_MESSAGE(failed.exit_code == 74, failed.err);
  CHECK_MESSAGE(failed.err.find("No space left on device (no free inodes") != std::string::npos, failed.err);
  CHECK_MESSAGE(Aether({"verify", store}).exit_code == 0, "verify after the failed rebuild");
  CHECK(Aether(query).out == want.out);
  fs::remove_all(mount + "/fill");
  const RunResult done = Aether({"rebuild-index", store, "--partitions", "8"});
  CHECK_MESSAGE(done.exit_code == 0, done.err);
  CHECK(Aether({"verify", store}).exit_code == 0);
  CHECK(Aether(query).out == want.out);
}
