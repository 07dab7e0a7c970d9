// The cold codecs end to end. The quantized ones (float16, sq8): a search
// scans approximations and re-ranks at full precision, so with enough
// candidates it is exact (checked against brute force), and everything that
// is not a search (get, ascend, rebuild-index, verify) sees the exact
// vectors; damage to either part of a frame is reported, never returned.
// float32 (lossless, uncompressed, format version 7): exact searches, damage
// caught by the frame's checksum. rebuild-index --codec: every codec to
// another in place.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "format/coding.h"
#include "test_util.h"

using namespace aether::test;

namespace {

nlohmann::json Stats(const std::string& store) {
  return nlohmann::json::parse(Aether({"stats", store, "--format", "json"}).out);
}

// Where memory `id` lives in the cold tier: shard path, frame offset, index.
struct ColdPlace {
  std::string path;
  uint64_t frame_offset = 0;
  uint32_t index = 0;
};

ColdPlace PlaceOf(const std::string& store, const std::string& id) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT s.path, m.frame_offset, m.frame_index FROM memories m JOIN shards s "
                             "ON s.shard_id = m.shard_id WHERE m.id = ? AND m.tier = 1",
                             -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  ColdPlace p{store + "/" + reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
              uint64_t(sqlite3_column_int64(st, 1)), uint32_t(sqlite3_column_int64(st, 2))};
  sqlite3_finalize(st);
  sqlite3_close(db);
  return p;
}

double Recall(const std::vector<Hit>& got, const std::vector<std::pair<double, std::string>>& want) {
  std::set<std::string> truth;
  for (const auto& w : want) truth.insert(w.second);
  double r = 0;
  for (const auto& h : got) r += truth.count(h.id) / double(want.size());
  return r;
}

