// ingest of .npy and .fvecs files: the real binary, vectors checked bit for
// bit through `get` and by a brute-force search; every malformed file, ids
// file and flag combination gets its own located error and exit code, and
// what came before an error stays committed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_util.h"

using namespace aether::test;

namespace {

std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = char((v >> (8 * i)) & 0xFF);
  return s;
}

std::string FloatBytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());  // x86-64: little-endian
  return s;
}

// A .npy 1.0 file with this header dict (padded to a 64-byte multiple).
std::string NpyWithDict(const std::vector<Mem>& mems, std::string dict) {
  size_t total = 10 + dict.size() + 1;
  dict += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xFF);
  out += char(dict.size() >> 8);
  out += dict;
  for (const auto& m : mems) out += FloatBytes(m.vec);
  return out;
}

// A .npy 1.0 file as NumPy writes it.
std::string Npy(const std::vector<Mem>& mems, uint32_t dim, const std::string& descr = "<f4",
                const std::string& fortran = "False", std::string shape = "") {
  if (shape.empty()) shape = "(" + std::to_string(mems.size()) + ", " + std::to_string(dim) + ")";
  return NpyWithDict(mems, "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }");
}

std::string Fvecs(const std::vector<Mem>& mems) {
  std::string out;
  for (const auto& m : mems) out += Le32(uint32_t(m.vec.size())) + FloatBytes(m.vec);
  return out;
}

std::string IdsFile(const std::vector<Mem>& mems) {
  std::string out;
  for (const auto& m : mems) out += m.id + "\n";
  return out;
}

