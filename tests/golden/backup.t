backup: a consistent copy, incremental links, refusals.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether rebuild-index mem --partitions 4 -q
$ aether backup mem b1
backup b1: 300 memories; 9 files copied (156071 bytes), 0 linked (0 bytes)
$ aether verify b1
ok: 300 memories, 100 hot slots (0 free), 4 frames, 200 cold records (0 garbage), 20555 bytes checked
$ aether backup mem b2 --incremental b1 --format json
{"bytes_copied":143224,"bytes_linked":12847,"dest":"b2","files_copied":3,"files_linked":6,"memories":300}
$ aether ingest mem "$TESTDATA/sample.jsonl" --on-duplicate replace -q
$ aether backup mem b3 --incremental b2 --format jsonl
{"bytes_copied":163347,"bytes_linked":12815,"dest":"b3","files_copied":4,"files_linked":5,"memories":300}
$ aether backup mem b3
aether: error: b3: already an aether store
[exit 73]
$ aether backup mem missing/b4
aether: error: missing: no such directory (backup makes DEST, not its parents)
[exit 66]
$ aether backup mem b4 --incremental mem/cold
aether: error: mem/cold: --incremental: not an aether store
[exit 64]
$ AETHER_STORE=mem aether backup b1
aether: error: 'b1' is a store, but this command's store is 'mem' (from AETHER_STORE), so it would be taken as the dest; to act on 'b1', give it as the store (--store, or unset AETHER_STORE)
[exit 64]
