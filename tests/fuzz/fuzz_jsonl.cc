// libFuzzer target: the JSONL record and query parsers (aether/jsonl.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  aether::Record r;
  (void)aether::ParseRecord(line, 0, aether::Metric::kL2, &r);
  (void)aether::ParseRecord(line, 3, aether::Metric::kCosine, &r);
  aether::Query q;
  (void)aether::ParseQuery(line, 4, aether::Metric::kInnerProduct, &q);
  std::vector<float> v;
  (void)aether::ParseVector(line, 2, aether::Metric::kL2, &v);
  return 0;
}
