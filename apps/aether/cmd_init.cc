// aether init STORE --dim D [--metric l2|cosine|ip] [--hot-capacity N] [--codec C]
//   [--cold-uri s3://BUCKET/PREFIX]
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"

namespace aether::cli {

Runner SetupInit(CLI::App* app) {
  struct Args {
    std::string store;
    uint32_t dim = 0;
    std::string metric = "l2";
    uint64_t hot_capacity = StoreConfig().hot_capacity;
    std::string codec = ColdCodecName(StoreConfig().codec);
    std::string cold_uri;
    S3Options s3;
  };
  auto a = std::make_shared<Args>();
  AddStoreLocation(app, &a->store, "Store directory to create");
  app->add_option("--dim", a->dim, "Vector dimension")->required()->check(CLI::Range(1, 65536));
  app->add_option("--metric", a->metric, "Distance metric")
      ->check(CLI::IsMember({"l2", "cosine", "ip"}))
      ->default_str("l2");
  app->add_option("--hot-capacity", a->hot_capacity, "Memories the hot tier holds")
      ->default_val(StoreConfig().hot_capacity);
  app->add_option("--codec", a->codec,
                  "How cold frames store vectors: zstd-shuffle, zstd (lossless), float16, sq8 (scanned quantized, "
                  "re-ranked at full precision), float32 (lossless, uncompressed: the fastest scan, the most "
                  "bytes; format version 7); see format-spec/cold_shard.md")
      ->check(CLI::IsMember(ColdCodecNames()))
      ->default_str(ColdCodecName(StoreConfig().codec));
  app->add_option("--cold-uri", a->cold_uri,
                  "s3://BUCKET/PREFIX: keep the cold tier's shards past cold_local_bytes in this bucket prefix (a "
                  "prefix of this store's own; README \"A cold tier in a bucket\")")
      ->check(NonEmpty());
  AddS3Options(app, &a->s3);
  app->footer("Example: aether init ./mem --dim 768 --metric cosine --hot-capacity 100000");
  return [a](const StoreOpener&) -> int {
    StoreConfig config;
    config.dim = a->dim;
    ParseMetric(a->metric, &config.metric);
    config.hot_capacity = a->hot_capacity;
    ParseColdCodec(a->codec, &config.codec);
    config.cold_uri = a->cold_uri;
    Status s = Store::Create(a->store, config, nullptr, a->s3);
    if (!s.ok()) return Fail(s);
    ++g_changes_committed;       // the store is in place, whatever fails next
    g_metrics_store = a->store;  // the new store's first record
    Info(fmt::format("created store {} (dim {}, metric {}, hot capacity {}{})", a->store, a->dim, a->metric,
                     a->hot_capacity, a->cold_uri.empty() ? "" : ", cold tier in " + a->cold_uri));
    return kExitOk;
  };
}

}  // namespace aether::cli
