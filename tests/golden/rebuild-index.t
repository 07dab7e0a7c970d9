rebuild-index: dry run, a seeded build, the index in stats, edge cases.

$ aether init mem --dim 16 --hot-capacity 0 -q
$ aether rebuild-index mem
aether: the cold tier is empty: nothing to index
$ aether ingest mem "$TESTDATA/sample.jsonl" -q
$ aether rebuild-index mem --dry-run
aether: dry run: would index 300 cold memories into 69 partitions (training sample 300, 20 iterations)
$ aether rebuild-index mem --partitions 8 --seed 7 --format json
{"bytes_written":19080,"calibration":{"k":10,"nprobe":2,"queries":300,"recall":1.0,"seconds":…,"std_error":0.0,"target":0.95},"codec":"zstd-shuffle","codec_changed":false,"cold_memories":300,"cold_walks":1,"dry_run":false,"garbage_dropped":0,"generation":1,"iterations":20,"memory_bytes":…,"objective":399.39809799194336,"partitions":8,"sample":300,"seconds":…}
aether: built index generation 1: 300 cold memories in 8 partitions, 0 garbage records dropped, 19080 bytes, …s
aether: calibrated: nprobe 2 gives recall@10 1.0000 (+/- 0.0000) for target 0.95, measured with 300 held-out queries in …s
$ aether stats mem --format json | tr ',' '\n' | grep -E 'partition|nprobe|index_generation|staging_fraction'
"default_nprobe":2
"index_generation":1
"partition_max":56
"partition_median":38
"partition_min":12
"partitions":8
"staging_fraction":0
$ aether rebuild-index mem --partitions 1000 --seed 7
aether: --partitions 1000 is more than the 300 cold memories; using 300
aether: built index generation 2: 300 cold memories in 300 partitions, 0 garbage records dropped, 42296 bytes, …s
aether: calibrated: nprobe 11 gives recall@10 1.0000 (+/- 0.0000) for target 0.95, measured with 300 held-out queries in …s
$ aether stats mem --recall 20 --format json | tr ',' '\n' | grep recall
{"calibrated_recall":1
"recall_at_10":1
"recall_queries":20
$ aether search mem --queries "$TESTDATA/sample_queries.jsonl" -k 1 --no-touch --nprobe 2 | sed -n 1,2p
{"query":"q00","results":[{"distance":1.2040999,"id":"mem-0150","tier":"cold"}]}
{"query":"q01","results":[{"distance":1.1332489,"id":"mem-0131","tier":"cold"}]}
$ aether rebuild-index mem --iters 0
aether: error: --iters: Value 0 not in range 1 to 1000; see 'aether rebuild-index --help'
[exit 64]