// The codec of every frame of every shard file in the store's cold tier.
std::set<uint32_t> FrameCodecs(const std::string& store) {
  std::set<uint32_t> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store + "/cold")) {
    if (!e.is_regular_file() || e.path().extension() != ".shard") continue;
    const std::string bytes = ReadFile(e.path().string());
    for (size_t at = 32; at + 28 <= bytes.size();) {
      const auto* h = reinterpret_cast<const uint8_t*>(bytes.data() + at);
      out.insert(aether::DecodeFixed32(h + 12));
      at += 28 + aether::DecodeFixed32(h + 16);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("float16 and sq8 stores: re-ranked searches give the brute-force top-k for l2, cosine and ip") {
  const uint32_t dim = 16;
  auto mems = RandomMems(1500, dim, 21);
  auto qs = RandomMems(20, dim, 22, "q");
  for (std::string codec : {"float16", "sq8"}) {
    for (std::string metric : {"l2", "cosine", "ip"}) {
      CAPTURE(codec);
      CAPTURE(metric);
      TempDir dir;
      std::string store = dir / "s";
      // One store is created by ingest --codec, the others by init --codec.
      if (metric == "l2") {
        auto r = Aether({"ingest", "--create", store, "--codec", codec, "--dim", "16", "--metric", metric,
                         "--hot-capacity", "300", "--batch", "400"},
                        ToJsonl(mems));
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      } else {
        REQUIRE(Aether({"init", store, "--dim", "16", "--metric", metric, "--hot-capacity", "300", "--codec", codec})
                    .exit_code == 0);
        auto r = Aether({"ingest", "--create", store, "--batch", "400"}, ToJsonl(mems));
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      }
      auto st = Stats(store);
      CHECK(st["cold_codec"] == codec);
      CHECK(st["format_version"] == 6);
      CHECK(st["cold_memories"] == 1200);
      // Every cold memory a candidate (150 x 10 >= 1,200): exact.
      auto all = ParseSearchOutput(
          Aether({"search", store, "--queries", "-", "--no-touch", "--rerank", "150"}, QueriesJsonl(qs)).out);
      auto dflt = ParseSearchOutput(Aether({"search", store, "--queries", "-", "--no-touch"}, QueriesJsonl(qs)).out);
      REQUIRE(all.size() == qs.size());
      REQUIRE(dflt.size() == qs.size());
      double recall = 0;
      for (size_t i = 0; i < qs.size(); ++i) {
        auto want = BruteForce(mems, qs[i].vec, 10, metric);
        CHECK_MESSAGE(SameTopK(all[i], want), "query " << i);
        recall += Recall(dflt[i], want) / double(qs.size());
        // Whatever the candidates, the distances printed are exact ones.
        for (const Hit& h : dflt[i]) {
          const auto& v = mems[std::stoul(h.id.substr(1))].vec;
          auto one = BruteForce({Mem{h.id, v}}, qs[i].vec, 1, metric);
          CHECK(std::abs(h.distance - one[0].first) <= 1e-4 * (1 + std::abs(one[0].first)));
        }
      }
      MESSAGE(codec << " " << metric << ": recall@10 at the default re-rank (4 x k): " << recall);
      CHECK(recall >= 0.9);
      // Not a search: the exact vectors.
      auto got = GetAll(store, Ids(mems));
      REQUIRE(got.size() == mems.size());
      size_t same = 0;
      for (const auto& m : mems) same += got[m.id] == m.vec;
      CHECK(same == mems.size());
      // The index keeps the codec; probing every partition is exact again.
      auto rb = Aether({"rebuild-index", store, "--format", "json", "--seed", "3"});
      REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
      const auto parts = std::to_string(int(nlohmann::json::parse(rb.out)["partitions"]));
      auto idx = ParseSearchOutput(Aether({"search", store, "--queries", "-", "--no-touch", "--rerank", "150",
                                           "--nprobe", parts, "--threads", "1"},
                                          QueriesJsonl(qs))
                                       .out);
      REQUIRE(idx.size() == qs.size());
      for (size_t i = 0; i < qs.size(); ++i) CHECK(SameTopK(idx[i], BruteForce(mems, qs[i].vec, 10, metric)));
      // Ascend brings exact vectors back to the hot tier; descend writes them
      // quantized again.
      REQUIRE(Aether({"ascend", store, "m1400", "m1401", "--evict"}).exit_code == 0);
      REQUIRE(Aether({"descend", store, "m0", "m1400"}).exit_code == 0);
      got = GetAll(store, {"m0", "m1400", "m1401"});
      CHECK(got["m0"] == mems[0].vec);
      CHECK(got["m1400"] == mems[1400].vec);
      CHECK(got["m1401"] == mems[1401].vec);
      // Garbage in the frames (the moves above, deletes, a replace), right
      // where the queries look: the cold nearest of queries 1 and 2 are
      // deleted, that of query 3 is moved onto query 0. The re-rank checks
      // each candidate's place, so the dead copies never show.
      auto first_cold = [&](const std::vector<Hit>& hits) {
        for (const Hit& h : hits)
          if (h.tier == "cold") return h.id;
        FAIL("no cold hit");
        return std::string();
      };
      const std::string del1 = first_cold(idx[1]), del2 = first_cold(idx[2]), moved = first_cold(idx[3]);
      REQUIRE(del1 != del2);
      REQUIRE(Aether({"delete", store, del1, del2}).exit_code == 0);
      std::vector<Mem> now;
      for (Mem m : mems) {
        if (m.id == del1 || m.id == del2) continue;
        if (m.id == moved) m.vec = qs[0].vec;
        now.push_back(m);
      }
      REQUIRE(Aether({"ingest", "--create", store, "--on-duplicate", "replace"}, ToJsonl({Mem{moved, qs[0].vec}}))
                  .exit_code == 0);
      auto after = ParseSearchOutput(
          Aether({"search", store, "--queries", "-", "--no-touch", "--rerank", "150", "--nprobe", parts},
                 QueriesJsonl(qs))
              .out);
      REQUIRE(after.size() == qs.size());
      for (size_t i = 0; i < qs.size(); ++i) CHECK(SameTopK(after[i], BruteForce(now, qs[i].vec, 10, metric)));
      auto v = Aether({"verify", store});
      CHECK_MESSAGE(v.exit_code == 0, v.err);
    }
  }
}

TEST_CASE("quantized frames: damage to a full-precision row or to the scan section is reported, never returned") {
  const uint32_t dim = 8;
  auto mems = RandomMems(400, dim, 5);
  for (std::string codec : {"float16", "sq8"}) {
    CAPTURE(codec);
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "8", "--hot-capacity", "1", "--codec", codec}).exit_code == 0);
    REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(mems)).exit_code == 0);
    // The query is memory m200 itself: its own row is re-ranked first.
    const std::string q = VectorJson(mems[200].vec);
    auto ok = ParseSearchOutput(Aether({"search", store, "--vector", q, "--no-touch", "-k", "3"}).out);
    REQUIRE(ok.size() == 1);
    REQUIRE(ok[0][0].id == "m200");
    CHECK(ok[0][0].distance == 0.0);

    ColdPlace p = PlaceOf(store, "m200");
    std::string bytes = ReadFile(p.path);
    const auto* f = reinterpret_cast<const uint8_t*>(bytes.data()) + p.frame_offset;
    const uint32_t scan_len = aether::DecodeFixed32(f + 20);
    const uint64_t row = p.frame_offset + 28 + scan_len + uint64_t(p.index) * (4 * dim + 4);
    FlipByte(p.path, row + 5);  // inside m200's second float
    auto r = Aether({"search", store, "--vector", q, "--no-touch", "-k", "3"});
    CHECK(r.exit_code == 79);
    CHECK_MESSAGE(r.err.find(p.path) != std::string::npos, r.err);
    CHECK(r.err.find("checksum mismatch") != std::string::npos);
    auto v = Aether({"verify", store});
    CHECK(v.exit_code == 1);  // problems found
    CHECK_MESSAGE(v.out.find(p.path + ": frame at offset " + std::to_string(p.frame_offset) + ": full-precision row") !=
                      std::string::npos,
                  v.out << v.err);
    CHECK(Aether({"get", store, "m200"}).exit_code == 79);
    // A search whose candidates avoid that row still runs: it is not read.
    auto far = Aether({"search", store, "--vector", VectorJson(std::vector<float>(dim, 50.0f)), "--no-touch", "-k", "1",
                       "--rerank", "1"});
    CHECK(far.exit_code == 0);
    FlipByte(p.path, row + 5);  // repaired
    CHECK(Aether({"verify", store}).exit_code == 0);

    FlipByte(p.path, p.frame_offset + 28 + 8ull * 3);  // the scan section
    r = Aether({"search", store, "--vector", q, "--no-touch"});
    CHECK(r.exit_code == 79);
    CHECK(r.err.find("frame at offset " + std::to_string(p.frame_offset)) != std::string::npos);
    CHECK(Aether({"verify", store}).exit_code == 1);
  }
}

