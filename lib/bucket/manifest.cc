// Manifests of `aether publish` (bucket/manifest.h; format-spec/s3_snapshots.md).
#include "bucket/manifest.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <set>

#include "bucket/snapshot_objects.h"
#include "objstore/digest.h"
#include "objstore/s3_settings.h"

namespace aether {

std::string ManifestKey(uint64_t sequence) { return fmt::format("{}{:020}.json", kManifestsDir, sequence); }

namespace {

bool SafeRelative(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.back() == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    const size_t slash = std::min(p.find('/', start), p.size());
    const std::string part = p.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  for (unsigned char c : p)
    if (c < 0x20 || c == 0x7F) return false;
  return true;
}

}  // namespace

// The manifests under the prefix, by sequence.
Result<std::map<uint64_t, S3ObjectInfo>> ListManifests(S3Client* c) {
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> listed, c->List(kManifestsDir));
  std::map<uint64_t, S3ObjectInfo> out;
  for (const S3ObjectInfo& o : listed) {
    const std::string name = o.key.substr(std::strlen(kManifestsDir));
    uint64_t sequence = 0;
    if (name.size() != 25 || name.compare(20, 5, ".json") != 0 || name.find_first_not_of("0123456789") != 20 ||
        std::from_chars(name.data(), name.data() + 20, sequence).ec != std::errc() || sequence == 0)
      continue;  // not one of ours (20 digits past 64 bits, or 0, are none)
    out[sequence] = o;
  }
  return out;
}

nlohmann::json FilesJson(const std::vector<FileEntry>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const FileEntry& f : files) {
    nlohmann::json e = {{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}};
    if (f.cold_tier) e["cold_tier"] = true;
    out.push_back(std::move(e));
  }
  return out;
}

// The files list of a manifest or a replica's marker, each entry checked:
// a path inside the store, a size, a SHA-256; no path twice; meta.db there.
Result<std::vector<FileEntry>> ParseFiles(const nlohmann::json& j, const std::string& what, std::string* cold_uri) {
  auto bad = [&](const std::string& why) { return Status::Corruption(what + ": " + why); };
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) return bad("no files list");
  std::string tier_uri;
  if (j.contains("cold_uri")) {
    if (!j["cold_uri"].is_string() || !ParseS3Uri(j["cold_uri"].get<std::string>()).ok())
      return bad("a cold_uri that is not an s3:// URI");
    tier_uri = j["cold_uri"].get<std::string>();
  }
  if (cold_uri) *cold_uri = tier_uri;
  std::vector<FileEntry> out;
  std::set<std::string> seen;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || !f.contains("sha256") || !f["sha256"].is_string())
      return bad("a file entry without path, bytes and sha256");
    FileEntry e{f["path"].get<std::string>(), f["bytes"].get<uint64_t>(), f["sha256"].get<std::string>()};
    if (f.contains("cold_tier")) {
      if (!f["cold_tier"].is_boolean()) return bad(fmt::format("{}: a cold_tier that is not true or false", e.path));
      e.cold_tier = f["cold_tier"].get<bool>();
      if (e.cold_tier && e.path.rfind("cold/", 0) != 0)
        return bad(fmt::format("{}: in the cold tier, but not a shard (cold/...)", e.path));
      if (e.cold_tier && tier_uri.empty()) return bad(fmt::format("{}: in the cold tier, but no cold_uri", e.path));
    }
    if (!SafeRelative(e.path)) return bad(fmt::format("a file path outside the store: '{}'", e.path));
    if (!IsSha256Name(e.sha256)) return bad(fmt::format("{}: a malformed sha256", e.path));
    if (!seen.insert(e.path).second) return bad(fmt::format("{} listed twice", e.path));
    if (e.path == kReplicaMarker || e.path == kReplicaBuilding)
      return bad(fmt::format("a file named {} (a replica's own)", e.path));
    out.push_back(std::move(e));
  }
  if (!seen.count("meta.db")) return bad("no meta.db");
  // No path is another's directory (meta.db and meta.db/x).
  for (const FileEntry& e : out)
    for (size_t slash = e.path.find('/'); slash != std::string::npos; slash = e.path.find('/', slash + 1))
      if (seen.count(e.path.substr(0, slash)))
        return bad(fmt::format("{} is listed as a file and as the directory of {}", e.path.substr(0, slash), e.path));
  return out;
}

