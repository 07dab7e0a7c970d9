// Damaged stores. For every data file kind (hot slots, the staging shard,
// every partition shard, the centroids), every header byte and bytes spread
// over the rest, flipped or cut off there: `verify` reports the file, and
// every reader (a batch search and single searches that scan everything,
// `get` of every memory) either exits 79 or prints exactly what it printed
// before the damage, never a different answer. The SQLite DB gets the same
// sweep with the weaker promise SQLite itself gives (no page checksums):
// never a crash. A second sweep damages every byte of one memory's stored
// payload; a third cuts files short and checks that searches notice.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;
namespace fs = std::filesystem;

namespace {

bool CleanExit(int code) { return code == 0 || code == 1 || code == 79; }

void Restore(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// (id, slot) of the hot memories, from the metadata.
std::map<int64_t, std::string> HotSlots(const std::string& store) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((store + "/meta.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT slot, id FROM memories WHERE tier = 0", -1, &st, nullptr) == SQLITE_OK);
  std::map<int64_t, std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW)
    out[sqlite3_column_int64(st, 0)] = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

struct Readers {
  RunResult batch, get;
  std::map<std::string, RunResult> single;  // id -> search for its own vector
};

struct Fixture {
  TempDir dir;
  std::string pristine = dir / "pristine", store = dir / "s";
  std::vector<Mem> mems;
  std::map<std::string, std::vector<float>> vec;
  std::vector<std::string> files;  // every data file
  Readers before;

  Fixture() {
    mems = RandomMems(400, 8, 17);
    for (const auto& m : mems) vec[m.id] = m.vec;
    REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "100"}, ToJsonlWithPayload(mems)).exit_code == 0);
    REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "4"}).exit_code == 0);
    auto extra = RandomMems(60, 8, 18, "x");
    for (const auto& m : extra) vec[m.id] = m.vec;
    REQUIRE(Aether({"ingest", "--create", pristine}, ToJsonlWithPayload(extra)).exit_code == 0);
    mems.insert(mems.end(), extra.begin(), extra.end());
    // A free hot slot, and garbage in a partition.
    REQUIRE(Aether({"delete", pristine, "m5", "m300"}).exit_code == 0);
    REQUIRE(Aether({"verify", pristine}).exit_code == 0);
    files = {"hot.slots", "cold/staging.shard", "index/g000001.centroids"};
    for (int p = 0; p < 4; ++p) files.push_back("cold/g000001/p00000" + std::to_string(p) + ".shard");
    before = Read(pristine, {});
  }

  Readers Read(const std::string& s, const std::vector<std::string>& single_ids) {
    Readers r;
    std::vector<Mem> qs;
    for (size_t i = 0; i < mems.size(); i += 11) qs.push_back(mems[i]);
    r.batch = Aether({"search", s, "--queries", "-", "-k", "5", "--nprobe", "4", "--with-payload", "--no-touch"},
                     QueriesJsonl(qs));
    std::vector<std::string> get = {"get", s};
    for (const auto& m : mems)
      if (m.id != "m5" && m.id != "m300") get.push_back(m.id);
    r.get = Aether(get);
    for (const auto& id : single_ids)
      r.single[id] = Aether({"search", s, "--vector", VectorJson(vec[id]), "-k", "3", "--nprobe", "4", "--no-touch"});
    return r;
  }
};

// A reader that touches damaged data must fail with 79, or answer as it
// did before the damage.
void CheckReader(const RunResult& now, const RunResult& was, const char* what) {
  CAPTURE(what);
  CHECK_MESSAGE((now.exit_code == 79 || (now.exit_code == 0 && now.out == was.out)),
                "exit " << now.exit_code << ": " << now.err);
}

}  // namespace

