// aether export: every live memory once, whole, as `get` returns it (the
// reference), from hot slots, staging and index partitions of every codec;
// export -> ingest --ignore-unknown -> export keeps ids, vectors (bit for
// bit), payloads and importance byte for byte.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"

using namespace aether::test;
using nlohmann::json;

namespace {

// The export's lines by id; a line is checked to be one JSON object.
std::map<std::string, std::string> ByIdLines(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& line : Lines(out)) {
    const json j = json::parse(line);
    CHECK_MESSAGE(m.emplace(j["id"].get<std::string>(), line).second, "exported twice: " << j["id"]);
  }
  return m;
}

// The part of an export line that a round trip must keep byte for byte:
// everything up to the tier.
std::string DataPart(const std::string& line) { return line.substr(0, line.find(",\"tier\":")); }

uint32_t Bits(double d) {
  const float f = float(d);
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("export equals get for every live memory of every codec; export -> ingest -> export keeps the data") {
  for (const std::string codec : {"zstd-shuffle", "zstd", "float16", "sq8", "float32"}) {
    INFO(codec);
    TempDir dir;
    const std::string store = dir / "s";
    auto mems = RandomMems(500, 9, 77);
    // Extremes: a subnormal, the range limit, -0.0 (an integer "-0" would
    // read back as +0), and the one float whose shortest decimal reads back
    // as its neighbour when read as a double first.
    uint32_t bits = 0x95ae43fdu;
    float odd;
    std::memcpy(&odd, &bits, 4);
    const float extremes[] = {1e-38f, -9.99e14f, -0.0f, odd, -odd};
    for (size_t i = 0; i < mems.size(); i += 7) mems[i].vec[i % 9] = extremes[(i / 7) % 5];
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "120", "--codec", codec},
                   ToJsonlWithPayload(std::vector<Mem>(mems.begin(), mems.begin() + 300)))
                .exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "6", "--target-recall", "0"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 300, mems.end()), 300))
                .exit_code == 0);  // more cold data lands in staging
    REQUIRE(Aether({"delete", store, "m1", "m200", "m450"}).exit_code == 0);
    // Accesses still in the access log count, as in get.
    REQUIRE(Aether({"search", store, "--queries", "-", "-k", "4"},
                   QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 20)))
                .exit_code == 0);

    auto r = Aether({"export", store});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.err == "aether: exported 497 memories\n");
    const auto exported = ByIdLines(r.out);
    REQUIRE(exported.size() == 497);
    std::vector<std::string> ids;
    for (const auto& [id, line] : exported) ids.push_back(id);
    std::vector<std::string> get = {"get", store};
    get.insert(get.end(), ids.begin(), ids.end());
    const auto got = Aether(get);
    REQUIRE(got.exit_code == 0);
    std::map<std::string, int> tiers;
    for (const auto& line : Lines(got.out)) {
      const json want = json::parse(line);
      const json have = json::parse(exported.at(want["id"].get<std::string>()));
      for (const char* key : {"id", "payload", "importance", "tier", "created_ms", "last_access_ms", "access_count"})
        CHECK_MESSAGE(have[key] == want[key], key << " of " << want["id"]);
      REQUIRE(have["vector"].size() == want["vector"].size());
      for (size_t d = 0; d < want["vector"].size(); ++d)
        CHECK(Bits(have["vector"][d].get<double>()) == Bits(want["vector"][d].get<double>()));
      ++tiers[want["tier"]];
    }
    CHECK(tiers["hot"] >= 100);
    CHECK(tiers["cold"] >= 300);
    // --tier splits the same lines.
    auto hot = ByIdLines(Aether({"export", store, "--tier", "hot"}).out);
    auto cold = ByIdLines(Aether({"export", store, "--tier", "cold"}).out);
    CHECK(hot.size() == size_t(tiers["hot"]));
    CHECK(cold.size() == size_t(tiers["cold"]));
    for (const auto& part : {hot, cold})
      for (const auto& [id, line] : part) CHECK(exported.at(id) == line);

    // Round trip: the data part of every line comes back byte for byte.
    const std::string copy = dir / "copy";
    WriteFile(dir / "all.jsonl", r.out);
    auto in = Aether({"ingest", "--create", copy, dir / "all.jsonl", "--ignore-unknown", "--codec", codec});
    REQUIRE_MESSAGE(in.exit_code == 0, in.err);
    const auto again = ByIdLines(Aether({"export", copy}).out);
    REQUIRE(again.size() == exported.size());
    for (const auto& [id, line] : exported) CHECK(DataPart(again.at(id)) == DataPart(line));
  }
}

