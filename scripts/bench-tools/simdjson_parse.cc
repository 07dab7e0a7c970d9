// simdjson's bare parse rate of a JSONL file: every line parsed (On Demand)
// and its "vector" summed, so the numbers are really read. Prints
// "<lines> <seconds>", best of 3. Built and run by scripts/bench.
#include <simdjson.h>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  simdjson::padded_string text;
  if (simdjson::padded_string::load(argv[1]).get(text)) return 1;
  double best = 1e9;
  size_t lines = 0;
  double sink = 0;
  for (int pass = 0; pass < 3; ++pass) {
    auto t = std::chrono::steady_clock::now();
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document_stream docs;
    if (parser.iterate_many(text).get(docs)) return 1;
    lines = 0;
    for (auto doc : docs) {
      simdjson::ondemand::array v;
      if (doc["vector"].get_array().get(v)) return 1;
      for (double x : v) sink += x;
      ++lines;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    if (s < best) best = s;
  }
  std::printf("%zu %.6f %d\n", lines, best, sink > 0);
  return 0;
}
