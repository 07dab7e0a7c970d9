#include "aether/jsonl.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

using namespace aether;

namespace {
std::string Why(const std::string& line, uint32_t dim = 3, Metric m = Metric::kL2) {
  Record r;
  Status s = ParseRecord(line, dim, m, &r);
  return s.ok() ? "ok" : s.message();
}
}  // namespace

TEST_CASE("a valid record parses with its payload and importance") {
  Record r;
  REQUIRE(ParseRecord(R"({"id":"a","vector":[1,2.5,-3],"payload":{"k":[1,"x"]},"importance":0.25})", 3, Metric::kL2, &r)
              .ok());
  CHECK(r.id == "a");
  CHECK(r.vector == std::vector<float>{1, 2.5f, -3});
  CHECK(r.payload_json == R"({"k":[1,"x"]})");
  CHECK(r.importance == 0.25);
  REQUIRE(ParseRecord(R"({"id":"b","vector":[1,2,3]})", 0, Metric::kL2, &r).ok());
  CHECK(r.payload_json.empty());
  CHECK(r.importance == 0.5);
}

TEST_CASE("each kind of bad record gets its own reason") {
  CHECK(Why("{\"id\":\"a\",\"vector\":[1,2,3]").find("malformed JSON") == 0);
  CHECK(Why("[1,2,3]") == "expected a JSON object");
  CHECK(Why(R"({"vector":[1,2,3]})") == "missing field \"id\"");
  CHECK(Why(R"({"id":"a"})") == "missing field \"vector\"");
  CHECK(Why(R"({"id":5,"vector":[1,2,3]})") == "\"id\" must be a string; write the number 5 as \"5\"");
  CHECK(Why(R"({"id":-12,"vector":[1,2,3]})") == "\"id\" must be a string; write the number -12 as \"-12\"");
  CHECK(Why(R"({"id":1.5,"vector":[1,2,3]})") == "\"id\" must be a string");
  CHECK(Why(R"({"id":true,"vector":[1,2,3]})") == "\"id\" must be a string");
  CHECK(Why(R"({"id":"","vector":[1,2,3]})") == "id is empty");
  CHECK(Why("{\"id\":\"" + std::string(1025, 'x') + "\",\"vector\":[1,2,3]}") == "id is 1025 bytes, the limit is 1024");
  CHECK(Why(R"({"id":"a","vector":[1,2]})") == "vector has 2 values, store dimension is 3");
  CHECK(Why(R"({"id":"a","vector":[]})") == "vector is empty");
  CHECK(Why(R"({"id":"a","vector":[1,"2",3]})") == "vector[1] is not a number");
  CHECK(Why(R"({"id":"a","vector":[1,2,1e39]})") == "vector[2] = 1e+39 is outside the float32 range");
  CHECK(Why(R"({"id":"a","vector":[1,2,1e999]})").find("number overflow") != std::string::npos);
  CHECK(Why(R"({"id":"a","vector":[1,2,3],"importance":1.5})") == "importance 1.5 is outside [0, 1]");
  CHECK(Why(R"({"id":"a","vector":[1,2,3],"colour":1})").find("unknown field \"colour\"") == 0);
  CHECK(Why("{\"id\":\"a\xff\",\"vector\":[1,2,3]}").find("invalid UTF-8") != std::string::npos);
  CHECK(Why(R"({"id":"a","vector":[0,0,0]})", 3, Metric::kCosine).find("all zeros") != std::string::npos);
}