TEST_CASE("export: a failed write to standard output is exit 74 naming it, whichever batch it hits") {
  // Lines are formatted on two threads and written a batch at a time:
  // the first failed write stops the export, and nothing claims success.
  for (size_t n : {size_t(3), size_t(1500)}) {
    CAPTURE(n);
    TempDir dir;
    const std::string store = dir / "s";
    REQUIRE(Aether({"ingest", "--create", store, "--dim", "8", "--hot-capacity", "100"}, ToJsonl(RandomMems(n, 8, 7)))
                .exit_code == 0);
    auto r = AetherVia({"/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full"}, {"export", store});
    CHECK(r.exit_code == 74);
    CHECK_MESSAGE(r.err.find("standard output: No space left on device") != std::string::npos, r.err);
    CHECK(r.err.find("exported") == std::string::npos);
    if (n < 1000) continue;
    // A reader that stops early (head, with SIGPIPE ignored) ends it the same
    // way: every batch after the first is written to a closed pipe.
    auto head =
        AetherVia({"/bin/bash", "-c", "trap '' PIPE; \"$0\" \"$@\" | head -c 10 > /dev/null; exit ${PIPESTATUS[0]}"},
                  {"export", store});
    CHECK(head.exit_code == 74);
    CHECK_MESSAGE(head.err.find("standard output: Broken pipe") != std::string::npos, head.err);
  }
}

TEST_CASE("export: lines in the store's order across many batches; every kind of id escaped as JSON escapes it") {
  // The batches are formatted on two threads and must still come out in the
  // order the store reads them. The reference order is export --npy's ids
  // file, written by one thread.
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(6000, 4, 31);
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "2500"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "5", "--target-recall", "0"}).exit_code == 0);
  REQUIRE(Aether({"export", store, "--npy", dir / "ref"}).exit_code == 0);
  const auto want = Lines(ReadFile(dir / "ref.ids"));
  REQUIRE(want.size() == mems.size());
  for (int run = 0; run < 3; ++run) {
    auto r = Aether({"export", store});
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> order;
    for (const auto& line : Lines(r.out)) order.push_back(json::parse(line)["id"].get<std::string>());
    CHECK(order == want);
  }

  // Ids of every kind: plain ASCII (written as they are), and those JSON
  // must escape or that are not ASCII (the JSON library's escaping). Each
  // line's id part is exactly that library's encoding, and reads back.
  const std::vector<std::string> ids = {"plain-id_1.x", "quote\"d",    "back\\slash",      "tab\there", "ctl\x01x",
                                        "del\x7f",      "caf\xc3\xa9", "\xf0\x9f\x98\x80", "/slash/",   " space "};
  std::string jsonl;
  for (size_t i = 0; i < ids.size(); ++i)
    jsonl += "{\"id\":" + json(ids[i]).dump() + ",\"vector\":[" + std::to_string(i) + ",1,2,3]}\n";
  const std::string odd = dir / "odd";
  REQUIRE(Aether({"ingest", "--create", odd}, jsonl).exit_code == 0);
  auto r = Aether({"export", odd});
  REQUIRE(r.exit_code == 0);
  std::set<std::string> seen;
  for (const auto& line : Lines(r.out)) {
    const std::string id = json::parse(line)["id"].get<std::string>();
    CHECK(line.rfind("{\"id\":" + json(id).dump() + ",\"vector\":[", 0) == 0);
    seen.insert(id);
  }
  CHECK(seen == std::set<std::string>(ids.begin(), ids.end()));
}