// Count of memories a store holds, from stats.
int64_t Count(const std::string& store) {
  auto r = Aether({"stats", store, "--format", "json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  return j["hot_memories"].get<int64_t>() + j["cold_memories"].get<int64_t>();
}

}  // namespace

TEST_CASE("npy and fvecs ingest: exact vectors, ids from a file or a prefix, stdin, searchable") {
  const uint32_t dim = 24;
  auto mems = RandomMems(1500, dim, 3, "doc-");
  for (const char* kind : {"npy", "fvecs"}) {
    CAPTURE(kind);
    TempDir dir;
    const bool npy = std::string(kind) == "npy";
    std::string file = dir / (std::string("v.") + kind);
    WriteFile(file, npy ? Npy(mems, dim) : Fvecs(mems));
    WriteFile(dir / "ids.txt", IdsFile(mems));

    // Ids from a sidecar file, in batches smaller than the file, past the hot capacity.
    std::string a = dir / "a";
    REQUIRE(Aether({"init", a, "--dim", std::to_string(dim), "--hot-capacity", "1000"}).exit_code == 0);
    auto r = Aether({"ingest", "--create", a, file, "--ids", dir / "ids.txt", "--batch", "400"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // Past the capacity, the newest go hot and the oldest descend (ingest_evict).
    CHECK(r.err.find("ingested 1500 memories (1500 hot, 0 cold; 500 older hot memories descended to make room) from "
                     "1500 vectors") != std::string::npos);
    auto got = GetAll(a, Ids(mems));
    REQUIRE(got.size() == mems.size());
    for (const auto& m : mems) CHECK(got[m.id] == m.vec);
    auto queries = RandomMems(5, dim, 8, "q");
    for (const auto& q : queries) {
      auto s = Aether({"search", a, "--vector", VectorJson(q.vec), "-k", "6", "--no-touch"});
      REQUIRE(s.exit_code == 0);
      CHECK(SameTopK(ParseSearchOutput(s.out)[0], BruteForce(mems, q.vec, 6, "l2")));
    }

    // Generated ids, the store created from the file's dimension, read from stdin.
    std::string b = dir / "b";
    r = Aether({"ingest", "--create", b, "-", "--input-format", kind, "--id-prefix", "img/"}, ReadFile(file));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto by_prefix = GetAll(b, {"img/0", "img/777", "img/1499"});
    CHECK(by_prefix["img/0"] == mems[0].vec);
    CHECK(by_prefix["img/777"] == mems[777].vec);
    CHECK(by_prefix["img/1499"] == mems[1499].vec);
    CHECK(Count(b) == 1500);

    // A second run with the same ids: the duplicate policy applies as for JSONL.
    r = Aether({"ingest", "--create", b, file, "--id-prefix", "img/"});
    CHECK(r.exit_code == 65);
    CHECK(r.err.find("duplicate id 'img/0'") != std::string::npos);
    r = Aether({"ingest", "--create", b, file, "--id-prefix", "img/", "--on-duplicate", "skip"});
    CHECK(r.exit_code == 0);
    CHECK(Count(b) == 1500);
  }
}

TEST_CASE("bad npy and fvecs files: located errors, distinct exit codes, earlier batches kept") {
  const uint32_t dim = 8;
  auto mems = RandomMems(50, dim, 4);
  TempDir dir;
  auto run = [&](const std::string& name, const std::string& bytes, std::vector<std::string> extra = {}) {
    WriteFile(dir / name, bytes);
    std::vector<std::string> args = {"ingest", "--create", dir / ("s-" + name), dir / name, "--batch", "10"};
    if (extra.empty()) extra = {"--id-prefix", "x"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Aether(args);
  };
  struct Case {
    std::string name, bytes, message;
    int64_t kept;  // memories committed: every vector before the bad one (-1: none)
  };
  std::string good = Npy(mems, dim);
  std::vector<Case> cases = {
      {"f8.npy", Npy(mems, dim, "<f8"), "f8.npy: dtype '<f8' is not little-endian float32", -1},
      {"be.npy", Npy(mems, dim, ">f4"), "dtype '>f4'", -1},
      {"fortran.npy", Npy(mems, dim, "<f4", "True"), "Fortran order", -1},
      {"3d.npy", Npy(mems, dim, "<f4", "False", "(5, 2, 4)"), "shape (5, 2, 4) is not two-dimensional", -1},
      // Numbers past 64 bits, in either place (each once an uncaught exception).
      {"hugen.npy", Npy(mems, dim, "<f4", "False", "(99999999999999999999999, 8)"),
       "shape (99999999999999999999999, 8): 99999999999999999999999 is implausible", -1},
      {"huged.npy", Npy(mems, dim, "<f4", "False", "(50, 18446744073709551616)"), "18446744073709551616 is implausible",
       -1},
      {"maxn.npy", Npy(mems, dim, "<f4", "False", "(18446744073709551615, 8)"),
       "18446744073709551615 vectors is implausible", -1},
      {"magic.npy", "NUMPY?" + good.substr(6), "not a .npy file", -1},
      {"short.npy", good.substr(0, good.size() - 5), "short.npy: vector 49 (byte ", 49},
      {"long.npy", good + "junk", "data continues after the 50 vectors", 50},
      // The header is NumPy's dict exactly: nothing guessed (numpy keeps
      // the last of two keys; we kept the first), nothing ignored.
      {"twice.npy", NpyWithDict(mems, "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 8), 'shape': (9, 8), }"),
       "twice.npy: the .npy header has the key 'shape' twice", -1},
      {"extra.npy", NpyWithDict(mems, "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 8), 'version': 2, }"),
       "has a key 'version' (NumPy writes only 'descr', 'fortran_order', 'shape')", -1},
      {"junk.npy", NpyWithDict(mems, "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 8), } junk"),
       "the .npy header has text after its dict", -1},
      {"struct.npy",
       NpyWithDict(mems, "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (50,), }"),
       "dtype is structured (a record type)", -1},
      {"noshape.npy", NpyWithDict(mems, "{'descr': '<f4', 'fortran_order': False, }"), "the .npy header has no 'shape'",
       -1},
      {"notdict.npy", NpyWithDict(mems, "('<f4', False, (50, 8))"), "the .npy header is not a Python dict", -1},
      {"badshape.npy", NpyWithDict(mems, "{'descr': '<f4', 'fortran_order': False, 'shape': (50, x), }"),
       "shape (50, x) is not a tuple of sizes", -1},
      {"onedim.npy", Npy(mems, dim, "<f4", "False", "(400,)"), "shape (400,) is not two-dimensional", -1},
      {"dims.fvecs", Fvecs(mems) + Le32(7) + std::string(28, '\0'),
       "vector 50 (byte 1800): dimension 7, the file's first vector has 8", 50},
      {"short.fvecs", Fvecs(mems).substr(0, 36 * 23 + 10), "vector 23 (byte 828): truncated: 6 of 32 bytes", 23},
      {"negdim.fvecs", Le32(0xFFFFFFFFu) + std::string(32, '\0'), "dimension -1 is outside 1..65536", -1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = run(c.name, c.bytes);
    CHECK(r.exit_code == 65);
    CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, r.err);
    if (c.kept >= 0) CHECK(Count(dir / ("s-" + c.name)) == c.kept);
  }

  // A NaN stops the run after the complete batches before it, or is skipped.
  auto nan = mems;
  nan[33].vec[2] = std::numeric_limits<float>::quiet_NaN();
  auto r = run("nan.npy", Npy(nan, dim));
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("nan.npy: vector 33 (byte " + std::to_string(128 + 33 * 32) + "): value 2 is not finite") !=
        std::string::npos);
  CHECK(Count(dir / "s-nan.npy") == 33);
  r = run("nan2.npy", Npy(nan, dim), {"--id-prefix", "x", "--skip-invalid"});
  CHECK(r.exit_code == 0);
  CHECK(Count(dir / "s-nan2.npy") == 49);
  CHECK(GetAll(dir / "s-nan2.npy", {"x34"})["x34"] == mems[34].vec);  // ids stay tied to positions

  // An id already stored, in the middle of a batch: the vectors before it
  // are committed, the run stops there; --skip-invalid skips only it.
  for (bool skip : {false, true}) {
    std::string st = dir / (skip ? "dup-skip" : "dup");
    WriteFile(dir / "one.jsonl", "{\"id\":\"x30\",\"vector\":[1,2,3,4,5,6,7,8]}\n");
    REQUIRE(Aether({"ingest", "--create", st, dir / "one.jsonl"}).exit_code == 0);
    WriteFile(dir / "d.npy", Npy(mems, dim));
    std::vector<std::string> a = {"ingest", "--create", st, dir / "d.npy", "--id-prefix", "x", "--batch", "100"};
    if (skip) a.push_back("--skip-invalid");
    r = Aether(a);
    CHECK(r.exit_code == (skip ? 0 : 65));
    CHECK(r.err.find("d.npy: vector 30: duplicate id 'x30' (already ingested") != std::string::npos);
    CHECK(Count(st) == (skip ? 50 : 31));
    if (!skip) CHECK(r.err.find("ingested 30 memories (30 hot, 0 cold) from 31 vectors") != std::string::npos);
  }

  // Zero vectors have no direction under cosine.
  auto zero = mems;
  std::fill(zero[3].vec.begin(), zero[3].vec.end(), 0.0f);
  WriteFile(dir / "zero.fvecs", Fvecs(zero));
  REQUIRE(Aether({"init", dir / "cos", "--dim", "8", "--metric", "cosine"}).exit_code == 0);
  r = Aether({"ingest", "--create", dir / "cos", dir / "zero.fvecs", "--id-prefix", "z"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("zero.fvecs: vector 3 (byte 108): all zeros") != std::string::npos);

  // The ids file: too few, too many, an empty line, invalid UTF-8.
  WriteFile(dir / "v.npy", good);
  auto ids = IdsFile(mems);
  WriteFile(dir / "few.txt", ids.substr(0, ids.find("m40\n")));
  r = Aether({"ingest", "--create", dir / "few", dir / "v.npy", "--ids", dir / "few.txt"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("few.txt: has only 40 ids") != std::string::npos);
  WriteFile(dir / "many.txt", ids + "extra\n");
  r = Aether({"ingest", "--create", dir / "many", dir / "v.npy", "--ids", dir / "many.txt"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("many.txt:51: more ids than the 50 vectors") != std::string::npos);
  WriteFile(dir / "blank.txt", "a\nb\n\nd\n");
  r = Aether({"ingest", "--create", dir / "blank", dir / "v.npy", "--ids", dir / "blank.txt"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("blank.txt:3: id is empty") != std::string::npos);
  // Blank lines after the last id end the file (they once failed the run
  // after every vector was committed); an id after them is one too many.
  WriteFile(dir / "tail.txt", ids + "\n\r\n\n");
  r = Aether({"ingest", "--create", dir / "tail", dir / "v.npy", "--ids", dir / "tail.txt"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(Count(dir / "tail") == 50);
  WriteFile(dir / "tail2.txt", ids + "\n\nlate\n");
  r = Aether({"ingest", "--create", dir / "tail2", dir / "v.npy", "--ids", dir / "tail2.txt"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("tail2.txt:53: more ids than the 50 vectors") != std::string::npos);
  WriteFile(dir / "utf.txt", "a\n\xC3\x28\n");
  r = Aether({"ingest", "--create", dir / "utf", dir / "v.npy", "--ids", dir / "utf.txt"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("utf.txt:2: id is not valid UTF-8") != std::string::npos);

  // Flags: ids are required for binary input and refused for JSONL; the
  // store's dimension must match; a missing ids file is "no input".
  r = Aether({"ingest", "--create", dir / "f1", dir / "v.npy"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("needs exactly one of --ids FILE or --id-prefix PREFIX") != std::string::npos);
  r = Aether({"ingest", "--create", dir / "f2", dir / "v.npy", "--ids", dir / "few.txt", "--id-prefix", "p"});
  CHECK(r.exit_code == 64);
  WriteFile(dir / "r.jsonl", ToJsonl(mems));
  r = Aether({"ingest", "--create", dir / "f3", dir / "r.jsonl", "--id-prefix", "p"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("JSONL records carry their ids") != std::string::npos);
  REQUIRE(Aether({"init", dir / "d16", "--dim", "16"}).exit_code == 0);
  r = Aether({"ingest", "--create", dir / "d16", dir / "v.npy", "--id-prefix", "p"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("v.npy: vectors have 8 values, store dimension is 16") != std::string::npos);
  r = Aether({"ingest", "--create", dir / "f4", dir / "v.npy", "--ids", dir / "nope.txt"});
  CHECK(r.exit_code == 66);
  r = Aether({"ingest", "--create", dir / "f5", dir / "v.npy", "--ids", dir.path()});
  CHECK(r.exit_code == 66);
  CHECK(r.err.find(": is a directory, not a file (ids file)") != std::string::npos);
}

// An empty vector file ingests nothing, as an empty JSONL file does: into an
// existing store, or one --dim creates; without either it is an error. The
// .fvecs file (no vector to tell its dimension) and a 0 x D .npy alike.
TEST_CASE("empty .npy and .fvecs files: nothing ingested or searched, as with empty JSONL") {
  TempDir dir;
  WriteFile(dir / "e.fvecs", "");
  WriteFile(dir / "e.npy", Npy({}, 8));
  WriteFile(dir / "e.jsonl", "");
  for (const char* name : {"e.fvecs", "e.npy", "e.jsonl"}) {
    CAPTURE(name);
    const bool binary = std::string(name) != "e.jsonl";
    auto with = [&](std::vector<std::string> args) {
      if (binary) args.insert(args.end(), {"--id-prefix", "x"});
      return Aether(args);
    };
    const std::string store = dir / (std::string("s-") + name);
    REQUIRE(Aether({"init", store, "--dim", "8"}).exit_code == 0);
    auto r = with({"ingest", store, dir / name});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.err.find("ingested 0 memories") != std::string::npos);
    r = with({"ingest", "--create", dir / (std::string("c-") + name), dir / name, "--dim", "8"});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(Count(dir / (std::string("c-") + name)) == 0);
    r = with({"ingest", "--create", dir / (std::string("n-") + name), dir / name});
    if (std::string(name) == "e.npy") {  // its header tells the dimension
      CHECK(r.exit_code == 0);
    } else {
      CHECK(r.exit_code == 65);
      CHECK(r.err.find(std::string(name) + ": no ") != std::string::npos);
      CHECK(r.err.find("and no --dim to create the store") != std::string::npos);
    }
    r = Aether({"search", store, "--queries", dir / name, "--no-touch"});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out.empty());
  }
}

TEST_CASE("search --queries takes .npy and .fvecs: the same results as the same queries in JSONL; bad files located") {
  TempDir dir;
  const uint32_t dim = 8;
  auto mems = RandomMems(400, dim, 11);
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", "--create", store, "--hot-capacity", "150"}, ToJsonl(mems)).exit_code == 0);
  REQUIRE(Aether({"rebuild-index", store, "--partitions", "12"}).exit_code == 0);
  auto qs = RandomMems(37, dim, 12, "");
  std::string jsonl;
  for (size_t i = 0; i < qs.size(); ++i)
    jsonl += "{\"id\":\"" + std::to_string(i) + "\",\"vector\":" + VectorJson(qs[i].vec) + "}\n";
  WriteFile(dir / "q.jsonl", jsonl);
  WriteFile(dir / "q.npy", Npy(qs, dim));
  WriteFile(dir / "q.fvecs", Fvecs(qs));
  WriteFile(dir / "q.bin", Npy(qs, dim));
  const std::vector<std::string> base = {"search", store, "--no-touch", "-k", "7", "--queries"};
  auto run = [&](std::vector<std::string> extra, const std::string& in = "") {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Aether(args, in);
  };
  auto want = run({dir / "q.jsonl"});
  REQUIRE(want.exit_code == 0);
  CHECK(ParseSearchOutput(want.out).size() == 37);
  CHECK(run({dir / "q.npy"}).out == want.out);
  CHECK(run({dir / "q.fvecs"}).out == want.out);
  CHECK(run({dir / "q.bin", "--queries-format", "npy"}).out == want.out);
  CHECK(run({"-", "--queries-format", "fvecs"}, Fvecs(qs)).out == want.out);

  // Bad query files: located, exit 65 (bad data) or 66 (missing); nothing searched.
  WriteFile(dir / "d4.npy", Npy(RandomMems(3, 4, 1), 4));
  auto r = run({dir / "d4.npy"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("d4.npy: the query vectors have dimension 4, the store 8") != std::string::npos);
  CHECK(r.out.empty());
  WriteFile(dir / "short.fvecs", Fvecs(qs).substr(0, 36 * 5 + 7));
  r = run({dir / "short.fvecs"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("short.fvecs: vector 5 (byte 180): truncated") != std::string::npos);
  WriteFile(dir / "f8.npy", Npy(qs, dim, "<f8"));
  r = run({dir / "f8.npy"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("f8.npy: dtype '<f8'") != std::string::npos);
  WriteFile(dir / "huge.npy", Npy(qs, dim, "<f4", "False", "(10, 99999999999999999999999)"));
  r = run({dir / "huge.npy"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("huge.npy: shape (10, 99999999999999999999999): 99999999999999999999999 is implausible") !=
        std::string::npos);
  auto nan = qs;
  nan[2].vec[1] = std::nanf("");
  WriteFile(dir / "nan.npy", Npy(nan, dim));
  r = run({dir / "nan.npy"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("nan.npy: vector 2") != std::string::npos);
  CHECK(run({dir / "missing.npy"}).exit_code == 66);
  CHECK(run({dir / "q.npy", "--queries-format", "csv"}).exit_code == 64);
}

// Only printable ASCII and newlines: no raw byte of the input.
bool AsciiText(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7F); });
}

// The format follows the name's extension, so .npy bytes under another name
// (`<(cat q.npy)`, q.bin) are read as JSONL: every such error says which
// option reads them, and quotes no raw byte of them; with the option, or
// JSONL that is merely broken, no hint.
TEST_CASE(".npy bytes under a name read as JSONL: the error names the format option and prints no raw byte") {
  TempDir dir;
  const uint32_t dim = 8;
  auto mems = RandomMems(50, dim, 21);
  const std::string store = dir / "s";
  REQUIRE(Aether({"init", store, "--dim", std::to_string(dim), "-q"}).exit_code == 0);
  WriteFile(dir / "v.bin", Npy(mems, dim));
  WriteFile(dir / "ids.txt", IdsFile(mems));
  const std::string npy_hint = "these bytes are a .npy file's, read as JSONL because the name does not end in .npy";

  // ingest, without and with --id-prefix / --ids; from a file and a pipe.
  for (const std::string& input : {std::string(dir / "v.bin"), std::string("-")}) {
    CAPTURE(input);
    const std::string in = input == "-" ? Npy(mems, dim) : "";
    auto r = Aether({"ingest", store, input}, in);
    CHECK(r.exit_code == 65);
    CHECK_MESSAGE(r.err.find(":1: malformed JSON: ") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(npy_hint + ": --input-format npy reads them)") != std::string::npos, r.err);
    CHECK_MESSAGE(AsciiText(r.err), r.err);
    for (const std::vector<std::string>& ids :
         {std::vector<std::string>{"--id-prefix", "v"}, std::vector<std::string>{"--ids", dir / "ids.txt"}}) {
      std::vector<std::string> args = {"ingest", store, input};
      args.insert(args.end(), ids.begin(), ids.end());
      r = Aether(args, in);
      CHECK(r.exit_code == 64);
      CHECK_MESSAGE(r.err.find("(the input is read as JSONL: its name does not end in .npy or .fvecs; "
                               "--input-format npy or fvecs says otherwise)") != std::string::npos,
                    r.err);
    }
  }
  CHECK(Count(store) == 0);
  // The format given: JSONL given gets no hint; npy given reads them.
  auto r = Aether({"ingest", store, dir / "v.bin", "--input-format", "jsonl"});
  CHECK(r.exit_code == 65);
  CHECK(r.err.find("these bytes") == std::string::npos);
  CHECK(AsciiText(r.err));
  REQUIRE(Aether({"ingest", store, dir / "v.bin", "--input-format", "npy", "--ids", dir / "ids.txt", "-q"}).exit_code ==
          0);
  CHECK(Count(store) == 50);

  // search --queries: the same, with its own option.
  WriteFile(dir / "q.bin", Npy(RandomMems(3, dim, 22, "q"), dim));
  r = Aether({"search", store, "--no-touch", "--queries", dir / "q.bin"});
  CHECK(r.exit_code == 65);
  CHECK_MESSAGE(r.err.find("q.bin:1: malformed JSON: ") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find(npy_hint + ": --queries-format npy reads them)") != std::string::npos, r.err);
  CHECK(AsciiText(r.err));
  CHECK(Aether({"search", store, "--no-touch", "--queries", dir / "q.bin", "--queries-format", "npy"}).exit_code == 0);
  // JSONL that is broken, not binary: no hint; its invalid UTF-8 quoted as \xNN.
  WriteFile(dir / "bad.jsonl", "{\"id\":\"a\",\"vector\":[1,2,3,4,5,6,7,8],\"payload\":\"\xff\"}\n");
  r = Aether({"ingest", store, dir / "bad.jsonl"});
  CHECK(r.exit_code == 65);
  CHECK_MESSAGE(r.err.find("bad.jsonl:1: invalid UTF-8: ") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("\\xFF") != std::string::npos, r.err);
  CHECK(r.err.find("these bytes") == std::string::npos);
  CHECK(AsciiText(r.err));
}

// A regular file is read ahead on a second thread; a pipe is read in turn.
// Over bad files, bad ids files and a stored duplicate, in batches of 7
// (stopping at an error) and of 1 (--skip-invalid), both must give the same
// exit code, summary, messages and stored ids.
TEST_CASE("binary ingest reading ahead from a file answers exactly as from a pipe") {
  const uint32_t dim = 8;
  auto mems = RandomMems(60, dim, 9);
  auto nan = mems;
  nan[21].vec[5] = std::numeric_limits<float>::infinity();
  nan[44].vec[0] = std::numeric_limits<float>::quiet_NaN();
  const std::string good = Npy(mems, dim);
  const std::string ids = IdsFile(mems);
  struct Case {
    std::string name, bytes, ids;  // ids: the ids file's bytes, or empty for --id-prefix
  };
  std::vector<Case> cases = {
      {"good.npy", good, ""},
      {"good.fvecs", Fvecs(mems), ""},
      {"nan.npy", Npy(nan, dim), ""},
      {"nan.fvecs", Fvecs(nan), ""},
      {"short.npy", good.substr(0, good.size() - 5), ""},
      {"long.npy", good + "junk", ""},
      {"dims.fvecs", Fvecs(mems) + Le32(7) + std::string(28, '\0'), ""},
      {"ids.npy", good, ids},
      {"nanids.npy", Npy(nan, dim), ids},
      {"few.npy", good, ids.substr(0, ids.find("m40\n"))},
      {"many.npy", good, ids + "extra\n"},
      {"blank.npy", good, "a\nb\n\nd\n"},
      {"dupids.npy", good, "a\nb\na\n" + ids.substr(ids.find("m3\n"))},
  };
  TempDir dir;
  // One id of the input already stored: the run stops there or skips it.
  WriteFile(dir / "one.jsonl", "{\"id\":\"x17\",\"vector\":[1,2,3,4,5,6,7,8]}\n");
  REQUIRE(Aether({"ingest", "--create", dir / "base", dir / "one.jsonl"}).exit_code == 0);
  int n = 0;
  for (const Case& c : cases)
    for (bool skip : {false, true}) {
      const char* batch = skip ? "1" : "7";
      CAPTURE(c.name);
      CAPTURE(skip);
      CAPTURE(batch);
      const std::string file = dir / c.name;
      WriteFile(file, c.bytes);
      if (!c.ids.empty()) WriteFile(dir / "ids.txt", c.ids);
      std::vector<std::string> answers;
      for (bool pipe : {false, true}) {
        const std::string store = dir / ("s" + std::to_string(n++));
        std::filesystem::copy(dir / "base", store);
        std::vector<std::string> args = {"ingest",
                                         store,
                                         pipe ? "-" : file,
                                         "--input-format",
                                         c.name.substr(c.name.find('.') + 1),
                                         "--batch",
                                         batch,
                                         "--format",
                                         "json"};
        if (c.ids.empty()) {
          args.insert(args.end(), {"--id-prefix", "x"});
        } else {
          args.insert(args.end(), {"--ids", dir / "ids.txt"});
        }
        if (skip) args.push_back("--skip-invalid");
        auto r = pipe ? Aether(args, c.bytes) : Aether(args);
        auto summary = nlohmann::json::parse(r.out);
        summary.erase("seconds");
        // The input's name and the time taken are the differences allowed.
        std::string said = std::regex_replace(summary.dump() + "\n" + r.err, std::regex(" in [0-9.]+s;"), " in Ts;");
        for (size_t at; (at = said.find(file)) != std::string::npos;) said.replace(at, file.size(), "<stdin>");
        auto listed = Aether({"list", store, "--format", "jsonl"});
        REQUIRE(listed.exit_code == 0);
        std::string stored;  // ids and tiers (the times differ)
        for (const std::string& line : Lines(listed.out)) {
          auto j = nlohmann::json::parse(line);
          stored += j["id"].get<std::string>() + " " + j["tier"].get<std::string>() + "\n";
        }
        answers.push_back(std::to_string(r.exit_code) + "\n" + said + "\n" + stored);
      }
      CHECK(answers[0] == answers[1]);
    }
}