// The files manifest `sequence` names, checked (kCorruption: not an aether
// manifest of that sequence, or a bad entry).
Result<std::vector<FileEntry>> ReadManifest(S3Client* client, uint64_t sequence, std::string* cold_uri) {
  const std::string uri = client->UriOf(ManifestKey(sequence));
  std::string text;
  AETHER_RETURN_IF_ERROR(client->Get(ManifestKey(sequence), &text, 64u << 20));
  const nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  auto unsigned_field = [&](const char* key, uint64_t want) {
    return manifest.contains(key) && manifest[key].is_number_unsigned() && manifest[key].get<uint64_t>() == want;
  };
  if (manifest.is_discarded() || !manifest.is_object() ||
      !(unsigned_field("aether_manifest", 1) || unsigned_field("aether_manifest", 2)) ||
      !unsigned_field("sequence", sequence))
    return Status::Corruption(uri + ": not an aether manifest of sequence " + std::to_string(sequence));
  std::string tier_uri;
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> files, ParseFiles(manifest, uri, &tier_uri));
  if (!unsigned_field("aether_manifest", ManifestVersion(tier_uri)))
    return Status::Corruption(uri + (tier_uri.empty() ? ": aether_manifest 2 without a cold_uri"
                                                      : ": a cold_uri in a manifest of aether_manifest 1"));
  if (cold_uri) *cold_uri = tier_uri;
  return files;
}

namespace {

std::string PublishRecordKey(const std::string& publish_uri) {
  return kPublishesDir + ToHex(Sha256(publish_uri)) + ".json";
}

}  // namespace

Status RecordPublishPrefix(S3Client* tier, const std::string& publish_uri) {
  const std::string key = PublishRecordKey(publish_uri);
  AETHER_ASSIGN_OR_RETURN(std::optional<S3ObjectHead> head, tier->Head(key));
  if (head) return Status::Ok();
  return tier->Put(key, nlohmann::json({{"uri", publish_uri}}).dump() + "\n");
}

Result<std::set<std::string>> NamedByPublishes(S3Client* tier, const std::string& cold_uri, const ConnectUri& connect) {
  std::set<std::string> named;
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> records, tier->List(kPublishesDir));
  for (const S3ObjectInfo& r : records) {
    const std::string name = r.key.substr(std::strlen(kPublishesDir));
    if (name.size() != 69 || name.compare(64, 5, ".json") != 0 || !IsSha256Name(name.substr(0, 64)))
      continue;  // not a name aether gives (a console's folder marker, ...)
    const std::string where = tier->UriOf(r.key);
    auto stop = [&](const Status& why) {
      return why.WithMessage(
          fmt::format("{} (while reading what {} names; delete it if that prefix is gone)", why.message(), where));
    };
    std::string text;
    AETHER_RETURN_IF_ERROR(tier->Get(r.key, &text, 1u << 16));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("uri") || !j["uri"].is_string() ||
        !ParseS3Uri(j["uri"].get<std::string>()).ok() || r.key != PublishRecordKey(j["uri"].get<std::string>()))
      return Status::Corruption(where +
                                ": not a record of a publish prefix ({\"uri\":\"s3://...\"}, named by the SHA-256 of "
                                "its URI); delete it if aether did not write it");
    const std::string uri = j["uri"].get<std::string>();
    auto pub = connect(uri);
    if (!pub.ok()) return stop(pub.status());
    auto manifests = ListManifests(pub->get());
    if (!manifests.ok()) return stop(manifests.status());
    for (const auto& [sequence, info] : *manifests) {
      std::string their_tier;
      auto files = ReadManifest(pub->get(), sequence, &their_tier);
      if (!files.ok() && files.status().code() == Code::kNotFound) continue;  // deleted since the LIST (--keep)
      if (!files.ok()) return stop(files.status());
      if (their_tier != cold_uri) continue;  // another store's (the prefix taken over), or none
      for (const FileEntry& f : *files)
        if (f.cold_tier) named.insert(f.sha256);
    }
  }
  return named;
}

}  // namespace aether