TEST_CASE("export: a damaged hot slot is exit 79 naming it, after the memories before it") {
  // Hot vectors are read in chunks; a chunk holding a damaged slot is read
  // again slot by slot, so what comes out is every memory before it.
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "400"}, ToJsonl(RandomMems(300, 4, 41))).exit_code ==
          0);
  auto pristine = Aether({"export", store});
  REQUIRE(pristine.exit_code == 0);
  const auto all = Lines(pristine.out);
  REQUIRE(all.size() == 300);
  const uint64_t slot_size = 16 + 4 * 4, damaged = 100;
  FlipByte(store + "/hot.slots", 32 + damaged * slot_size + 20);  // a byte of its vector
  auto r = Aether({"export", store});
  CHECK(r.exit_code == 79);
  CHECK_MESSAGE(r.err.find("hot.slots: slot 100 ") != std::string::npos, r.err);
  CHECK(Lines(r.out) == std::vector<std::string>(all.begin(), all.begin() + long(damaged)));
}

TEST_CASE("export --progress counts the memories written out of those selected; off when stderr is not a TTY") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--dim", "4", "--hot-capacity", "1000"}, ToJsonl(RandomMems(5000, 4, 9)))
              .exit_code == 0);
  auto r = Aether({"export", store, "--progress"});
  REQUIRE(r.exit_code == 0);
  std::string err = r.err;
  std::replace(err.begin(), err.end(), '\r', '\n');
  CHECK(err.find("export 4096/5000 ") != std::string::npos);
  CHECK(err.find("export 5000/5000 ") != std::string::npos);
  CHECK(Lines(r.out).size() == 5000);
  auto filtered = Aether({"export", store, "--progress", "--tier", "hot"});
  std::string ferr = filtered.err;
  CHECK(ferr.find("export 1000/1000 ") != std::string::npos);
  CHECK(ferr.find("/5000") == std::string::npos);
  // Not a terminal, or --no-progress: the summary line alone.
  for (const auto& args :
       {std::vector<std::string>{"export", store}, std::vector<std::string>{"export", store, "--no-progress"}}) {
    auto q = Aether(args);
    CHECK(q.exit_code == 0);
    CHECK(q.err == "aether: exported 5000 memories\n");
  }
}

TEST_CASE(
    "export -> ingest --preserve-state -> export gives the same lines: tiers, times, access counts, pins, histories "
    "kept") {
  for (const std::string codec : {"zstd-shuffle", "sq8"}) {
    INFO(codec);
    TempDir dir;
    const std::string store = dir / "s", copy = dir / "c";
    auto mems = RandomMems(400, 6, 31);
    REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "150", "--codec", codec},
                   ToJsonlWithPayload(std::vector<Mem>(mems.begin(), mems.begin() + 300)))
                .exit_code == 0);
    REQUIRE(Aether({"rebuild-index", store, "--partitions", "4", "--target-recall", "0"}).exit_code == 0);
    REQUIRE(Aether({"ingest", store}, ToJsonlWithPayload(std::vector<Mem>(mems.begin() + 300, mems.end()), 300),
                   {"AETHER_NOW_MS=1800000000000"})
                .exit_code == 0);
    // Accesses (some folded, some still in the log), feedback, a move.
    REQUIRE(Aether({"search", store, "--queries", "-", "-k", "5"},
                   QueriesJsonl(std::vector<Mem>(mems.begin(), mems.begin() + 30)), {"AETHER_NOW_MS=1800000001000"})
                .exit_code == 0);
    REQUIRE(Aether({"feedback", store, "m7", "1"}).exit_code == 0);
    REQUIRE(Aether({"descend", store, "m1", "m2", "m3"}).exit_code == 0);
    REQUIRE(Aether({"pin", store, "m4", "m5", "m250", "-q"}).exit_code == 0);  // m250 was cold
    REQUIRE(Aether({"search", store, "--queries", "-", "-k", "3"},
                   QueriesJsonl(std::vector<Mem>(mems.begin() + 50, mems.begin() + 60)),
                   {"AETHER_NOW_MS=1800000002000"})
                .exit_code == 0);
    const std::string exported = Export(store);
    // Into a store with room for every memory: the cold ones still go cold.
    REQUIRE(Aether({"ingest", "--create", copy, "--hot-capacity", "1000", "--codec", codec, "--preserve-state", "-"},
                   exported)
                .exit_code == 0);
    auto a = Lines(exported), b = Lines(Export(copy));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
    size_t accessed = 0, cold = 0, pinned = 0, histories = 0;
    for (const auto& line : a) {
      const json j = json::parse(line);
      accessed += j["access_count"].get<int>() > 0;
      cold += j["tier"] == "cold";
      pinned += j.value("pinned", false);
      histories += j.contains("access_history");
      // A history's last time is the last access (the log's pending ones too).
      if (j.contains("access_history")) CHECK(j["access_history"]["times"].back() == j["last_access_ms"]);
    }
    CHECK(accessed >= 20);  // the state was there to keep
    CHECK(histories == accessed);
    CHECK(pinned == 3);
    CHECK(cold >= 250);
    Verified(copy);
    // Exact searches answer the same on both: the same ids in the same tiers.
    if (codec != "zstd-shuffle") continue;  // (sq8 candidates depend on how frames group memories)
    const std::string q = QueriesJsonl(std::vector<Mem>(mems.begin() + 200, mems.begin() + 210));
    const auto x =
        ParseSearchOutput(Aether({"search", store, "--queries", "-", "-k", "7", "--no-touch", "--nprobe", "4"}, q).out);
    const auto y = ParseSearchOutput(Aether({"search", copy, "--queries", "-", "-k", "7", "--no-touch"}, q).out);
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      REQUIRE(x[i].size() == y[i].size());
      for (size_t k = 0; k < x[i].size(); ++k) CHECK((x[i][k].id == y[i][k].id && x[i][k].tier == y[i][k].tier));
    }
  }
}

