// aether upgrade STORE [--codec C] [--dry-run]: a store an older aether made
// becomes what this one writes (Store::Upgrade), in place.
#include <fmt/format.h>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {

namespace {

std::string Plural(uint64_t n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

void PrintTable(const std::string& store, const UpgradeReport& r, bool dry_run) {
  const std::string name = Printable(store, false);
  if (r.up_to_date()) {
    fmt::print("upgrade {}: up to date (format version {}, cold codec {}, {})\n", name, r.version_after,
               ColdCodecName(r.codec_after), Plural(r.frames, "cold frame"));
    return;
  }
  const bool opened_changed = r.replayed_at_open > 0 || r.schema_changed_at_open > 0;
  fmt::print("upgrade {}{}:\n", name,
             !dry_run         ? ""
             : opened_changed ? " (dry run: only the open changed the store, as every command's open does)"
                              : " (dry run: nothing changed)");
  if (r.replayed_at_open) fmt::print("  replayed: {} a killed process left\n", Plural(r.replayed_at_open, "migration"));
  if (r.pending_migrations)
    fmt::print("  replay: {} a killed process left, which this reader could not replay (upgrade will)\n",
               Plural(r.pending_migrations, "migration"));
  for (size_t i = 0; i < r.schema_steps.size(); ++i)
    fmt::print("  schema: {}{}\n", r.schema_steps[i], dry_run && i < r.schema_changed_at_open ? " (done at open)" : "");
  if (r.version_after != r.version_before)
    fmt::print("  format version: {} -> {}\n", r.version_before, r.version_after);
  if (r.codec_after != r.codec_before)
    fmt::print("  cold codec: {} -> {}\n", ColdCodecName(r.codec_before), ColdCodecName(r.codec_after));
  if (r.cold_uri_after != r.cold_uri_before)
    fmt::print("  cold tier's bucket: {}{}\n", Printable(r.cold_uri_after, false),
               dry_run ? " (would be claimed; the shards past cold_local_bytes then go there)" : "");
  if (r.frames_to_rewrite)
    fmt::print("  cold tier: {} {} of {} ({}) in {}{}\n", dry_run ? "would rewrite" : "rewrote", r.frames_to_rewrite,
               Plural(r.frames, "frame"), Plural(r.records_to_rewrite, "record"), ColdCodecName(r.codec_after),
               !r.rewritten ? std::string()
               : r.rebuild.generation > 0
                   ? fmt::format(": index generation {}, {} cold memories, {} garbage records dropped",
                                 r.rebuild.generation, r.rebuild.cold_memories, r.rebuild.garbage_dropped)
                   : fmt::format(": they held only deleted records ({} dropped)", r.rebuild.garbage_dropped));
  else if (r.frames == 0)
    fmt::print("  cold tier: empty\n");
  else
    fmt::print("  cold tier: all {} already in {}\n", Plural(r.frames, "frame"), ColdCodecName(r.codec_after));
}

}  // namespace

Runner SetupUpgrade(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string codec;
    bool dry_run = false;
    std::string format;
    std::string progress;
    std::string cold_uri;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  auto* codec = app->add_option("--codec", a->codec,
                                "The cold codec from now on (default: the store's; a version-1 store gets "
                                "zstd-shuffle): every cold frame in another codec is rewritten")
                    ->check(CLI::IsMember(ColdCodecNames()));
  app->add_option("--cold-uri", a->cold_uri,
                  "s3://BUCKET/PREFIX: keep the cold tier's shards past cold_local_bytes in this bucket prefix from "
                  "now on (claimed for this store; those past the limit are sent at once)")
      ->check(NonEmpty());
  AddS3Options(app, &a->store.s3);
  app->add_flag("--dry-run", a->dry_run, "Show the plan (schema, config, frames to rewrite); change nothing");
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
  app->footer(
      "Converts a store an older aether made in place: meta.db's schema, the format version and codec\n"
      "(format-spec/README.md, \"Versions\"), and every cold frame in another codec. Killed anywhere, the\n"
      "store reads as before; run it again to finish. An aether older than the new format version\n"
      "cannot open the store. --dry-run opens it as a reader (replaying, as every command does, what a\n"
      "killed process left) and prints the plan.\n"
      "Example: aether upgrade ./mem --dry-run && aether upgrade ./mem");
  return [a, codec](const StoreOpener& opener) -> int {
    UpgradeOptions o;
    if (codec->count() > 0) {
      ColdCodec c;
      ParseColdCodec(a->codec, &c);
      o.codec = c;
    }
    o.dry_run = a->dry_run;
    o.cold_uri = a->cold_uri;
    o.s3 = a->store.s3;
    auto store = a->dry_run ? opener.OpenToRead(a->store) : opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    Progress progress("upgrade", a->progress);
    o.progress = [&](const std::string&, uint64_t done, uint64_t total) {
      if (total) progress.Update(done, total);
    };
    auto r = (*store)->Upgrade(o);
    progress.Finish();
    if (!r.ok()) return Fail(r.status());
    ColdTierReport settled;
    if (!a->dry_run && r->cold_uri_after != r->cold_uri_before) {
      // Opened again, the store reads its cold tier through the bucket: the
      // shards past cold_local_bytes go there now.
      store->reset();
      auto again = opener.Open(a->store);
      if (!again.ok()) return Fail(again.status());
      auto s = (*again)->SettleColdTier(/*collect=*/true);
      if (!s.ok()) {  // the upgrade stands: the next writer sends them
        Warn("cold tier: " + s.status().message() + " (the shards stay on the local disk; the next writer sends them)");
      } else {
        settled = *s;
      }
      if (s.ok() && a->format == "table")
        Info(fmt::format("cold tier: {} shards ({} bytes) sent to {}; {} bytes of shards kept on the local disk",
                         settled.evicted, settled.evicted_bytes, Printable(settled.uri, false), settled.local_bytes));
    }
    if (a->format == "table") {
      PrintTable(a->store.store, *r, a->dry_run);
      return kExitOk;
    }
    nlohmann::json rebuild = nullptr;
    if (r->rewritten && r->rebuild.generation > 0)
      rebuild = {{"generation", r->rebuild.generation},
                 {"cold_memories", r->rebuild.cold_memories},
                 {"partitions", r->rebuild.partitions},
                 {"garbage_dropped", r->rebuild.garbage_dropped},
                 {"bytes_written", r->rebuild.bytes_written}};
    fmt::print("{}\n", JsonText(nlohmann::json({{"dry_run", a->dry_run},
                                                {"up_to_date", r->up_to_date()},
                                                {"format_version_before", r->version_before},
                                                {"format_version", r->version_after},
                                                {"codec_before", ColdCodecName(r->codec_before)},
                                                {"codec", ColdCodecName(r->codec_after)},
                                                {"cold_uri_before", r->cold_uri_before},
                                                {"cold_uri", r->cold_uri_after},
                                                {"cold_shards_sent", settled.evicted},
                                                {"cold_bytes_sent", settled.evicted_bytes},
                                                {"schema_steps", r->schema_steps},
                                                {"schema_changed_at_open", r->schema_changed_at_open},
                                                {"replayed_at_open", r->replayed_at_open},
                                                {"pending_migrations", r->pending_migrations},
                                                {"frames", r->frames},
                                                {"frames_to_rewrite", r->frames_to_rewrite},
                                                {"records_to_rewrite", r->records_to_rewrite},
                                                {"rewritten", r->rewritten},
                                                {"garbage_dropped", r->rebuild.garbage_dropped},
                                                {"rebuild", rebuild}})));
    return kExitOk;
  };
}

}  // namespace aether::cli
