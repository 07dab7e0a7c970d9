fault-points: the crash-test points, by name.

$ aether fault-points | sed -n 1,3p
ingest.after_intent
ingest.mid_write
ingest.after_write
$ aether fault-points | wc -l
65
$ aether fault-points --format jsonl | sed -n 1,2p
{"name":"ingest.after_intent"}
{"name":"ingest.mid_write"}
