fault-points: the crash-test points, by name.

$ aether fault-points | head -3
ingest.after_intent
ingest.mid_write
ingest.after_write
$ aether fault-points | wc -l
59
$ aether fault-points --format jsonl | head -2
{"name":"ingest.after_intent"}
{"name":"ingest.mid_write"}
