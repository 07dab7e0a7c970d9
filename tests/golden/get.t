get: records as JSONL (json, table); a missing id is a negative answer.

$ printf '{"id":"a","vector":[0.5,-1.25],"payload":{"room":"lab"},"importance":0.75}\n{"id":"b","vector":[3,4]}\n' | aether ingest --create mem - --hot-capacity 1 -q
$ aether get mem a b
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]}
{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"payload":null,"tier":"cold","vector":[3.0,4.0]}
$ aether get mem a b --format json
[{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]},{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"payload":null,"tier":"cold","vector":[3.0,4.0]}]
$ aether get mem b a --format table
id  tier  importance  created_ms     last_access_ms  access_count  payload
b   cold  0.5         1700000000000  1700000000000   0             -
a   hot   0.75        1700000000000  1700000000000   0             {"room":"lab"}
$ aether get mem a nope
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.75,"last_access_ms":1700000000000,"payload":{"room":"lab"},"tier":"hot","vector":[0.5,-1.25]}
aether: not found: nope
[exit 1]
$ aether get mem nope
aether: not found: nope
[exit 1]
$ AETHER_STORE=mem aether get b
{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.5,"last_access_ms":1700000000000,"payload":null,"tier":"cold","vector":[3.0,4.0]}