TEST_CASE("ingest --preserve-state: bad state fields are located errors; without the flag they are unknown fields") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
  const std::string head = R"({"id":"x","vector":[1,2],)";
  struct Case {
    std::string fields, says;
  };
  const std::vector<Case> cases = {
      {R"("tier":"tepid")", "\"tier\" must be \"hot\", \"warm\" or \"cold\""},
      {R"("tier":1)", "\"tier\" must be"},
      {R"("created_ms":-1)", "\"created_ms\" must be an integer"},
      {R"("created_ms":1.5)", "\"created_ms\" must be an integer"},
      {R"("access_count":"3")", "\"access_count\" must be an integer"},
      {R"("access_count":18446744073709551615)", "\"access_count\" must be an integer in [0, 9007199254740992]"},
      {R"("access_count":9007199254740993)", "\"access_count\" must be an integer in [0, 9007199254740992]"},
      {R"("last_access_ms":9223372036854775807)", "\"last_access_ms\" must be an integer in [0, 253402300799999]"},
      {R"("created_ms":5,"last_access_ms":4)", "last_access_ms 4 is before created_ms 5"},
      {R"("pinned":1)", "\"pinned\" must be true or false"},
      {R"("access_history":[1,2])", "\"access_history\" must be {"},
      {R"("access_history":{"times":3})", "\"access_history\" must be {"},
      {R"("access_history":{"times":[1],"olde":0})", "not with \"olde\""},
      {R"("access_history":{"times":[1,-2]})", "\"access time\" must be an integer"},
      {R"("access_history":{"times":[1],"older":-1})", "\"older\" must be an integer in [0, 4294967295]"},
      {R"("access_history":{"times":[3,3]})", "access times must be distinct and ascending: 3 after 3"},
      {R"("access_history":{"times":[4,3]})", "access times must be distinct and ascending: 3 after 4"},
      {R"("access_history":{"times":[],"older":2})", "times gone but none held"},
      {R"("last_access_ms":5,"access_history":{"times":[6]})", "access time 6 is after last_access_ms 5"},
      {R"("access_history":{"times":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33]})",
       "the access history holds 33 times (at most 32)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.fields);
    auto r = Aether({"ingest", store, "--preserve-state", "-"}, "\n" + head + c.fields + "}\n");
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("<stdin>:2: ") != std::string::npos);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
  auto r = Aether({"ingest", store, "-"}, head + R"("tier":"hot"})" + "\n");
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("--preserve-state") != std::string::npos);
  // --ignore-unknown alone skips them; npy input has no fields to keep.
  CHECK(Aether({"ingest", store, "--ignore-unknown", "-"}, head + R"("access_count":9})" + "\n").exit_code == 0);
  CHECK(json::parse(Aether({"get", store, "x"}).out)["access_count"] == 0);
  r = Aether({"ingest", store, "--preserve-state", "--input-format", "npy", "--id-prefix", "p", "-"});
  CHECK(r.exit_code == 64);
  // A record with only some fields: the rest as for a new memory.
  REQUIRE(Aether({"ingest", store, "--preserve-state", "-"},
                 R"({"id":"y","vector":[1,2],"access_count":4,"last_access_ms":1000})"
                 "\n",
                 {"AETHER_NOW_MS=5000"})
              .exit_code == 0);
  const json y = json::parse(Aether({"get", store, "y"}).out);
  CHECK(y["access_count"] == 4);
  CHECK(y["last_access_ms"] == 1000);
  CHECK(y["created_ms"] == 1000);  // not after its last access
  // A history alone: its last time stands for the last access.
  REQUIRE(Aether({"ingest", store, "--preserve-state", "-"},
                 R"({"id":"z","vector":[1,2],"access_history":{"times":[700,900]}})"
                 "\n",
                 {"AETHER_NOW_MS=5000"})
              .exit_code == 0);
  const json z = json::parse(Aether({"get", store, "z"}).out);
  CHECK(z["last_access_ms"] == 900);
  CHECK(z["created_ms"] == 900);
  CHECK(z["access_count"] == 2);  // the accesses the history counts
  CHECK(z["pattern"]["accesses"] == 2);
}

