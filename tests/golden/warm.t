warm: the third tier, between hot and cold (README "The warm tier").

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether descend mem mem-0001 mem-0002 mem-0003 --to warm --dry-run
id        from  to    reason     score
mem-0001  hot   warm  requested  0.058
mem-0002  hot   warm  requested  0.312
mem-0003  hot   warm  requested  0.669
aether: dry run: 3 moves planned, nothing changed
$ aether descend mem mem-0001 mem-0002 mem-0003 --to warm
aether: descended 3 memories in 1 batches: 244 bytes, …s, … memories/s
$ aether ascend mem mem-0100 mem-0101 --to warm --format json
{"already":[],"batches":1,"bytes":172,"deferred":[],"direction":"ascend","dropped":[],"evicted":0,"moved":2,"not_found":[],"pinned":[],"rate":…,"seconds":…}
aether: ascended 2 memories in 1 batches: 172 bytes, …s, … memories/s
$ aether list mem --tier warm --ids-only
mem-0001
mem-0002
mem-0003
mem-0100
mem-0101
$ aether stats mem | grep -E 'memories|warm'
hot_memories           97
warm_memories          5
cold_memories          198
warm_bytes             360
warm_capacity_bytes    0
pinned_memories        0
$ aether search mem --vector '[0.1,-0.3,0.5,0.1,-0.2,0.4,0.2,-0.1,0.3,0,0.1,-0.4,0.2,0.1,-0.1,0.3]' -k 3 --tier warm --no-touch --format table
query        rank  id                           distance  tier
0               1  mem-0001                      3.16911  warm
0               2  mem-0002                      3.49509  warm
0               3  mem-0101                       3.7218  warm
$ aether descend mem mem-0001 mem-0100 --to warm
aether: already warm or cold: mem-0001
aether: already warm or cold: mem-0100
aether: descended 0 memories in 0 batches: 0 bytes, …s, … memories/s
$ aether descend mem mem-0001
aether: descended 1 memories in 1 batches: 109 bytes, …s, … memories/s
$ aether ascend mem mem-0002 mem-0100
aether: ascended 2 memories in 1 batches: 160 bytes, …s, … memories/s
$ aether history mem mem-0001 --format table | cut -c 1-80
seq  ts_ms          kind     id        trace_id  detail
1    1700000000000  descend  mem-0001  golden    {"from":"hot","to":"warm"}
6    1700000000000  descend  mem-0001  golden    {"from":"warm","to":"cold"}
$ aether descend mem mem-0004 --to hot
aether: error: --to: hot not in {warm,cold}; see 'aether descend --help'
[exit 64]
$ aether ascend mem --queued --to warm
aether: error: --queued and --evict ascend to hot (the restore queue, the hot tier's room)
[exit 64]
$ aether export mem --tier warm | cut -c 1-40
{"id":"mem-0003","vector":[-0.913,-0.554
{"id":"mem-0101","vector":[-0.3169,-0.13
aether: exported 2 memories
$ aether config mem set warm_capacity_bytes 72 && aether config mem set hot_capacity 95 && aether config mem set sample_rate 0
72
95
0
$ aether maintain mem --seed 1 | grep -E 'hot ->|warm ->'
hot -> warm: 0 sampled, 4 over capacity, 0 evicted for restores
warm -> cold: 5 over warm capacity
$ aether stats mem | grep -E 'memories|warm'
hot_memories           95
warm_memories          1
cold_memories          204
warm_bytes             72
warm_capacity_bytes    72
pinned_memories        0
aether_search_results_total{tier="warm"} 3
  --tier warm                 -        -      -      3.750      4.875      4.975
$ aether verify mem
ok: 300 memories, 100 hot slots (5 free), 6 frames, 215 cold records (10 garbage), 21102 bytes checked
$ cp -R "$TESTDATA/stores/v3-sq8/store" old
$ aether descend old m207 --to warm
aether: error: the warm tier needs store format version 5, and this store is version 3: run aether upgrade STORE first (an aether older than the warm tier then refuses the store)
[exit 69]
$ printf '{"id":"new-1","vector":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}\n' | aether ingest mem -
aether: ingested 1 memories (1 hot, 0 cold; 1 older hot memories descended to make room (to the warm tier)) from 1 lines in …s; 0 duplicates skipped, 0 replaced, 0 invalid lines skipped
$ aether rebuild-index mem --partitions 4 --seed 1
aether: built index generation 1: 206 memories (204 cold, 2 warm) in 4 partitions, 10 garbage records dropped, 12891 bytes, …s
aether: calibrated: nprobe 1 gives recall@10 1.0000 (+/- 0.0000) for target 0.95, measured with 206 held-out queries in …s
