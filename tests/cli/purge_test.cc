// Deleting for good: after `delete --purge` (or `delete` then `scrub`) no
// file of the store holds anything of the deleted memories: not their
// vectors (raw float bytes, searched in every file, and every decoded cold
// record), not their ids or payloads (in meta.db and its WAL), not their
// history. Without purge the bytes stay until reused, compacted or
// scrubbed, as documented. History is pruned past its retention.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "aether/env.h"
#include "cold/shard_file.h"
#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

std::string Bytes(const std::vector<float>& v) {
  std::string out(v.size() * 4, '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Every file of the store that holds `needle`.
std::vector<std::string> FilesHolding(const std::string& store, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(store))
    if (e.is_regular_file() && ReadFile(e.path().string()).find(needle) != std::string::npos)
      out.push_back(e.path().string());
  return out;
}

// Every row id in every frame of every shard file (garbage included).
std::set<int64_t> ShardRowIds(const std::string& store, uint32_t dim) {
  std::set<int64_t> ids;
  for (const auto& e : fs::recursive_directory_iterator(store + "/cold")) {
    if (!e.is_regular_file() || e.path().extension() != ".shard") continue;
    auto shard = aether::ShardFile::Open(aether::Env::Default(), e.path().string(), dim, false);
    REQUIRE(shard.ok());
    auto size = (*shard)->Size();
    REQUIRE(size.ok());
    REQUIRE((*shard)
                ->Scan(*size,
                       [&](uint64_t, const aether::DecodedFrame& f) {
                         for (uint32_t i = 0; i < f.count; ++i) ids.insert(f.row_ids[i]);
                         return aether::Status::Ok();
                       })
                .ok());
  }
  return ids;
}

}  // namespace

TEST_CASE("delete --purge leaves nothing of the memories in any file; plain delete leaves them until scrub") {
  for (const char* codec : {"zstd-shuffle", "float16"}) {
    for (bool purge : {true, false}) {
      CAPTURE(codec);
      CAPTURE(purge);
      TempDir dir;
      const std::string store = dir / "s";
      const uint32_t dim = 8;
      auto mems = RandomMems(200, dim, 5);
      std::string jsonl;
      for (size_t i = 0; i < mems.size(); ++i)
        jsonl += "{\"id\":\"" + mems[i].id + "\",\"vector\":" + VectorJson(mems[i].vec) + ",\"payload\":{\"note\":\"" +
                 (i % 50 == 7 ? "SECRET-" + mems[i].id : std::string("ordinary")) + "\"}}\n";
      REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "60", "--codec", codec}, jsonl).exit_code == 0);
      REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
      REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(20, dim, 6, "late"))).exit_code ==
              0);  // staging
      // Some history of a victim, under a trace id only it is named by.
      REQUIRE(Aether({"feedback", store, "m7", "1", "--trace-id", "SECRET-trace"}).exit_code == 0);
      // Victims: m7 (hot), m107 (a partition), and late3 (staging).
      const std::vector<std::string> victims = {"m7", "m107", "late3"};
      std::map<std::string, std::vector<float>> victim_vec;
      for (const auto& [id, v] : GetAll(store, victims)) victim_vec[id] = v;
      REQUIRE(victim_vec.size() == 3);
      std::vector<std::string> ids = Ids(mems);
      for (int i = 0; i < 20; ++i) ids.push_back("late" + std::to_string(i));
      auto before = GetRecords(store, ids);
      const std::set<int64_t> cold_before = ShardRowIds(store, dim);

      std::vector<std::string> del = {"delete", store};
      del.insert(del.end(), victims.begin(), victims.end());
      if (purge) del.push_back("--purge");
      del.insert(del.end(), {"--format", "json"});
      auto r = Aether(del);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      if (!purge) {
        // Documented: a plain delete leaves the bytes (here the hot vector
        // in its freed slot) until a scrub.
        CHECK(!FilesHolding(store, Bytes(victim_vec["m7"])).empty());
        auto s = Aether({"scrub", store, "--format", "json"});
        REQUIRE_MESSAGE(s.exit_code == 0, s.err);
        auto j = nlohmann::json::parse(s.out);
        CHECK(j["hot_slots_blanked"].get<int>() >= 1);
      } else {
        auto j = nlohmann::json::parse(r.out);
        CHECK(j["deleted"] == 3);
        CHECK(j["scrub"]["hot_slots_blanked"].get<int>() >= 1);
        CHECK(j["scrub"]["garbage_dropped"].get<int>() >= 2);
      }
      for (const auto& [victim, v] : victim_vec) {
        const std::string& id = victim;
        CAPTURE(id);
        CHECK(FilesHolding(store, Bytes(v)).empty());
      }
      if (purge) {
        for (const auto& id : victims) {
          CHECK(FilesHolding(store, "SECRET-" + id).empty());
          auto h = Aether({"history", store, id});
          CHECK(h.out.empty());
        }
        auto all = Aether({"history", store, "--format", "jsonl"});
        CHECK(all.out.find("\"purged\":true") != std::string::npos);
        CHECK(FilesHolding(store, "SECRET-trace").empty());  // its row in audit_traces went too
      }
      // No cold frame holds a record of theirs (garbage included): the cold
      // tier keeps exactly the live records.
      const std::set<int64_t> cold_after = ShardRowIds(store, dim);
      CHECK(cold_after.size() < cold_before.size());
      auto v = Aether({"verify", store, "--format", "json"});
      CHECK_MESSAGE(v.exit_code == 0, v.out);
      CHECK(nlohmann::json::parse(v.out)["garbage_records"] == 0);
      // Everyone else is untouched, bit for bit.
      auto after = GetRecords(store, ids);
      for (const auto& entry : before) {
        const std::string& id = entry.first;
        const auto& rec = entry.second;
        if (id == "m7" || id == "m107" || id == "late3") {
          CHECK(after.count(id) == 0);
          continue;
        }
        CHECK_MESSAGE((after.count(id) && after[id] == rec), id);
      }
    }
  }
}

