// Power loss: what reached the disk is only what was synced. Each trial
// copies a store, runs a real aether command on it with AETHER_TRACE_IO (every
// write, truncate, create, rename, unlink and fsync it and SQLite make, in
// order; lib/env/io_trace.h), optionally killed at a fault point, then builds
// the disk as a power cut would leave it: the copy, plus every traced change,
// where a change that no later fsync covers (data: an fsync of the same
// file; a directory entry: an fsync of its directory) is kept, dropped, or —
// for data — torn at a 512-byte sector, at random. The next aether command
// on that image must recover it: verify passes, and the stored memories are
// exactly the state before or after the command (after, when the command
// had committed), with their vectors and payloads intact.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

struct Op {
  char kind;
  std::string path, to;  // to: rename target
  uint64_t offset = 0, size = 0;
  std::string data;
  int inode = -1;  // the file it touches (assigned by replaying every op)
  bool durable = false;
};

std::vector<Op> ParseTrace(const std::string& t) {
  std::vector<Op> ops;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    REQUIRE(nl != std::string::npos);
    std::string line = t.substr(pos, nl - pos);
    pos = nl + 1;
    Op op;
    op.kind = line[0];
    std::string rest = line.substr(2);
    if (op.kind == 'W' || op.kind == 'T') {
      size_t a = rest.rfind(' ');
      if (op.kind == 'W') {
        size_t b = rest.rfind(' ', a - 1);
        op.path = rest.substr(0, b);
        op.offset = std::stoull(rest.substr(b + 1, a - b - 1));
        op.size = std::stoull(rest.substr(a + 1));
        op.data = t.substr(pos, op.size);
        pos += op.size;
      } else {
        op.path = rest.substr(0, a);
        op.size = std::stoull(rest.substr(a + 1));
      }
    } else if (op.kind == 'R') {
      size_t tab = rest.find('\t');
      op.path = rest.substr(0, tab);
      op.to = rest.substr(tab + 1);
    } else {
      op.path = rest;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

std::string Parent(const std::string& p) { return p.substr(0, p.rfind('/')); }

// A file system as inodes (contents) and a namespace (path -> inode).
struct Model {
  std::vector<std::string> inodes;
  std::map<std::string, int> names;
  std::set<std::string> dirs;
};

Model Load(const std::string& root, const std::string& as) {
  Model m;
  m.dirs.insert(as);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = e.path().string().substr(root.size());
    if (e.is_directory()) {
      m.dirs.insert(as + rel);
    } else if (e.is_regular_file()) {
      m.names[as + rel] = int(m.inodes.size());
      m.inodes.push_back(ReadFile(e.path().string()));
    }
  }
  return m;
}

void ApplyData(std::string* content, const Op& op, size_t keep_bytes) {
  if (op.kind == 'T') {
    content->resize(op.size, '\0');
    return;
  }
  if (content->size() < op.offset + keep_bytes) content->resize(op.offset + keep_bytes, '\0');
  content->replace(op.offset, keep_bytes, op.data, 0, keep_bytes);
}

// Assigns inodes and marks what a later fsync made durable.
void MarkDurable(std::vector<Op>* ops, Model m) {
  std::map<int, size_t> last_sync;
  std::map<std::string, size_t> last_dir_sync;
  for (size_t i = 0; i < ops->size(); ++i) {
    Op& op = (*ops)[i];
    switch (op.kind) {
      case 'C':
        m.names[op.path] = op.inode = int(m.inodes.size());
        m.inodes.emplace_back();
        break;
      case 'W':
      case 'T':
      case 'S':
      case 'U':
      case 'R':
        REQUIRE_MESSAGE(m.names.count(op.path), "trace names an unknown file: " << op.path);
        op.inode = m.names[op.path];
        if (op.kind == 'S') last_sync[op.inode] = i;
        if (op.kind == 'U') m.names.erase(op.path);
        if (op.kind == 'R') m.names.erase(op.path), m.names[op.to] = op.inode;
        break;
      case 'D':
        last_dir_sync[op.path] = i;
        break;
      default:
        break;
    }
  }
  auto dir_synced_after = [&](const std::string& dir, size_t i) {
    auto it = last_dir_sync.find(dir);
    return it != last_dir_sync.end() && it->second > i;
  };
  for (size_t i = 0; i < ops->size(); ++i) {
    Op& op = (*ops)[i];
    if (op.kind == 'W' || op.kind == 'T')
      op.durable = last_sync.count(op.inode) && last_sync[op.inode] > i;
    else if (op.kind == 'R')
      op.durable = dir_synced_after(Parent(op.path), i) && dir_synced_after(Parent(op.to), i);
    else if (op.kind == 'C' || op.kind == 'U' || op.kind == 'M' || op.kind == 'X')
      op.durable = dir_synced_after(Parent(op.path), i);
    else
      op.durable = true;  // syncs themselves
  }
}

struct ImageStats {
  int kept = 0, dropped = 0, torn = 0;
};

// Writes the power-cut disk for `live` (traced) into `image`.
void BuildImage(const std::string& snapshot, const std::string& live, std::vector<Op> ops, const std::string& image,
                std::mt19937_64* rng, ImageStats* st) {
  Model m = Load(snapshot, live);
  MarkDurable(&ops, m);
  std::uniform_int_distribution<int> coin(0, 2);
  for (const Op& op : ops) {
    if (op.path.rfind(live, 0) != 0) continue;
    int choice = op.durable ? 1 : coin(*rng);  // 0 drop, 1 keep, 2 tear (data) / keep
    if (op.kind == 'S' || op.kind == 'D') continue;
    if (!op.durable) choice == 0 ? ++st->dropped : choice == 1 ? ++st->kept : ++st->torn;
    if (choice == 0) continue;
    if (op.inode >= int(m.inodes.size())) m.inodes.resize(size_t(op.inode) + 1);  // created by the trace
    switch (op.kind) {
      case 'W': {
        size_t keep = op.size;
        if (choice == 2)
          keep = std::min<size_t>(op.size, 512 * std::uniform_int_distribution<size_t>(0, op.size / 512)(*rng));
        ApplyData(&m.inodes[size_t(op.inode)], op, keep);
        break;
      }
      case 'T':
        ApplyData(&m.inodes[size_t(op.inode)], op, 0);
        break;
      case 'C':
        m.names[op.path] = op.inode;
        break;
      case 'R': {
        auto it = m.names.find(op.path);
        if (it != m.names.end() && it->second == op.inode) {
          m.names.erase(it);
          m.names[op.to] = op.inode;
        }
        break;
      }
      case 'U': {
        auto it = m.names.find(op.path);
        if (it != m.names.end() && it->second == op.inode) m.names.erase(it);
        break;
      }
      case 'M':
        m.dirs.insert(op.path);
        break;
      case 'X':
        m.dirs.erase(op.path);
        break;
      default:
        break;
    }
  }
  fs::create_directories(image);
  for (const auto& d : m.dirs) fs::create_directories(image + d.substr(live.size()));
  for (const auto& [path, inode] : m.names) {
    if (!m.dirs.count(Parent(path))) continue;                                // its directory never reached the disk
    if (path.size() > 4 && path.substr(path.size() - 4) == "-shm") continue;  // memory, rebuilt on open
    WriteFile(image + path.substr(live.size()), inode < int(m.inodes.size()) ? m.inodes[size_t(inode)] : "");
  }
}

struct Scenario {
  std::string name;
  std::vector<std::string> args;  // after STORE
  std::string input;              // stdin
  std::vector<std::string> fault_points;
  bool partition_garbage = false;  // run on the base with garbage beside live records in partitions
  bool warm = false;               // run on the base with warm memories (a30..a39)
  // The tier the moved memories (the args that are ids) have once committed
  // ("" for a scenario that is not a move).
  std::string moved_to = "";
};

}  // namespace

