feedback, maintain, config, history: the memory dynamics.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 250 -q
$ aether feedback mem mem-0000 1
aether: applied 1 rewards
$ aether feedback mem mem-0000 2
aether: error: reward '2' is not a number in [0, 1]
[exit 65]
$ printf '{"id":"mem-0001","reward":0}\n{"id":"nope","reward":1}\n' | aether feedback mem --file - --format json
{"applied":1,"not_found":["nope"]}
aether: <stdin>:2: unknown id 'nope' (skipped)
aether: applied 1 rewards
[exit 1]
$ printf '{"id":"mem-0001"}\n' | aether feedback mem --file -
aether: error: <stdin>:1: expected {"id": string, "reward": number in [0, 1]}
[exit 65]
$ aether get mem mem-0000 mem-0001 --format table
id        tier  importance  created_ms     last_access_ms  access_count  pattern    payload
mem-0000  hot   0.3432      1700000000000  1700000000000   0             cold 0.00  {"room":"office","seen":0}
mem-0001  hot   0.0464      1700000000000  1700000000000   0             cold 0.00  {"room":"kitchen","seen":1}
$ aether config mem get sample_rate
0.1
$ aether config mem get sample_rate --format json
{"sample_rate":0.1}
$ aether config mem set sample_rate 0.5 --format jsonl
{"key":"sample_rate","value":0.5}
$ aether config mem set sample_rate 2
aether: error: sample_rate = 2 is outside [0, 1]
[exit 64]
$ aether config mem set colour 1
aether: error: unknown config key 'colour' (keys: alpha, beta, gamma, delta, sigmoid_k, min_temperature, max_temperature, decay_rate, pressure_scale, pressure_queue_depth, pressure_hot_warning, pressure_hot_critical, pressure_hot_emergency, pressure_memory_warning, pressure_memory_critical, pressure_memory_emergency, pressure_disk_warning, pressure_disk_critical, pressure_disk_emergency, pressure_disk_bytes_warning, pressure_disk_bytes_critical, pressure_disk_bytes_emergency, pressure_emergency_descend, sample_rate, max_candidates, importance_decay, restore_concurrency, restore_top_n, backoff_base_ms, backoff_max_ms, max_retries, hot_capacity, hot_capacity_bytes, warm_capacity_bytes, cold_local_bytes, cold_cache_bytes, history_retention_days, tick_seconds, restore_queue_max, hot_low_watermark, idle_descend_hours, max_hot_idle_hours, max_hot_age_hours, enforce_capacity, pattern_placement, min_confidence, pattern_lead_seconds, burst_idle_minutes, decay_half_lives, ingest_evict, hot_compact_slack, cold_garbage_max, search_timeout_ms, metrics_keep_days, check_window_s, check_pending_age_s, check_garbage_fraction, check_restore_queue_depth, check_search_p99_ms, check_failed_migrations, check_pressure_level, check_damage_found)
[exit 64]
$ aether config mem preset conservative --format table | sed -n 1,4p
key                            value
alpha                          1
backoff_base_ms                60000
backoff_max_ms                 3600000
$ aether maintain mem --seed 1 --dry-run
temperature 1 -> 1
importance decayed on 0 memories
candidates: 5 hot, 2 cold
hot -> cold: 2 sampled, 0 over capacity, 0 evicted for restores
cold -> hot: 1 queued, 1 restored, 0 deferred, 0 dropped
restore queue 0 -> 0; hot 249/250
plan: mem-0059 hot->cold sampled score=0.082
plan: mem-0061 hot->cold sampled score=0.313
plan: mem-0298 cold->hot queued score=0.383
plan: mem-0298 cold->hot restore score=0
$ aether maintain mem --seed 1 --format json
{"cold_candidates":2,"cold_rewritten":0,"deferred":0,"demoted_to":"cold","descended_age":0,"descended_capacity":0,"descended_pattern":0,"descended_pressure":0,"descended_sampled":2,"descended_warm":0,"dropped":0,"dry_run":false,"evicted_for_restore":0,"garbage_dropped":0,"history_pruned":0,"hot":249,"hot_candidates":5,"hot_capacity":250,"hot_slots_cut":0,"hot_slots_moved":0,"importance_decayed":0,"partitions_rewritten":0,"pattern_held":0,"pattern_kept":0,"pattern_low_confidence":0,"pattern_queued":0,"pattern_read":0,"pressure":false,"pressure_level":"normal","pressure_why":"","promotions_paused":false,"queue_depth_after":0,"queue_depth_before":0,"queued":1,"restored":1,"seed":1,"shards_emptied":0,"temperature_after":1.0,"temperature_before":1.0,"ticks":0.0,"unstaged":0}
$ aether history mem --format table
seq  ts_ms          kind      id                          trace_id  detail
1    1700000000000  feedback  mem-0000                    golden    {"from":0.179,"reward":1,"to":0.3432}
2    1700000000000  feedback  mem-0001                    golden    {"from":0.058,"reward":0,"to":0.046400000000000004}
3    1700000000000  config    sample_rate                 golden    {"by":"set","from":0.1,"to":0.5}
4    1700000000000  config    burst_idle_minutes          golden    {"by":"preset conservative","from":30,"to":30}
5    1700000000000  config    decay_half_lives            golden    {"by":"preset conservative","from":3,"to":3}
6    1700000000000  config    decay_rate                  golden    {"by":"preset conservative","from":0.95,"to":0.98}
7    1700000000000  config    enforce_capacity            golden    {"by":"preset conservative","from":1,"to":1}
8    1700000000000  config    importance_decay            golden    {"by":"preset conservative","from":0.99,"to":0.995}
9    1700000000000  config    ingest_evict                golden    {"by":"preset conservative","from":1,"to":1}
10   1700000000000  config    max_candidates              golden    {"by":"preset conservative","from":1000,"to":100}
11   1700000000000  config    max_hot_age_hours           golden    {"by":"preset conservative","from":0,"to":0}
12   1700000000000  config    max_hot_idle_hours          golden    {"by":"preset conservative","from":0,"to":0}
13   1700000000000  config    min_confidence              golden    {"by":"preset conservative","from":0.7,"to":0.85}
14   1700000000000  config    min_temperature             golden    {"by":"preset conservative","from":0.05,"to":0.01}
15   1700000000000  config    pattern_lead_seconds        golden    {"by":"preset conservative","from":900,"to":900}
16   1700000000000  config    pattern_placement           golden    {"by":"preset conservative","from":1,"to":1}
17   1700000000000  config    pressure_emergency_descend  golden    {"by":"preset conservative","from":0.1,"to":0.05}
18   1700000000000  config    restore_concurrency         golden    {"by":"preset conservative","from":100,"to":10}
19   1700000000000  config    restore_top_n               golden    {"by":"preset conservative","from":3,"to":1}
20   1700000000000  config    sample_rate                 golden    {"by":"preset conservative","from":0.5,"to":0.02}
21   1700000000000  config    sigmoid_k                   golden    {"by":"preset conservative","from":1,"to":0.5}
22   1700000000000  descend   mem-0059                    golden    {"from":"hot","to":"cold"}
23   1700000000000  descend   mem-0061                    golden    {"from":"hot","to":"cold"}
24   1700000000000  ascend    mem-0298                    golden    {"from":"cold","to":"hot"}
25   1700000000000  maintain                              golden    {"descended":2,"queued":1,"restored":1,"seed":1,"temperature":1}
$ aether history mem mem-0000
{"detail":{"from":0.179,"reward":1,"to":0.3432},"id":"mem-0000","kind":"feedback","seq":1,"trace_id":"golden","ts_ms":1700000000000}
$ aether maintain mem --seed 5 --moves --trace-id cron-tick-2 --log-format json
temperature 1 -> 1
importance decayed on 0 memories
candidates: 2 hot, 2 cold
hot -> cold: 0 sampled, 0 over capacity, 1 evicted for restores
cold -> hot: 2 queued, 2 restored, 0 deferred, 0 dropped
restore queue 0 -> 0; hot 250/250
move: mem-0265 cold->hot queued score=0.138
move: mem-0299 cold->hot queued score=0.475
move: mem-0182 hot->cold evict score=0.005
move: mem-0299 cold->hot restore score=0
move: mem-0265 cold->hot restore score=0
$ aether history mem --trace-id cron-tick-2 --format table
seq  ts_ms          kind      id        trace_id     detail
26   1700000000000  descend   mem-0182  cron-tick-2  {"from":"hot","to":"cold"}
27   1700000000000  ascend    mem-0299  cron-tick-2  {"from":"cold","to":"hot"}
28   1700000000000  ascend    mem-0265  cron-tick-2  {"from":"cold","to":"hot"}
29   1700000000000  maintain            cron-tick-2  {"descended":0,"queued":2,"restored":2,"seed":5,"temperature":1}
$ aether delete mem mem-0000 nope --trace-id agent-7/step-3 --log-format json
! {"command":"delete","level":"warning","message":"not found: nope","pid":…,"time":"…","trace_id":"agent-7/step-3"}
! {"command":"delete","level":"info","message":"deleted 1 memories","pid":…,"time":"…","trace_id":"agent-7/step-3"}
[exit 1]
$ aether config mem get
key                            value
alpha                          1
backoff_base_ms                60000
backoff_max_ms                 3600000
beta                           1
burst_idle_minutes             30
check_damage_found             1
check_failed_migrations        1
check_garbage_fraction         0.5
check_pending_age_s            600
check_pressure_level           2
check_restore_queue_depth      5000
check_search_p99_ms            1000
check_window_s                 3600
cold_cache_bytes               1073741824
cold_garbage_max               0.25
cold_local_bytes               1073741824
decay_half_lives               3
decay_rate                     0.98
delta                          0
enforce_capacity               1
gamma                          1
history_retention_days         90
hot_capacity                   250
hot_capacity_bytes             0
hot_compact_slack              256
hot_low_watermark              0.8
idle_descend_hours             168
importance_decay               0.995
ingest_evict                   1
max_candidates                 100
max_hot_age_hours              0
max_hot_idle_hours             0
max_retries                    5
max_temperature                4
metrics_keep_days              90
min_confidence                 0.85
min_temperature                0.01
pattern_lead_seconds           900
pattern_placement              1
pressure_disk_bytes_critical   0
pressure_disk_bytes_emergency  0
pressure_disk_bytes_warning    0
pressure_disk_critical         0.05
pressure_disk_emergency        0.02
pressure_disk_warning          0.1
pressure_emergency_descend     0.05
pressure_hot_critical          1.1
pressure_hot_emergency         1.5
pressure_hot_warning           1
pressure_memory_critical       0.08
pressure_memory_emergency      0.04
pressure_memory_warning        0.15
pressure_queue_depth           100
pressure_scale                 1.5
restore_concurrency            10
restore_queue_max              10000
restore_top_n                  1
sample_rate                    0.02
search_timeout_ms              0
sigmoid_k                      0.5
tick_seconds                   300
warm_capacity_bytes            0
