// aether list: every filter, order and limit, checked against a reference
// built from `get` (the whole record of every memory, access-log entries
// included) on a store with both tiers, several creation times, importances
// and access histories.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

std::string At(int64_t ms) { return "AETHER_NOW_MS=" + std::to_string(ms); }

struct Filter {
  std::string tier;
  std::optional<double> min_imp, max_imp;
  std::optional<int64_t> created_since, created_until, accessed_since, accessed_until;
  std::string sort = "id";
  bool desc = false;
  uint64_t limit = 0;
};

// The reference: the records `get` printed, filtered, sorted and cut.
std::vector<json> Expected(std::vector<json> all, const Filter& f) {
  std::vector<json> out;
  for (json& r : all) {
    if (!f.tier.empty() && r["tier"] != f.tier) continue;
    const double imp = r["importance"];
    const int64_t created = r["created_ms"], accessed = r["last_access_ms"];
    if (f.min_imp && imp < *f.min_imp) continue;
    if (f.max_imp && imp > *f.max_imp) continue;
    if (f.created_since && created < *f.created_since) continue;
    if (f.created_until && created > *f.created_until) continue;
    if (f.accessed_since && accessed < *f.accessed_since) continue;
    if (f.accessed_until && accessed > *f.accessed_until) continue;
    r.erase("vector");
    r.erase("payload");
    r.erase("pattern");  // get reads the access pattern; list does not
    out.push_back(r);
  }
  const std::string key = f.sort == "created"        ? "created_ms"
                          : f.sort == "accessed"     ? "last_access_ms"
                          : f.sort == "importance"   ? "importance"
                          : f.sort == "access-count" ? "access_count"
                                                     : "id";
  std::sort(out.begin(), out.end(), [&](const json& a, const json& b) {
    const std::string ia = a["id"], ib = b["id"];
    if (key == "id") return f.desc ? ib < ia : ia < ib;
    if (a[key] != b[key]) return f.desc ? b[key] < a[key] : a[key] < b[key];
    return ia < ib;
  });
  if (f.limit && out.size() > f.limit) out.resize(f.limit);
  return out;
}

std::vector<std::string> Args(const std::string& store, const Filter& f) {
  std::vector<std::string> a = {"list", store, "--sort", f.sort, "--limit", std::to_string(f.limit)};
  if (!f.tier.empty()) a.insert(a.end(), {"--tier", f.tier});
  if (f.desc) a.push_back("--desc");
  auto add = [&](const char* flag, const auto& v) {
    if (v) a.insert(a.end(), {flag, json(*v).dump()});
  };
  add("--min-importance", f.min_imp);
  add("--max-importance", f.max_imp);
  add("--created-since", f.created_since);
  add("--created-until", f.created_until);
  add("--accessed-since", f.accessed_since);
  add("--accessed-until", f.accessed_until);
  return a;
}

}  // namespace

