get: records as JSONL (json, table); a missing id is a negative answer.

$ printf '{"id":"a","vector":[0.5,-1.25],"payload":{"room":"lab"},"importance":0.75}\n{"id":"b","vector":[3,4]}\n' | aether ingest --create mem - --hot-capacity 1 -q
$ aether get mem a b
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]}
{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"cold","vector":[3.0,4.0]}
$ aether get mem a b --format json
[{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]},{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"cold","vector":[3.0,4.0]}]
$ aether get mem b a --format table
id  tier  importance  created_ms     last_access_ms  access_count  pattern    payload
b   cold  0.5         1700000000000  1700000000000   0             cold 0.00  -
a   hot   0.75        1700000000000  1700000000000   0             cold 0.00  {"room":"lab"}
$ aether get mem a nope
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]}
aether: not found: nope
[exit 1]
$ aether get mem nope
aether: not found: nope
[exit 1]
$ AETHER_STORE=mem aether get b
{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"cold","vector":[3.0,4.0]}
$ aether ingest --create pat "$TESTDATA/sample.jsonl" -q
$ for h in 1 2 3 4 5 6 7 8; do AETHER_NOW_MS=$((1700000000000 + h * 3600000)) aether search pat --vector '[-1.4123, -0.8626, -0.4407, 0.4643, -0.3332, 1.8895, -1.0493, -1.1533, 0.6761, 1.3089, 0.2031, 0.9673, 2.0135, -0.2694, -1.4527, -0.1798]' -k 1 --format jsonl > /dev/null; done
$ AETHER_NOW_MS=1700030000000 aether get pat mem-0000 mem-0001 --format table
id        tier  importance  created_ms     last_access_ms  access_count  pattern        payload
mem-0000  hot   0.179       1700000000000  1700028800000   8             periodic 1.00  {"room":"office","seen":0}
mem-0001  hot   0.058       1700000000000  1700000000000   0             cold 0.05      {"room":"kitchen","seen":1}
$ AETHER_NOW_MS=1700030000000 aether get pat mem-0000 | grep -o '"pattern":{[^}]*}'
"pattern":{"accesses":8,"confidence":1.0,"next_expected_ms":1700032400000,"pattern":"periodic","period_s":3600.0,"placement":{"action":"none","reason":"score"}
$ AETHER_NOW_MS=1700030000000 aether search pat --vector '[-1.4123, -0.8626, -0.4407, 0.4643, -0.3332, 1.8895, -1.0493, -1.1533, 0.6761, 1.3089, 0.2031, 0.9673, 2.0135, -0.2694, -1.4527, -0.1798]' -k 1 --explain --format jsonl
{"query":"0","results":[{"distance":0.0,"explain":{"access_count":8,"distance":0.0,"importance":0.179,"pattern":{"accesses":8,"confidence":1.0,"next_expected_ms":1700032400000,"pattern":"periodic","period_s":3600.0,"placement":{"action":"none","reason":"score"}},"recency_hours":0.3333333333333333,"score":2.0428912440028864},"id":"mem-0000","tier":"hot"}]}
$ AETHER_NOW_MS=1700300000000 aether get pat mem-0000 | grep -o '"pattern":{[^}]*}'
"pattern":{"accesses":9,"confidence":1.0,"pattern":"cold","placement":{"action":"demote","reason":"silent"}
$ AETHER_NOW_MS=1700030000000 aether descend pat mem-0000 -q
$ AETHER_NOW_MS=1700033000000 aether get pat mem-0000 | grep -o '"placement":{[^}]*}'
"placement":{"action":"promote","reason":"periodic"}
$ AETHER_NOW_MS=1700033000000 aether maintain pat --seed 1 --moves | grep -E 'by access pattern|pattern='
by access pattern: 1 read, 0 kept hot, 1 queued, 0 descended (0 more held: no room needed), 0 left to the score (below min_confidence)
move: mem-0000 cold->hot periodic score=1.64646 pattern=periodic confidence=1.00
$ AETHER_NOW_MS=1700033000000 aether history pat mem-0000 | grep placement | grep -o '"detail":{[^}]*}'
"detail":{"action":"promote","confidence":1,"next_expected_ms":1700033600000,"pattern":"periodic","reason":"periodic","score":1.6464617596607125}
$ AETHER_NOW_MS=1700033000000 aether get pat mem-0000 --format table
id        tier  importance  created_ms     last_access_ms  access_count  pattern        payload
mem-0000  hot   0.17721     1700000000000  1700030000000   9             periodic 1.00  {"room":"office","seen":0}
