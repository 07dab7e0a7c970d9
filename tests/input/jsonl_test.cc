#include <doctest/doctest.h>

#include <sstream>

#include "aether/jsonl.h"

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
  REQUIRE(ParseRecord(R"({"id":"a","vector":[1,2.5,-3],"payload":{"k":[1,"x"]},"importance":0.25})", 3,
                      Metric::kL2, &r).ok());
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
  CHECK(Why(R"({"id":5,"vector":[1,2,3]})") == "\"id\" must be a string");
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

TEST_CASE("the line reader counts lines, strips CR and bounds line length") {
  std::istringstream in("one\r\n\n" + std::string(50, 'x') + "\nlast");
  LineReader r(&in, "f.jsonl", 10);
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
