// Publish and Pull (aether/replica.h): a store's snapshot in an S3 bucket
// as content-addressed objects and a manifest; a replica directory made
// from it. The layout is format-spec/s3_snapshots.md.
#include "aether/replica.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "aether/store.h"
#include "objstore/s3_client.h"

namespace aether {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarker = "replica.json";  // in a replica: the manifest it is, and its source
constexpr const char* kManifests = "manifests/";
constexpr const char* kObjects = "objects/";

struct FileEntry {
  std::string path;  // relative to the store, '/'-separated
  uint64_t bytes = 0;
  std::string sha256;  // lower-case hex
};

std::string ManifestKey(uint64_t sequence) { return fmt::format("{}{:020}.json", kManifests, sequence); }

Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

Result<std::string> ReadWhole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno(path + ": open");
  std::string out;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      close(fd);
      return Errno(path + ": read");
    }
    out.append(buf, size_t(n));
  }
  close(fd);
  return out;
}

// Creates `path` (never an existing name), writes `data`, syncs: a failed
// sync is fatal (a retried fsync may "succeed" without the data).
Status WriteNew(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(path + ": create");
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = errno == ENOSPC ? Status::NoSpace(path + ": write: no space left on device") : Errno(path + ": write");
      close(fd);
      return s;
    }
    at += size_t(n);
  }
  if (fsync(fd) != 0) {
    Status s = Errno(path + ": fsync");
    close(fd);
    return s;
  }
  if (close(fd) != 0) return Errno(path + ": close");
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(dir + ": open");
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? Status::Ok() : Errno(dir + ": fsync");
}

std::string Sha256Hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += {kHex[out[i] >> 4], kHex[out[i] & 15]};
  return hex;
}

Result<std::unique_ptr<S3Client>> Connect(const std::string& uri, const S3Options& o) {
  AETHER_ASSIGN_OR_RETURN(S3Location loc, ParseS3Uri(uri));
  S3Overrides flags;
  if (!o.endpoint.empty()) flags.endpoint = o.endpoint;
  if (!o.region.empty()) flags.region = o.region;
  if (!o.profile.empty()) flags.profile = o.profile;
  if (o.addressing == "path") flags.addressing = S3Addressing::kPath;
  if (o.addressing == "virtual") flags.addressing = S3Addressing::kVirtual;
  if (!o.addressing.empty() && !flags.addressing)
    return Status::InvalidArgument("addressing '" + o.addressing + "' is neither path nor virtual");
  AETHER_ASSIGN_OR_RETURN(S3Settings settings, ResolveS3Settings(flags, ProcessEnv()));
  return S3Client::Create(settings, loc);
}

// The manifests under the prefix, by sequence.
Result<std::map<uint64_t, std::string>> Manifests(S3Client* c) {
  AETHER_ASSIGN_OR_RETURN(std::vector<S3ObjectInfo> listed, c->List(kManifests));
  std::map<uint64_t, std::string> out;
  for (const S3ObjectInfo& o : listed) {
    const std::string name = o.key.substr(std::strlen(kManifests));
    if (name.size() != 25 || name.compare(20, 5, ".json") != 0 ||
        name.find_first_not_of("0123456789") != 20)
      continue;  // not one of ours
    out[std::stoull(name.substr(0, 20))] = o.key;
  }
  return out;
}

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

nlohmann::json FilesJson(const std::vector<FileEntry>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const FileEntry& f : files) out.push_back({{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return out;
}

// The files list of a manifest or a replica's marker, each entry checked:
// a path inside the store, a size, a SHA-256; no path twice; meta.db there.
Result<std::vector<FileEntry>> ParseFiles(const nlohmann::json& j, const std::string& what) {
  auto bad = [&](const std::string& why) { return Status::Corruption(what + ": " + why); };
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) return bad("no files list");
  std::vector<FileEntry> out;
  std::set<std::string> seen;
  for (const auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("bytes") ||
        !f["bytes"].is_number_unsigned() || !f.contains("sha256") || !f["sha256"].is_string())
      return bad("a file entry without path, bytes and sha256");
    FileEntry e{f["path"].get<std::string>(), f["bytes"].get<uint64_t>(), f["sha256"].get<std::string>()};
    if (!SafeRelative(e.path)) return bad(fmt::format("a file path outside the store: '{}'", e.path));
    if (e.sha256.size() != 64 || e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      return bad(fmt::format("{}: a malformed sha256", e.path));
    if (!seen.insert(e.path).second) return bad(fmt::format("{} listed twice", e.path));
    out.push_back(std::move(e));
  }
  if (!seen.count("meta.db")) return bad("no meta.db");
  return out;
}

}  // namespace

Status CheckS3Uri(const std::string& uri) { return ParseS3Uri(uri).status(); }