TEST_CASE("power loss: unsynced writes and directory entries dropped or torn; the store recovers" *
          doctest::test_suite("sweep")) {
  TempDir dir;
  const std::string base = dir / "base";
  auto mems = RandomMems(90, 4, 31, "a");
  auto fresh = RandomMems(12, 4, 32, "n");
  REQUIRE(Aether({"ingest", "--create", base, "--hot-capacity", "50"},
                 ToJsonlWithPayload(std::vector<Mem>(mems.begin(), mems.begin() + 70)))
              .exit_code == 0);
  REQUIRE(Aether({"rebuild-index", base, "--seed", "3"}).exit_code == 0);
  REQUIRE(Aether({"ingest", "--create", base}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 70, mems.end())))
              .exit_code == 0);
  REQUIRE(Aether({"delete", base, "a1", "a60"}).exit_code == 0);
  REQUIRE(Aether({"config", base, "set", "hot_compact_slack", "0"}).exit_code == 0);
  // A second base, the same memories all cold in three partitions, some
  // ascended out of them (garbage beside live records), live records beside
  // garbage in the staging shard (memories sent again unchanged into a full
  // hot tier with ingest_evict 0, twice), and a threshold that makes a tick
  // move the staging records to their partitions and rewrite the partitions.
  const std::string rewrite_base = dir / "rewrite-base";
  REQUIRE(std::system(("cp -a '" + base + "' '" + rewrite_base + "'").c_str()) == 0);
  REQUIRE(Aether({"descend", rewrite_base, "--all"}).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", rewrite_base, "--partitions", "3", "--seed", "3"}).exit_code == 0);
  REQUIRE(Aether({"ascend", rewrite_base, "a0", "a4", "a5", "a12", "a22", "a30", "a41"}).exit_code == 0);
  REQUIRE(Aether({"config", rewrite_base, "set", "cold_garbage_max", "0.01"}).exit_code == 0);
  REQUIRE(Aether({"config", rewrite_base, "set", "hot_capacity", "7"}).exit_code == 0);
  REQUIRE(Aether({"config", rewrite_base, "set", "ingest_evict", "0"}).exit_code == 0);
  for (int i = 0; i < 2; ++i)
    REQUIRE(Aether({"ingest", "--create", rewrite_base, "--on-duplicate", "replace"},
                   ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 13, mems.begin() + 22), 13))
                .exit_code == 0);
  // A third base with warm memories: a30..a39 descended into warm frames of
  // the partitions.
  const std::string warm_base = dir / "warm-base";
  REQUIRE(std::system(("cp -a '" + base + "' '" + warm_base + "'").c_str()) == 0);
  REQUIRE(Aether({"descend", warm_base, "--to", "warm", "a30", "a31", "a32", "a33", "a34", "a35", "a36", "a37", "a38",
                  "a39"})
              .exit_code == 0);
  std::vector<std::string> before_ids;
  for (const auto& m : mems)
    if (m.id != "a1" && m.id != "a60") before_ids.push_back(m.id);
  auto before = GetRecords(base, before_ids);
  REQUIRE(before.size() == before_ids.size());

  auto points = [](const std::string& kind) {
    std::vector<std::string> p;
    for (const char* s : {"after_intent", "mid_write", "after_write", "after_sync", "after_written", "after_commit"})
      p.push_back(kind + "." + s);
    p.push_back("");  // the command completes; the power goes right after
    return p;
  };
  std::vector<Scenario> scenarios = {
      {"ingest", {"-", "--batch", "5"}, ToJsonlWithPayload(fresh), points("ingest")},
      {"descend", {"a22", "a23", "a24", "a25", "a26", "a27"}, "", points("descend"), false, false, "cold"},
      {"ascend", {"a0", "a4", "a5", "a12", "--evict"}, "", points("ascend"), false, false, "hot"},
      // The warm tier's four moves: hot -> warm, cold -> warm, and from the
      // warm base warm -> cold and warm -> hot.
      {"descend", {"--to", "warm", "a22", "a23", "a24", "a25"}, "", points("descend"), false, false, "warm"},
      {"ascend", {"--to", "warm", "a0", "a4", "a5", "a12"}, "", points("ascend"), false, false, "warm"},
      {"descend", {"a30", "a31", "a32", "a33"}, "", points("descend"), false, true, "cold"},
      {"ascend", {"a36", "a37", "a38", "--evict"}, "", points("ascend"), false, true, "hot"},
      {"rebuild-index",
       {"--seed", "5"},
       "",
       {"rebuild.after_intent", "rebuild.mid_write", "rebuild.after_sync", "rebuild.after_written",
        "rebuild.after_commit", "rebuild.mid_cleanup", ""}},
      {"delete", {"a10", "a11", "a75"}, "", {""}},
      // A tick that compacts: the base's deleted a1 left a hole below live
      // slots, and hot_compact_slack is 0.
      {"maintain", {"--seed", "4"}, "", points("compact")},
      // A tick that moves the staging shard's live records to their
      // partitions, then rewrites the partitions past cold_garbage_max, and
      // its cleanup (the old file removed before its row).
      {"maintain", {"--seed", "4"}, "", points("unstage"), true},
      {"maintain",
       {"--seed", "4"},
       "",
       [&] {
         auto p = points("rewrite");
         p.insert(p.end() - 1, "rewrite.mid_cleanup");
         return p;
       }(),
       true},
      // The deletes in the base left a free slot and a partition of only
      // garbage: the scrub blanks the one and empties the other. Purging
      // a75 leaves garbage beside live records in staging: its scrub
      // rewrites the cold tier (a rebuild).
      {"scrub", {}, "", {"scrub.after_hot", "scrub.after_commit", ""}},
      {"delete", {"a10", "a11", "a75", "--purge"}, "", {"rebuild.after_written", ""}},
  };
  int trials = 0, failures = 0;
  ImageStats totals;
  // A short run (the sanitizer build, after the whole sweep ran) takes one
  // seed per point, in turn (as the crash matrix does).
  int point_no = 0;
  const int seeds = ShortRun() ? 1 : 5;
  for (const auto& sc : scenarios) {
    for (const auto& point : sc.fault_points) {
      const int first_seed = ShortRun() ? 1 + point_no % 5 : 1, last_seed = ShortRun() ? first_seed : 5;
      ++point_no;
      for (int seed = first_seed; seed <= last_seed; ++seed) {
        INFO(sc.name << " killed at '" << point << "', seed " << seed);
        ++trials;
        TempDir t;
        std::string live = t / "live", image = t / "image", trace = t / "trace";
        const std::string& from = sc.partition_garbage ? rewrite_base : sc.warm ? warm_base : base;
        REQUIRE(std::system(("cp -a '" + from + "' '" + live + "'").c_str()) == 0);
        std::vector<std::string> args = {sc.name, live};
        args.insert(args.end(), sc.args.begin(), sc.args.end());
        std::vector<std::string> env = {"AETHER_TRACE_IO=" + trace};
        if (!point.empty()) env.push_back("AETHER_FAULT=" + point);
        auto run = Aether(args, sc.input, env);
        if (point.empty())
          REQUIRE_MESSAGE((run.exit_code == 0 || run.exit_code == 1), run.err);
        else
          REQUIRE_MESSAGE(run.exit_code == 137, "fault point not reached: " << run.err);
        // After the commit returned, the command's effect must survive.
        bool committed = point.empty() || point.find("after_commit") != std::string::npos ||
                         point.find("mid_cleanup") != std::string::npos;

        std::mt19937_64 rng(uint64_t(seed) * 7919 + uint64_t(trials));
        BuildImage(from, live, ParseTrace(ReadFile(trace)), image, &rng, &totals);

        auto verify = Aether({"verify", image});
        CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
        auto after = GetRecords(image, before_ids);
        auto added = GetRecords(image, Ids(fresh));
        bool ok = verify.exit_code == 0;
        // Exactly the state before or after, per scenario.
        if (sc.name == "ingest") {
          ok = ok && after == before &&
               (added.size() == 0 || added.size() == 5 || added.size() == 10 || added.size() == 12);  // whole batches
          if (committed) ok = ok && added.size() >= (point.empty() ? fresh.size() : 5);  // the 1st batch, or all
          for (const auto& m : fresh)
            if (added.count(m.id)) ok = ok && added[m.id].vec == m.vec;
        } else if (sc.name == "delete") {
          auto gone = std::set<std::string>{"a10", "a11", "a75"};
          size_t missing = 0;
          for (const auto& id : before_ids) {
            if (!after.count(id))
              ++missing, ok = ok && gone.count(id);
            else
              ok = ok && after[id] == before[id];
          }
          ok = ok && (missing == 0 || missing == 3) && (!committed || missing == 3);
        } else {
          ok = ok && after == before;  // moves and rebuilds change tiers, never data
          if (committed && !sc.moved_to.empty())
            for (const std::string& id : sc.args)
              if (id[0] == 'a') ok = ok && after[id].tier == sc.moved_to;
          if (committed && sc.partition_garbage) {
            // The staging records are in partitions; past them, at least the
            // first partition was rewritten (16 dead records in partitions
            // before: 7 ascended, 9 replaced; the staging shard's garbage
            // was emptied first).
            auto stats = nlohmann::json::parse(Aether({"stats", image, "--format", "json"}).out);
            ok = ok && stats["staging_records"].get<int>() == 0;
            if (point.find("rewrite") != std::string::npos || point.empty())
              ok = ok && stats["cold_garbage_records"].get<int>() < 16;
          }
          if (committed && sc.name == "rebuild-index") {
            auto stats = nlohmann::json::parse(Aether({"stats", image, "--format", "json"}).out);
            ok = ok && stats["index_generation"] == 2;
          }
        }
        CHECK_MESSAGE(ok, "state after the power cut is neither before nor after; records " << after.size() << ", new "
                                                                                            << added.size());
        if (!ok) ++failures;
      }
    }
  }
  MESSAGE("power-loss trials: " << trials << ", failures " << failures << "; unsynced changes kept " << totals.kept
                                << ", dropped " << totals.dropped << ", torn " << totals.torn);
  CHECK(trials == (11 * 7 + 1 + 1 + 3 + 2) * seeds);
  CHECK(totals.dropped > 10 * seeds);  // the trials really lost data
}
