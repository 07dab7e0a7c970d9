// aether backup STORE DEST [--incremental EARLIER]: a consistent copy of a
// live store (Store::Backup); restoring is opening the copy.
#include <fmt/format.h>

#include <utility>

#include "aether/store.h"
#include "cli.h"
#include "progress.h"

namespace aether::cli {

Runner SetupBackup(CLI::App* app) {
  struct Args {
    StoreArgs store;
    std::string dest;
    std::string incremental;
    std::string format;
    std::string progress;
  };
  auto a = std::make_shared<Args>();
  AddStoreArgs(app, &a->store);
  app->add_option("dest", a->dest, "Directory to create for the copy (missing, or empty)")
      ->required()
      ->check(NonEmpty());
  app->add_option("--incremental", a->incremental,
                  "An earlier backup of this store: files unchanged since it are hard-linked, not copied")
      ->check(NonEmpty());
  AddFormatOption(app, &a->format, "table");
  AddProgressOptions(app, &a->progress);
  app->footer(
      "Copies the store while searches go on; writers wait for it (--wait). The copy is a store: restore\n"
      "by opening it (or by moving it into place). Check it with `aether verify DEST`.\n"
      "Example (crontab, nightly): 0 2 * * * aether backup /var/lib/mem /backup/mem-$(date +\\%F) \\\n"
      "    --incremental /backup/mem-latest && ln -sfn /backup/mem-$(date +\\%F) /backup/mem-latest");
  return [a](const StoreOpener& opener) -> int {
    for (const auto& [role, path] : {std::pair{"DEST", &a->dest}, std::pair{"--incremental", &a->incremental}})
      if (Status bad = LocalDirectoryOnly(role, *path, "aether publish STORE s3://BUCKET/PREFIX copies a store there");
          !bad.ok())
        return Fail(bad);
    auto store = opener.Open(a->store);
    if (!store.ok()) return Fail(store.status());
    Progress progress("backup (bytes)", a->progress);
    BackupOptions options;
    options.dest = a->dest;
    options.incremental_from = a->incremental;
    options.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
    auto r = (*store)->Backup(options);
    progress.Finish();
    if (!r.ok()) return Fail(r.status());
    const nlohmann::json j = {{"dest", a->dest},
                              {"memories", r->memories},
                              {"files_copied", r->files_copied},
                              {"bytes_copied", r->bytes_copied},
                              {"files_linked", r->files_linked},
                              {"bytes_linked", r->bytes_linked}};
    if (a->format == "table")
      fmt::print("backup {}: {} memories; {} files copied ({} bytes), {} linked ({} bytes)\n",
                 Printable(a->dest, false), r->memories, r->files_copied, r->bytes_copied, r->files_linked,
                 r->bytes_linked);
    else
      fmt::print("{}\n", JsonText(j));
    return kExitOk;
  };
}

}  // namespace aether::cli
