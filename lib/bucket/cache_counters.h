#pragma once
// The running totals of a bucket search's cache (format-spec/s3_snapshots.md,
// "The cache's counters"): CACHE/counters, one 80-byte record that each
// process reading the bucket through the cache adds its figures to when it
// closes the store, under an exclusive flock of the file. `stats
// s3://BUCKET/PREFIX` shows them: how often a cold shard was found in the
// cache, how many bytes the cache fetched. Statistics, not data: the file
// is never synced, and a damaged or torn one starts the totals again.
#include <cstdint>
#include <string>

#include "aether/replica.h"
#include "aether/status.h"

namespace aether {

constexpr const char* kCacheCountersFile = "counters";
constexpr size_t kCacheCountersBytes = 80;

// The record's bytes, and back: Decode fails (false) on a wrong size,
// magic, version or checksum.
std::string EncodeBucketCacheTotals(const BucketCacheTotals& t);
bool DecodeBucketCacheTotals(const std::string& bytes, BucketCacheTotals* t);

// Adds `delta` (its opens, shards, bytes, requests, evicted) to
// CACHE/counters, made when missing; totals that cannot be read (damaged,
// torn, another version) start again at `now_ms`. Best effort: the file is
// skipped when it is a link or not a regular file, or its flock is not had
// within a second; the status says so (callers ignore it).
Status AddBucketCacheTotals(const std::string& cache_dir, const BucketCacheTotals& delta, int64_t now_ms);

}  // namespace aether
