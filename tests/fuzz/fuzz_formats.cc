// libFuzzer target: every format-spec reader on arbitrary bytes — the frame
// decoders (whole, scan section, full row), a shard file (header, exact and
// search scans, full-row reads), a hot slot file, and a
// centroids file. None may crash, hang or read out of bounds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "aether/env.h"
#include "cold/frame.h"
#include "cold/shard_file.h"
#include "hot/slot_file.h"
#include "index/centroids_file.h"

namespace {

std::string TempPath() {
  static std::string path = "/tmp/aether-fuzz-" + std::to_string(getpid());
  return path;
}

void WriteAll(const std::string& path, const uint8_t* data, size_t size) {
  aether::Env* env = aether::Env::Default();
  auto f = env->Open(path, aether::OpenMode::kCreate);
  if (!f.ok()) return;
  (void)(*f)->Truncate(0);
  (void)(*f)->Write(0, data, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aether;
  if (size < 1) return 0;
  const uint32_t dim = 1 + data[0] % 8;
  DecodedFrame frame;
  (void)DecodeFrame(data, size, dim, &frame);
  (void)DecodeFrameScan(data, size, dim, &frame);
  std::vector<float> full_row(dim);
  if (size >= FrameHeader::full_row_size(dim)) (void)DecodeFullRow(data, dim, 1, full_row.data());

  Env* env = Env::Default();
  std::string path = TempPath();
  WriteAll(path, data, size);
  if (auto shard = ShardFile::Open(env, path, dim, false); shard.ok()) {
    (void)(*shard)->Scan(size, [](uint64_t, const DecodedFrame&) { return Status::Ok(); });
    (void)(*shard)->Scan(
        size, [](uint64_t, const DecodedFrame&) { return Status::Ok(); }, ShardFile::ScanMode::kSearch);
    for (uint32_t i = 0; i < 3; ++i) (void)(*shard)->ReadFullRow(ShardFile::kHeaderSize, i, 2 + i, full_row.data());
  }
  if (auto hot = SlotFile::Open(env, path, dim, false); hot.ok()) {
    auto n = (*hot)->SlotCount();
    std::vector<float> v(dim);
    int64_t row = 0;
    for (uint64_t s = 0; n.ok() && s < *n && s < 64; ++s) (void)(*hot)->ReadSlot(s, &row, v.data());
  }
  Centroids c;
  (void)CentroidsFile::Decode(std::string(reinterpret_cast<const char*>(data), size), path, dim, &c);
  return 0;
}
