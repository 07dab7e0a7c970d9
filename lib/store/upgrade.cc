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
#include <set>

#include "aether/store.h"
#include "env/fault_point.h"
#include "meta/schema.h"
#include "objstore/s3_settings.h"
#include "store/cold_tier.h"
#include "store/store_impl.h"

namespace aether {

namespace {

struct FrameCount {
  uint64_t frames = 0, other = 0, other_records = 0;
};

// Every committed frame's header: how many frames there are, and how many
// (and their records) are in a codec other than `codec`. Warm frames are in
// the warm codec whatever the cold one: a frame that holds a live warm
// memory never counts as other. (A warm frame of only garbage does, like
// any frame of an old codec: the rewrite drops it.)
Result<FrameCount> CountFrames(StoreImpl* s, ColdCodec codec) {
  FrameCount n;
  std::set<std::pair<int64_t, int64_t>> warm;  // (shard, frame offset) of the warm memories
  AETHER_RETURN_IF_ERROR(s->tables_->memories.ForEachInShards([&](int64_t, const Place& p) {
    if (p.warm()) warm.emplace(p.shard_id, p.frame_offset);
  }));
  AETHER_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, s->tables_->shards.All());
  for (const ShardInfo& shard : shards) {
    if (shard.file_bytes <= ShardFile::kHeaderSize) continue;
    AETHER_ASSIGN_OR_RETURN(auto file, ShardFile::Open(s->env_, s->Path(shard.path), s->config_.dim, false));
    AETHER_RETURN_IF_ERROR(file->ScanHeaders(shard.file_bytes, [&](uint64_t off, const FrameHeader& h) {
      ++n.frames;
      if (h.codec != uint32_t(codec) && !warm.count({shard.shard_id, int64_t(off)})) {
        ++n.other;
        n.other_records += h.count;
      }
      return Status::Ok();
    }));
  }
  return n;
}

}  // namespace

uint32_t FormatVersionAfter(uint32_t current, ColdCodec codec) { return std::max(current, FormatVersionFor(codec)); }

Status StoreImpl::SetCodec(ColdCodec codec) {
  const uint32_t version = FormatVersionAfter(format_version_, codec);
  AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&]() -> Status {
    AETHER_RETURN_IF_ERROR(tables_->config.Set("cold_codec", ColdCodecName(codec)));
    return tables_->config.Set("format_version", std::to_string(version));
  }));
  config_.codec = codec;
  format_version_ = version;
  return tables_->audit_log.UseFormat(version);
}

