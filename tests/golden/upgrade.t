upgrade: a store an older aether wrote (format version 1), converted in place.

$ cp -R "$TESTDATA/stores/v1/store" old
$ aether upgrade old --dry-run --format json
{"codec":"zstd-shuffle","codec_before":"zstd","cold_bytes_sent":0,"cold_shards_sent":0,"cold_uri":"","cold_uri_before":"","dry_run":true,"format_version":6,"format_version_before":1,"frames":5,"frames_to_rewrite":5,"garbage_dropped":0,"pending_migrations":0,"rebuild":null,"records_to_rewrite":280,"replayed_at_open":0,"rewritten":false,"schema_changed_at_open":0,"schema_steps":["migrations: add the partitions and crc columns (journal checksums)","migration_items: add the kept_created_ms, kept_last_access_ms and kept_access_count columns (ingest --preserve-state)","add the index_calibration table (rebuild-index --target-recall)","add the memories_by_slot index","audit_log and migrations: add the trace_id columns (--trace-id)","add the metrics table (stats --since, aether check, Prometheus counters)","drop the memories_by_tier index (memories_by_slot serves its queries)","add the migration_blocks table (a migration's items packed in blocks)","add the audit_traces table and the audit_log.trace column (trace ids stored once)","memories: add the pinned column and the memories_pinned index (aether pin)","memories: add the access_times column (access patterns)","migration_items: add the kept_pinned and kept_access_times columns (ingest --preserve-state)","add the shards_by_generation index","config: add the store's ID (store_id; publish names its snapshots by it)","add the cold_objects table (a cold tier in a bucket)"],"up_to_date":false}
$ aether upgrade old
upgrade old:
  schema: migrations: add the partitions and crc columns (journal checksums)
  schema: migration_items: add the kept_created_ms, kept_last_access_ms and kept_access_count columns (ingest --preserve-state)
  schema: add the index_calibration table (rebuild-index --target-recall)
  schema: add the memories_by_slot index
  schema: audit_log and migrations: add the trace_id columns (--trace-id)
  schema: add the metrics table (stats --since, aether check, Prometheus counters)
  schema: drop the memories_by_tier index (memories_by_slot serves its queries)
  schema: add the migration_blocks table (a migration's items packed in blocks)
  schema: add the audit_traces table and the audit_log.trace column (trace ids stored once)
  schema: memories: add the pinned column and the memories_pinned index (aether pin)
  schema: memories: add the access_times column (access patterns)
  schema: migration_items: add the kept_pinned and kept_access_times columns (ingest --preserve-state)
  schema: add the shards_by_generation index
  schema: config: add the store's ID (store_id; publish names its snapshots by it)
  schema: add the cold_objects table (a cold tier in a bucket)
  format version: 1 -> 6
  cold codec: zstd -> zstd-shuffle
  cold tier: rewrote 5 of 5 frames (280 records) in zstd-shuffle: index generation 2, 277 cold memories, 3 garbage records dropped
$ aether verify old
ok: 336 memories, 60 hot slots (1 free), 4 frames, 277 cold records (0 garbage), 11947 bytes checked
$ aether upgrade old --format jsonl
{"codec":"zstd-shuffle","codec_before":"zstd-shuffle","cold_bytes_sent":0,"cold_shards_sent":0,"cold_uri":"","cold_uri_before":"","dry_run":false,"format_version":6,"format_version_before":6,"frames":4,"frames_to_rewrite":0,"garbage_dropped":0,"pending_migrations":0,"rebuild":null,"records_to_rewrite":0,"replayed_at_open":0,"rewritten":false,"schema_changed_at_open":0,"schema_steps":[],"up_to_date":true}
$ aether upgrade old --codec sq8 --dry-run
upgrade old (dry run: nothing changed):
  cold codec: zstd-shuffle -> sq8
  cold tier: would rewrite 4 of 4 frames (277 records) in sq8
$ aether upgrade old --codec sq8 --format json | jq -c '{format_version, codec, rewritten}'
{"format_version":6,"codec":"sq8","rewritten":true}
$ aether stats old --format json | jq -c '{format_version, cold_codec}'
{"format_version":6,"cold_codec":"sq8"}
$ aether upgrade nothing
aether: error: nothing: no such store (see aether init)
[exit 66]
$ aether upgrade old --codec lz4
aether: error: --codec: lz4 not in {zstd-shuffle,zstd,float16,sq8,float32}; see 'aether upgrade --help'
[exit 64]