TEST_CASE("ignore_unknown: a record with extra fields of every JSON kind parses as the record without them") {
  const std::vector<std::string> known = {R"("id":"a")", R"("vector":[1,2.5,-3])", R"("payload":{"k":[1,"x"]})",
                                          R"("importance":0.25)"};
  const std::vector<std::string> extras = {
      R"("tier":"cold")",    R"("access_count":7)",  R"("n":null)",        R"("f":false)",
      R"("a":[1,{"b":[]}])", R"("o":{"x":{"y":1}})", R"("vector2":[1,2])", R"("":1)"};
  Record want;
  REQUIRE(
      ParseRecord("{" + known[0] + "," + known[1] + "," + known[2] + "," + known[3] + "}", 3, Metric::kL2, &want).ok());
  int checked = 0;
  // Each extra at every position among the known fields, and all of them.
  for (size_t e = 0; e <= extras.size(); ++e)
    for (size_t at = 0; at <= known.size(); ++at) {
      std::vector<std::string> members = known;
      if (e < extras.size()) {
        members.insert(members.begin() + at, extras[e]);
      } else {
        members.insert(members.begin() + at, extras.begin(), extras.end());
      }
      std::string line = "{";
      for (size_t i = 0; i < members.size(); ++i) line += (i ? "," : "") + members[i];
      line += "}";
      for (bool general : {false, true}) {
        Record r;
        Status s =
            general ? ParseRecordGeneral(line, 3, Metric::kL2, &r, true) : ParseRecord(line, 3, Metric::kL2, &r, true);
        REQUIRE_MESSAGE(s.ok(), line << ": " << s.message());
        CHECK(r.id == want.id);
        CHECK(r.vector == want.vector);
        CHECK(r.payload_json == want.payload_json);
        CHECK(r.importance == want.importance);
        // Without the option the same line is refused, naming the field.
        Status strict = general ? ParseRecordGeneral(line, 3, Metric::kL2, &r) : ParseRecord(line, 3, Metric::kL2, &r);
        CHECK(strict.message().find("unknown field") == 0);
        ++checked;
      }
    }
  CHECK(checked == 2 * 9 * 5);
  // Skipped fields are still JSON: malformed, too deep or repeated is an error.
  Record r;
  CHECK(ParseRecord(R"({"id":"a","vector":[1,2,3],"x":[1,}})", 3, Metric::kL2, &r, true).message().find("malformed") ==
        0);
  CHECK(ParseRecord(R"({"id":"a","vector":[1,2,3],"x":1,"x":2})", 3, Metric::kL2, &r, true)
            .message()
            .find("duplicate key") != std::string::npos);
  CHECK(ParseRecord("{\"id\":\"a\",\"vector\":[1,2,3],\"x\":" + std::string(200, '[') + std::string(200, ']') + "}", 3,
                    Metric::kL2, &r, true)
            .message()
            .find("nest deeper than") != std::string::npos);
  // The known fields keep their rules.
  CHECK(ParseRecord(R"({"id":"a","vector":[1,2],"x":1})", 3, Metric::kL2, &r, true).message() ==
        "vector has 2 values, store dimension is 3");
}

TEST_CASE("the line reader counts lines, strips CR and bounds line length") {
  std::istringstream in("one\r\n\n" + std::string(50, 'x') + "\nlast");
  LineReader r(&in, "f.jsonl", 10, /*skip_bytes=*/40);  // the long line ends 40 bytes past the limit
  std::string line;
  bool too_long;
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "one");
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line.empty());
  REQUIRE(r.Next(&line, &too_long));
  CHECK(too_long);
  CHECK(r.line_number() == 3);
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "last");
  CHECK(!too_long);
  CHECK(!r.Next(&line, &too_long));
  CHECK(!r.broken());
}

TEST_CASE("the line reader stops at a line too long to skip, and never reads past the limits") {
  for (size_t skip : {size_t(0), size_t(39)}) {
    CAPTURE(skip);
    // An endless line stands in for /dev/zero: the reader must stop within
    // max_bytes + skip_bytes of its start.
    struct Endless : std::streambuf {
      size_t served = 0;
      int_type underflow() override {
        static char c = '0';
        setg(&c, &c, &c + 1);
        ++served;
        return c;
      }
    } endless;
    std::istream in(&endless);
    LineReader r(&in, "zero", 10, skip);
    std::string line;
    bool too_long = false;
    REQUIRE(r.Next(&line, &too_long));
    CHECK(too_long);
    CHECK(r.broken());
    CHECK(r.line_number() == 1);
    CHECK(endless.served <= 10 + skip + 2);
    CHECK(!r.Next(&line, &too_long));
    CHECK(TooLongMessage(r).find("reading stopped there") != std::string::npos);
  }
}

