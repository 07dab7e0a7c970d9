descend and ascend: by id, --all, --policy, the restore queue; plans and errors.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 300 -q
$ aether descend mem mem-0000 mem-0001 nope
aether: not found: nope
aether: descended 2 memories in 1 batches: 181 bytes, …s, … memories/s
[exit 1]
$ aether descend mem mem-0000
aether: already cold: mem-0000
aether: descended 0 memories in 0 batches: 0 bytes, …s, … memories/s
$ aether config mem set hot_capacity 295 -q
295
$ aether descend mem --limit 2 --policy --dry-run
id        from  to    reason  score
mem-0182  hot   cold  policy  0.005
mem-0209  hot   cold  policy  0.005
aether: dry run: 2 moves planned, nothing changed
$ aether descend mem --policy --dry-run --format jsonl
{"from":"hot","id":"mem-0182","reason":"policy","score":0.005,"to":"cold"}
{"from":"hot","id":"mem-0209","reason":"policy","score":0.005,"to":"cold"}
{"from":"hot","id":"mem-0028","reason":"policy","score":0.017,"to":"cold"}
aether: dry run: 3 moves planned, nothing changed
$ aether descend mem --policy --format json
{"already":[],"batches":1,"bytes":243,"deferred":[],"direction":"descend","dropped":[],"evicted":0,"moved":3,"not_found":[],"pinned":[],"rate":…,"seconds":…}
aether: descended 3 memories in 1 batches: 243 bytes, …s, … memories/s
$ aether ascend mem mem-0000 --format jsonl
aether: error: ascending 1 memories needs 1 free hot slots, but only 0 of the hot capacity 295 are free; use --evict to descend the lowest-scoring memories first, or raise the hot capacity
[exit 69]
$ aether ascend mem mem-0001
aether: error: ascending 1 memories needs 1 free hot slots, but only 0 of the hot capacity 295 are free; use --evict to descend the lowest-scoring memories first, or raise the hot capacity
[exit 69]
$ aether ascend mem mem-0001 --evict -q
$ aether ascend mem mem-0000 mem-0002 nope --enqueue --priority 2
aether: not found: nope
aether: already hot: mem-0002
aether: queued 1 memories for restore
[exit 1]
$ aether ascend mem --queued --evict --format json
{"already":[],"batches":2,"bytes":189,"deferred":[],"direction":"ascend","dropped":[],"evicted":1,"moved":2,"not_found":[],"pinned":[],"rate":…,"seconds":…}
aether: ascended 1 memories after descending 1 to make room in 2 batches: 189 bytes, …s, … memories/s
$ printf 'mem-0003\nmem-0004\n' | aether descend mem --ids-from - --format table
aether: descended 2 memories in 1 batches: 181 bytes, …s, … memories/s
$ aether descend mem --where 'payload.seen < 8 and payload.room == "kitchen"' --dry-run
id        from  to    reason  score
mem-0001  hot   cold  where   0.058
mem-0005  hot   cold  where   0.166
aether: dry run: 2 moves planned, nothing changed
$ AETHER_NOW_MS=1700172800000 aether descend mem --idle-longer-than 36h --order lru --limit 3 --dry-run
id        from  to    reason  score
mem-0001  hot   cold  idle    -47.942
mem-0000  hot   cold  idle    -47.821
mem-0002  hot   cold  idle    -47.688
aether: dry run: 3 moves planned, nothing changed
$ AETHER_NOW_MS=1700172800000 aether descend mem --older-than 1d --where 'payload.room == "kitchen"' --order age --limit 2 --dry-run --format jsonl
{"from":"hot","id":"mem-0001","reason":"where","score":-47.942,"to":"cold"}
{"from":"hot","id":"mem-0005","reason":"where","score":-47.834,"to":"cold"}
aether: dry run: 2 moves planned, nothing changed
$ AETHER_NOW_MS=1700172800000 aether descend mem --older-than 3d --dry-run
aether: dry run: 0 moves planned, nothing changed
$ aether descend mem --idle-longer-than 30
aether: error: --idle-longer-than 30: expected N followed by s, m, h or d (e.g. 30d), at most 10^12 ms
[exit 64]
$ aether descend mem --older-than 1d --all
aether: error: give ids, --all, --policy or a selection (--where, --idle-longer-than, --older-than) (exactly one)
[exit 64]
$ aether descend mem --all --order newest
aether: error: --order: newest not in {score,lru,age}; see 'aether descend --help'
[exit 64]
$ aether ascend mem --where 'payload.seen in [3, 4]' --format table
aether: ascended 2 memories in 1 batches: 160 bytes, …s, … memories/s
$ aether descend mem --all --policy
aether: error: give ids, --all, --policy or a selection (--where, --idle-longer-than, --older-than) (exactly one)
[exit 64]
$ aether ascend mem
aether: error: give ids, --queued or --where (exactly one)
[exit 64]
$ aether ascend mem --where 'payload.seen = 3'
aether: error: filter 'payload.seen = 3': at character 14, '=' (comparisons are written ==)
[exit 64]
