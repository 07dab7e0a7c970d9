// Names of the files in a store directory (format-spec/README.md).
#pragma once

namespace aether::layout {

constexpr const char* kLockFile = "LOCK";
constexpr const char* kDbFile = "meta.db";
constexpr const char* kHotFile = "hot.slots";
constexpr const char* kColdDir = "cold";
constexpr const char* kIndexDir = "index";
constexpr const char* kStagingShard = "cold/staging.shard";
constexpr int64_t kStagingShardId = 1;

}  // namespace aether::layout
