#pragma once
// The manifests `aether publish` writes under s3://BUCKET/PREFIX/manifests/
// (format-spec/s3_snapshots.md): listed, read and checked. Used by the
// replica's publish and pull, and by a store whose cold tier another
// prefix's manifests name (the writer's collection keeps what they name).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "aether/status.h"
#include "objstore/s3_client.h"

namespace aether {

inline constexpr char kManifestsDir[] = "manifests/";
inline constexpr char kObjectsDir[] = "objects/";
// A replica directory's own files (a manifest naming one is damage).
inline constexpr char kReplicaMarker[] = "replica.json";
inline constexpr char kReplicaBuilding[] = "replica.json.building";

struct FileEntry {
  std::string path;  // relative to the store, '/'-separated
  uint64_t bytes = 0;
  std::string sha256;  // lower-case hex
  // The object is the publishing store's own cold tier's (objects/SHA256
  // under the snapshot's cold_uri), not the publish prefix's: a shard the
  // writer keeps in its bucket, named rather than sent again.
  bool cold_tier = false;
};

std::string ManifestKey(uint64_t sequence);

// The manifests under the client's prefix, by sequence (names that are not
// 20 digits and .json ignored).
Result<std::map<uint64_t, S3ObjectInfo>> ListManifests(S3Client* c);

nlohmann::json FilesJson(const std::vector<FileEntry>& files);

// The files list of a manifest or a replica's marker, each entry checked:
// a path inside the store, a size, a SHA-256; no path twice; meta.db there;
// an entry in the cold tier only under cold/, and only beside a cold_uri
// (an s3:// URI), given in *cold_uri ("" when the json has none).
// kCorruption naming `what` otherwise.
Result<std::vector<FileEntry>> ParseFiles(const nlohmann::json& j, const std::string& what,
                                          std::string* cold_uri = nullptr);

// The files manifest `sequence` names, checked (kCorruption: not an aether
// manifest of that sequence, or a bad entry); its cold_uri in *cold_uri.
Result<std::vector<FileEntry>> ReadManifest(S3Client* client, uint64_t sequence, std::string* cold_uri = nullptr);

// A manifest's version: 2 when it names objects of a cold tier (cold_uri),
// 1 otherwise (what an aether before cold-tier references reads).
inline uint64_t ManifestVersion(const std::string& cold_uri) { return cold_uri.empty() ? 1 : 2; }

// Under a cold tier's prefix: the publish prefixes whose manifests may name
// the tier's objects (format-spec/cold_bucket.md, "Published snapshots").
inline constexpr char kPublishesDir[] = "publishes/";

// Records under the cold tier (`tier`, its client) that manifests under
// `publish_uri` name its objects: publishes/SHA256.json (the SHA-256 of the
// URI as given) holding {"uri":"..."}, put unless a HEAD finds it.
Status RecordPublishPrefix(S3Client* tier, const std::string& publish_uri);

using ConnectUri = std::function<Result<std::unique_ptr<S3Client>>(const std::string& uri)>;

// The SHA-256s of the objects of the cold tier `cold_uri` that a manifest
// under a prefix recorded there names (every manifest there, cold_uri equal
// to this one). Any record, listing or manifest that cannot be read or
// checked is an error: what it names is not known.
Result<std::set<std::string>> NamedByPublishes(S3Client* tier, const std::string& cold_uri, const ConnectUri& connect);

}  // namespace aether