TEST_CASE("damage to any data file: verify names it, every reader exits 79 or answers exactly as before" *
          doctest::test_suite("sweep")) {
  Fixture f;
  const auto hot_slots = HotSlots(f.pristine);
  const uint64_t slot_size = 16 + 4 * 8;
  std::map<std::string, RunResult> single_before;
  int trials = 0;
  size_t point = 0;  // every (file, offset, flip or cut), counted for InSweep
  for (const auto& name : f.files) {
    const uint64_t size = FileSize(f.pristine + "/" + name);
    std::vector<uint64_t> offsets;
    for (uint64_t o = 0; o < std::min<uint64_t>(size, 40); ++o) offsets.push_back(o);  // every header byte
    const int spread = SweepSize(16);
    for (int i = 1; i <= spread; ++i) offsets.push_back(size * uint64_t(i) / uint64_t(spread + 1));
    // Each part of a slot: row id, checksum, vector; of live slots and a free one.
    if (name == "hot.slots")
      for (uint64_t slot : {uint64_t(0), uint64_t(3), uint64_t(5), uint64_t(99)})
        for (uint64_t part : {uint64_t(0), uint64_t(7), uint64_t(9), uint64_t(16), slot_size - 1})
          offsets.push_back(32 + slot * slot_size + part);
    for (bool truncate : {false, true}) {
      for (uint64_t off : offsets) {
        if (off >= size || (truncate && off < 40 && off % 8 != 0)) continue;  // a cut header is a cut header
        if (!InSweep(point++)) continue;
        CAPTURE(name);
        CAPTURE(off);
        CAPTURE(truncate);
        Restore(f.pristine, f.store);
        if (truncate)
          TruncateFile(f.store + "/" + name, off);
        else
          FlipByte(f.store + "/" + name, off);
        auto v = Aether({"verify", f.store});
        CHECK_MESSAGE(v.exit_code == 1, v.out << v.err);
        CHECK_MESSAGE((v.out.find(name.substr(name.rfind('/') + 1)) != std::string::npos ||
                       v.err.find(name.substr(name.rfind('/') + 1)) != std::string::npos),
                      v.out << v.err);
        // The memory whose slot was hit searches for itself alone (the
        // single-query path checks what it scans the way the batch does).
        std::vector<std::string> single;
        if (name == "hot.slots" && off >= 32) {
          auto it = hot_slots.find(int64_t((off - 32) / slot_size));
          if (it != hot_slots.end()) single.push_back(it->second);
        }
        // A single query streams the centroids file (the batch loads it).
        if (name == "index/g000001.centroids") single.push_back("m7");
        Readers now = f.Read(f.store, single);
        CheckReader(now.batch, f.before.batch, "batch search");
        CheckReader(now.get, f.before.get, "get");
        for (const auto& [id, r] : now.single) {
          if (!single_before.count(id)) single_before[id] = f.Read(f.pristine, {id}).single[id];
          CheckReader(r, single_before[id], id.c_str());
        }
        ++trials;
      }
    }
  }
  MESSAGE("damaged data files: " << trials << " stores, each flagged by verify; every reader 79 or unchanged");
}

TEST_CASE("damage to the SQLite DB at any offset: no crash, no uncaught exception") {
  Fixture f;
  const std::string name = "meta.db";
  const uint64_t size = FileSize(f.pristine + "/" + name);
  int trials = 0, flagged = 0;
  size_t point = 0;
  for (bool truncate : {false, true}) {
    for (int i = 0; i < 40; ++i) {
      const uint64_t off = i < 10 ? uint64_t(i) * 11 : size * uint64_t(i - 9) / 31;
      if (off >= size || !InSweep(point++)) continue;
      CAPTURE(off);
      CAPTURE(truncate);
      Restore(f.pristine, f.store);
      if (truncate)
        TruncateFile(f.store + "/" + name, off);
      else
        FlipByte(f.store + "/" + name, off);
      auto v = Aether({"verify", f.store});
      Readers now = f.Read(f.store, {});
      CHECK_MESSAGE(CleanExit(v.exit_code), v.err);
      CHECK_MESSAGE(CleanExit(now.batch.exit_code), now.batch.err);
      CHECK_MESSAGE(CleanExit(now.get.exit_code), now.get.err);
      flagged += v.exit_code != 0;
      ++trials;
    }
  }
  MESSAGE("damaged meta.db: " << trials << " stores, " << flagged << " flagged by verify, 0 crashes");
}