namespace {

// The line reader's contract, one byte at a time (the reference model): the
// lines, each with its too-long flag, until the input ends or reading stops.
struct ModelLine {
  std::string line;
  bool too_long;
};
std::vector<ModelLine> ModelLines(const std::string& in, size_t max_bytes, size_t skip_bytes, bool* broken) {
  std::vector<ModelLine> out;
  size_t at = 0;
  *broken = false;
  while (!*broken && at < in.size()) {
    ModelLine l{"", false};
    size_t skipped = 0;
    for (; at < in.size(); ++at) {
      const char c = in[at];
      if (c == '\n') {
        ++at;
        break;
      }
      if (l.too_long) {
        if (++skipped > skip_bytes) {
          *broken = true;
          break;
        }
      } else if (l.line.size() >= max_bytes) {
        l.too_long = true;
        l.line.clear();
        if (skip_bytes == 0) {
          *broken = true;
          break;
        }
      } else {
        l.line.push_back(c);
      }
    }
    if (!l.line.empty() && l.line.back() == '\r') l.line.pop_back();
    if (out.empty() && l.line.compare(0, 3, "\xEF\xBB\xBF") == 0) l.line.erase(0, 3);
    out.push_back(l);
  }
  return out;
}

// Serves a string in pieces of random sizes, as pipes and files do.
struct Chunked : std::streambuf {
  Chunked(std::string s, uint64_t seed) : text(std::move(s)), rng(seed) {}
  int_type underflow() override {
    if (at == text.size()) return traits_type::eof();
    const size_t n = std::min(text.size() - at, size_t(1 + rng() % (rng() % 8 ? 70 : 200000)));
    setg(&text[at], &text[at], &text[at] + n);
    at += n;
    return traits_type::to_int_type(text[at - n]);
  }
  std::string text;
  size_t at = 0;
  std::mt19937_64 rng;
};

}  // namespace

TEST_CASE("the line reader agrees with its byte-at-a-time model over random lines, limits and read sizes") {
  std::mt19937_64 rng(2026);
  const std::string alphabet = "ab\r\n\n{}\xEF\xBB\xBF";
  for (int round = 0; round < 3000; ++round) {
    CAPTURE(round);
    // Every 50th input is long (past the reader's 64 KiB reads), with
    // limits to match.
    const bool big = round % 50 == 0;
    std::string text;
    const size_t len = big ? rng() % 300000 : rng() % 300;
    for (size_t i = 0; i < len; ++i)
      text.push_back(rng() % (big ? 20000 : 4) ? 'x' : alphabet[rng() % alphabet.size()]);
    if (rng() % 4 == 0) text = "\xEF\xBB\xBF" + text;
    const size_t max_bytes = 1 + rng() % (big ? 100000 : 40);
    const size_t skip_bytes = rng() % 3 ? rng() % (big ? 150000 : 60) : 0;
    if (!big) CAPTURE(text);
    CAPTURE(max_bytes);
    CAPTURE(skip_bytes);
    bool model_broken = false;
    const std::vector<ModelLine> want = ModelLines(text, max_bytes, skip_bytes, &model_broken);
    Chunked served(text, rng());
    std::istream in(&served);
    LineReader r(&in, "f", max_bytes, skip_bytes);
    std::string line;
    bool too_long = false;
    for (size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      REQUIRE(r.Next(&line, &too_long));
      CHECK(line == want[i].line);
      CHECK(too_long == want[i].too_long);
      CHECK(r.line_number() == i + 1);
    }
    CHECK(!r.Next(&line, &too_long));
    CHECK(r.broken() == model_broken);
    CHECK(r.status().ok());
  }
}

