pin and unpin: memories kept hot whatever the policy.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 5 -q
$ aether list mem --tier hot --ids-only
mem-0000
mem-0001
mem-0002
mem-0003
mem-0004
$ aether pin mem mem-0000 mem-0299 nope
mem-0000
mem-0299
aether: not found: nope
aether: pinned 2 memories (1 ascended first, 1 descended to make room)
[exit 1]
$ aether pin mem mem-0000 --format json
{"already":["mem-0000"],"ascended":0,"dry_run":false,"evicted":0,"moves":[],"not_found":[],"pinned":[]}
aether: already pinned: mem-0000
aether: pinned 0 memories
$ aether list mem --where 'pinned == true'
{"access_count":0,"created_ms":1700000000000,"id":"mem-0000","importance":0.179,"last_access_ms":1700000000000,"pinned":true,"tier":"hot"}
{"access_count":0,"created_ms":1700000000000,"id":"mem-0299","importance":0.475,"last_access_ms":1700000000000,"pinned":true,"tier":"hot"}
$ aether get mem mem-0299 --format jsonl | grep -o '"pinned":true'
"pinned":true
$ aether descend mem --all
aether: pinned, kept hot: mem-0000
aether: pinned, kept hot: mem-0299
aether: descended 3 memories in 1 batches: 243 bytes, …s, … memories/s
$ aether descend mem mem-0299 mem-0003
aether: already cold: mem-0003
aether: pinned, kept hot: mem-0299 (aether unpin first)
aether: descended 0 memories in 0 batches: 0 bytes, …s, … memories/s
[exit 1]
$ aether pin mem mem-0001 mem-0002 --dry-run
mem-0001
mem-0002
aether: dry run: 2 memories would be pinned (2 moves planned), nothing changed
$ aether pin mem mem-0010 mem-0011 mem-0012 mem-0013
aether: error: pinning 4 more memories would pin 6, more than the hot capacity 5; raise it (aether config STORE set hot_capacity N) or unpin some (aether unpin)
[exit 69]
$ aether config mem set hot_capacity 1
aether: error: the hot capacity would be 1 memories, below the 2 pinned; unpin some first (aether unpin)
[exit 69]
$ aether stats mem --format json | grep -o '"pinned_memories":[0-9]*'
"pinned_memories":2
$ aether unpin mem mem-0299 mem-0005 --format json
{"already":["mem-0005"],"dry_run":false,"not_found":[],"unpinned":["mem-0299"]}
aether: not pinned: mem-0005
aether: unpinned 1 memories
$ aether pin mem
aether: error: give ids (or --ids-from FILE)
[exit 64]