TEST_CASE("list: every filter, order and limit equals the reference built from get, access-log entries included") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(90, 4, 23);
  // Three batches at three times, importances on a coarse grid (ties).
  for (int b = 0; b < 3; ++b) {
    std::string in;
    for (int i = b * 30; i < b * 30 + 30; ++i)
      in += R"({"id":")" + mems[i].id + R"(","vector":)" + VectorJson(mems[i].vec) + R"(,"payload":{"i":)" +
            std::to_string(i) + R"(},"importance":)" + std::to_string((i * 7 % 11) / 10.0) + "}\n";
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50"}, in, {At(1000 + b * 1000)}).exit_code == 0);
  }
  // Accesses: some applied by a writer (feedback), most left in the access
  // log by read-only searches at later times.
  REQUIRE(Aether({"feedback", store, "m5", "1"}, "", {At(4500)}).exit_code == 0);
  for (int t = 0; t < 4; ++t) {
    std::vector<Mem> qs(mems.begin() + t * 9, mems.begin() + t * 9 + 5);
    REQUIRE(Aether({"search", store, "--queries", "-", "-k", "3"}, QueriesJsonl(qs), {At(5000 + t * 100)}).exit_code ==
            0);
  }
  std::vector<std::string> get = {"get", store};
  for (const auto& m : mems) get.push_back(m.id);
  auto got = Aether(get);
  REQUIRE(got.exit_code == 0);
  std::vector<json> all;
  std::set<int64_t> created, accessed;
  std::set<uint64_t> counts;
  for (const auto& line : Lines(got.out)) {
    all.push_back(json::parse(line));
    created.insert(all.back()["created_ms"].get<int64_t>());
    accessed.insert(all.back()["last_access_ms"].get<int64_t>());
    counts.insert(all.back()["access_count"].get<uint64_t>());
  }
  REQUIRE(all.size() == mems.size());
  REQUIRE(created.size() == 3);
  REQUIRE(accessed.size() >= 4);  // the reference has access times to filter on
  REQUIRE(counts.size() >= 2);

  std::mt19937 rng(7);
  auto pick = [&](const std::set<int64_t>& s) {
    auto it = s.begin();
    std::advance(it, rng() % s.size());
    return *it + int64_t(rng() % 3) - 1;  // on, just before or just after a value
  };
  const std::vector<std::string> sorts = {"id", "created", "accessed", "importance", "access-count"};
  int nonempty = 0, cut = 0;
  for (int t = 0; t < 160; ++t) {
    Filter f;
    f.sort = sorts[t % sorts.size()];
    f.desc = (t / sorts.size()) % 2;
    f.limit = std::vector<uint64_t>{0, 0, 1, 7, 1000}[rng() % 5];
    const int which = rng() % 8;  // mostly one bound at a time, sometimes all
    if (which == 0 || which == 7) f.tier = rng() % 2 ? "hot" : "cold";
    if (which == 1 || which == 7) f.min_imp = (rng() % 11) / 10.0;
    if (which == 2 || which == 7) f.max_imp = (rng() % 11) / 10.0;
    if (which == 3 || which == 7) f.created_since = pick(created);
    if (which == 4) f.created_until = pick(created);
    if (which == 5 || which == 7) f.accessed_since = pick(accessed);
    if (which == 6) f.accessed_until = pick(accessed);
    const auto want = Expected(all, f);
    auto r = Aether(Args(store, f));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::vector<json> have;
    for (const auto& line : Lines(r.out)) have.push_back(json::parse(line));
    std::string args;
    for (const auto& a : Args(store, f)) args += a + " ";
    CHECK_MESSAGE(have == want, args);
    nonempty += !want.empty();
    cut += f.limit && want.size() == f.limit;
    // --ids-only: the same ids in the same order.
    auto a = Args(store, f);
    a.push_back("--ids-only");
    auto ids = Aether(a);
    std::vector<std::string> want_ids;
    for (const auto& w : want) want_ids.push_back(w["id"]);
    CHECK(Lines(ids.out) == want_ids);
  }
  CHECK(nonempty > 100);
  CHECK(cut > 20);

  // --with-payload adds the stored payload; json is one array of the rows.
  auto r = Aether({"list", store, "--with-payload", "--format", "json", "--limit", "3", "--sort", "importance"});
  REQUIRE(r.exit_code == 0);
  Filter f;
  f.sort = "importance";
  f.limit = 3;
  auto want = Expected(all, f);
  auto have = json::parse(r.out);
  REQUIRE(have.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    for (const auto& r0 : all)
      if (r0["id"] == want[i]["id"]) want[i]["payload"] = r0["payload"];
    CHECK(have[i] == want[i]);
  }
  // Listing records no access and needs no writer: the next list agrees.
  CHECK(Aether({"list", store}).out == Aether({"list", store}).out);
  // Bad options.
  CHECK(Aether({"list", store, "--max-importance", "inf"}).exit_code == 64);
  CHECK(Aether({"list", store, "--sort", "size"}).exit_code == 64);
  CHECK(Aether({"list", store, "--ids-only", "--format", "table"}).exit_code == 64);
  CHECK(Aether({"list", dir / "missing"}).exit_code == 66);
}

