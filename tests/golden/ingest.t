ingest: JSONL in, file:line errors, duplicates, summaries.

$ printf '{"id":"a","vector":[1,0,0],"payload":{"room":"lab"}}\n{"id":"b","vector":[0,1,0],"importance":0.9}\n{"id":"c","vector":[0,0,1]}\n' > three.jsonl
$ aether ingest mme three.jsonl
aether: error: mme: no such store; create it with 'aether init mme --dim N', or pass --create to ingest
[exit 66]
$ aether ingest mem three.jsonl --create --hot-capacity 2
aether: created store mem (dim 3, metric l2, hot capacity 2)
aether: ingested 3 memories (2 hot, 1 cold) from 3 lines in …s; 0 duplicates skipped, 0 replaced, 0 invalid lines skipped
$ aether ingest mem three.jsonl
aether: error: three.jsonl:1: duplicate id 'a' (already ingested; see --on-duplicate skip|replace)
aether: stopped; ingested 0 memories (0 hot, 0 cold) from 1 lines in …s; 0 duplicates skipped, 0 replaced, 0 invalid lines skipped (all committed before the error)
[exit 65]
$ aether ingest mem three.jsonl --dim 4
aether: error: --dim 4: store mem already exists with dimension 3 (creation flags apply only to a new store)
[exit 64]
$ aether ingest mem three.jsonl --create --metric cosine --on-duplicate skip
aether: error: --metric cosine: store mem already exists with metric l2 (creation flags apply only to a new store)
[exit 64]
$ aether ingest mem three.jsonl --on-duplicate skip --format json
{"cold":0,"evicted":0,"evicted_warm":0,"hot":0,"ingested":0,"invalid":0,"lines":3,"ok":true,"replaced":0,"seconds":…,"skipped_duplicates":3,"warm":0}
aether: ingested 0 memories (0 hot, 0 cold) from 3 lines in …s; 3 duplicates skipped, 0 replaced, 0 invalid lines skipped
$ printf '{"id":"d","vector":[1,1,0]}\n{"id":"e","vector":[1,1]}\n{"id":"f","vector":[0,1,1]}\n' | aether ingest mem -
aether: error: <stdin>:2: vector has 2 values, store dimension is 3
aether: stopped; ingested 1 memories (1 hot, 0 cold; 1 older hot memories descended to make room) from 2 lines in …s; 0 duplicates skipped, 0 replaced, 0 invalid lines skipped (all committed before the error)
[exit 65]
$ printf '{"id":"g","vector":[1,2,3]}\nnot json\n{"id":"h","vector":[1,"x",3]}\n' | aether ingest mem - --skip-invalid
aether: <stdin>:2: malformed JSON: column 2: syntax error while parsing value - invalid literal; last read: 'no' (skipped)
aether: <stdin>:3: vector[1] is not a number (skipped)
aether: ingested 1 memories (1 hot, 0 cold; 1 older hot memories descended to make room) from 3 lines in …s; 0 duplicates skipped, 0 replaced, 2 invalid lines skipped
$ printf '{"id":"i","vector":[1,2,3],"colour":"red"}\n' | aether ingest mem -
aether: error: <stdin>:1: unknown field "colour" (fields: id, vector, payload, importance; --ignore-unknown skips others)
aether: stopped; ingested 0 memories (0 hot, 0 cold) from 1 lines in …s; 0 duplicates skipped, 0 replaced, 0 invalid lines skipped (all committed before the error)
[exit 65]
$ printf '{"id":"i","vector":[1,2,3],"colour":"red"}\n' | aether ingest mem - --ignore-unknown -q
$ printf '{"id":42,"vector":[1,2,3]}\n' | aether ingest mem - -q
aether: error: <stdin>:1: "id" must be a string; write the number 42 as "42"
[exit 65]
$ aether ingest mem missing.jsonl
aether: error: missing.jsonl: cannot open input file (No such file or directory)
[exit 66]
$ aether ingest mem three.jsonl --on-duplicate replace --format jsonl -q
{"cold":1,"evicted":1,"evicted_warm":0,"hot":2,"ingested":3,"invalid":0,"lines":3,"ok":true,"replaced":3,"seconds":…,"skipped_duplicates":0,"warm":0}
$ aether get mem a --format table
id  tier  importance  created_ms     last_access_ms  access_count  pattern    payload
a   hot   0.5         1700000000000  1700000000000   0             cold 0.00  {"room":"lab"}
