list: ids and metadata without vectors; filters, order, limit; ids only.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether list mem --limit 3
{"access_count":0,"created_ms":1700000000000,"id":"mem-0000","importance":0.179,"last_access_ms":1700000000000,"tier":"hot"}
{"access_count":0,"created_ms":1700000000000,"id":"mem-0001","importance":0.058,"last_access_ms":1700000000000,"tier":"hot"}
{"access_count":0,"created_ms":1700000000000,"id":"mem-0002","importance":0.312,"last_access_ms":1700000000000,"tier":"hot"}
$ aether list mem --tier cold --sort importance --desc --limit 4 --with-payload --format table
id        tier  importance  created_ms     last_access_ms  access_count  payload
mem-0110  cold  1           1700000000000  1700000000000   0             {"room":"kitchen","seen":110}
mem-0115  cold  0.99        1700000000000  1700000000000   0             {"room":"garden","seen":115}
mem-0268  cold  0.988       1700000000000  1700000000000   0             {"room":"kitchen","seen":268}
mem-0150  cold  0.983       1700000000000  1700000000000   0             {"room":"garage","seen":150}
$ aether list mem --min-importance 0.5 --max-importance 0.6 --ids-only | wc -l
33
$ aether list mem --created-until 0 --format json
[]
$ aether list mem --sort size
aether: error: --sort: size not in {id,created,accessed,importance,access-count}; see 'aether list --help'
[exit 64]
$ aether list mem --ids-only --format table
aether: error: --ids-only excludes --format; see 'aether list --help'
[exit 64]
$ aether list mem --where 'importance >= 0.5 and id < "mem-0010" and not exists(payload.nope)' --ids-only
mem-0003
mem-0004
mem-0007
mem-0009
$ aether list mem --where 'importance = 0.5'
aether: error: filter 'importance = 0.5': at character 12, '=' (comparisons are written ==)
[exit 64]