TEST_CASE("list --limit over a selection larger than the pruning threshold: the first N of the full order") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(3000, 2, 41);
  for (int b = 0; b < 3; ++b) {
    std::string in;
    for (int i = b * 1000; i < b * 1000 + 1000; ++i)
      in += R"({"id":")" + mems[i].id + R"(","vector":)" + VectorJson(mems[i].vec) + R"(,"importance":)" +
            std::to_string((i * 13 % 17) / 16.0) + "}\n";
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "1500"}, in, {At(1000 + b)}).exit_code == 0);
  }
  for (const std::string sort : {"id", "created", "importance", "access-count"})
    for (const bool desc : {false, true}) {
      std::vector<std::string> args = {"list", store, "--sort", sort, "--ids-only"};
      if (desc) args.push_back("--desc");
      const auto full = Lines(Aether(args).out);
      REQUIRE(full.size() == mems.size());
      for (const std::string limit : {"1", "7", "1000", "1499", "2999", "3000", "18446744073709551615"}) {
        auto a = args;
        a.insert(a.end(), {"--limit", limit});
        auto r = Aether(a);
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        const size_t n = std::min<size_t>(full.size(), std::stoull(limit));
        CHECK_MESSAGE(Lines(r.out) == std::vector<std::string>(full.begin(), full.begin() + n),
                      sort << (desc ? " desc" : "") << " limit " << limit);
      }
    }
  // json streams the same rows as jsonl, as one array.
  auto jsonl = Lines(Aether({"list", store, "--sort", "importance", "--limit", "50"}).out);
  auto arr = json::parse(Aether({"list", store, "--sort", "importance", "--limit", "50", "--format", "json"}).out);
  REQUIRE(arr.size() == jsonl.size());
  for (size_t i = 0; i < jsonl.size(); ++i) CHECK(arr[i] == json::parse(jsonl[i]));
  // An empty or negative value is refused, never read as "no bound".
  for (const std::string flag : {"--min-importance", "--max-importance", "--created-since", "--created-until",
                                 "--accessed-since", "--accessed-until", "--limit"}) {
    auto r = Aether({"list", store, flag, ""});
    CHECK_MESSAGE(r.exit_code == 64, flag);
    CHECK(r.err.find(flag + ": an empty value") != std::string::npos);
  }
  CHECK(Aether({"list", store, "--limit", "-1"}).exit_code == 64);
  // An id with a line break cannot be one line of --ids-only.
  REQUIRE(Aether({"ingest", store}, R"({"id":"a\nb","vector":[1,2]})"
                                    "\n")
              .exit_code == 0);
  auto r = Aether({"list", store, "--ids-only", "--min-importance", "0.5"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find(R"(id "a\nb" holds a line break)") != std::string::npos);
  CHECK(Aether({"list", store, "--min-importance", "0.5"}).exit_code == 0);
}

TEST_CASE("list and update --file --progress count what they did; off when stderr is not a TTY") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--dim", "4", "--hot-capacity", "1000"}, ToJsonl(RandomMems(5000, 4, 9)))
              .exit_code == 0);
  auto r = Aether({"list", store, "--ids-only", "--progress"});
  REQUIRE(r.exit_code == 0);
  CHECK(Lines(r.out).size() == 5000);
  std::string err = r.err;
  std::replace(err.begin(), err.end(), '\r', '\n');
  CHECK(err.find("list 4096 ") != std::string::npos);
  CHECK(err.find("list 5000 ") != std::string::npos);
  CHECK(Aether({"list", store, "--ids-only"}).err.empty());

  std::string updates;
  for (int i = 0; i < 5000; ++i) updates += "{\"id\":\"m" + std::to_string(i) + "\",\"importance\":0.25}\n";
  auto u = Aether({"update", store, "--file", "-", "--progress"}, updates);
  REQUIRE(u.exit_code == 0);
  err = u.err;
  std::replace(err.begin(), err.end(), '\r', '\n');
  CHECK(err.find("update (reading) 4096 ") != std::string::npos);
  CHECK(err.find("update 1024/5000 ") != std::string::npos);
  CHECK(err.find("update 5000/5000 ") != std::string::npos);
  CHECK(Aether({"update", store, "--file", "-"}, updates).err == "aether: applied 5000 updates\n");
}
