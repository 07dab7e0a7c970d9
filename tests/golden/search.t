search: one query or a batch; jsonl, json and table output; errors.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' -k 3 --no-touch
{"query":"0","results":[{"distance":2.1137197,"id":"mem-0052","tier":"hot"},{"distance":2.536756,"id":"mem-0297","tier":"cold"},{"distance":2.6173155,"id":"mem-0140","tier":"cold"}]}
$ aether search mem --queries "$TESTDATA/sample_queries.jsonl" -k 2 --no-touch --format table | sed -n 1,5p
query        rank  id                           distance  tier
q00             1  mem-0150                       1.2041  cold
q00             2  mem-0061                      1.24765  hot
q01             1  mem-0131                      1.13325  cold
q01             2  mem-0264                      1.48612  cold
$ head -2 "$TESTDATA/sample_queries.jsonl" | aether search mem --queries - -k 1 --no-touch --format json
[{"query":"q00","results":[{"distance":1.2040999,"id":"mem-0150","tier":"cold"}]},{"query":"q01","results":[{"distance":1.1332489,"id":"mem-0131","tier":"cold"}]}]
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' -k 1 --with-payload --explain --tier hot
{"query":"0","results":[{"distance":2.1137197,"explain":{"access_count":0,"distance":2.1137197,"importance":0.54,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"recency_hours":0.0,"score":0.54},"id":"mem-0052","payload":{"room":"kitchen","seen":52},"tier":"hot"}]}
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' -k 3 --no-touch --with-payload --where 'payload.room == "kitchen" and payload.seen < 100'
{"query":"0","results":[{"distance":2.1137195,"id":"mem-0052","payload":{"room":"kitchen","seen":52},"tier":"hot"},{"distance":2.6754646,"id":"mem-0075","payload":{"room":"kitchen","seen":75},"tier":"hot"},{"distance":2.7804546,"id":"mem-0001","payload":{"room":"kitchen","seen":1},"tier":"hot"}]}
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' -k 2 --no-touch --where 'tier == "cold"' --where-plan scan --format table
query        rank  id                           distance  tier
0               1  mem-0297                      2.53676  cold
0               2  mem-0140                      2.61732  cold
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' --where 'payload.room = "kitchen"'
aether: error: filter 'payload.room = "kitchen"': at character 14, '=' (comparisons are written ==)
[exit 64]
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' --where-plan exact
aether: error: --where-plan requires --where; see 'aether search --help'
[exit 64]
$ aether search mem --vector '[1,0]'
aether: error: --vector: vector has 2 values, store dimension is 16
[exit 65]
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' --queries q.jsonl
aether: error: give exactly one of --vector or --queries
[exit 64]
$ printf '{"id":"q","vector":[1,2]}\n' | aether search mem --queries -
aether: error: <stdin>:1: vector has 2 values, store dimension is 16
[exit 65]
$ aether search nowhere --vector '[1]'
aether: error: nowhere: no such store (see aether init)
[exit 66]
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' -k 1 --no-touch --timeout 60000
{"query":"0","results":[{"distance":2.1137195,"id":"mem-0052","tier":"hot"}]}
$ aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' --timeout -5
aether: error: --timeout: Value -5 not in range 0 to 3600000; see 'aether search --help'
[exit 64]
$ AETHER_SCAN_DELAY_MS=0 aether search mem --vector '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'
aether: error: AETHER_SCAN_DELAY_MS=0: expected MS in 1..60000 (see man aether, ENVIRONMENT)
[exit 64]