TEST_CASE("ingest --preserve-state: pinned records go hot first, never past the hot capacity; cold when no room") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", "2", "--hot-capacity", "3", "-q"}).exit_code == 0);
  auto line = [](int i, const std::string& state) {
    return "{\"id\":\"p" + std::to_string(i) + "\",\"vector\":[" + std::to_string(i) + ",1]" + state + "}\n";
  };
  // Unpinned first in the file, tier cold on a pinned one: the pins win the room.
  std::string in = line(0, "") + line(1, "") + line(2, R"(,"pinned":true,"tier":"cold")") + line(3, "") +
                   line(4, R"(,"pinned":true)");
  REQUIRE(Aether({"ingest", store, "--preserve-state", "-"}, in).exit_code == 0);
  CHECK(Pinned(store) == std::set<std::string>{"p2", "p4"});
  auto tiers = Tiers(store);
  CHECK(tiers["p2"] == "hot");
  CHECK(tiers["p4"] == "hot");
  // Past the hot capacity: the batch is refused, nothing written.
  auto r =
      Aether({"ingest", store, "--preserve-state", "-"}, line(5, R"(,"pinned":true)") + line(6, R"(,"pinned":true)"));
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("the batch holding record 'p5' pins 2 more memories, 4 in all with the 2 pinned already, more "
                   "than the hot capacity 3") != std::string::npos);
  CHECK(Aether({"get", store, "p5"}).exit_code != 0);
  // No room and no eviction: placed cold, still pinned, said; pin ascends it.
  REQUIRE(Aether({"config", store, "set", "ingest_evict", "0", "-q"}).exit_code == 0);
  r = Aether({"ingest", store, "--preserve-state", "-"}, line(7, R"(,"pinned":true)"));
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("1 pinned memory was placed cold (no room in the hot tier, or pressure); aether pin ascends it") !=
        std::string::npos);
  CHECK(Tiers(store)["p7"] == "cold");
  CHECK(Pinned(store).count("p7") == 1);
  Verified(store);
  REQUIRE(Aether({"pin", store, "p7", "-q"}).exit_code == 0);
  CHECK(Tiers(store)["p7"] == "hot");
  Verified(store);
  // A full tier, no eviction: a pinned record replacing a hot memory takes
  // the room its release makes, before a new pinned record of its batch.
  REQUIRE(Aether({"unpin", store, "p4", "-q"}).exit_code == 0);
  r = Aether({"ingest", store, "--preserve-state", "--on-duplicate", "replace", "-"},
             line(8, R"(,"pinned":true)") + line(2, ""));
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("1 pinned memory was placed cold") != std::string::npos);
  tiers = Tiers(store);
  CHECK(tiers["p2"] == "hot");
  CHECK(tiers["p8"] == "cold");
  CHECK(Pinned(store) == std::set<std::string>{"p2", "p7", "p8"});
  // The same id twice in a batch: the earlier record's pin passes on.
  REQUIRE(Aether({"config", store, "set", "hot_capacity", "5", "-q"}).exit_code == 0);
  REQUIRE(Aether({"ingest", store, "--preserve-state", "--on-duplicate", "replace", "-"},
                 line(9, R"(,"pinned":true)") + line(9, ""))
              .exit_code == 0);
  CHECK(Pinned(store).count("p9") == 1);
  Verified(store);
}

