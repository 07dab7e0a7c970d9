recover: replays what a killed command left; says when there was nothing.

$ aether init mem --dim 2 -q
$ aether recover mem
aether: nothing to recover
$ printf '{"id":"a","vector":[1,2]}\n' | AETHER_FAULT=ingest.after_intent aether ingest mem -
aether: fault point reached, killing process
! Killed
[exit 137]
$ aether recover mem
migration  kind    items  state   action
1          ingest  1      intent  rolled back
$ printf '{"id":"a","vector":[1,2]}\n' | AETHER_FAULT=ingest.after_written aether ingest mem -
aether: fault point reached, killing process
! Killed
[exit 137]
$ aether recover mem --format json
{"actions":[{"action":"rolled forward","items":1,"kind":"ingest","migration":1,"state":"written"}]}
$ aether get mem a
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"hot","vector":[1.0,2.0]}
$ printf '{"id":"b","vector":[3,4]}\n' | AETHER_FAULT=ingest.after_sync aether ingest mem -
aether: fault point reached, killing process
! Killed
[exit 137]
$ aether get mem a b -v
{"access_count":0,"created_ms":1700000000000,"id":"a","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"hot","vector":[1.0,2.0]}
aether: recovered migration 1 (ingest, 1 items, state intent): rolled back
aether: not found: b
[exit 1]
