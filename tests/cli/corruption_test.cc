// Flips bytes in and truncates every file kind of a store (including the
// SQLite DB) at many offsets. After each damage: verify, search and get must
// exit cleanly (0, 1 for "problems found", or 79 for corruption), never
// crash, and verify must name the damaged file when it is a data file.
#include <doctest/doctest.h>

#include <filesystem>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

bool CleanExit(int code) { return code == 0 || code == 1 || code == 79; }

void Restore(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

}  // namespace

TEST_CASE("damage to any store file is reported, never a crash") {
  TempDir dir;
  std::string pristine = dir / "pristine", store = dir / "s";
  auto mems = RandomMems(400, 8, 17);
  REQUIRE(Aether({"ingest", pristine, "--hot-capacity", "100"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "6"}).exit_code == 0);
  REQUIRE(Aether({"ingest", pristine}, ToJsonl(RandomMems(60, 8, 18, "x"))).exit_code == 0);
  REQUIRE(Aether({"delete", pristine, "m5", "m300"}).exit_code == 0);
  REQUIRE(Aether({"verify", pristine}).exit_code == 0);
  const std::vector<std::string> files = {"hot.slots", "cold/staging.shard", "cold/g000001/p000000.shard",
                                          "index/g000001.centroids", "meta.db"};
  int trials = 0, detected = 0;
  for (const auto& name : files) {
    uint64_t size = FileSize(pristine + "/" + name);
    std::vector<uint64_t> offsets;
    for (uint64_t o = 0; o < std::min<uint64_t>(size, 40); o += 3) offsets.push_back(o);  // headers
    for (int i = 1; i <= 12; ++i) offsets.push_back(size * uint64_t(i) / 13);
    for (bool truncate : {false, true}) {
      for (uint64_t off : offsets) {
        CAPTURE(name);
        CAPTURE(off);
        CAPTURE(truncate);
        Restore(pristine, store);
        if (truncate) TruncateFile(store + "/" + name, off);
        else FlipByte(store + "/" + name, off);
        auto v = Aether({"verify", store});
        auto s = Aether({"search", store, "--vector", VectorJson(mems[7].vec), "-k", "5", "--no-touch"});
        auto g = Aether({"get", store, "m7", "m250", "x3"});
        CHECK_MESSAGE(CleanExit(v.exit_code), v.err);
        CHECK_MESSAGE(CleanExit(s.exit_code), s.err);
        CHECK_MESSAGE(CleanExit(g.exit_code), g.err);
        bool flagged = v.exit_code != 0;
        if (flagged) ++detected;
        if (v.exit_code == 1 && name != "meta.db")
          CHECK_MESSAGE(v.out.find(name.substr(name.rfind('/') + 1)) != std::string::npos, v.out);
        // A damaged data file that verify calls clean must still answer correctly.
        if (!flagged && s.exit_code == 0 && name != "meta.db") {
          auto hits = ParseSearchOutput(s.out);
          REQUIRE(hits.size() == 1);
          CHECK(hits[0][0].id == "m7");
        }
        ++trials;
      }
    }
  }
  MESSAGE("corruption: " << trials << " damaged stores, " << detected << " flagged by verify, 0 crashes");
}
