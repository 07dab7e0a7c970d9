export: every memory as JSONL that ingest reads back; a copy of a store.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether export mem --tier cold > cold.jsonl && head -1 cold.jsonl
{"id":"mem-0100","vector":[-0.7542,-0.7296,-0.5631,0.3317,-0.0818,2.5408,-0.8164,-0.8657,0.8141,1.922,0.7495,0.7634,1.4186,-0.1389,-1.6852,-0.9111],"payload":{"room":"office","seen":100},"importance":0.062,"tier":"cold","created_ms":1700000000000,"last_access_ms":1700000000000,"access_count":0}
aether: exported 200 memories
$ aether export mem > all.jsonl
aether: exported 300 memories
$ aether ingest copy all.jsonl --create --ignore-unknown -q
$ aether export copy -q > copy.jsonl && head -2 copy.jsonl | cut -d, -f1-3
{"id":"mem-0000","vector":[-1.4123,-0.8626
{"id":"mem-0001","vector":[0.0294,-0.3565
$ aether ingest whole all.jsonl --create --hot-capacity 100 --preserve-state -q
$ sort all.jsonl > all.sorted && aether export whole -q | sort | cmp - all.sorted && echo same lines
same lines
$ aether ingest whole2 all.jsonl --create -q
aether: error: all.jsonl:1: unknown field "access_count" (fields: id, vector, payload, importance; --preserve-state restores export's tier, created_ms, last_access_ms, access_count, pinned and access_history; --ignore-unknown skips others)
[exit 65]
$ aether export mem --tier tepid
aether: error: --tier: tepid not in {all,hot,warm,cold}; see 'aether export --help'
[exit 64]
$ aether export mem --where 'id == "nope"'
aether: exported 0 memories
$ aether export mem --npy vec --where 'payload.seen < 3'
aether: exported 3 memories to vec.npy, vec.ids and vec.meta.jsonl
$ head -c 128 vec.npy | tail -c 118
{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }                                                         
$ cat vec.ids && head -1 vec.meta.jsonl
mem-0000
mem-0001
mem-0002
{"id":"mem-0000","payload":{"room":"office","seen":0},"importance":0.179,"tier":"hot","created_ms":1700000000000,"last_access_ms":1700000000000,"access_count":0}
$ aether export mem --npy vec
aether: error: vec.npy: exists (export --npy makes new files only)
[exit 73]
$ echo '{"id":"p1","vector":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"created_ms":1700000000000,"last_access_ms":1700000060000,"access_count":3,"pinned":true,"access_history":{"times":[1700000030000,1700000060000],"older":1}}' | aether ingest mem - --preserve-state -q
$ aether export mem --where 'pinned == true' -q
{"id":"p1","vector":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"payload":null,"importance":0.5,"tier":"hot","created_ms":1700000000000,"last_access_ms":1700000060000,"access_count":3,"pinned":true,"access_history":{"times":[1700000030000,1700000060000],"older":1}}
$ aether get mem p1 | jq -c '{pinned, tier, pattern: .pattern.accesses}'
{"pinned":true,"tier":"hot","pattern":2}
