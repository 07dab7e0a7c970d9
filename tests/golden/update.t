update: payloads (replace or merge patch) and importance, in one transaction; vectors and access history stay.

$ printf '{"id":"a","vector":[1,0],"payload":{"room":"kitchen","draft":true}}\n{"id":"b","vector":[0,1]}\n' | aether ingest --create mem - -q
$ aether update mem a --merge '{"draft":null,"seen":2}'
aether: applied 1 update
$ aether update mem a b nope --importance 0.9 --format json
{"not_found":["nope"],"updated":2}
aether: not found: nope
aether: applied 2 updates
[exit 1]
$ aether get mem a b
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.9,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":{"room":"kitchen","seen":2},"tier":"hot","vector":[1.0,0.0]}
{"access_count":0,"created_ms":1700000000000,"id":"b","importance":0.9,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"hot","vector":[0.0,1.0]}
$ printf '{"id":"b","payload":["x"]}\n{"id":"a","merge":{"seen":null},"importance":0.25}\n{"id":"gone","importance":0.1}\n' | aether update mem --file - --dry-run
id  importance  payload
b   0.9         ["x"]
a   0.25        {"room":"kitchen"}
aether: <stdin>:3: unknown id 'gone' (skipped)
aether: dry run: 2 updates would be applied, nothing changed
[exit 1]
$ printf '{"id":"b","payload":null}\n{"id":"a","merge":{"seen":null},"importance":0.25}\n' | aether update mem --file - --format jsonl
{"not_found":[],"updated":2}
aether: applied 2 updates
$ aether history mem a --format table
seq  ts_ms          kind    id  trace_id  detail
1    1700000000000  update  a   golden    {"payload":{"from_bytes":31,"op":"merge","to_bytes":27}}
2    1700000000000  update  a   golden    {"importance":{"from":0.5,"to":0.9}}
5    1700000000000  update  a   golden    {"importance":{"from":0.9,"to":0.25},"payload":{"from_bytes":27,"op":"merge","to_bytes":18}}
$ printf '{"id":"a","importance":0.5}\n{"id":"b","payload":1,"merge":{}}\n' | aether update mem --file -
aether: error: <stdin>:2: give "payload" (replace) or "merge" (patch), not both
[exit 65]
$ aether update mem a --payload '{"x":'
aether: error: --payload: malformed JSON: column 6: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal
[exit 65]
$ aether update mem a
aether: error: nothing to change: give --payload, --merge or --importance
[exit 64]
$ aether update mem a --payload 1 --merge '{}'
aether: error: --payload excludes --merge; see 'aether update --help'
[exit 64]