TEST_CASE("history is pruned past history_retention_days by maintain and scrub; 0 keeps it forever") {
  TempDir dir;
  const std::string store = dir / "s";
  const int64_t t0 = 1700000000000, day = 86400000;
  auto at = [](int64_t ms) { return std::vector<std::string>{"AETHER_NOW_MS=" + std::to_string(ms)}; };
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 2, 1)), at(t0)).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m1", "--trace-id", "t-old"}, "", at(t0)).exit_code == 0);  // a tombstone naming m1
  REQUIRE(Aether({"feedback", store, "m2", "1", "--trace-id", "t-kept"}, "", at(t0 + 10 * day)).exit_code == 0);
  // Each trace id is stored once, named by its entries' number; every row of
  // audit_traces is named by an entry, every number has its row.
  auto traces = [&] { return SqlRows(store, "SELECT trace_id FROM audit_traces ORDER BY trace_id"); };
  auto traces_consistent = [&] {
    return SqlRows(store,
                   "SELECT COUNT(*) FROM audit_traces WHERE trace NOT IN (SELECT trace FROM audit_log WHERE trace "
                   "IS NOT NULL)")[0] == "0" &&
           SqlRows(store,
                   "SELECT COUNT(*) FROM audit_log WHERE trace_id IS NOT NULL OR (trace IS NOT NULL AND trace NOT "
                   "IN (SELECT trace FROM audit_traces))")[0] == "0";
  };
  CHECK(traces() == std::vector<std::string>{"t-kept", "t-old"});
  CHECK(traces_consistent());
  auto count = [&] { return Lines(Aether({"history", store}).out).size(); };
  const size_t all = count();
  REQUIRE(all >= 2);
  // 89 days after the tombstone: kept (default retention 90 days).
  REQUIRE(Aether({"maintain", store, "--seed", "1"}, "", at(t0 + 89 * day)).exit_code == 0);
  CHECK(Aether({"history", store, "m1"}).out.find("delete") != std::string::npos);
  // 91 days: the tombstone and everything older is gone; the feedback stays.
  auto m = Aether({"maintain", store, "--seed", "1", "--format", "json"}, "", at(t0 + 91 * day));
  REQUIRE(m.exit_code == 0);
  CHECK(nlohmann::json::parse(m.out)["history_pruned"].get<int>() >= 1);
  CHECK(Aether({"history", store, "m1"}).out.empty());
  CHECK(Aether({"history", store, "m2"}).out.find("feedback") != std::string::npos);
  // The pruned entries' trace id went with them.
  const auto left = traces();
  CHECK(left.size() == 3);  // t-kept and the two maintain ticks'
  CHECK(std::count(left.begin(), left.end(), "t-old") == 0);
  CHECK(Lines(Aether({"history", store, "--trace-id", "t-kept"}).out).size() == 1);
  CHECK(traces_consistent());
  // Retention 0 keeps everything, whatever the clock says.
  REQUIRE(Aether({"config", store, "set", "history_retention_days", "0"}, "", at(t0 + 91 * day)).exit_code == 0);
  const size_t kept = count();
  REQUIRE(Aether({"scrub", store}, "", at(t0 + 5000 * day)).exit_code == 0);
  CHECK(count() == kept);
  // Scrub prunes too.
  REQUIRE(Aether({"config", store, "set", "history_retention_days", "1"}, "", at(t0 + 5000 * day)).exit_code == 0);
  auto s = Aether({"scrub", store, "--format", "json"}, "", at(t0 + 5002 * day));
  REQUIRE(s.exit_code == 0);
  CHECK(nlohmann::json::parse(s.out)["history_pruned"].get<size_t>() == kept + 1);
  CHECK(count() == 0);
  CHECK(traces().empty());
}

TEST_CASE("scrub killed at each of its steps (and inside its rebuild) loses nothing and finishes next time") {
  for (const char* point : {"scrub.after_hot", "scrub.after_commit", "rebuild.after_intent", "rebuild.mid_write",
                            "rebuild.after_written", "rebuild.after_commit", "rebuild.mid_cleanup"}) {
    CAPTURE(point);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = RandomMems(150, 4, 8);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "50"}, ToJsonl(mems)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "3"}).exit_code == 0);
    REQUIRE(Aether({"config", store, "set", "ingest_evict", "0"}).exit_code == 0);  // the next ingest goes cold
    REQUIRE(Aether({"descend", store, "m0", "m1", "m2"}).exit_code == 0);           // into partitions
    REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(5, 4, 9, "s"))).exit_code == 0);  // staging
    REQUIRE(Aether({"delete", store, "m3", "m60", "s0", "s1", "s2", "s3", "s4"}).exit_code ==
            0);  // staging all garbage
    std::vector<std::string> ids = Ids(mems);
    auto before = GetRecords(store, ids);
    auto r = Aether({"scrub", store}, "", {std::string("AETHER_FAULT=") + point});
    CHECK(r.exit_code == 137);
    CHECK(Aether({"verify", store}).exit_code == 0);  // replays first
    CHECK(GetRecords(store, ids) == before);
    auto again = Aether({"scrub", store, "--format", "json"});
    REQUIRE_MESSAGE(again.exit_code == 0, again.err);
    auto v = Aether({"verify", store, "--format", "json"});
    CHECK(v.exit_code == 0);
    CHECK(nlohmann::json::parse(v.out)["garbage_records"] == 0);
    CHECK(GetRecords(store, ids) == before);
  }
}
