verify: a clean store, then damage named by file and offset.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether verify mem
ok: 300 memories, 100 hot slots (0 free), 1 frames, 200 cold records (0 garbage), 20283 bytes checked
$ aether verify mem --format json
{"bytes_checked":20283,"cold_records":200,"frames":1,"free_slots":0,"garbage_records":0,"hot_slots":100,"memories":300,"ok":true,"problems":[]}
$ printf 'X' | dd of=mem/cold/staging.shard bs=1 seek=100 conv=notrunc 2>/dev/null
$ aether verify mem > report.txt; echo "exit $?"; head -3 report.txt; tail -1 report.txt
exit 1
problem: mem/cold/staging.shard: frame at offset 32: frame checksum mismatch
problem: memory 'mem-0100' (row 101): not found in shard 1 frame at offset 32 index 0
problem: memory 'mem-0101' (row 102): not found in shard 1 frame at offset 32 index 1
201 problems: 300 memories, 100 hot slots (0 free), 0 frames, 0 cold records (0 garbage), 20283 bytes checked
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' --no-touch --tier cold -k 1
aether: error: mem/cold/staging.shard: frame at offset 32: frame checksum mismatch
[exit 79]
