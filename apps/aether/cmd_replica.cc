// aether publish STORE s3://BUCKET/PREFIX: a consistent snapshot of a live
// store into a bucket; aether pull s3://BUCKET/PREFIX DIR: a read replica
// made or refreshed from the newest snapshot (aether/replica.h).
#include <fmt/format.h>

#include "aether/replica.h"
#include "aether/store.h"
#include "cli.h"

namespace aether::cli {
Runner SetupPublish(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string uri;
    S3Options s3;
    std::string format;
    uint64_t keep = 0;
    bool take_over = false;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("uri", a->uri, "s3://BUCKET/PREFIX to publish under")->required()->check(NonEmpty());
  app->add_flag("--take-over", a->take_over,
                "Publish even when the newest snapshot there is another store's: the prefix then serves this "
                "store (without it, such a publish exits 73 and sends nothing)");
  app->add_option("--keep", a->keep,
                  "Then delete the manifests older than the newest N and the objects none of those N names "
                  "(default: every manifest stays)")
      ->check(CLI::Range(uint64_t(1), uint64_t(UINT32_MAX)));
  AddS3Options(app, &a->s3);
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "Uploads a consistent snapshot (searches go on; writers wait) as objects named by their SHA-256 (one\n"
      "already there is not sent again), then a manifest naming them and this store. Replicas follow with\n"
      "`aether pull`. A prefix serves one store: another store's publish there exits 73 (see --take-over).\n"
      "Example: AWS_PROFILE=mem aether publish ./mem s3://my-bucket/agents/a1");
  return [a](const StoreOpener& opener) -> int {
    if (Status bad = CheckS3Uri(a->uri); !bad.ok()) return Fail(bad);
    // The turn first: a publish waiting for another holds no store lock.
    auto turn = TakePublishTurn(a->store.store, a->store.wait);
    if (!turn.ok()) return Fail(turn.status());
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    PublishOptions po;
    po.keep = a->keep;
    po.take_over = a->take_over;
    po.turn = &*turn;
    auto r = Publish(std::move(*store), a->store.store, a->uri, a->s3, po);
    if (!r.ok()) return Fail(r.status());
    if (!r->took_over_from.empty())
      Warn(fmt::format("{}: took over from store {}: what follows the prefix now follows this store ({})", a->uri,
                       r->took_over_from, r->store_id));
    if (!r->collect_error.empty())
      Warn(fmt::format("--keep {} stopped before deleting anything more: {} (the next publish --keep tries again)",
                       a->keep, r->collect_error));
    const nlohmann::json j = {{"manifest", r->manifest},
                              {"sequence", r->sequence},
                              {"unchanged", r->unchanged},
                              {"memories", r->memories},
                              {"files", r->files},
                              {"bytes", r->bytes},
                              {"objects_uploaded", r->objects_uploaded},
                              {"bytes_uploaded", r->bytes_uploaded},
                              {"objects_present", r->objects_present},
                              {"objects_in_cold_tier", r->objects_in_cold_tier},
                              {"manifests_removed", r->manifests_removed},
                              {"objects_removed", r->objects_removed},
                              {"bytes_removed", r->bytes_removed},
                              {"keep_stopped", r->collect_error},
                              {"store_id", r->store_id},
                              {"took_over_from", r->took_over_from}};
    const std::string removed = a->keep ? fmt::format("; removed {} older manifests and {} objects ({} bytes)",
                                                      r->manifests_removed, r->objects_removed, r->bytes_removed)
                                        : "";
    if (a->format != "table")
      fmt::print("{}\n", JsonText(j));
    else if (r->unchanged)
      fmt::print("unchanged since {}: {} memories in {} files ({} bytes){}\n", r->manifest, r->memories, r->files,
                 r->bytes, removed);
    else
      fmt::print(
          "published {}: {} memories in {} files ({} bytes); {} objects uploaded ({} bytes), {} already there{}{}\n",
          r->manifest, r->memories, r->files, r->bytes, r->objects_uploaded, r->bytes_uploaded, r->objects_present,
          r->objects_in_cold_tier
              ? fmt::format(", {} shards named in the store's cold tier (not sent)", r->objects_in_cold_tier)
              : "",
          removed);
    return kExitOk;
  };
}

Runner SetupPull(CLI::App* app) {
  struct Args {
    std::string uri, dir;
    int64_t sequence = 0;
    S3Options s3;
    std::string format;
  };
  auto a = std::make_shared<Args>();
  app->add_option("uri", a->uri, "s3://BUCKET/PREFIX a store was published under")->required()->check(NonEmpty());
  app->add_option("dir", a->dir, "The replica directory: made, or refreshed if an earlier pull made it")
      ->required()
      ->check(NonEmpty());
  app->add_option("--sequence", a->sequence, "The manifest to pull (default: the newest)")
      ->check(CLI::Range(int64_t(1), INT64_MAX));
  AddS3Options(app, &a->s3);
  AddFormatOption(app, &a->format, "table");
  app->footer(
      "Makes DIR the store a manifest names: objects checked against their SHA-256, files DIR already holds\n"
      "unchanged kept, the new replica swapped in whole. DIR is a store for every read command.\n"
      "Example (crontab, every 5 minutes): */5 * * * * aether pull s3://my-bucket/agents/a1 /srv/mem-replica");
  return [a](const StoreOpener&) -> int {
    if (Status bad = CheckS3Uri(a->uri); !bad.ok()) return Fail(bad);
    if (Status bad = LocalDirectoryOnly("DIR", a->dir, "pull copies a bucket's store into a directory here"); !bad.ok())
      return Fail(bad);
    auto r = Pull(a->uri, a->dir, a->s3, uint64_t(a->sequence));
    if (!r.ok()) return Fail(r.status());
    for (const std::string& kept : r->killed_kept)
      Warn(
          fmt::format("{}: a killed pull's directory held files a pull did not make; emptied of the rest, left there "
                      "with them",
                      Printable(kept, false)));
    if (!r->left_behind.empty())
      Warn(fmt::format("{}: the old replica held files a pull did not make; left there with them",
                       Printable(r->left_behind, false)));
    const nlohmann::json j = {{"manifest", r->manifest},
                              {"sequence", r->sequence},
                              {"up_to_date", r->up_to_date},
                              {"files", r->files},
                              {"bytes", r->bytes},
                              {"objects_fetched", r->objects_fetched},
                              {"bytes_fetched", r->bytes_fetched},
                              {"files_kept", r->files_kept}};
    if (a->format != "table")
      fmt::print("{}\n", JsonText(j));
    else if (r->up_to_date)
      fmt::print("{}: already {}\n", Printable(a->dir, false), r->manifest);
    else
      fmt::print("{}: now {}: {} files ({} bytes); {} objects fetched ({} bytes), {} kept\n", Printable(a->dir, false),
                 r->manifest, r->files, r->bytes, r->objects_fetched, r->bytes_fetched, r->files_kept);
    return kExitOk;
  };
}

}  // namespace aether::cli
