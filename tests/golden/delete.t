delete: one transaction; missing ids are reported and exit 1.

$ printf '{"id":"a","vector":[1,0]}\n{"id":"b","vector":[0,1]}\n{"id":"c","vector":[1,1]}\n' | aether ingest --create mem - -q
$ aether delete mem a
aether: deleted 1 memories
$ aether delete mem b nope --format json
{"deleted":1,"not_found":["nope"]}
aether: not found: nope
aether: deleted 1 memories
[exit 1]
$ aether get mem a b c
{"access_count":0,"created_ms":1700000000000,"id":"c","importance":0.5,"last_access_ms":1700000000000,"payload":null,"tier":"hot","vector":[1.0,1.0]}
aether: not found: a
aether: not found: b
[exit 1]
$ aether delete mem
aether: error: ids is required; see 'aether delete --help'
[exit 64]