namespace {

// A .npy file as the format defines it (an independent reader): the
// header's dict, then rows * cols little-endian float32s.
struct Npy {
  std::string dict;
  size_t header_bytes = 0;
  std::vector<float> data;
};

Npy ReadNpy(const std::string& path) {
  const std::string bytes = ReadFile(path);
  REQUIRE(bytes.size() >= 10);
  REQUIRE(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
  const size_t header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
  Npy n;
  n.header_bytes = 10 + header_len;
  REQUIRE(bytes.size() >= n.header_bytes);
  n.dict = bytes.substr(10, header_len);
  REQUIRE((bytes.size() - n.header_bytes) % 4 == 0);
  n.data.resize((bytes.size() - n.header_bytes) / 4);
  std::memcpy(n.data.data(), bytes.data() + n.header_bytes, n.data.size() * 4);
  return n;
}

}  // namespace

TEST_CASE("export --npy: the vectors bit-exact as float32 rows, ids and metadata line by line; ingest reads it back") {
  TempDir dir;
  const std::string store = dir / "s";
  auto mems = RandomMems(700, 12, 41);
  mems[5].vec[3] = -0.0f;
  mems[6].vec[0] = 1e-45f;  // the smallest subnormal
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "150"}, ToJsonlWithPayload(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "5"}).exit_code == 0);
  REQUIRE(Aether({"delete", store, "m3", "m400"}).exit_code == 0);
  REQUIRE(Aether({"search", store, "--vector", VectorJson(mems[9].vec), "-k", "3"}).exit_code == 0);
  const auto jsonl = ByIdLines(Export(store));

  for (const std::vector<std::string>& select : std::vector<std::vector<std::string>>{
           {}, {"--tier", "cold"}, {"--where", "payload.n < 100"}, {"--where", "payload.n > 9999"}}) {
    CAPTURE(select.size() ? select[1] : std::string("all"));
    TempDir out;
    std::vector<std::string> cmd = {"export", store, "--npy", out / "x"};
    cmd.insert(cmd.end(), select.begin(), select.end());
    auto r = Aether(cmd);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out.empty());
    // The same selection as JSONL is the reference.
    std::vector<std::string> as_jsonl = {"export", store};
    as_jsonl.insert(as_jsonl.end(), select.begin(), select.end());
    const auto want = ByIdLines(Aether(as_jsonl).out);
    const Npy npy = ReadNpy(out / "x.npy");
    CHECK(npy.header_bytes % 64 == 0);
    CHECK(npy.dict.back() == '\n');
    CHECK(npy.dict.find("'descr': '<f4'") != std::string::npos);
    CHECK(npy.dict.find("'fortran_order': False") != std::string::npos);
    CHECK(npy.dict.find("'shape': (" + std::to_string(want.size()) + ", 12)") != std::string::npos);
    const auto ids = Lines(ReadFile(out / "x.ids"));
    const auto meta = Lines(ReadFile(out / "x.meta.jsonl"));
    REQUIRE(ids.size() == want.size());
    REQUIRE(meta.size() == want.size());
    REQUIRE(npy.data.size() == want.size() * 12);
    std::set<std::string> seen;
    for (size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(want.count(ids[i]));
      CHECK(seen.insert(ids[i]).second);
      const json w = json::parse(want.at(ids[i]));
      for (size_t d = 0; d < 12; ++d) {
        uint32_t got;
        std::memcpy(&got, &npy.data[i * 12 + d], 4);
        CHECK(got == Bits(w["vector"][d].get<double>()));
      }
      json m = json::parse(meta[i]);
      CHECK(m["id"] == ids[i]);
      CHECK(!m.contains("vector"));
      json w_meta = w;
      w_meta.erase("vector");
      CHECK(m == w_meta);
    }
    if (select.empty()) {  // the vectors and ids go back in as they came out
      const std::string copy = dir / "copy";
      auto in = Aether({"ingest", "--create", copy, out / "x.npy", "--ids", out / "x.ids"});
      REQUIRE_MESSAGE(in.exit_code == 0, in.err);
      const auto back = ByIdLines(Export(copy));
      REQUIRE(back.size() == want.size());
      for (const auto& [id, line] : back) CHECK(json::parse(line)["vector"] == json::parse(want.at(id))["vector"]);
    }
  }
}