TEST_CASE("payload-byte sweep: every byte of a stored payload damaged; invalid JSON is found and named, never thrown" *
          doctest::test_suite("sweep")) {
  TempDir dir;
  const std::string pristine = dir / "p", store = dir / "s";
  auto mems = RandomMems(30, 4, 9);
  std::string jsonl;
  for (const auto& m : mems)
    jsonl += "{\"id\":\"" + m.id + "\",\"vector\":" + VectorJson(m.vec) +
             (m.id == "m7" ? ",\"payload\":{\"mark\":\"PAYLOAD-7\",\"n\":[1,2.5,{\"k\":null}],\"t\":true}}\n"
                           : ",\"payload\":{\"other\":1}}\n");
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "20"}, jsonl).exit_code == 0);
  REQUIRE(Aether({"recover", pristine}).exit_code == 0);  // checkpoints the WAL into meta.db
  const std::string text = "{\"mark\":\"PAYLOAD-7\",\"n\":[1,2.5,{\"k\":null}],\"t\":true}";
  const std::string db = ReadFile(pristine + "/meta.db");
  const size_t at = db.find(text);
  REQUIRE(at != std::string::npos);
  int trials = 0, invalid = 0;
  size_t point = 0;  // a short run damages every byte, with one of the four values in turn
  for (size_t i = 0; i < text.size(); ++i) {
    for (unsigned char with : {0x01, int('{'), int('"'), 0x80}) {
      if (text[i] == char(with) || !InSweep(point++)) continue;
      CAPTURE(i);
      CAPTURE(int(with));
      Restore(pristine, store);
      std::string bytes = db;
      bytes[at + i] = char(with);
      WriteFile(store + "/meta.db", bytes);
      std::string damaged = text;
      damaged[i] = char(with);
      auto v = Aether({"verify", store});
      auto g = Aether({"get", store, "m7"});
      auto s =
          Aether({"search", store, "--vector", VectorJson(mems[7].vec), "-k", "1", "--with-payload", "--no-touch"});
      auto h = Aether({"search", store, "--vector", VectorJson(mems[7].vec), "-k", "1", "--no-touch"});
      CHECK(h.exit_code == 0);  // a search that does not read payloads is not affected
      // Every other byte: a merge patch must parse the stored payload; a
      // replace does not, and repairs it.
      const bool patch = i % 2 == 0 && with == '{';
      const auto u = patch ? Aether({"update", store, "m7", "--merge", "{\"k\":1}"}) : RunResult{};
      const bool valid = nlohmann::json::accept(damaged);
      if (patch) {
        CHECK(u.exit_code == (valid ? 0 : 79));
        if (!valid) {
          CHECK(u.err.find("memory 'm7'") != std::string::npos);
          CHECK(Aether({"update", store, "m7", "--payload", "{\"fixed\":true}"}).exit_code == 0);
          CHECK(Aether({"verify", store}).exit_code == 0);
        }
      }
      if (valid) {
        CHECK(v.exit_code == 0);
        CHECK(g.exit_code == 0);
        CHECK(s.exit_code == 0);
      } else {
        ++invalid;
        CHECK(v.exit_code == 1);
        CHECK(v.out.find("memory 'm7'") != std::string::npos);
        CHECK(v.out.find("payload is not valid JSON") != std::string::npos);
        CHECK(g.exit_code == 79);
        CHECK(g.err.find("memory 'm7'") != std::string::npos);
        CHECK(s.exit_code == 79);
        CHECK(s.err.find("memory 'm7'") != std::string::npos);
      }
      ++trials;
    }
  }
  MESSAGE("payload bytes: " << trials << " damaged payloads, " << invalid << " no longer JSON: all named by verify, "
                            << "get and search exit 79");
  CHECK(invalid > trials / 2);
}

