// upgrade: a store an older aether made becomes what this one writes
// (format-spec/README.md, "Versions"), in steps that are each safe to kill:
//   1. meta.db's schema: the writer's open already made the changes
//      (UpgradeSchema: nullable columns, tables, an index; each its own
//      transaction);
//   2. the config: cold_codec and format_version in one transaction;
//   3. the cold tier: when a frame is in another codec than the store's,
//      a rebuild keeping the centroids rewrites every cold memory
//      (journaled like every rebuild: replayed or rolled back after a kill).
// Every frame names its own codec, so a store killed between 2 and 3 reads
// as before; `upgrade` run again finds the frames still to rewrite (it reads
// every frame header) and finishes.
#include <fmt/format.h>

#include <algorithm>

#include "aether/store.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "store/store_impl.h"

namespace aether {

namespace {

struct FrameCount {
  uint64_t frames = 0, other = 0, other_records = 0;
};

// Every committed frame's header: how many frames there are, and how many
// (and their records) are in a codec other than `codec`.
Result<FrameCount> CountFrames(StoreImpl* s, ColdCodec codec) {
  FrameCount n;
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, s->tables_->shards.All());
  for (const ShardInfo& shard : shards) {
    if (shard.file_bytes <= ShardFile::kHeaderSize) continue;
    AETHER_ASSIGN_OR_RETURN(auto file, ShardFile::Open(s->env_, s->Path(shard.path), s->config_.dim, false));
    AETHER_RETURN_IF_ERROR(file->ScanHeaders(shard.file_bytes, [&](uint64_t, const FrameHeader& h) {
      ++n.frames;
      if (h.codec != uint32_t(codec)) {
        ++n.other;
        n.other_records += h.count;
      }
      return Status::Ok();
    }));
  }
  return n;
}

}  // namespace

Result<UpgradeReport> StoreImpl::Upgrade(const UpgradeOptions& o) {
  if (!o.dry_run && !lock_->writer()) return Status::Internal("upgrade on a store opened read-only");
  UpgradeReport rep;
  rep.version_before = format_version_;
  rep.codec_before = config_.codec;
  // A version-1 store's codec is plain zstd only because it predates the
  // key: it gets what a new store gets, unless told otherwise.
  rep.codec_after = o.codec ? *o.codec : (format_version_ < 2 ? ColdCodec::kZstdShuffle : config_.codec);
  // The lowest version that describes the store, never lower than it is.
  rep.version_after = std::max({format_version_, 2u, Store::FormatVersionFor(rep.codec_after)});
  if (o.dry_run) {
    AETHER_ASSIGN_OR_RETURN(rep.schema_steps, PendingSchemaUpgrades(db_.get()));
    AETHER_ASSIGN_OR_RETURN(rep.pending_migrations, Journal(db_.get()).Count());
  } else {
    rep.schema_steps = schema_upgraded_;
  }
  if (o.progress) o.progress("read", 0, 0);
  AETHER_ASSIGN_OR_RETURN(FrameCount frames, CountFrames(this, rep.codec_after));
  rep.frames = frames.frames;
  rep.frames_to_rewrite = frames.other;
  rep.records_to_rewrite = frames.other_records;
  if (o.dry_run) return rep;

  if (rep.version_after != format_version_ || rep.codec_after != config_.codec) {
    AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
      AETHER_RETURN_IF_ERROR(tables_->config.Set("cold_codec", ColdCodecName(rep.codec_after)));
      return tables_->config.Set("format_version", std::to_string(rep.version_after));
    }));
    config_.codec = rep.codec_after;
    format_version_ = rep.version_after;
    AETHER_FAULT_POINT("upgrade.after_config");
  }
  if (frames.other == 0) return rep;
  RebuildOptions r;
  r.keep_centroids = true;  // the index as it is, its partitions rewritten (trained when there is none)
  r.progress = o.progress;
  AETHER_ASSIGN_OR_RETURN(rep.rebuild, RebuildIndex(r));
  rep.rewritten = true;
  AETHER_FAULT_POINT("upgrade.after_rewrite");
  // Every frame is in the store's codec now; anything else is a bug.
  AETHER_ASSIGN_OR_RETURN(FrameCount after, CountFrames(this, rep.codec_after));
  if (after.other != 0)
    return Status::Internal(fmt::format("upgrade: {} frames are still not in codec {} after the rewrite", after.other,
                                        ColdCodecName(rep.codec_after)));
  return rep;
}

}  // namespace aether
