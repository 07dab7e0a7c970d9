replica: publish and pull refuse bad URIs, settings without credentials and targets that are not replicas, before any request.

$ aether ingest --create mem "$TESTDATA/sample.jsonl" --hot-capacity 100 -q
$ aether publish mem http://bucket/p
aether: error: 'http://bucket/p' is not an s3://BUCKET[/PREFIX] URI: it does not start with s3://
[exit 64]
$ aether publish mem s3://Bad_Bucket/p
aether: error: 's3://Bad_Bucket/p' is not an s3://BUCKET[/PREFIX] URI: a bucket name has only a-z, 0-9, '.' and '-', not 'B'
[exit 64]
$ aether pull s3://bucket/p//x r1
aether: error: 's3://bucket/p//x' is not an s3://BUCKET[/PREFIX] URI: the prefix has an empty segment ('//')
[exit 64]
$ aether publish mem s3://bucket/p --addressing sideways
aether: error: --addressing: sideways not in {path,virtual}; see 'aether publish --help'
[exit 64]
$ HOME=nohome AWS_PROFILE= AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= aether publish mem s3://bucket/p
aether: error: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile 'default' aws_access_key_id and aws_secret_access_key in nohome/.aws/credentials
[exit 64]
$ HOME=nohome AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY= aether pull s3://bucket/p r1
aether: error: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not
[exit 64]
$ AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s aether pull s3://bucket/p mem
aether: error: mem: not a replica an earlier pull made (no replica.json); pull will not replace it
[exit 73]
$ AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s aether pull s3://bucket/p mem/hot.slots
aether: error: mem/hot.slots: not a directory (pull makes or refreshes a replica directory)
[exit 73]
$ AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s aether publish mem s3://bucket/p --endpoint http://host:1/path
aether: error: endpoint 'http://host:1/path' has a path, query, fragment or user; give only scheme://host[:port]
[exit 64]
$ aether pull s3://bucket/p r1 --sequence 0
aether: error: --sequence: Value 0 not in range 1 to 9223372036854775807; see 'aether pull --help'
[exit 64]
$ aether search s3://Bad_Bucket/p --vector '[1,2,3,4]'
aether: error: 's3://Bad_Bucket/p' is not an s3://BUCKET[/PREFIX] URI: a bucket name has only a-z, 0-9, '.' and '-', not 'B'
[exit 64]
$ HOME=nohome AWS_PROFILE= AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= aether search s3://bucket/p --vector '[1,2,3,4]' --cache-dir c
aether: error: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile 'default' aws_access_key_id and aws_secret_access_key in nohome/.aws/credentials
[exit 64]
$ aether get s3://bucket/p some-id
aether: error: s3://bucket/p: this command does not read a store in a bucket (search and stats do); `aether pull` makes a local replica every command can open, and `publish` writes the bucket
[exit 64]
$ aether search s3://bucket/p --vector '[1,2,3,4]' --cache-bytes 0
aether: error: --cache-bytes: Value 0 not in range 1 to 1125899906842624; see 'aether search --help'
[exit 64]