TEST_CASE("a read error in the middle of a line stops the line reader with the error, after the lines before it") {
  struct Failing : std::streambuf {
    std::string text = "one\ntwo\nthr";
    bool served = false;
    int_type underflow() override {
      if (served) throw std::ios_base::failure("Input/output error");
      served = true;
      setg(&text[0], &text[0], &text[0] + text.size());
      return traits_type::to_int_type(text[0]);
    }
  } failing;
  std::istream in(&failing);
  LineReader r(&in, "f.jsonl", 100);
  std::string line;
  bool too_long = false;
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "one");
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "two");
  CHECK(!r.Next(&line, &too_long));  // "thr" and then the error: the line is lost with the read
  CHECK(r.broken());
  CHECK(r.status().code() == Code::kIOError);
  CHECK(r.status().message().find("f.jsonl: read: ") == 0);
  CHECK(r.status().message().find("Input/output error") != std::string::npos);
  CHECK(!r.Next(&line, &too_long));
}

TEST_CASE("the line reader drops a byte order mark at the start of the input only") {
  std::istringstream in("\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"b\":2}\n");
  LineReader r(&in, "f", 100);
  std::string line;
  bool too_long = false;
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "{\"a\":1}");
  REQUIRE(r.Next(&line, &too_long));
  CHECK(line == "\xEF\xBB\xBF{\"b\":2}");  // left for the parser to refuse
}

TEST_CASE("queries take an optional id") {
  Query q;
  REQUIRE(ParseQuery(R"({"vector":[1,2,3]})", 3, Metric::kL2, &q).ok());
  CHECK(q.id.empty());
  REQUIRE(ParseQuery(R"({"id":"q7","vector":[1,2,3]})", 3, Metric::kL2, &q).ok());
  CHECK(q.id == "q7");
  std::vector<float> v;
  CHECK(ParseVector("[1, 2]", 3, Metric::kL2, &v).code() == Code::kBadInput);
}

namespace {

// ParseRecord (fast path + general) and the general parser alone must give
// the same status, message and record.
void CheckAgrees(const std::string& line, uint32_t dim, aether::Metric metric) {
  aether::Record a, b;
  aether::Status sa = aether::ParseRecord(line, dim, metric, &a);
  aether::Status sb = aether::ParseRecordGeneral(line, dim, metric, &b);
  CAPTURE(line);
  CHECK(sa.code() == sb.code());
  CHECK(sa.message() == sb.message());
  if (sa.ok() && sb.ok()) {
    CHECK(a.id == b.id);
    CHECK(std::memcmp(a.vector.data(), b.vector.data(), a.vector.size() * 4) == 0);
    CHECK(a.vector.size() == b.vector.size());
    CHECK(a.payload_json == b.payload_json);
    CHECK(a.importance == b.importance);
    CHECK(std::signbit(a.importance) == std::signbit(b.importance));
  }
}

// The same for queries.
void CheckQueryAgrees(const std::string& line, uint32_t dim, aether::Metric metric) {
  aether::Query a, b;
  aether::Status sa = aether::ParseQuery(line, dim, metric, &a);
  aether::Status sb = aether::ParseQueryGeneral(line, dim, metric, &b);
  CAPTURE(line);
  CHECK(sa.code() == sb.code());
  CHECK(sa.message() == sb.message());
  if (sa.ok() && sb.ok()) {
    CHECK(a.id == b.id);
    CHECK(a.vector.size() == b.vector.size());
    CHECK(std::memcmp(a.vector.data(), b.vector.data(), a.vector.size() * 4) == 0);
  }
}

}  // namespace