TEST_CASE("export --npy refuses existing files, a missing directory and an id with a line break; leaves nothing") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store}, ToJsonl(RandomMems(20, 4, 3))).exit_code == 0);
  for (const char* existing : {"x.npy", "x.ids", "x.meta.jsonl"}) {
    TempDir out;
    WriteFile(out / existing, "mine");
    auto r = Aether({"export", store, "--npy", out / "x"});
    CHECK(r.exit_code == 73);
    CHECK(r.err.find(existing) != std::string::npos);
    CHECK(DirectoryBytes(out.path()) == std::map<std::string, std::string>{{std::string("/") + existing, "mine"}});
  }
  auto r = Aether({"export", store, "--npy", dir / "missing/x"});
  CHECK(r.exit_code == 66);
  CHECK(r.err.find("no such directory") != std::string::npos);
  // An id the ids file cannot hold: refused, and the files it began removed.
  REQUIRE(Aether({"ingest", store}, "{\"id\":\"two\\nlines\",\"vector\":[1,2,3,4]}\n").exit_code == 0);
  TempDir out;
  r = Aether({"export", store, "--npy", out / "x"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("line break") != std::string::npos);
  CHECK(DirectoryBytes(out.path()).empty());
  CHECK(Aether({"export", store, "--npy", ""}).exit_code == 64);
  CHECK(Aether({"export", store, "--npy", out.path() + "/"}).exit_code == 64);
  CHECK(DirectoryBytes(out.path()).empty());
  // An id starting with a byte order mark, first: ingest --ids would read it without.
  TempDir bom_dir;
  const std::string bom = bom_dir / "s";
  REQUIRE(Aether({"ingest", "--create", bom}, "{\"id\":\"\\ufeffa\",\"vector\":[1,2]}\n").exit_code == 0);
  r = Aether({"export", bom, "--npy", bom_dir / "x"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("byte order mark") != std::string::npos);
  // PREFIX.npy is PREFIX, as numpy.save has it.
  REQUIRE(Aether({"export", store, "--npy", out / "y.npy", "--where", "id != \"two\\nlines\""}).exit_code == 0);
  CHECK(FileSize(out / "y.npy") == 128 + 20 * 4 * 4);
  CHECK(Lines(ReadFile(out / "y.ids")).size() == 20);
}

TEST_CASE("export --npy killed at any moment leaves its three files whole or none of them") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "100"}, ToJsonl(RandomMems(40000, 16, 5))).exit_code ==
          0);
  int whole = 0, none = 0;
  for (int delay_ms : {5, 20, 60, 150, 400, 2000}) {
    TempDir out;
    const int pid = SpawnAether({"export", store, "--npy", out / "x"});
    usleep(useconds_t(delay_ms) * 1000);
    kill(pid, SIGKILL);
    WaitAether(pid);
    const auto files = DirectoryBytes(out.path());
    const bool published = files.count("/x.npy") || files.count("/x.ids") || files.count("/x.meta.jsonl");
    if (!published) {
      ++none;
      for (const auto& file : files) CHECK_MESSAGE(file.first.find(".aether-export.") != std::string::npos, file.first);
      continue;
    }
    ++whole;
    const Npy npy = ReadNpy(out / "x.npy");
    CHECK(npy.dict.find("'shape': (40000, 16)") != std::string::npos);
    CHECK(npy.data.size() == 40000u * 16);
    CHECK(Lines(ReadFile(out / "x.ids")).size() == 40000);
    CHECK(Lines(ReadFile(out / "x.meta.jsonl")).size() == 40000);
  }
  CHECK(whole + none == 6);
  MESSAGE("export --npy killed: " << none << " left no file, " << whole << " had finished");
}
