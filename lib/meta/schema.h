// The metadata DB's schema (format-spec/metadata_db.md) and the store
// config kept in it. The schema text here and the document change together.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aether/options.h"
#include "aether/status.h"
#include "meta/sqlite_db.h"

namespace aether {

// Creates every table and writes the config rows, in one transaction.
Status CreateSchema(Db* db, const StoreConfig& config, uint32_t format_version, int64_t now_ms);
// 128 bits from the kernel's random source as 32 lower-case hexadecimal
// digits: a store's ID (config store_id), a cold tier's (cold_tier_id).
Result<std::string> NewRandomId();

// Brings a DB made by an older aether up to this schema without changing
// what an older aether reads (nullable columns only); idempotent. Needs the
// exclusive store lock. Returns what it changed, one line per step (empty
// for a DB of this schema).
Result<std::vector<std::string>> UpgradeSchema(Db* db);
// What UpgradeSchema would change, changing nothing (upgrade --dry-run).
Result<std::vector<std::string>> PendingSchemaUpgrades(Db* db);

// Reads and validates the config; NotSupported for a newer format version.
Result<StoreConfig> LoadConfig(Db* db, uint32_t max_format_version, uint32_t* format_version);

}  // namespace aether
