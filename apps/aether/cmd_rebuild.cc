// aether rebuild-index STORE: train a new K-Means generation over the cold
// tier, compact garbage away, switch to it atomically.
#include <fmt/format.h>

#include <chrono>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {

nlohmann::json CalibrationJson(const RecallCalibration& c) {
  if (c.target <= 0) return nullptr;
  return {{"target", c.target},  {"k", c.k},           {"queries", c.queries},
          {"nprobe", c.nprobe},  {"recall", c.recall}, {"std_error", c.std_error},
          {"seconds", c.seconds}};
}

// --memory's text as given: decimal digits (no sign, no leading zero: CLI11
// alone reads 010 as octal and 0x10 as hex) that fit 64 bits, then a unit.
static CLI::Validator PlainByteCount() {
  return CLI::Validator(
      [](std::string& text) {
        size_t b = text.find_first_not_of(' '), e = text.find_last_not_of(' ');
        const std::string t = b == std::string::npos ? "" : text.substr(b, e - b + 1);
        size_t digits = 0;
        uint64_t value = 0;
        for (; digits < t.size() && t[digits] >= '0' && t[digits] <= '9'; ++digits) {
          if (value > (UINT64_MAX - uint64_t(t[digits] - '0')) / 10) return std::string("is too large");
          value = value * 10 + uint64_t(t[digits] - '0');
        }
        if (digits == 0 || t[0] == '0') return std::string("must be a positive whole number of bytes, e.g. 512M or 2G");
        return std::string();
      },
      "BYTES");
}