Result<UpgradeReport> StoreImpl::Upgrade(const UpgradeOptions& o) {
  if (!o.dry_run && !lock_->writer()) return Status::Internal("upgrade on a store opened read-only");
  UpgradeReport rep;
  rep.version_before = format_version_;
  rep.codec_before = config_.codec;
  // A version-1 store's codec is plain zstd only because it predates the
  // key: it gets what a new store gets, unless told otherwise.
  rep.codec_after = o.codec ? *o.codec : (format_version_ < 2 ? ColdCodec::kZstdShuffle : config_.codec);
  rep.version_after = FormatVersionAfter(format_version_, rep.codec_after);
  rep.cold_uri_before = config_.cold_uri;
  rep.cold_uri_after = o.cold_uri.empty() ? config_.cold_uri : o.cold_uri;
  if (!config_.cold_uri.empty() && rep.cold_uri_after != config_.cold_uri)
    return Status::FailedPrecondition(fmt::format(
        "{}: its cold tier is in {}; moving it to another bucket prefix is not supported", dir_, config_.cold_uri));
  if (!o.cold_uri.empty()) AETHER_RETURN_IF_ERROR(ParseS3Uri(o.cold_uri).status());
  // What the open did (as every command's open does), reported once.
  rep.replayed_at_open = migrator_->replayed().size();
  rep.schema_steps.swap(schema_upgraded_);
  rep.schema_changed_at_open = rep.schema_steps.size();
  if (o.dry_run) {
    AETHER_ASSIGN_OR_RETURN(std::vector<std::string> pending, PendingSchemaUpgrades(db_.get()));
    rep.schema_steps.insert(rep.schema_steps.end(), pending.begin(), pending.end());
    AETHER_ASSIGN_OR_RETURN(rep.pending_migrations, Journal(db_.get()).Count());
  }
  if (o.progress) o.progress("read", 0, 0);
  AETHER_ASSIGN_OR_RETURN(FrameCount frames, CountFrames(this, rep.codec_after));
  rep.frames = frames.frames;
  rep.frames_to_rewrite = frames.other;
  rep.records_to_rewrite = frames.other_records;
  if (o.dry_run) return rep;

  // A new cold tier's prefix is checked before anything commits: an
  // unreachable bucket, or a prefix that is another store's, fails the
  // upgrade with the store as it was.
  std::string store_id, tier;
  bool new_tier = false;  // no ID an upgrade killed earlier recorded
  if (rep.cold_uri_after != config_.cold_uri) {
    AETHER_ASSIGN_OR_RETURN(store_id, tables_->config.Require("store_id"));
    AETHER_ASSIGN_OR_RETURN(std::optional<std::string> made, tables_->config.Get("cold_tier_id"));
    new_tier = !made || made->empty();
    if (new_tier) {
      AETHER_ASSIGN_OR_RETURN(tier, NewRandomId());
    } else {
      tier = *made;
    }
    AETHER_RETURN_IF_ERROR(ClaimColdPrefix(rep.cold_uri_after, o.s3, store_id, tier, /*check_only=*/true));
  }
  if (rep.version_after != format_version_ || rep.codec_after != config_.codec) {
    AETHER_RETURN_IF_ERROR(SetCodec(rep.codec_after));
    AETHER_FAULT_POINT("upgrade.after_config");
  }
  if (rep.cold_uri_after != config_.cold_uri) {
    // The tier's ID is recorded first (or kept: an upgrade killed before
    // naming the prefix made it), then the prefix claimed for it, then
    // named: killed at any point, upgrade run again finds the marker its
    // own and finishes.
    if (new_tier)
      AETHER_RETURN_IF_ERROR(InTransaction(db_.get(), [&] { return tables_->config.Set("cold_tier_id", tier); }));
    AETHER_RETURN_IF_ERROR(ClaimColdPrefix(rep.cold_uri_after, o.s3, store_id, tier));
    AETHER_FAULT_POINT("cold.after_claim");
    AETHER_RETURN_IF_ERROR(
        InTransaction(db_.get(), [&] { return tables_->config.Set("cold_uri", rep.cold_uri_after); }));
    config_.cold_uri = rep.cold_uri_after;  // the next open reads the tier through the bucket
  }
  if (frames.other == 0) return rep;
  // From here the config names the new codec: a failure leaves frames of
  // the old one, which read as before, and `upgrade` run again finishes.
  const auto rewriting = [&](const Status& s) {
    return s.WithContext(
        fmt::format("upgrade: rewriting the cold tier in {} (the store is format version {} with "
                    "that codec now; run upgrade again to finish)",
                    ColdCodecName(rep.codec_after), rep.version_after));
  };
  // Shards of only garbage are cut to their headers (a rebuild finds no
  // live memory in them to rewrite), then the rest is rewritten.
  uint64_t emptied_shards = 0, emptied_records = 0;
  AETHER_RETURN_IF_ERROR(rewriting(EmptyGarbageOnlyShards(&emptied_shards, &emptied_records)));
  // Nothing emptied: the frames counted above are still all there.
  Result<FrameCount> left = emptied_shards ? CountFrames(this, rep.codec_after) : Result<FrameCount>(frames);
  AETHER_RETURN_IF_ERROR(rewriting(left.status()));
  if (left->other > 0) {
    Result<RebuildOptions> r = RewriteOptions();
    AETHER_RETURN_IF_ERROR(rewriting(r.status()));
    r->progress = o.progress;
    Result<RebuildReport> rebuilt = RebuildIndex(*r);
    AETHER_RETURN_IF_ERROR(rewriting(rebuilt.status()));
    rep.rebuild = *rebuilt;
  }
  rep.rebuild.garbage_dropped += emptied_records;
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