TEST_CASE("truncated files: a search that cannot read a live memory fails with 79") {
  TempDir dir;
  const std::string pristine = dir / "p", store = dir / "s";
  auto mems = RandomMems(200, 8, 3);
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "120"}, ToJsonl(mems)).exit_code == 0);
  const uint64_t slot_size = 16 + 4 * 8;
  for (uint64_t keep_slots : {uint64_t(0), uint64_t(1), uint64_t(60), uint64_t(119)}) {
    for (bool batch : {false, true}) {
      CAPTURE(keep_slots);
      CAPTURE(batch);
      Restore(pristine, store);
      TruncateFile(store + "/hot.slots", 32 + keep_slots * slot_size);
      RunResult r = batch ? Aether({"search", store, "--queries", "-", "--no-touch"},
                                   QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 40)))
                          : Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--no-touch"});
      CHECK(r.exit_code == 79);
      CHECK(r.err.find("hot.slots: holds " + std::to_string(keep_slots) + " slots, but committed memories use 120") !=
            std::string::npos);
      CHECK(Aether({"search", store, "--tier", "cold", "--vector", VectorJson(mems[0].vec), "--no-touch"}).exit_code ==
            0);  // the cold tier is intact
    }
  }
  // meta.db cut short anywhere: searches fail (SQLite finds its pages
  // missing) or answer exactly as before; never an answer without a memory.
  const auto pristine_single = Aether({"search", pristine, "--vector", VectorJson(mems[0].vec), "--no-touch"});
  const auto q40 = QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 40));
  const auto pristine_batch = Aether({"search", pristine, "--queries", "-", "--no-touch"}, q40);
  const uint64_t db_size = FileSize(pristine + "/meta.db");
  for (uint64_t cut = 0; cut < db_size; cut += db_size / 9 + 1) {
    CAPTURE(cut);
    Restore(pristine, store);
    TruncateFile(store + "/meta.db", cut);
    auto single = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--no-touch"});
    auto batch = Aether({"search", store, "--queries", "-", "--no-touch"}, q40);
    CHECK((single.exit_code == 79 || (single.exit_code == 0 && single.out == pristine_single.out)));
    CHECK((batch.exit_code == 79 || (batch.exit_code == 0 && batch.out == pristine_batch.out)));
  }
  // The staging shard cut short: every search scans it.
  for (uint64_t cut : {uint64_t(32), FileSize(pristine + "/cold/staging.shard") - 1}) {
    Restore(pristine, store);
    TruncateFile(store + "/cold/staging.shard", cut);
    auto r = Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--no-touch"});
    CHECK(r.exit_code == 79);
    CHECK(r.err.find("staging.shard") != std::string::npos);
  }
}

// A shard file the metadata names, removed (the staging shard or any
// partition's): damage to the store, not a missing input. Every reader that
// needs it exits 79 naming it (not 66, which means the input or the store
// is not there), and verify names it.
TEST_CASE("a shard file the metadata names, removed: searches, get and verify exit as for damage, naming it") {
  TempDir dir;
  const std::string pristine = dir / "p", store = dir / "s";
  auto mems = RandomMems(300, 8, 5);
  REQUIRE(Aether({"ingest", "--create", pristine, "--hot-capacity", "0", "-q"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", pristine, "--partitions", "4", "-q"}).exit_code == 0);
  auto staged = RandomMems(20, 8, 6, "e");
  REQUIRE(Aether({"ingest", pristine, "-q"}, ToJsonl(staged)).exit_code == 0);
  std::vector<std::string> files;  // relative to the store
  for (const auto& e : fs::recursive_directory_iterator(pristine + "/cold"))
    if (e.path().extension() == ".shard") files.push_back(fs::relative(e.path(), pristine).string());
  REQUIRE(files.size() == 5);  // staging and 4 partitions
  mems.insert(mems.end(), staged.begin(), staged.end());
  const auto queries = QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 30));
  for (const std::string& file : files) {
    CAPTURE(file);
    Restore(pristine, store);
    fs::remove(store + "/" + file);
    for (const auto& r : {Aether({"search", store, "--vector", VectorJson(mems[0].vec), "--nprobe", "4", "--no-touch"}),
                          Aether({"search", store, "--queries", "-", "--nprobe", "4", "--no-touch"}, queries)}) {
      CHECK(r.exit_code == 79);
      CHECK_MESSAGE(r.err.find(file + ": no such file (a shard the metadata names)") != std::string::npos, r.err);
    }
    int damaged = 0;
    for (size_t i = 0; i < mems.size(); i += 6) {  // some of every file's memories
      auto g = Aether({"get", store, mems[i].id});
      CHECK((g.exit_code == 0 || g.exit_code == 79));
      if (g.exit_code == 79) {
        ++damaged;
        CHECK(g.err.find(file + ": no such file (a shard the metadata names)") != std::string::npos);
      }
    }
    CHECK(damaged > 0);  // the memories the file held
    // A writer that appends to the staging shard reports it alike (it was
    // once an I/O error, exit 74), and commits nothing.
    if (file == "cold/staging.shard") {
      auto w = Aether({"ingest", store, "-q"}, ToJsonl(RandomMems(3, 8, 7, "w")));
      CHECK(w.exit_code == 79);
      CHECK_MESSAGE(w.err.find(file + ": no such file (a shard the metadata names)") != std::string::npos, w.err);
      CHECK(Aether({"get", store, "w0"}).exit_code == 1);
    }
    auto v = Aether({"verify", store});
    CHECK(v.exit_code != 0);
    CHECK(v.out.find(file) != std::string::npos);
  }
}
