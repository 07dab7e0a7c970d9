stats: table, json, jsonl, prometheus, an atomic --output file.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether stats mem
metric                 l2
cold_codec             zstd-shuffle
format_version         2
dim                    16
hot_memories           100
cold_memories          200
hot_capacity           100
hot_slots              100
hot_bytes              8032
cold_bytes             12283
cold_raw_bytes         14400
compression_ratio      1.172352031262721
cold_garbage_records   0
cold_garbage_bytes     0
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
restore_queue_depth    0
temperature            1
$ aether stats mem --format json
{"calibrated_recall":0,"calibrated_std_error":0,"calibration_queries":0,"calibration_target":0,"cold_bytes":12283,"cold_codec":"zstd-shuffle","cold_garbage_bytes":0,"cold_garbage_records":0,"cold_memories":200,"cold_raw_bytes":14400,"compression_ratio":1.172352031262721,"default_nprobe":0,"dim":16,"format_version":2,"garbage_fraction":0,"hot_bytes":8032,"hot_capacity":100,"hot_memories":100,"hot_slots":100,"index_generation":0,"last_rebuild_seconds":0,"metric":"l2","partition_max":0,"partition_median":0,"partition_min":0,"partitions":0,"pending_migrations":0,"restore_queue_depth":0,"staging_fraction":1,"staging_records":200,"temperature":1}
$ aether stats mem --format jsonl | head -c 40; echo
{"calibrated_recall":0,"calibrated_std_e
$ aether stats mem --format prometheus | head -4
# HELP aether_format_version On-disk format version of the store.
# TYPE aether_format_version gauge
aether_format_version 2
# HELP aether_dimension Vector dimension.
$ aether stats mem --format prometheus --output metrics.prom && grep -c '^aether_' metrics.prom && ls
29
mem
metrics.prom
$ aether stats mem --format yaml
aether: error: --format: yaml not in {table,json,jsonl,prometheus}; see 'aether stats --help'
[exit 64]
$ aether stats nowhere
aether: error: nowhere: no such store (see aether init)
[exit 66]
