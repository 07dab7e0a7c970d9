// Hostile input to every reader of JSON and files: nesting at and past the
// documented limit, for records, payloads, queries, --vector and feedback
// files. Each bad input gets FILE:LINE (or the option), the reason and its
// exit code; what was committed before it stays; nothing crashes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace aether::test;

namespace {

std::string Nested(size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

const std::vector<size_t> kDepths = {1, 2, 64, 126, 127, 128, 129, 1000, 100000};
constexpr size_t kLimit = 128;  // kMaxJsonDepth: arrays and objects, the whole line

}  // namespace

TEST_CASE("nesting sweep: a record whose payload nests past the limit is a located error; earlier lines commit") {
  for (size_t depth : kDepths) {
    for (bool skip : {false, true}) {
      CAPTURE(depth);
      CAPTURE(skip);
      TempDir dir;
      const std::string store = dir / "s", input = dir / "in.jsonl";
      REQUIRE(Aether({"init", store, "--dim", "2"}).exit_code == 0);
      // The record object is one level; its payload `depth` more.
      WriteFile(input, "{\"id\":\"a\",\"vector\":[1,2]}\n{\"id\":\"b\",\"vector\":[1,2],\"payload\":" +
                           Nested(depth) + "}\n{\"id\":\"c\",\"vector\":[3,4]}\n");
      std::vector<std::string> args = {"ingest", store, input};
      if (skip) args.push_back("--skip-invalid");
      auto r = Aether(args);
      auto got = Aether({"get", store, "a", "b", "c"});
      const bool fits = depth + 1 <= kLimit;
      if (fits) {
        CHECK_MESSAGE(r.exit_code == 0, r.err);
        auto lines = Lines(got.out);
        REQUIRE(lines.size() == 3);
        CHECK(nlohmann::json::parse(lines[1])["payload"] == nlohmann::json::parse(Nested(depth)));
      } else {
        CHECK(r.exit_code == (skip ? 0 : 65));
        CHECK(r.err.find(input + ":2: arrays and objects nest deeper than 128 levels") != std::string::npos);
        CHECK(got.out.find("\"id\":\"a\"") != std::string::npos);  // committed before the bad line
        CHECK(got.out.find("\"id\":\"b\"") == std::string::npos);
        CHECK((got.out.find("\"id\":\"c\"") != std::string::npos) == skip);
      }
    }
  }
}

TEST_CASE("nesting sweep: queries, --vector and feedback files refuse deep nesting with their location") {
  TempDir dir;
  const std::string store = dir / "s";
  REQUIRE(Aether({"ingest", store}, "{\"id\":\"a\",\"vector\":[1,2]}\n").exit_code == 0);
  for (size_t depth : kDepths) {
    CAPTURE(depth);
    const bool fits = depth + 1 <= kLimit;  // inside a {...} line
    // A vector nested deeper than an array of numbers is wrong at any depth:
    // within the limit it says why, past it the limit is the reason.
    WriteFile(dir / "q.jsonl", "{\"vector\":[1,2]}\n{\"vector\":" + Nested(depth) + "}\n");
    auto q = Aether({"search", store, "--queries", dir / "q.jsonl", "--no-touch"});
    CHECK(q.exit_code == 65);
    CHECK(q.err.find(dir / "q.jsonl:2: ") != std::string::npos);
    CHECK((q.err.find("nest deeper than 128") != std::string::npos) == !fits);

    if (depth < 50000) {  // one argument may not exceed 128 KiB (MAX_ARG_STRLEN)
      auto v = Aether({"search", store, "--vector", Nested(depth, "1, 2"), "--no-touch"});
      CHECK(v.exit_code == (depth == 1 ? 0 : 65));
      if (depth > kLimit) CHECK(v.err.find("--vector: arrays and objects nest deeper than 128") != std::string::npos);
    }

    WriteFile(dir / "f.jsonl", "{\"id\":\"a\",\"reward\":1}\n{\"id\":\"a\",\"reward\":" + Nested(depth) + "}\n");
    auto f = Aether({"feedback", store, "--file", dir / "f.jsonl"});
    CHECK(f.exit_code == 65);
    CHECK(f.err.find(dir / "f.jsonl:2: ") != std::string::npos);
    CHECK((f.err.find("nest deeper than 128") != std::string::npos) == !fits);
  }
}
