// The crash matrix: every fault point x 5 seeds. Each trial kills a real
// aether process (SIGKILL, via AETHER_FAULT) in the middle of ingest,
// descend, ascend (both also to and from the warm tier), a pin, a compaction (hot slots, staging, cold partitions), an
// update, a delete by filter, a backup,
// a write into a store sharing files with a backup (unshare), an upgrade (a codec change) or the replay, lets the next
// command recover, and checks that verify passes and that the stored (id, vector, payload) set is exactly the state
// before or after the interrupted batch: nothing lost, duplicated or half-visible.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "test_util.h"

using namespace aether::test;

namespace {

struct Trial {
  std::string point;
  int seed;
};

struct Outcome {
  int trials = 0, crashed = 0, failures = 0;
};

// The first command after the crash replays; vary which one it is.
void FirstCommandAfterCrash(const std::string& store, int seed) {
  static const std::vector<std::vector<std::string>> cmds = {
      {"recover"}, {"stats"}, {"search", "--vector", "[0,0,0,0,0,0]", "--no-touch"}, {"verify"}, {"get", "a0"}};
  auto cmd = cmds[size_t(seed) % cmds.size()];
  cmd.insert(cmd.begin() + 1, store);
  auto r = Aether(cmd);
  CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 1), cmd[0] << ": " << r.err);
}

