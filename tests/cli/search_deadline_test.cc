// search --timeout, the search deadline: with every part of the scan slowed
// down (AETHER_SCAN_DELAY_MS, an injected slow read), a deadline cuts the
// scan short. The queries it cut are marked "partial" and the exit code is
// 3, yet every result is a live memory at its true distance, best first.
// Without a deadline (none set, --timeout 0, or one long enough) the same
// slow search is exact (brute force).
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"

using namespace aether::test;

namespace {

constexpr uint32_t kDim = 8;
const std::vector<std::string> kSlow = {"AETHER_SCAN_DELAY_MS=300"};

struct Fixture {
  TempDir dir;
  std::string store = dir.path() + "/s";
  std::string queries = dir.path() + "/q.jsonl";
  std::vector<Mem> mems = RandomMems(400, kDim, 11);
  std::vector<Mem> qs = RandomMems(20, kDim, 12, "q");
};

// All 400 memories cold, in 8 partitions.
void MakeCold(Fixture* f) {
  REQUIRE(Aether({"init", f->store, "--dim", std::to_string(kDim), "--hot-capacity", "0"}).exit_code == 0);
  REQUIRE(Aether({"ingest", f->store, "-"}, ToJsonl(f->mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", f->store, "--partitions", "8", "--target-recall", "0"}).exit_code == 0);
  WriteFile(f->queries, QueriesJsonl(f->qs));
}

// Every hit of every query is one of `mems` at its true distance, each id
// once, best first, at most k of them.
void CheckHitsAreTrue(const std::vector<std::vector<Hit>>& got, const std::vector<Mem>& mems,
                      const std::vector<Mem>& qs, size_t k) {
  REQUIRE(got.size() == qs.size());
  for (size_t q = 0; q < qs.size(); ++q) {
    std::map<std::string, double> truth;
    for (const auto& [d, id] : BruteForce(mems, qs[q].vec, mems.size(), "l2")) truth[id] = d;
    CHECK(got[q].size() <= k);
    std::set<std::string> seen;
    for (size_t i = 0; i < got[q].size(); ++i) {
      const Hit& h = got[q][i];
      REQUIRE_MESSAGE(truth.count(h.id), h.id);
      CHECK_MESSAGE(std::abs(h.distance - truth[h.id]) <= 1e-4 * (1 + truth[h.id]), h.id);
      CHECK(seen.insert(h.id).second);
      if (i) CHECK(got[q][i - 1].distance <= h.distance);
    }
  }
}

size_t ExactQueries(const std::vector<std::vector<Hit>>& got, const std::vector<Mem>& mems, const std::vector<Mem>& qs,
                    size_t k) {
  size_t exact = 0;
  for (size_t q = 0; q < qs.size(); ++q) exact += SameTopK(got[q], BruteForce(mems, qs[q].vec, k, "l2"));
  return exact;
}

// Which output lines say "partial": true.
size_t PartialLines(const std::string& jsonl) {
  size_t n = 0;
  for (const auto& line : Lines(jsonl)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("partial")) {
      CHECK(j["partial"] == true);
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("search --timeout: a deadline cuts a slow scan short, marks the queries partial, exits 3" *
          doctest::test_suite("sweep")) {
  Fixture f;
  MakeCold(&f);
  const std::vector<std::string> search = {"search", f.store,     "--queries", f.queries,   "--nprobe",
                                           "8",      "--threads", "1",         "--no-touch"};
  // One worker: the first partition starts before the deadline, the 300 ms
  // it takes carry the scan past it, the other seven are skipped.
  auto args = search;
  args.insert(args.end(), {"--timeout", "100"});
  auto cut = Aether(args, "", kSlow);
  REQUIRE_MESSAGE(cut.exit_code == 3, cut.err);
  CHECK(cut.err.find("20 of 20 queries partial: the search deadline (--timeout 100) passed") != std::string::npos);
  CHECK(PartialLines(cut.out) == 20);
  auto got = ParseSearchOutput(cut.out);
  CheckHitsAreTrue(got, f.mems, f.qs, 10);
  CHECK(ExactQueries(got, f.mems, f.qs, 10) < 20);  // one partition of eight cannot hold every top 10

  // No deadline, the same slow reads: every partition, exact, no mark.
  for (const std::string timeout : {"", "0", "60000"}) {
    CAPTURE(timeout);
    args = search;
    if (!timeout.empty()) args.insert(args.end(), {"--timeout", timeout});
    auto whole = Aether(args, "", kSlow);
    REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
    CHECK(PartialLines(whole.out) == 0);
    CHECK(ExactQueries(ParseSearchOutput(whole.out), f.mems, f.qs, 10) == 20);
  }

  // The store's default (config search_timeout_ms) applies without the
  // flag; --timeout 0 lifts it.
  REQUIRE(Aether({"config", f.store, "set", "search_timeout_ms", "100"}).exit_code == 0);
  auto by_config = Aether(search, "", kSlow);
  CHECK_MESSAGE(by_config.exit_code == 3, by_config.err);
  CHECK(by_config.err.find("(the store's search_timeout_ms)") != std::string::npos);
  CHECK(PartialLines(by_config.out) == 20);
  args = search;
  args.insert(args.end(), {"--timeout", "0"});
  auto lifted = Aether(args, "", kSlow);
  CHECK_MESSAGE(lifted.exit_code == 0, lifted.err);
  CHECK(ExactQueries(ParseSearchOutput(lifted.out), f.mems, f.qs, 10) == 20);

  // Table and json say it too.
  args = search;
  args.insert(args.end(), {"--format", "json"});
  auto json = Aether(args, "", kSlow);
  CHECK(json.exit_code == 3);
  auto all = nlohmann::json::parse(json.out);
  REQUIRE(all.size() == 20);
  for (const auto& q : all) CHECK(q["partial"] == true);

  // One partition per query: the first scanned is some queries' only one,
  // and they are complete, unmarked, and what a search without a deadline
  // gives them; the rest are marked. (A deadline is 250 ms here: the first
  // partition must start before it.)
  const std::vector<std::string> one = {"search", f.store,     "--queries", f.queries,   "--nprobe",
                                        "1",      "--threads", "1",         "--no-touch"};
  auto whole = ParseSearchOutput(Aether(one, "", kSlow).out);
  args = one;
  args.insert(args.end(), {"--timeout", "250"});
  auto some = Aether(args, "", kSlow);
  REQUIRE_MESSAGE(some.exit_code == 3, some.err);
  const auto lines = Lines(some.out);
  const auto hits = ParseSearchOutput(some.out);
  REQUIRE(lines.size() == 20);
  REQUIRE(whole.size() == 20);
  size_t marked = 0;
  for (size_t q = 0; q < lines.size(); ++q) {
    CAPTURE(q);
    if (nlohmann::json::parse(lines[q]).contains("partial")) {
      ++marked;
      CHECK(hits[q].empty());  // its one partition was not scanned
      continue;
    }
    REQUIRE(hits[q].size() == whole[q].size());
    for (size_t i = 0; i < hits[q].size(); ++i) CHECK(hits[q][i].id == whole[q][i].id);
  }
  CHECK(marked > 0);
  CHECK(marked < 20);
  args = search;
  args.insert(args.end(), {"--format", "table"});
  auto table = Aether(args, "", kSlow);
  CHECK(table.exit_code == 3);
  CHECK(table.err.find("queries partial") != std::string::npos);
}

TEST_CASE("search --timeout: a cut hot scan marks every query; a filtered query short of k is ranked exactly") {
  Fixture f;
  // Hot only: 12,000 memories of 48-byte slots are three 256 KiB blocks.
  f.mems = RandomMems(12000, kDim, 21);
  REQUIRE(Aether({"init", f.store, "--dim", std::to_string(kDim), "--hot-capacity", "20000"}).exit_code == 0);
  REQUIRE(Aether({"ingest", f.store, "-"}, ToJsonl(f.mems)).exit_code == 0);
  WriteFile(f.queries, QueriesJsonl(f.qs));
  auto cut = Aether({"search", f.store, "--queries", f.queries, "--threads", "1", "--no-touch", "--timeout", "100"}, "",
                    kSlow);
  REQUIRE_MESSAGE(cut.exit_code == 3, cut.err);
  CHECK(PartialLines(cut.out) == 20);
  auto got = ParseSearchOutput(cut.out);
  CheckHitsAreTrue(got, f.mems, f.qs, 10);
  CHECK(ExactQueries(got, f.mems, f.qs, 10) < 20);

  // Filtered, scan plan, cold: k = 400 is every memory, more than one
  // partition holds, so each query cut short of k is ranked exactly over
  // the selection instead, and is complete.
  Fixture g;
  MakeCold(&g);
  auto filtered = Aether({"search", g.store, "--queries", g.queries, "--nprobe", "8", "--threads", "1", "--no-touch",
                          "-k", "400", "--where", "tier == \"cold\"", "--where-plan", "scan", "--timeout", "100"},
                         "", kSlow);
  REQUIRE_MESSAGE(filtered.exit_code == 0, filtered.err);
  CHECK(PartialLines(filtered.out) == 0);
  CHECK(ExactQueries(ParseSearchOutput(filtered.out), g.mems, g.qs, 400) == 20);
  // A filter that selects nothing: no scan, nothing partial.
  auto none =
      Aether({"search", g.store, "--queries", g.queries, "--no-touch", "--where", "importance > 2", "--timeout", "100"},
             "", kSlow);
  REQUIRE_MESSAGE(none.exit_code == 0, none.err);
  CHECK(PartialLines(none.out) == 0);
  for (const auto& q : ParseSearchOutput(none.out)) CHECK(q.empty());
}

TEST_CASE("search --timeout and AETHER_SCAN_DELAY_MS refuse bad values") {
  Fixture f;
  MakeCold(&f);
  for (const std::string bad : {"-1", "3600001", "x", "1.5"}) {
    CAPTURE(bad);
    auto r = Aether({"search", f.store, "--queries", f.queries, "--timeout", bad});
    CHECK(r.exit_code == 64);
  }
  for (const std::string bad : {"0", "60001", "x", ""}) {
    CAPTURE(bad);
    auto r = Aether({"search", f.store, "--queries", f.queries}, "", {"AETHER_SCAN_DELAY_MS=" + bad});
    if (bad.empty()) {
      CHECK(r.exit_code == 0);  // unset
    } else {
      CHECK(r.exit_code == 64);
      CHECK(r.err.find("AETHER_SCAN_DELAY_MS=" + bad + ": expected MS in 1..60000") != std::string::npos);
    }
  }
  CHECK(Aether({"config", f.store, "set", "search_timeout_ms", "3600001"}).exit_code == 64);
  // A fraction config set takes is a deadline (rounded up), not damage.
  REQUIRE(Aether({"config", f.store, "set", "search_timeout_ms", "59999.5"}).exit_code == 0);
  auto fraction = Aether({"search", f.store, "--queries", f.queries, "--no-touch"});
  CHECK_MESSAGE(fraction.exit_code == 0, fraction.err);
  CHECK(ParseSearchOutput(fraction.out).size() == 20);
}
