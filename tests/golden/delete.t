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
{"access_count":0,"created_ms":1700000000000,"id":"c","importance":0.5,"last_access_ms":1700000000000,"pattern":{"accesses":0,"confidence":0.0,"pattern":"cold"},"payload":null,"tier":"hot","vector":[1.0,1.0]}
aether: not found: a
aether: not found: b
[exit 1]
$ printf 'c\nnope\n' | aether delete mem --ids-from - --dry-run
c
aether: not found: nope
aether: dry run: 1 memories would be deleted, nothing changed
[exit 1]
$ aether delete mem
aether: error: give the ids to delete, --ids-from FILE or --where EXPR
[exit 64]
$ aether scrub mem --format json
{"cold_rewritten":0,"db_bytes_after":102400,"db_bytes_before":102400,"garbage_dropped":0,"history_pruned":0,"hot_slots_blanked":2,"shards_emptied":0}
aether: scrubbed: 0 history entries pruned, 2 free hot slots zeroed, 0 shards emptied, 0 cold records rewritten, 0 garbage records dropped; meta.db 102400 -> 102400 bytes
$ printf '{"id":"d1","vector":[1,0],"payload":{"room":"hall"}}\n{"id":"d2","vector":[0,1],"payload":{"room":"attic"}}\n' | aether ingest mem - -q
$ aether delete mem --where 'payload.room in ["hall", "cellar"]' --dry-run --format json
{"dry_run":true,"not_found":[],"would_delete":["d1"]}
aether: dry run: 1 memories would be deleted, nothing changed
$ aether delete mem --where 'payload.room in ["hall", "cellar"]'
aether: deleted 1 memories
$ aether list mem --ids-only
c
d2
