stats: table, json, jsonl, prometheus, an atomic --output file.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether stats mem
metric                 l2
cold_codec             zstd-shuffle
format_version         6
dim                    16
hot_memories           100
warm_memories          0
cold_memories          200
warm_bytes             0
warm_capacity_bytes    0
hot_capacity           100
pinned_memories        0
hot_slots              100
hot_bytes              8032
cold_bytes             12283
cold_raw_bytes         14400
compression_ratio      1.172352031262721
cold_garbage_records   0
cold_garbage_bytes     0
cold_remote_shards     0
cold_remote_bytes      0
partitions             0
partition_min          0
partition_median       0
partition_max          0
staging_records        200
staging_fraction       1
garbage_fraction       0
default_nprobe         0
calibration_target     0
calibrated_recall      0
calibrated_std_error   0
calibration_queries    0
last_rebuild_seconds   0
index_generation       0
pending_migrations     0
oldest_pending_seconds 0
restore_queue_depth    0
temperature            1
pressure               0
memory_available       0.5
disk_free              0.5
disk_free_bytes        100000000000
pressure_level         normal

window                 all
hot_hit_rate           -
aether_ingested_total  300
aether_migrations_total{kind="ingest",outcome="committed"} 1

command                    runs   failed   busy     p50_ms     p95_ms     p99_ms
ingest                        1        0      0      3.750      4.875      4.975
$ aether stats mem --format json
{"calibrated_recall":0,"calibrated_std_error":0,"calibration_queries":0,"calibration_target":0,"cold_bytes":12283,"cold_codec":"zstd-shuffle","cold_garbage_bytes":0,"cold_garbage_records":0,"cold_memories":200,"cold_raw_bytes":14400,"cold_remote_bytes":0,"cold_remote_shards":0,"compression_ratio":1.172352031262721,"default_nprobe":0,"dim":16,"disk_free":0.5,"disk_free_bytes":100000000000,"format_version":6,"garbage_fraction":0,"hot_bytes":8032,"hot_capacity":100,"hot_memories":100,"hot_slots":100,"index_generation":0,"last_rebuild_seconds":0,"memory_available":0.5,"metric":"l2","metrics":{"commands":[{"command":"ingest","exit_codes":{"0":1},"p50_ms":3.75,"p95_ms":4.875,"p99_ms":4.975,"runs":1},{"command":"stats","exit_codes":{"0":1},"p50_ms":3.75,"p95_ms":4.875,"p99_ms":4.975,"runs":1}],"counters":[{"labels":{"command":"ingest","exit_code":"0"},"name":"aether_commands_total","value":1},{"labels":{"command":"stats","exit_code":"0"},"name":"aether_commands_total","value":1},{"labels":{},"name":"aether_ingested_total","value":300},{"labels":{"kind":"ingest","outcome":"committed"},"name":"aether_migrations_total","value":1}],"hot_hit_rate":null,"since_ms":0},"oldest_pending_seconds":0,"partition_max":0,"partition_median":0,"partition_min":0,"partitions":0,"pending_migrations":0,"pinned_memories":0,"pressure":0,"pressure_level":"normal","pressure_why":"","restore_queue_depth":0,"staging_fraction":1,"staging_records":200,"temperature":1,"warm_bytes":0,"warm_capacity_bytes":0,"warm_memories":0}
$ aether stats mem --format jsonl | cut -c 1-40
{"calibrated_recall":0,"calibrated_std_e
$ aether stats mem --format prometheus | sed -n 1,4p
# HELP aether_format_version On-disk format version of the store.
# TYPE aether_format_version gauge
aether_format_version 6
# HELP aether_dimension Vector dimension.
$ aether stats mem --format prometheus --output metrics.prom && grep -c '^aether_' metrics.prom && ls
84
mem
metrics.prom
$ AETHER_PRESSURE=memory=0.5,disk=0.03 aether stats mem | grep pressure
pressure               2
pressure_level         critical
pressure_why           disk_free 0.03 < 0.05 (critical)
$ AETHER_PRESSURE=memory=0.5,disk=0.03 aether check mem
problem: check_pressure_level: pressure critical: disk_free 0.03 < 0.05 (critical) (README "Pressure levels": what aether does at each level)
[exit 1]
$ aether stats mem --format yaml
aether: error: --format: yaml not in {table,json,jsonl,prometheus}; see 'aether stats --help'
[exit 64]
$ aether stats nowhere
aether: error: nowhere: no such store (see aether init)
[exit 66]
$ # aether check: ok, then a threshold crossed (4 ms searches against a 1 ms P99 budget)
$ aether check mem
ok
$ aether search mem --vector '[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5,1.6]' -k 1 --no-touch > /dev/null
$ aether config mem set check_search_p99_ms 1 -q
1
$ aether check mem
problem: check_search_p99_ms: search P99 4.975 ms (over 1 ms) since 1699996380000 ms
[exit 1]
$ aether check mem --format json
{"ok":false,"problems":[{"check":"check_search_p99_ms","message":"search P99 4.975 ms (over 1 ms) since 1699996380000 ms","threshold":1.0,"value":4.975}],"since_ms":1699996380000}
[exit 1]
$ aether check mem --since 5x
aether: error: --since 5x: expected N followed by s, m, h or d, or ms since the epoch
[exit 64]
$ aether stats mem --since 1h | tail -4
ingest                        1        0      0      3.750      4.875      4.975
search                        1        0      0      3.750      4.875      4.975
  --tier all                  -        -      -      3.750      4.875      4.975
stats                         6        0      0      3.750      4.875      4.975