TEST_CASE("the fast record and query parsers agree with the general ones on every line and every truncation") {
  std::mt19937 rng(42);
  const std::vector<std::string> numbers = {"0",
                                            "-0",
                                            "1",
                                            "-1",
                                            "0.5",
                                            "-0.25",
                                            "1e3",
                                            "1E-3",
                                            "2.5e+2",
                                            "123456789012345678901234567890",
                                            "1e39",
                                            "-1e39",
                                            "1e-46",
                                            "1e400",
                                            "3.4028235e38",
                                            "3.4028236e38",
                                            "1.17549435e-38",
                                            "0.1",
                                            "07",
                                            "1.",
                                            ".5",
                                            "+1",
                                            "1e",
                                            "-",
                                            "0x10",
                                            "NaN",
                                            "Infinity",
                                            "1.0e-5",
                                            "9.999999e-1",
                                            "4.9e-324"};
  const std::vector<std::string> ids = {"\"a\"",
                                        "\"m-001\"",
                                        "\"\"",
                                        "\"\\u00e9\"",
                                        "\"caf\xC3\xA9\"",
                                        "\"a\\\"b\"",
                                        "\"\xFF\"",
                                        "7",
                                        "null",
                                        "\"" + std::string(1025, 'x') + "\"",
                                        "\"" + std::string(1024, 'y') + "\""};
  std::vector<std::string> lines;
  for (int t = 0; t < 400; ++t) {
    std::string vec = "[";
    int n = 1 + int(rng() % 4);
    for (int i = 0; i < n; ++i) vec += (i ? (rng() % 2 ? ", " : ",") : "") + numbers[rng() % numbers.size()];
    vec += rng() % 10 ? "]" : "";
    std::vector<std::string> members = {"\"vector\": " + vec};
    if (rng() % 6) members.push_back("\"id\":" + ids[rng() % ids.size()]);  // a query may have none
    if (rng() % 3 == 0) members.push_back("\"importance\":" + numbers[rng() % numbers.size()]);
    if (rng() % 5 == 0) members.push_back("\"payload\":{\"k\":[1,2]}");
    if (rng() % 9 == 0) members.push_back("\"id\":\"dup\"");
    if (rng() % 9 == 0) members.push_back("\"extra\":1");
    std::shuffle(members.begin(), members.end(), rng);
    std::string line = rng() % 4 ? "{" : " { ";
    for (size_t i = 0; i < members.size(); ++i) line += (i ? "," : "") + members[i];
    line += rng() % 4 ? "}" : "}\t ";
    lines.push_back(line);
  }
  lines.push_back(R"({"id":"x","vector":[]})");
  lines.push_back(R"({"id":"x","vector":[0,0]})");
  lines.push_back(R"({"id":"x","vector":[1,2]} x)");
  lines.push_back(R"([{"id":"x","vector":[1,2]}])");
  for (const std::string& line : lines)
    for (uint32_t dim : {0u, 2u})
      for (aether::Metric metric : {aether::Metric::kL2, aether::Metric::kCosine}) {
        CheckAgrees(line, dim, metric);
        CheckQueryAgrees(line, dim, metric);
        if (line.size() < 80)
          for (size_t cut = 0; cut < line.size(); ++cut) {
            CheckAgrees(line.substr(0, cut), dim, metric);
            CheckQueryAgrees(line.substr(0, cut), dim, metric);
          }
      }
}