Result<PublishReport> Publish(std::unique_ptr<Store> store, const std::string& store_path, const std::string& uri,
                              const S3Options& s3) {
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
  // The snapshot: a backup beside the store, its shards and centroids
  // hard-linked from the store itself (the store never writes through a
  // shared file), removed when the upload is done or has failed.
  fs::path sp = fs::path(store_path).lexically_normal();
  if (sp.filename().empty()) sp = sp.parent_path();
  const std::string snapshot =
      (sp.parent_path() / fmt::format(".{}.aether-publish.{}", sp.filename().string(), getpid())).string();
  BackupOptions bo;
  bo.dest = snapshot;
  bo.incremental_from = store_path;
  AETHER_ASSIGN_OR_RETURN(BackupReport backup, store->Backup(bo));
  store.reset();  // the snapshot is taken: writers need not wait for the upload
  PublishReport rep;
  rep.memories = backup.memories;
  Status s = [&]() -> Status {
    std::vector<FileEntry> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(snapshot, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      FileEntry e;
      e.path = fs::relative(it->path(), snapshot).generic_string();
      AETHER_ASSIGN_OR_RETURN(std::string data, ReadWhole(it->path().string()));
      e.bytes = data.size();
      e.sha256 = Sha256Hex(data);
      // Content-addressed: an object of this name holds these bytes, so one
      // already there is not sent again (its size is checked).
      const std::string key = kObjects + e.sha256;
      AETHER_ASSIGN_OR_RETURN(std::optional<uint64_t> there, client->Head(key));
      if (there && *there == e.bytes) {
        ++rep.objects_present;
      } else {
        AETHER_RETURN_IF_ERROR(client->Put(key, data));
        ++rep.objects_uploaded;
        rep.bytes_uploaded += e.bytes;
      }
      rep.bytes += e.bytes;
      files.push_back(std::move(e));
    }
    if (ec) return Status::IOError(snapshot + ": " + ec.message());
    std::sort(files.begin(), files.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    rep.files = files.size();
    AETHER_ASSIGN_OR_RETURN(auto manifests, Manifests(client.get()));
    if (!manifests.empty()) {
      // The newest manifest names these very files: nothing to publish.
      std::string text;
      AETHER_RETURN_IF_ERROR(client->Get(manifests.rbegin()->second, &text));
      const nlohmann::json newest = nlohmann::json::parse(text, nullptr, false);
      if (!newest.is_discarded() && newest.is_object() && newest.contains("files") &&
          newest["files"] == FilesJson(files)) {
        rep.sequence = manifests.rbegin()->first;
        rep.manifest = client->UriOf(manifests.rbegin()->second);
        rep.unchanged = true;
        return Status::Ok();
      }
    }
    rep.sequence = manifests.empty() ? 1 : manifests.rbegin()->first + 1;
    const nlohmann::json manifest = {{"aether_manifest", 1},
                                     {"sequence", rep.sequence},
                                     {"created_ms", uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                 std::chrono::system_clock::now().time_since_epoch())
                                                                 .count())},
                                     {"memories", rep.memories},
                                     {"files", FilesJson(files)}};
    rep.manifest = client->UriOf(ManifestKey(rep.sequence));
    return client->Put(ManifestKey(rep.sequence), manifest.dump(1) + "\n");
  }();
  std::error_code ec;
  fs::remove_all(snapshot, ec);  // ours: Backup made it, under a name with our pid
  if (!s.ok()) return s;
  return rep;
}

namespace {

// The replica in `dir` as its marker says (empty: `dir` is missing);
// kAlreadyExists for a directory that is not a replica.
Result<std::vector<FileEntry>> ReplicaFiles(const std::string& dir, uint64_t* sequence, std::string* source,
                                            bool* exists) {
  struct stat st;
  *exists = lstat(dir.c_str(), &st) == 0;
  if (!*exists) return std::vector<FileEntry>();
  if (!S_ISDIR(st.st_mode))
    return Status::AlreadyExists(dir + ": not a directory (pull makes or refreshes a replica directory)");
  const std::string marker = dir + "/" + kMarker;
  if (lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::error_code ec;
    if (fs::is_empty(dir, ec)) return std::vector<FileEntry>();
    return Status::AlreadyExists(dir + ": not a replica an earlier pull made (no " + kMarker +
                                 "); pull will not replace it");
  }
  AETHER_ASSIGN_OR_RETURN(std::string text, ReadWhole(marker));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sequence") || !j["sequence"].is_number_unsigned())
    return Status::Corruption(marker + ": not a replica marker");
  *sequence = j["sequence"].get<uint64_t>();
  *source = j.value("source", "");
  return ParseFiles(j, marker);
}

}  // namespace