TEST_CASE("a float32 store: version 7, its cold frames the vectors as they are, searches exact; damage reported") {
  const uint32_t dim = 16;
  auto mems = RandomMems(1200, dim, 31);
  auto qs = RandomMems(20, dim, 32, "q");
  for (std::string metric : {"l2", "cosine", "ip"}) {
    CAPTURE(metric);
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "16", "--metric", metric, "--hot-capacity", "300", "--codec", "float32"})
                .exit_code == 0);
    auto in = Aether({"ingest", store, "--batch", "400"}, ToJsonl(mems));
    REQUIRE_MESSAGE(in.exit_code == 0, in.err);
    auto rb = Aether({"rebuild-index", store, "--format", "json", "--seed", "3"});
    REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
    const auto parts = std::to_string(int(nlohmann::json::parse(rb.out)["partitions"]));
    auto st = Stats(store);
    CHECK(st["cold_codec"] == "float32");
    CHECK(st["format_version"] == 7);
    CHECK(st["cold_memories"] == 900);
    // Nothing compressed: each frame is its 28-byte header and the records.
    CHECK(st["cold_bytes"].get<int64_t>() > st["cold_raw_bytes"].get<int64_t>());
    CHECK(FrameCodecs(store) == std::set<uint32_t>{4});
    // Every partition probed: the brute-force top-k, exact distances.
    auto all = ParseSearchOutput(
        Aether({"search", store, "--queries", "-", "--no-touch", "--nprobe", parts}, QueriesJsonl(qs)).out);
    REQUIRE(all.size() == qs.size());
    for (size_t i = 0; i < qs.size(); ++i) CHECK(SameTopK(all[i], BruteForce(mems, qs[i].vec, 10, metric)));
    // One query alone (scanned row by row, not in tiles): the same.
    for (size_t i = 0; i < 3; ++i) {
      auto one = ParseSearchOutput(
          Aether({"search", store, "--vector", VectorJson(qs[i].vec), "--no-touch", "--nprobe", parts}).out);
      REQUIRE(one.size() == 1);
      CHECK(SameTopK(one[0], BruteForce(mems, qs[i].vec, 10, metric)));
    }
    auto got = GetAll(store, Ids(mems));
    REQUIRE(got.size() == mems.size());
    size_t same = 0;
    for (const auto& m : mems) same += got[m.id] == m.vec;
    CHECK(same == mems.size());
    CHECK(Aether({"verify", store}).exit_code == 0);
  }

  // A byte of a stored vector changed: the frame's checksum catches it.
  TempDir dir;
  std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "16", "--hot-capacity", "1", "--codec", "float32"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store}, ToJsonl(mems)).exit_code == 0);
  const std::string q = VectorJson(mems[200].vec);
  ColdPlace p = PlaceOf(store, "m200");
  const std::string bytes = ReadFile(p.path);
  const uint32_t count = aether::DecodeFixed32(reinterpret_cast<const uint8_t*>(bytes.data()) + p.frame_offset + 4);
  const uint64_t at = p.frame_offset + 28 + 8ull * count + uint64_t(p.index) * 4 * dim + 5;
  {
    const std::string before = ReadFile(p.path);
    FlipByte(p.path, at);  // inside m200's second float
    auto r = Aether({"search", store, "--vector", q, "--no-touch", "-k", "3"});
    CHECK(r.exit_code == 79);
    CHECK_MESSAGE(r.err.find(p.path) != std::string::npos, r.err);
    CHECK(r.err.find("checksum mismatch") != std::string::npos);
    CHECK(Aether({"verify", store}).exit_code == 1);
    CHECK(Aether({"get", store, "m200"}).exit_code == 79);
    FlipByte(p.path, at);
    REQUIRE(ReadFile(p.path) == before);
  }
  CHECK(Aether({"verify", store}).exit_code == 0);
}

