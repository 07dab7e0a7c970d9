// libFuzzer target: the input parsers — JSONL records (the fast path checked
// against the general parser) and queries (aether/jsonl.h), the .npy and
// .fvecs readers and the ids file reader (aether/vector_file.h), the JSON
// check update uses (CheckJsonValue) and the --where filter parser
// (Store::CheckFilter). None may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "aether/jsonl.h"
#include "aether/store.h"
#include "aether/vector_file.h"

namespace {

void ReadVectors(const std::string& bytes, aether::VectorFormat format) {
  std::istringstream in(bytes);
  aether::VectorFileReader r(&in, "fuzz", format);
  if (!r.Open().ok()) return;
  std::vector<float> out;
  // At most a few batches: a header may declare far more vectors than exist.
  for (int i = 0; i < 64; ++i) {
    out.clear();
    size_t got = 0;
    aether::Status s = r.Read(16, aether::Metric::kCosine, &out, &got);
    if ((!s.ok() && r.broken()) || (s.ok() && got == 0)) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  // The fast record path must agree with the general parser on every input.
  for (uint32_t dim : {0u, 3u}) {
    aether::Record a, b;
    aether::Status sa = aether::ParseRecord(line, dim, aether::Metric::kCosine, &a);
    aether::Status sb = aether::ParseRecordGeneral(line, dim, aether::Metric::kCosine, &b);
    if (sa.code() != sb.code() || sa.message() != sb.message()) __builtin_trap();
    if (sa.ok() &&
        (a.id != b.id || a.vector.size() != b.vector.size() || a.importance != b.importance ||
         a.payload_json != b.payload_json || std::memcmp(a.vector.data(), b.vector.data(), a.vector.size() * 4) != 0))
      __builtin_trap();
  }
  // So must the fast query path.
  aether::Query q, g;
  aether::Status qa = aether::ParseQuery(line, 4, aether::Metric::kInnerProduct, &q);
  aether::Status qb = aether::ParseQueryGeneral(line, 4, aether::Metric::kInnerProduct, &g);
  if (qa.code() != qb.code() || qa.message() != qb.message()) __builtin_trap();
  if (qa.ok() && (q.id != g.id || q.vector != g.vector)) __builtin_trap();
  std::vector<float> v;
  (void)aether::ParseVector(line, 2, aether::Metric::kL2, &v);

  (void)aether::CheckJsonValue(line);
  (void)aether::Store::CheckFilter(line);

  ReadVectors(line, aether::VectorFormat::kNpy);
  ReadVectors(line, aether::VectorFormat::kFvecs);
  std::istringstream ids(line);
  aether::IdFileReader id_reader(&ids, "fuzz");
  std::string id;
  for (int i = 0; i < 64; ++i) {
    auto more = id_reader.Next(&id);
    if (!more.ok() || !*more) break;
  }
  return 0;
}