Result<PullReport> Pull(const std::string& uri, const std::string& dir_in, const S3Options& s3, uint64_t sequence) {
  AETHER_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, Connect(uri, s3));
  fs::path dp = fs::path(dir_in).lexically_normal();
  if (dp.filename().empty()) dp = dp.parent_path();
  const std::string dir = dp.string();
  bool exists = false;
  uint64_t have_sequence = 0;
  std::string have_source;
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> have, ReplicaFiles(dir, &have_sequence, &have_source, &exists));
  const bool replica = exists && !have.empty();  // else missing, or an empty directory
  AETHER_ASSIGN_OR_RETURN(auto manifests, Manifests(client.get()));
  if (manifests.empty()) return Status::NotFound(uri + ": no manifest (nothing published there)");
  if (sequence == 0) sequence = manifests.rbegin()->first;
  if (!manifests.count(sequence)) return Status::NotFound(fmt::format("{}: no manifest {}", uri, sequence));
  PullReport rep;
  rep.sequence = sequence;
  rep.manifest = client->UriOf(ManifestKey(sequence));
  std::string text;
  AETHER_RETURN_IF_ERROR(client->Get(ManifestKey(sequence), &text));
  const nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || manifest.value("aether_manifest", 0) != 1 ||
      !manifest.contains("sequence") || !manifest["sequence"].is_number_unsigned() ||
      manifest["sequence"].get<uint64_t>() != sequence)
    return Status::Corruption(rep.manifest + ": not an aether manifest of sequence " + std::to_string(sequence));
  AETHER_ASSIGN_OR_RETURN(std::vector<FileEntry> files, ParseFiles(manifest, rep.manifest));
  rep.files = files.size();
  for (const FileEntry& f : files) rep.bytes += f.bytes;

  if (replica && have_sequence == sequence && have_source == uri) {
    rep.up_to_date = true;
    return rep;
  }
  std::map<std::string, std::string> have_sha;
  for (const FileEntry& f : have) have_sha[f.path] = f.sha256;

  // Built beside the directory, then swapped in whole.
  const std::string staging =
      (dp.parent_path() / fmt::format(".{}.aether-pull.{}", dp.filename().string(), getpid())).string();
  if (mkdir(staging.c_str(), 0755) != 0) {
    if (errno == ENOENT)
      return Status::NotFound(dp.parent_path().string() + ": no such directory (pull makes DIR, not its parents)");
    return Errno(staging + ": mkdir");
  }
  Status s = [&]() -> Status {
    std::set<std::string> dirs = {staging};
    for (const FileEntry& f : files) {
      const std::string to = staging + "/" + f.path;
      for (fs::path parent = fs::path(to).parent_path(); parent.string().size() > staging.size();
           parent = parent.parent_path())
        if (dirs.insert(parent.string()).second) {
          std::error_code ec;
          fs::create_directories(parent, ec);
          if (ec) return Status::IOError(parent.string() + ": " + ec.message());
        }
      // The replica's own copy, when it still holds these bytes (a search
      // on it may have changed meta.db or access.log): linked, not fetched.
      if (auto h = have_sha.find(f.path); h != have_sha.end() && h->second == f.sha256) {
        const std::string from = dir + "/" + f.path;
        Result<std::string> mine = ReadWhole(from);
        if (mine.ok() && mine->size() == f.bytes && Sha256Hex(*mine) == f.sha256 && link(from.c_str(), to.c_str()) == 0) {
          ++rep.files_kept;
          continue;
        }
      }
      std::string data;
      AETHER_RETURN_IF_ERROR(client->Get(kObjects + f.sha256, &data));
      if (data.size() != f.bytes || Sha256Hex(data) != f.sha256)
        return Status::Corruption(fmt::format("{}: {} bytes with SHA-256 {}, the manifest says {} bytes with {} (for {})",
                                              client->UriOf(kObjects + f.sha256), data.size(), Sha256Hex(data),
                                              f.bytes, f.sha256, f.path));
      AETHER_RETURN_IF_ERROR(WriteNew(to, data));
      ++rep.objects_fetched;
      rep.bytes_fetched += data.size();
    }
    const nlohmann::json marker = {{"source", uri}, {"sequence", sequence}, {"files", FilesJson(files)}};
    AETHER_RETURN_IF_ERROR(WriteNew(staging + "/" + kMarker, marker.dump(1) + "\n"));
    for (const std::string& d : dirs) AETHER_RETURN_IF_ERROR(SyncDir(d));
    return Status::Ok();
  }();
  std::error_code ec;
  if (!s.ok()) {
    fs::remove_all(staging, ec);  // ours
    return s;
  }
  const std::string parent = dp.parent_path().empty() ? "." : dp.parent_path().string();
  if (replica) {
    // One step: the new replica takes the name, the old one the hidden
    // name, which is then removed (everything under it came from a pull).
    if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
      Status e = Errno(dir + ": exchange with " + staging);
      fs::remove_all(staging, ec);
      return e;
    }
  } else if (rename(staging.c_str(), dir.c_str()) != 0) {  // onto nothing, or onto an empty directory
    Status e = Errno(dir + ": rename from " + staging);
    fs::remove_all(staging, ec);
    return e;
  }
  AETHER_RETURN_IF_ERROR(SyncDir(parent));
  if (replica) fs::remove_all(staging, ec);
  return rep;
}

}  // namespace aether