TEST_CASE("a codec in a store of a format version before it is refused as corruption") {
  // float16 and sq8 came with version 3, float32 with 7.
  const std::vector<std::pair<std::string, int>> cases = {{"sq8", 2}, {"float16", 2}, {"float32", 6}};
  for (const auto& c : cases) {
    const std::string codec = c.first;  // not a structured binding: CAPTURE's lambda takes it
    const int version = c.second;
    CAPTURE(codec);
    TempDir dir;
    std::string store = dir / "s";
    REQUIRE(Aether({"init", store, "--dim", "2", "--codec", codec}).exit_code == 0);
    REQUIRE(Stats(store)["format_version"] == (codec == "float32" ? 7 : 6));  // as created
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((store + "/meta.db").c_str(), &db) == SQLITE_OK);
    const std::string set = "UPDATE config SET value='" + std::to_string(version) + "' WHERE key='format_version'";
    REQUIRE(sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto r = Aether({"stats", store});
    CHECK(r.exit_code == 79);
    CHECK_MESSAGE(r.err.find("cold_codec '" + codec + "' in a version " + std::to_string(version) + " store") !=
                      std::string::npos,
                  r.err);
  }
  // Any other codec's new store is created at 6.
  TempDir dir;
  REQUIRE(Aether({"init", dir / "z", "--dim", "2"}).exit_code == 0);
  CHECK(Stats(dir / "z")["format_version"] == 6);
}

TEST_CASE("rebuild-index --codec changes a store's codec in place: every cold frame rewritten, the data the same") {
  const std::vector<std::string> codecs = {"zstd", "zstd-shuffle", "float16", "float32", "sq8"};
  for (size_t from = 0; from < codecs.size(); ++from) {
    const std::string to = codecs[(from + 1) % codecs.size()];  // every codec is a source and a target
    CAPTURE(codecs[from]);
    CAPTURE(to);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = RandomMems(700, 8, 40 + from);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "200", "--codec", codecs[from]}, ToJsonl(mems))
                .exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "5"}).exit_code == 0);
    REQUIRE(Aether({"descend", store, "m1", "m2"}).exit_code == 0);  // staging, beside the partitions
    auto before = Lines(Aether({"export", store}).out);
    std::sort(before.begin(), before.end());
    // A dry run changes nothing.
    auto dry = Aether({"rebuild-index", store, "--codec", to, "--dry-run"});
    CHECK(dry.exit_code == 0);
    CHECK(dry.err.find("would change the codec " + to) != std::string::npos);
    CHECK(Stats(store)["cold_codec"] == codecs[from]);
    auto r = Aether({"rebuild-index", store, "--codec", to, "--partitions", "5", "--format", "json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(nlohmann::json::parse(r.out)["codec_changed"] == true);
    const auto stats = Stats(store);
    CHECK(stats["cold_codec"] == to);
    // 6, or 7 for float32; a version never goes down (float32 -> sq8 stays 7).
    CHECK(stats["format_version"] == (to == "float32" || codecs[from] == "float32" ? 7 : 6));
    static const std::map<std::string, uint32_t> kCode = {
        {"zstd", 0}, {"zstd-shuffle", 1}, {"float16", 2}, {"sq8", 3}, {"float32", 4}};
    CHECK(FrameCodecs(store) == std::set<uint32_t>{kCode.at(to)});
    CHECK(Aether({"verify", store}).exit_code == 0);
    auto after = Lines(Aether({"export", store}).out);
    std::sort(after.begin(), after.end());
    CHECK(after == before);
    // New cold data is written in it too; searches stay exact.
    REQUIRE(Aether({"descend", store, "--all"}).exit_code == 0);
    CHECK(FrameCodecs(store) == std::set<uint32_t>{kCode.at(to)});
    auto q = RandomMems(3, 8, 99, "q");
    for (const auto& m : q) {
      auto hits = ParseSearchOutput(Aether({"search", store, "--vector", VectorJson(m.vec), "-k", "5", "--nprobe", "5",
                                            "--rerank", "50", "--no-touch"})
                                        .out);
      REQUIRE(hits.size() == 1);
      CHECK(SameTopK(hits[0], BruteForce(mems, m.vec, 5, "l2")));
    }
  }
}