Runner SetupRebuild(CLI::App* app) {
  struct Args {
    StoreArgs store;
    RebuildOptions r;
    std::string format;
    std::string progress;
    std::string codec;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  auto* partitions = app->add_option("--partitions", a->r.partitions, "K (default: about 4 * sqrt(cold memories))")
                         ->check(CLI::Range(uint64_t(1), uint64_t(UINT32_MAX)));
  app->add_option("--iters", a->r.iterations, "Lloyd iterations")->default_val(20)->check(CLI::Range(1, 1000));
  app->add_option("--sample", a->r.max_points_per_centroid, "Training points per centroid at most")
      ->default_val(256)
      ->check(CLI::Range(1, 100000));
  app->add_option("--seed", a->r.seed, "Random seed (same seed, same index)")->default_val(1);
  app->add_option("--target-recall", a->r.target_recall,
                  "Calibrate the default nprobe for this recall@10, measured on held-out stored vectors "
                  "against brute force (0: do not calibrate)")
      ->default_val(0.95)
      ->check(CLI::Range(0.0, 1.0));
  app->add_flag("--keep-centroids", a->r.keep_centroids,
                "Keep the current index's centroids (no training): rewrite its partitions without garbage and "
                "recalibrate")
      ->excludes(partitions);
  auto* codec = app->add_option("--codec", a->codec,
                                "Change the store's cold codec: every cold memory is rewritten in it "
                                "(zstd-shuffle, zstd, float16, sq8, float32; see format-spec/cold_shard.md)")
                    ->check(CLI::IsMember(ColdCodecNames()));
  app->add_option("--memory", a->r.memory_bytes,
                  "Cold vectors held in memory at most, e.g. 2G or 512M (G, M, K: powers of 1024; default: half the "
                  "machine's memory, or of its memory cgroup's lower limit); "
                  "past it the shards are read again for each step that needs them: the same index, more time")
      ->transform(CLI::AsSizeValue(false))
      ->transform(PlainByteCount())  // added after, run before (CLI11 runs transforms in reverse)
      ->check(CLI::Range(uint64_t(1), uint64_t(UINT64_MAX)));
  app->add_flag("--dry-run", a->r.dry_run, "Show what would be built; change nothing");
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
  app->footer("Example: aether rebuild-index ./mem --seed 7   # searches keep running meanwhile");
  return [a, codec](const StoreOpener& opener) -> int {
    if (codec->count() > 0) {
      ColdCodec c;
      ParseColdCodec(a->codec, &c);
      a->r.codec = c;
    }
    if (!(a->r.target_recall >= 0 && a->r.target_recall <= 1))  // NaN passes CLI11's range check
      return Fail(Status::InvalidArgument("--target-recall must be in [0, 1]"));
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    Progress progress("rebuild-index", a->progress);
    RebuildOptions r = a->r;
    r.progress = [&](const std::string&, uint64_t done, uint64_t total) {
      if (total) progress.Update(done, total);
    };
    auto start = std::chrono::steady_clock::now();
    auto rep = (*store)->RebuildIndex(r);
    progress.Finish();
    if (!rep.ok()) return Fail(rep.status());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!rep->note.empty()) Info(rep->note);
    if (a->format != "table") {
      fmt::print("{}\n", JsonText(nlohmann::json({{"dry_run", a->r.dry_run},
                                                  {"cold_memories", rep->cold_memories},
                                                  {"warm_memories", rep->warm_memories},
                                                  {"partitions", rep->partitions},
                                                  {"sample", rep->sample},
                                                  {"iterations", rep->iterations},
                                                  {"objective", rep->objective},
                                                  {"generation", rep->generation},
                                                  {"garbage_dropped", rep->garbage_dropped},
                                                  {"bytes_written", rep->bytes_written},
                                                  {"calibration", CalibrationJson(rep->calibration)},
                                                  {"codec", ColdCodecName(rep->codec)},
                                                  {"codec_changed", rep->codec_changed},
                                                  {"memory_bytes", rep->memory_bytes},
                                                  {"cold_walks", rep->cold_walks},
                                                  {"seconds", secs}})));
    }
    if (rep->codec_changed)
      Info(fmt::format("{} codec {}: {} cold memories {}", a->r.dry_run ? "dry run: would change the" : "changed the",
                       ColdCodecName(rep->codec), rep->cold_memories,
                       a->r.dry_run ? "would be rewritten in it" : "rewritten in it"));
    // "N cold memories", or with warm ones among them "N memories (C cold, W warm)".
    const std::string indexed = rep->warm_memories == 0
                                    ? fmt::format("{} cold memories", rep->cold_memories)
                                    : fmt::format("{} memories ({} cold, {} warm)", rep->cold_memories,
                                                  rep->cold_memories - rep->warm_memories, rep->warm_memories);
    if (a->r.dry_run)
      Info(fmt::format("dry run: would index {} into {} partitions (training sample {}, {} iterations)", indexed,
                       rep->partitions, rep->sample, rep->iterations));
    else if (rep->generation > 0)
      Info(fmt::format("built index generation {}: {} in {} partitions, {} garbage records dropped, {} bytes, {:.2f}s",
                       rep->generation, indexed, rep->partitions, rep->garbage_dropped, rep->bytes_written, secs));
    if (rep->cold_walks > 1)
      Info(fmt::format("read the cold tier {} times: its vectors take more than the memory budget ({} byte{})",
                       rep->cold_walks, rep->memory_bytes, rep->memory_bytes == 1 ? "" : "s"));
    if (!a->r.dry_run && rep->calibration.target > 0) {
      const RecallCalibration& c = rep->calibration;
      if (c.queries == 0)  // one memory: no other to be its neighbour, nothing to measure
        Info(fmt::format("calibrated: nprobe {} (the tier holds one memory, which every probe finds)", c.nprobe));
      else
        Info(fmt::format(
            "calibrated: nprobe {} gives recall@{} {:.4f} (+/- {:.4f}) for target {}, measured with {} "
            "held-out quer{} in {:.2f}s",
            c.nprobe, c.k, c.recall, c.std_error, c.target, c.queries, c.queries == 1 ? "y" : "ies", c.seconds));
    }
    return kExitOk;
  };
}

}  // namespace aether::cli