// The fast parser reads a number's digits itself when they are few (at
// most 15 significant, a power of ten within 1e+-22) and hands the rest to
// std::from_chars: either way the double the general parser (strtod) reads,
// bit for bit. Importance is kept as a double, so a mismatch a float would
// hide shows there; the vectors check the float. Random numbers of every
// shape: leading, trailing and inner zeros, 1 to 20 digits before and after
// the point, exponents near the fast path's edges and beyond, both signs.
TEST_CASE("the fast parser reads numbers as the general one does, on either side of its fast path's limits") {
  std::mt19937 rng(43);
  auto digits = [&](int n, bool lead) {
    std::string d;
    for (int i = 0; i < n; ++i) {
      const int z = int(rng() % 4);  // runs of zeros, often
      d += char('0' + (z == 0 ? 0 : int(rng() % 10)));
    }
    if (lead && !d.empty() && d[0] == '0') d[0] = char('1' + rng() % 9);
    return d;
  };
  auto number = [&](bool unit) {  // unit: within [0, 1], for importance
    std::string n;
    if (!unit && rng() % 3 == 0) n += '-';
    const int shape = int(rng() % 4);
    if (unit || shape == 0)
      n += "0";
    else
      n += digits(1 + int(rng() % (shape == 1 ? 20 : 6)), true);
    if (unit || rng() % 3) n += "." + digits(1 + int(rng() % 20), false);
    if (rng() % 3 == 0) {
      n += rng() % 2 ? "e" : "E";
      const int e = int(rng() % 30);  // around the +-22 limit (and the digits move it)
      if (unit || rng() % 2)
        n += "-" + std::to_string(e);
      else
        n += (rng() % 2 ? "+" : "") + std::to_string(e % 25);
    }
    return n;
  };
  int parsed = 0;
  for (int t = 0; t < 4000; ++t) {
    std::string vec = "[";
    for (int i = 0; i < 2; ++i) vec += (i ? "," : "") + number(false);
    const std::string line = "{\"id\":\"n\",\"vector\":" + vec + "],\"importance\":" + number(true) + "}";
    CheckAgrees(line, 2, aether::Metric::kL2);
    CheckQueryAgrees(line.substr(0, line.find(",\"importance")) + "}", 2, aether::Metric::kL2);
    aether::Record r;
    parsed += aether::ParseRecord(line, 2, aether::Metric::kL2, &r).ok();
  }
  CHECK(parsed > 2000);  // most lines hold numbers in range: their values were compared
  // Importance of every other shape, its sign of zero included.
  for (const char* imp : {"0", "1", "-0", "-0.0", "0.0", "1.0", "0e5", "-0e-3", "1E0", "0.5e+0", "10e-1"})
    CheckAgrees(std::string(R"({"id":"n","vector":[1],"importance":)") + imp + "}", 1, aether::Metric::kL2);
  // Long tokens (a reviewer's): a fraction of 100,000 zeros and an exponent
  // past the parser's cap must not read as a number in the fast path's range.
  const std::string zeros(100000, '0');
  CheckAgrees(R"({"id":"a","vector":[0.)" + zeros + "1e100001]}", 1, aether::Metric::kL2);
  CheckAgrees(R"({"id":"a","vector":[1],"importance":0.)" + zeros + "00005e100005}", 1, aether::Metric::kL2);
  CheckAgrees(R"({"id":"a","vector":[0.)" + zeros.substr(10) + "5e999999999]}", 1, aether::Metric::kL2);
}

// VectorProblem's one-pass check for l2 and ip against the rule written out
// (options.h): the first component not finite or beyond ±1e15 is named; under
// cosine a norm below 1e-15 is refused too. Each bad value at every position
// of vectors of 1 to 40 components (inside and after the blocks of 16).
TEST_CASE("a vector's problem is the first bad component, wherever it is, under every metric") {
  auto reference = [](const std::vector<float>& v, Metric m) -> std::string {
    double norm2 = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) return "v" + std::to_string(i) + " is not finite";
      if (std::fabs(double(v[i])) > 1e15) return "v" + std::to_string(i) + " outside";
      norm2 += double(v[i]) * double(v[i]);
    }
    if (m == Metric::kCosine && std::sqrt(norm2) < 1e-15) return "no direction";
    return "";
  };
  auto summary = [](const std::string& why) -> std::string {
    if (why.empty()) return "";
    if (why.find("is not finite") != std::string::npos || why.find("outside") != std::string::npos)
      return why.substr(0, why.find(' ')) +
             (why.find("is not finite") != std::string::npos ? " is not finite" : " outside");
    return "no direction";
  };
  const float big = 1e15f, above = std::nextafter(1e15f, 2e15f);
  const std::vector<float> bad = {std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  above,
                                  -above,
                                  3e38f};
  const std::vector<float> fine = {big, -big, 0.0f, 1e-30f, std::numeric_limits<float>::denorm_min(), 9.99e14f};
  int checked = 0;
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
    for (size_t n = 1; n <= 40; ++n)
      for (size_t at = 0; at < n; ++at)
        for (float x : {bad[at % bad.size()], fine[at % fine.size()]}) {
          std::vector<float> v(n, 0.5f);
          if (at % 3 == 0) std::fill(v.begin(), v.end(), 0.0f);  // only x: cosine may find no direction
          v[at] = x;
          if (at + 1 < n && at % 4 == 1) v[at + 1] = bad[(at + 1) % bad.size()];  // a second, later problem
          std::string got = VectorProblem(v.data(), n, m, [](size_t i) { return "v" + std::to_string(i); });
          CAPTURE(n);
          CAPTURE(at);
          CAPTURE(x);
          CHECK(summary(got) == reference(v, m));
          ++checked;
        }
  CHECK(checked == 3 * 2 * 820);
}
