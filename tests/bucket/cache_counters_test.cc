// CACHE/counters (format-spec/s3_snapshots.md, "The cache's counters"): the
// spec's example decodes to its values, encoding gives its bytes back, and
// a change to any one byte of a record is refused (then the totals start
// again rather than read wrong figures).
#include "bucket/cache_counters.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "test_util.h"

using namespace aether;

namespace {

// The spec's hex example (xxd), as bytes.
std::string SpecExample() {
  const char* rows[] = {"4145 5448 4343 4e54 0100 0000 0000 0000", "e0b9 4145 a201 0000 0500 0000 0000 0000",
                        "0600 0000 0000 0000 0300 0000 0000 0000", "2b82 0000 0000 0000 0300 0000 0000 0000",
                        "0000 0000 0000 0000 0ff3 220a 0000 0000"};
  std::string out;
  for (const char* row : rows) {
    std::istringstream in(row);
    std::string group;
    while (in >> group)
      for (size_t i = 0; i < group.size(); i += 2) out.push_back(char(std::stoi(group.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

TEST_CASE("cache counters: the spec's example decodes to its figures and encodes back to its bytes") {
  const std::string bytes = SpecExample();
  REQUIRE(bytes.size() == kCacheCountersBytes);
  BucketCacheTotals t;
  REQUIRE(DecodeBucketCacheTotals(bytes, &t));
  CHECK(t.since_ms == 1796458265056);
  CHECK(t.opens == 5);
  CHECK(t.shards_cached == 6);
  CHECK(t.shards_fetched == 3);
  CHECK(t.bytes_fetched == 33323);
  CHECK(t.requests == 3);
  CHECK(t.evicted == 0);
  CHECK(EncodeBucketCacheTotals(t) == bytes);
}

TEST_CASE("cache counters: any one byte changed, a byte short or one more, and the record is refused") {
  const std::string good = EncodeBucketCacheTotals(BucketCacheTotals{1800000000000, 7, 11, 13, 1 << 20, 17, 19});
  BucketCacheTotals t;
  REQUIRE(DecodeBucketCacheTotals(good, &t));
  int refused = 0;
  for (size_t at = 0; at < good.size(); ++at)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[at] = char(bad[at] ^ (1 << bit));
      CAPTURE(at);
      CHECK_FALSE(DecodeBucketCacheTotals(bad, &t));
      ++refused;
    }
  CHECK(refused == 80 * 8);
  CHECK_FALSE(DecodeBucketCacheTotals(good.substr(0, 79), &t));
  CHECK_FALSE(DecodeBucketCacheTotals(good + '\0', &t));
  CHECK_FALSE(DecodeBucketCacheTotals("", &t));
}

TEST_CASE("cache counters: adds accumulate, a damaged file starts again at the adder's clock, a link is left") {
  aether::test::TempDir dir;
  const std::string cache = dir.path();
  CHECK(ReadBucketCacheTotals(cache)->opens == 0);
  BucketCacheTotals sum;
  for (uint64_t i = 1; i <= 5; ++i) {
    const BucketCacheTotals delta{0, 1, i, 2 * i, 100 * i, 3 * i, i % 2};
    REQUIRE(AddBucketCacheTotals(cache, delta, int64_t(1000 + i)).ok());
    sum.opens += 1;
    sum.shards_cached += i;
    sum.shards_fetched += 2 * i;
    sum.bytes_fetched += 100 * i;
    sum.requests += 3 * i;
    sum.evicted += i % 2;
  }
  auto read = ReadBucketCacheTotals(cache);
  REQUIRE(read.ok());
  CHECK(read->since_ms == 1001);  // the first add's clock
  CHECK(EncodeBucketCacheTotals(*read) ==
        EncodeBucketCacheTotals(BucketCacheTotals{1001, sum.opens, sum.shards_cached, sum.shards_fetched,
                                                  sum.bytes_fetched, sum.requests, sum.evicted}));
  // Damaged: read says so; the next add starts again from its own figures.
  const std::string path = cache + "/" + kCacheCountersFile;
  std::string bytes = aether::test::ReadFile(path);
  bytes[30] = char(bytes[30] ^ 1);
  aether::test::WriteFile(path, bytes);
  CHECK(ReadBucketCacheTotals(cache).status().code() == Code::kCorruption);
  REQUIRE(AddBucketCacheTotals(cache, BucketCacheTotals{0, 1, 2, 3, 4, 5, 6}, 2000).ok());
  CHECK(EncodeBucketCacheTotals(*ReadBucketCacheTotals(cache)) ==
        EncodeBucketCacheTotals(BucketCacheTotals{2000, 1, 2, 3, 4, 5, 6}));
  // A link: neither read nor written through; its target unchanged.
  aether::test::WriteFile(dir / "mine", "mine");
  REQUIRE(unlink(path.c_str()) == 0);
  REQUIRE(symlink((dir / "mine").c_str(), path.c_str()) == 0);
  CHECK_FALSE(AddBucketCacheTotals(cache, BucketCacheTotals{0, 1}, 3000).ok());
  CHECK_FALSE(ReadBucketCacheTotals(cache).ok());
  CHECK(aether::test::ReadFile(dir / "mine") == "mine");
}
