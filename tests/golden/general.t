The tool itself: version, help, unknown commands, usage errors.
Format: tests/cli/golden_test.cc. Refresh: AETHER_GOLDEN_UPDATE=1 build/tests/aether_tests -tc='golden*'

$ aether --version
aether 0.1.0 (store format 7)
$ aether
aether: error: A subcommand is required; see 'aether --help'
[exit 64]
$ aether serach ./mem
aether: error: unknown command 'serach'; did you mean 'search'?
[exit 64]
$ aether frobnicate
aether: error: unknown command 'frobnicate'; see aether --help
[exit 64]
$ aether init
aether: error: store is required; see 'aether init --help'
[exit 64]
$ aether init ./mem --dim 0
aether: error: --dim: Value 0 not in range 1 to 65536; see 'aether init --help'
[exit 64]
$ aether search ./mem --bogus
aether: error: The following argument was not expected: --bogus; see 'aether search --help'
[exit 64]
$ aether --help
> aether: a tiered memory store for agent and embodied AI
Usage: aether [OPTIONS] SUBCOMMAND

Options:
  -h,--help                   Print this help message and exit
  -q,--quiet                  Only errors on stderr (no summaries)
  -v,--verbose                Also report recovered migrations
  --log-format TEXT:{text,json}
                              stderr as text lines (default) or json: one JSON object per line (or AETHER_LOG_FORMAT)
  --trace-id TEXT             This command's trace id: on its history entries, journaled moves and log lines (or AETHER_TRACE_ID; default: 32 random hex digits)
  --version                   Display program version information and exit

Subcommands:
  init                        Create an empty store
  ingest                      Add memories from JSONL (file or -)
  search                      Top-k nearest memories over every tier
  get                         Print memories by id as JSONL
  export                      Write memories as JSONL that ingest reads back (vectors bit-exact, payloads, metadata)
  list                        List memories' ids and metadata: filter by tier, importance, time, --where; sort; limit
  update                      Change memories' payloads (replace or merge patch) and importance, keeping their history
  delete                      Delete memories by id or --where filter (--purge: from every file, now)
  scrub                       Make deleted data leave the store's files now
  backup                      Copy a live store consistently (--incremental: link files unchanged since an earlier backup)
  publish                     Upload a consistent snapshot of the store to s3://BUCKET/PREFIX (objects, then a manifest)
  pull                        Make or refresh a read replica directory from the newest snapshot in s3://BUCKET/PREFIX
  stats                       Show store statistics (table, json, prometheus)
  check                       Health check for cron and monitoring: one line per threshold crossed (exit 1)
  descend                     Move memories down: hot -> warm -> cold (ids, --all, --policy; --to)
  ascend                      Move memories up: cold -> warm -> hot (ids, --queued; --evict; --to)
  pin                         Keep memories hot whatever the policy (cold ones ascend first)
  unpin                       Release pinned memories to the policy again
  upgrade                     Convert a store an older aether made (schema, format version, codec) in place; --dry-run
  rebuild-index               Train a new K-Means index over the cold tier and compact it
  feedback                    Reward memories: importance = 0.8 * importance + 0.2 * reward
  maintain                    One cron tick: decay, temperature, sampled moves, capacity, restores
  config                      Get or set the model's parameters, or apply a preset
  history                     The audit log: moves, feedback, updates, deletes, config changes
  recover                     Replay dangling migrations and report them
  verify                      Check every checksum and the metadata against the files
  fault-points                List the crash-test fault points (AETHER_FAULT)

Every command takes the store as its first argument (or --store DIR, or AETHER_STORE)
and --help with an example. Output: data on stdout (--format table|json|jsonl),
diagnostics on stderr. Exit codes: 0 ok, 1 negative answer, 3 partial search, 64 usage,
65 bad input, 66 no such file or store, 69 unavailable, 70 internal, 73 cannot create,
74 I/O error, 75 busy (retry later), 77 permission denied, 78 newer format,
79 corruption (man aether).

Example: aether ingest ./mem memories.jsonl --create && aether search ./mem --vector '[0.1, 0.2]' -k 5
$ aether init --store mem --dim 2 -q
$ printf '{"id":"a","vector":[1,2]}\n' | AETHER_STORE=mem aether ingest -q
$ AETHER_STORE=mem aether get a --format table
id  tier  importance  created_ms     last_access_ms  access_count  pattern    payload
a   hot   0.5         1700000000000  1700000000000   0             cold 0.00  -
$ AETHER_STORE=elsewhere aether get --store mem a --format table
id  tier  importance  created_ms     last_access_ms  access_count  pattern    payload
a   hot   0.5         1700000000000  1700000000000   0             cold 0.00  -
$ AETHER_STORE=mem aether get mem a
aether: error: 'mem' is a store, but this command's store is 'mem' (from AETHER_STORE), so it would be taken as a memory id; to act on 'mem', give it as the store (--store, or unset AETHER_STORE)
[exit 64]
$ aether init other --dim 2 -q
$ AETHER_STORE=mem aether delete ./other a
aether: error: './other' is a store, but this command's store is 'mem' (from AETHER_STORE), so it would be taken as a memory id; to act on './other', give it as the store (--store, or unset AETHER_STORE)
[exit 64]
$ aether delete --store mem "$PWD/other" a
aether: error: '…/other' is a store, but this command's store is 'mem' (from --store), so it would be taken as a memory id; to act on '…/other', give it as the store with --store
[exit 64]
$ AETHER_STORE=mem aether descend ../mem
aether: error: '../mem' looks like a store path, but this command's store is 'mem' (from AETHER_STORE), so it would be taken as a memory id; if it is an id, unset AETHER_STORE and give the store as the first argument
[exit 64]
$ AETHER_STORE=mem aether ingest other
aether: error: 'other' is a store, but this command's store is 'mem' (from AETHER_STORE), so it would be taken as the input; to act on 'other', give it as the store (--store, or unset AETHER_STORE)
[exit 64]
$ AETHER_STORE=mem aether get a/b
aether: not found: a/b
[exit 1]