void CheckSearch(const std::string& store, const std::vector<Mem>& expect) {
  auto q = RandomMems(2, 6, 777, "q");
  std::string text;
  for (const auto& m : q) text += "{\"vector\":" + VectorJson(m.vec) + "}\n";
  auto hits = ParseSearchOutput(Aether({"search", store, "--queries", "-", "-k", "7", "--no-touch"}, text).out);
  REQUIRE(hits.size() == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(SameTopK(hits[i], BruteForce(expect, q[i].vec, 7, "l2")));
}

// Runs one trial; returns false on any failed check.
bool RunTrial(const Trial& t, Outcome* out) {
  const std::string kind = t.point.substr(0, t.point.find('.'));
  const int seed = t.seed;
  const size_t batch = 7 + size_t(seed) * 5;
  const bool is_rebuild = t.point.rfind("rebuild.", 0) == 0;
  // Crash in the 1st, 2nd or 3rd batch (a rebuild and a compaction of
  // these small stores make one).
  // One transaction (fold, update, delete) passes its points once.
  static const std::set<std::string> kOnce = {"compact", "rewrite", "unstage", "fold", "update",
                                              "delete",  "unshare", "upgrade", "pin"};
  const int hit = is_rebuild || kOnce.count(kind) || t.point == "backup.before_rename" ? 1 : 1 + seed % 3;
  TempDir dir;
  std::string store = dir / "s";
  auto before = RandomMems(40 + size_t(seed) * 13, 6, 100 + uint64_t(seed), "a");
  auto extra = RandomMems(45, 6, 200 + uint64_t(seed), "b");
  std::string capacity = seed % 2 ? "30" : "500";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", capacity}, ToJsonlWithPayload(before)).exit_code == 0);
  REQUIRE(Aether({"delete", store, "a3", "a20"}).exit_code == 0);  // free slots, cold garbage
  std::vector<Mem> base;
  for (const auto& m : before)
    if (m.id != "a3" && m.id != "a20") base.push_back(m);
  auto ref = GetRecords(store, Ids(base));
  REQUIRE(ref.size() == base.size());

  std::vector<std::string> op;
  std::string stdin_data;
  std::map<std::string, Stored> updated;  // update: every base memory after the update
  std::set<std::string> doomed;           // delete: the base memories its filter selects
  const std::string b = std::to_string(batch);
  std::string fault = t.point;
  bool replay = kind == "replay";
  static const char* const kReplayOps[] = {"ingest", "descend", "rebuild"};
  std::string op_kind = replay ? kReplayOps[seed % 3] : kind;
  // Odd seeds ingest with a kept state (--preserve-state), which the
  // journal carries to the commit (and its replay).
  const bool kept_state = op_kind == "ingest" && seed % 2;
  if (op_kind == "ingest") {
    op = {"ingest", "--create", store, "--batch", b};
    stdin_data = ToJsonlWithPayload(extra);
    if (kept_state) {
      op.push_back("--preserve-state");
      std::string lines;
      size_t i = 0;
      for (const auto& line : Lines(stdin_data)) {
        // Every fifth pinned (hot, whatever its tier), every fourth with an
        // access history.
        lines += line.substr(0, line.size() - 1) + ",\"created_ms\":" + std::to_string(1000 + i) +
                 ",\"last_access_ms\":" + std::to_string(5000 + i) + ",\"access_count\":" + std::to_string(i) +
                 ",\"tier\":\"" +
                 (i % 3   ? "hot"
                  : i % 2 ? "warm"
                          : "cold") +
                 "\"" + (i % 5 == 0 ? ",\"pinned\":true" : "") +
                 (i % 4 == 0 ? ",\"access_history\":{\"times\":[" + std::to_string(4000 + i) + "," +
                                   std::to_string(5000 + i) + "],\"older\":1}"
                             : "") +
                 "}\n";
        ++i;
      }
      stdin_data = lines;
    }
  } else if (op_kind == "descend") {
    // Hot to cold; (seed % 3 == 1) hot to warm; (seed % 3 == 2) hot and warm
    // to cold, some memories warm first.
    op = {"descend", store, "--all", "--batch", b};
    if (seed % 3 == 1) op.insert(op.end(), {"--to", "warm"});
    if (seed % 3 == 2) REQUIRE(Aether({"descend", store, "--to", "warm", "--limit", "15", "--all"}).exit_code == 0);
  } else if (op_kind == "rebuild") {
    // Some cold data, some garbage, and (odd seeds) an index to replace and
    // warm memories, whose frames the rebuild keeps warm.
    REQUIRE(Aether({"descend", store, "--limit", "25", "--all"}).exit_code == 0);
    if (seed % 2) REQUIRE(Aether({"descend", store, "--to", "warm", "--limit", "8", "--all"}).exit_code == 0);
    if (seed % 2) REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    REQUIRE(Aether({"ascend", store, "--evict", base[1].id, base[2].id}).exit_code == 0);
    op = {"rebuild-index", store, "--partitions", std::to_string(2 + seed)};
    // Even seeds change the codec too (set first, then every frame rewritten).
    if (seed % 2 == 0) op.insert(op.end(), {"--codec", "float16"});
  } else if (op_kind == "compact") {
    // Holes below live hot slots (every third memory descended, besides
    // the deletes above), and a tick that compacts whatever it finds.
    REQUIRE(Aether({"config", store, "set", "hot_compact_slack", "0"}).exit_code == 0);
    std::vector<std::string> some = {"descend", store};
    for (size_t i = 0; i < 24; i += 3) some.push_back(base[i].id);
    REQUIRE(Aether(some).exit_code == 0);
    op = {"maintain", store, "--seed", std::to_string(seed)};
  } else if (op_kind == "rewrite") {
    // Partitions with garbage beside live records (memories ascended out
    // of them), and a tick whose threshold makes it rewrite them.
    REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    std::vector<std::string> up = {"ascend", store, "--evict"};
    for (size_t i = 0; i < 14; i += 2) up.push_back(base[i].id);
    REQUIRE(Aether(up).exit_code == 0);
    // Odd seeds: warm records beside cold ones and garbage in partitions.
    if (seed % 2) REQUIRE(Aether({"ascend", store, "--to", "warm", base[1].id, base[3].id, base[5].id}).exit_code == 0);
    REQUIRE(Aether({"config", store, "set", "cold_garbage_max", "0.01"}).exit_code == 0);
    op = {"maintain", store, "--seed", std::to_string(seed)};
  } else if (op_kind == "unstage") {
    // Staging records beside garbage while an index exists: memories sent
    // again unchanged (replace) into a hot tier of capacity 0 land in the
    // staging shard (ingest_evict 0); the second time, the first copies are
    // garbage. The tick moves the live ones to their partitions.
    REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    for (const char* kv : {"ingest_evict=0", "hot_capacity=0", "cold_garbage_max=0.01"}) {
      const std::string s = kv;
      REQUIRE(Aether({"config", store, "set", s.substr(0, s.find('=')), s.substr(s.find('=') + 1)}).exit_code == 0);
    }
    const std::vector<Mem> again(before.begin() + 4, before.begin() + 16);  // a3 is deleted: not sent again
    for (int i = 0; i < 2; ++i)
      REQUIRE(
          Aether({"ingest", "--create", store, "--on-duplicate", "replace"}, ToJsonlWithPayload(again, 4)).exit_code ==
          0);
    op = {"maintain", store, "--seed", std::to_string(seed)};
  } else if (op_kind == "fold") {
    // Accesses in the log for the writer's fold to apply.
    for (int i = 0; i < 3; ++i)
      REQUIRE(Aether({"search", store, "--vector", VectorJson(base[size_t(i)].vec), "-k", "5"}).exit_code == 0);
    op = {"recover", store};
  } else if (op_kind == "update") {
    // Changes to payloads and importances (one transaction): the same
    // change applied to a copy gives the state after it.
    std::string changes;
    for (size_t i = 0; i < base.size(); i += 3)
      changes += "{\"id\":\"" + base[i].id + "\"," +
                 (i % 2 ? "\"payload\":{\"new\":" + std::to_string(i) + "}" : "\"merge\":{\"n\":null,\"m\":true}") +
                 ",\"importance\":0.125}\n";
    changes += "{\"id\":\"" + base[0].id + "\",\"merge\":{\"again\":1}}\n";  // an id twice
    std::filesystem::copy(store, dir / "after", std::filesystem::copy_options::recursive);
    REQUIRE(Aether({"update", dir / "after", "--file", "-"}, changes).exit_code == 0);
    updated = GetRecords(dir / "after", Ids(base));
    REQUIRE(updated.size() == base.size());
    REQUIRE(updated != ref);
    op = {"update", store, "--file", "-"};
    stdin_data = changes;
  } else if (op_kind == "delete") {
    // A delete by filter (one transaction): the payloads' "n" is each
    // memory's index in the first batch.
    for (size_t i = 0; i < 17; ++i)
      if (before[i].id != "a3") doomed.insert(before[i].id);
    op = {"delete", store, "--where", "payload.n < 17 and exists(payload.tag)"};
  } else if (op_kind == "backup") {
    // A backup (odd seeds: incremental, linking from an earlier one) with
    // cold data in staging and (seed % 4 >= 2) partitions: the store is left
    // as it was, the destination absent or complete (checked below).
    REQUIRE(Aether({"descend", store, "--limit", "20", "--all"}).exit_code == 0);
    if (seed % 4 >= 2) REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    op = {"backup", store, dir / "bk"};
    if (seed % 2) {
      REQUIRE(Aether({"backup", store, dir / "prev"}).exit_code == 0);
      op.insert(op.end(), {"--incremental", dir / "prev"});
    }
  } else if (op_kind == "unshare") {
    // The store is restored from a backup whose shards it shares (an
    // incremental backup of the backup), then written to: killed while it
    // makes a shared file its own, the backup keeps its bytes (below).
    REQUIRE(Aether({"descend", store, "--limit", "20", "--all"}).exit_code == 0);
    if (seed % 2) REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    REQUIRE(Aether({"backup", store, dir / "prev"}).exit_code == 0);
    std::filesystem::remove_all(store);
    REQUIRE(Aether({"backup", dir / "prev", store, "--incremental", dir / "prev"}).exit_code == 0);
    op = {"descend", store, "--all", "--batch", b};
  } else if (op_kind == "upgrade") {
    // A codec change, so that every cold frame of an index's partitions is
    // rewritten (odd seeds: the memories past the hot capacity; even seeds:
    // every memory, descended first). Staging too: upgrade_test.cc.
    if (seed % 2 == 0) REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    op = {"upgrade", store, "--codec", seed % 2 ? "float16" : "zstd"};
  } else if (op_kind == "pin") {
    // Pins of cold and hot memories: the cold ones ascend (evicting
    // unpinned ones when the tier is full), then all are marked. The data
    // stays as it was; killed before the mark, they are hot and unpinned.
    REQUIRE(Aether({"descend", store, "--limit", "20", "--all"}).exit_code == 0);
    op = {"pin", store};
    for (size_t i = 0; i < 12; ++i) op.push_back(base[i].id);
  } else if (op_kind == "scrub") {
    // Garbage for the scrub: free hot slots (the deletes above), a shard of
    // only garbage (even seeds: ten descended into staging, then back), and
    // garbage beside live records (odd seeds: in an index's partitions).
    std::vector<std::string> ten = {"descend", store};
    for (size_t i = 0; i < 10; ++i) ten.push_back(base[i].id);
    if (seed % 2) REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    REQUIRE(Aether(ten).exit_code == 0);
    ten[0] = "ascend";
    ten.push_back("--evict");
    REQUIRE(Aether(ten).exit_code == 0);
    op = {"scrub", store};
  } else {
    // Cold to hot; (seed % 3 == 1) cold to warm; (seed % 3 == 2) warm to hot.
    REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    op = {"ascend", store, "--batch", b};
    if (seed % 3 == 1)
      op.insert(op.end(), {"--to", "warm"});
    else
      op.push_back("--evict");
    // At most the hot capacity (30 for odd seeds): more is refused whole.
    for (size_t i = 0; i < base.size() && i < 58; i += 2) op.push_back(base[i].id);
    if (seed % 3 == 2) {
      std::vector<std::string> warm = {"ascend", store, "--to", "warm"};
      warm.insert(warm.end(), op.begin() + 5, op.end());
      REQUIRE(Aether(warm).exit_code == 0);
    }
  }
  if (replay) {
    // Crash the operation where the replay must roll back (after_sync) or
    // forward (after_written), then crash the replay itself.
    std::string step = t.point == "replay.after_rollback_truncate" ? ".after_sync" : ".after_written";
    CHECK(Aether(op, stdin_data, {"AETHER_FAULT=" + op_kind + step}).exit_code == 137);
    auto r = Aether({"stats", store}, "", {"AETHER_FAULT=" + t.point});
    CHECK(r.exit_code == 137);
  } else {
    auto r = Aether(op, stdin_data, {"AETHER_FAULT=" + fault + ":" + std::to_string(hit)});
    CHECK_MESSAGE((r.exit_code == 137 || r.exit_code == 0), r.err);
    if (r.exit_code == 137) ++out->crashed;
  }
  FirstCommandAfterCrash(store, seed);
  auto v = Aether({"verify", store});
  CHECK_MESSAGE(v.exit_code == 0, v.out);

  // The stored set: base unchanged, plus (ingest) whole batches of `extra`.
  std::vector<Mem> all = base;
  all.insert(all.end(), extra.begin(), extra.end());
  auto got = GetRecords(store, Ids(all));
  size_t extra_present = 0;
  for (const auto& m : extra) extra_present += got.count(m.id);
  bool ok = v.exit_code == 0;
  // An update shows all of its changes or none of them; a delete removed
  // all of its selection or none of it.
  const bool all_updated = !updated.empty() && got.count(base[0].id) && got[base[0].id] == updated[base[0].id];
  const bool all_deleted = !doomed.empty() && !got.count(*doomed.begin());
  // One transaction: killed before its commit, none of it; after, all of it.
  if (!updated.empty() || !doomed.empty()) {
    const bool applied = all_updated || all_deleted;
    if (t.point.find(".before_commit") != std::string::npos) ok = ok && !applied;
    if (t.point.find(".after_commit") != std::string::npos) ok = ok && applied;
  }
  for (const auto& m : base) {
    const bool gone = all_deleted && doomed.count(m.id);
    ok = ok && got.count(m.id) == (gone ? 0u : 1u) && (gone || got[m.id] == (all_updated ? updated : ref)[m.id]);
  }
  for (size_t i = 0; i < extra.size(); ++i) ok = ok && (got.count(extra[i].id) == (i < extra_present ? 1u : 0u));
  if (op_kind != "ingest")
    ok = ok && extra_present == 0;
  else
    ok = ok && (extra_present % batch == 0 || extra_present == extra.size());
  if (!updated.empty()) {  // and its importances with its payloads
    std::vector<std::string> args = {"get", store};
    for (size_t i = 0; i < base.size(); i += 3) args.push_back(base[i].id);
    for (const auto& line : Lines(Aether(args).out))
      ok = ok && nlohmann::json::parse(line)["importance"] == (all_updated ? 0.125 : 0.5);
  }
  // A kept state arrives whole with its memory.
  if (kept_state && extra_present > 0) {
    std::vector<std::string> args = {"get", store};
    for (size_t i = 0; i < extra_present; ++i) args.push_back(extra[i].id);
    size_t i = 0;
    for (const auto& line : Lines(Aether(args).out)) {
      const auto j = nlohmann::json::parse(line);
      const bool pinned = i % 5 == 0;
      const bool kept = j["created_ms"] == 1000 + i && j["last_access_ms"] == 5000 + i && j["access_count"] == i &&
                        (i % 3 || pinned || j["tier"] == (i % 2 ? "warm" : "cold")) &&
                        (!pinned || j["tier"] == "hot") && j.value("pinned", false) == pinned &&
                        j["pattern"]["accesses"] == (i % 4 == 0 ? 2 : 0);
      CHECK_MESSAGE(kept, line);
      ok = ok && kept;
      ++i;
    }
  }
  // A backup is absent or whole; the backup a restored copy shares files
  // with keeps every byte.
  for (const char* copy : {"bk", "prev"}) {
    if (!std::filesystem::exists(dir / copy)) continue;
    const bool whole = Aether({"verify", dir / copy}).exit_code == 0 && GetRecords(dir / copy, Ids(all)) == ref;
    CHECK_MESSAGE(whole, copy);
    ok = ok && whole;
  }
  CHECK_MESSAGE(ok, t.point << " seed " << seed << ": " << extra_present << " new memories visible");
  std::vector<Mem> expect;
  for (const auto& m : base)
    if (!(all_deleted && doomed.count(m.id))) expect.push_back(m);
  expect.insert(expect.end(), extra.begin(), extra.begin() + long(extra_present));
  CheckSearch(store, expect);
  auto stats = nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
  ok = ok && stats["pending_migrations"] == 0 &&
       stats["hot_memories"].get<size_t>() + stats["warm_memories"].get<size_t>() +
               stats["cold_memories"].get<size_t>() ==
           expect.size();
  ++out->trials;
  if (!ok) ++out->failures;
  return ok;
}

}  // namespace

