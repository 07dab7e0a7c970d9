#pragma once
// A store's cold tier in a bucket (config cold_uri; format-spec/cold_bucket.md):
// the prefix's marker, which names the one store whose cold tier it holds.
// The rest is StoreImpl's (cold_tier.cc).
#include <string>

#include "aether/options.h"
#include "aether/status.h"

namespace aether {

// The marker object at the prefix's root.
constexpr char kColdMarkerKey[] = "cold-tier.json";

// Checks that the prefix is this cold tier's or nobody's (no marker, no
// published snapshot), and writes the marker when there is none (unless
// `check_only`: init checks before its store is in place, and claims
// after): at init, at upgrade --cold-uri, and before objects are sent or
// collected.
// `tier_id` (config cold_tier_id) is made when the store gets the tier: a
// backup, a replica or a restored copy of the store has the same store ID
// but not the tier, so it cannot take the prefix and delete what only the
// store names. kAlreadyExists: another store's or another copy's tier;
// kFailedPrecondition: a publish prefix, or a marker that is not aether's.
// `must_exist`: the store has shards in the bucket, so a prefix without a
// marker is not its tier (another endpoint or bucket than the store's, or
// the marker deleted by hand): kFailedPrecondition, nothing written.
Status ClaimColdPrefix(const std::string& uri, const S3Options& s3, const std::string& store_id,
                       const std::string& tier_id, bool check_only = false, bool must_exist = false);

}  // namespace aether
