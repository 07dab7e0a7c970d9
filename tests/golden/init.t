init: create a store; refuse what is not one.

$ aether init mem --dim 4 --metric cosine --hot-capacity 10
aether: created store mem (dim 4, metric cosine, hot capacity 10)
$ ls mem
GATE
LOCK
WRITER
cold
hot.slots
index
meta.db
metrics.log
$ aether init mem --dim 4
aether: error: mem: already an aether store
[exit 73]
$ mkdir junk && touch junk/file && aether init junk --dim 4
aether: error: junk: directory is not empty and is not an aether store
[exit 73]
$ mkdir empty && aether init empty/. --dim 4
aether: error: empty/.: ends in '.' (a store is made as a new directory under its own name: give that name)
[exit 73]
$ (cd empty && aether init ./ --dim 4)
aether: error: .: ends in '.' (a store is made as a new directory under its own name: give that name)
[exit 73]
$ aether init empty/.. --dim 4
aether: error: empty/..: ends in '..' (a store is made as a new directory under its own name: give that name)
[exit 73]
$ aether init no/such/dir --dim 4
aether: error: no/such: no such directory (a store is made in one; its parents are not made)
[exit 66]
$ ln -s nowhere dangling && aether init dangling/s --dim 4
aether: error: dangling: no such directory (a store is made in one; its parents are not made)
[exit 66]
$ aether init '' --dim 4
aether: error: an empty store path (name the directory to make)
[exit 64]
$ aether init x --dim 4 --metric manhattan
aether: error: --metric: manhattan not in {l2,cosine,ip}; see 'aether init --help'
[exit 64]
$ aether init --help
Create an empty store
Usage: aether init [OPTIONS] store

Positionals:
  store TEXT REQUIRED         Store directory to create; or --store, or AETHER_STORE

Options:
  -h,--help                   Print this help message and exit
  --store TEXT                Store directory to create (instead of the positional STORE)
  --dim UINT:INT in [1 - 65536] REQUIRED
                              Vector dimension
  --metric TEXT:{l2,cosine,ip}=l2
                              Distance metric
  --hot-capacity UINT=65536   Memories the hot tier holds
  --codec TEXT:{zstd-shuffle,zstd,float16,sq8,float32}=zstd-shuffle
                              How cold frames store vectors: zstd-shuffle, zstd (lossless), float16, sq8 (scanned quantized, re-ranked at full precision), float32 (lossless, uncompressed: the fastest scan, the most bytes; format version 7); see format-spec/cold_shard.md
  --cold-uri TEXT:VALUE       s3://BUCKET/PREFIX: keep the cold tier's shards past cold_local_bytes in this bucket prefix (a prefix of this store's own; README "A cold tier in a bucket")
  --endpoint TEXT             S3 endpoint, scheme://host[:port] (default: AWS_ENDPOINT_URL, the profile's endpoint_url, AWS)
  --region TEXT               Region (default: AWS_REGION, the profile's region, us-east-1)
  --profile TEXT              A profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE)
  --addressing TEXT:{path,virtual}
                              path (ENDPOINT/BUCKET/KEY) or virtual (BUCKET.HOST/KEY); default: virtual on AWS, else path

Example: aether init ./mem --dim 768 --metric cosine --hot-capacity 100000