TEST_CASE("crash matrix: every fault point x 5 seeds loses, duplicates and half-shows nothing" *
          doctest::test_suite("sweep")) {
  auto points = Lines(Aether({"fault-points"}).out);
  REQUIRE(points.size() >= 26);
  // A cold tier in a bucket's points need a bucket: cold_tier_test.cc.
  points.erase(
      std::remove_if(points.begin(), points.end(), [](const std::string& p) { return p.rfind("cold.", 0) == 0; }),
      points.end());
  // AETHER_CRASH_POINTS=backup,unshare: only the points with those prefixes
  // (while working on one operation).
  if (const char* only = getenv("AETHER_CRASH_POINTS"); only && *only) {
    std::vector<std::string> kept;
    for (const auto& p : points)
      for (const auto& prefix : aether::test::Lines(std::regex_replace(std::string(only), std::regex(","), "\n")))
        if (p.rfind(prefix, 0) == 0) kept.push_back(p);
    points = kept;
  }
  Outcome out;
  // A short run (the sanitizer build, after the whole matrix ran) takes one
  // seed per point, odd and even in turn (some kinds differ by parity).
  const bool short_run = ShortRun();
  for (size_t i = 0; i < points.size(); ++i) {
    const int first_seed = short_run ? int(i % 2) : 0, end_seed = short_run ? first_seed + 1 : 5;
    for (int seed = first_seed; seed < end_seed; ++seed) {
      CAPTURE(points[i]);
      CAPTURE(seed);
      RunTrial({points[i], seed}, &out);
    }
  }
  MESSAGE("crash matrix: " << out.trials << " trials (" << points.size() << " fault points, "
                           << std::string(short_run ? "one seed each" : "5 seeds each") << "), " << out.crashed
                           << " killed mid-operation, " << out.failures << " failures");
  CHECK(out.failures == 0);
  CHECK(out.crashed >= out.trials * 3 / 4);
}
