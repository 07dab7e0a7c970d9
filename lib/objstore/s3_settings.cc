#include "objstore/s3_settings.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "format/utf8.h"

namespace aether {
namespace {

bool BucketChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool Alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// An INI file as the AWS tools write it: "[section]" lines, "key = value"
// lines, '#' and ';' comments. Section -> key -> value; a missing file is
// an empty map (it is optional), an unreadable or malformed one an error.
using Ini = std::map<std::string, std::map<std::string, std::string>>;

Result<Ini> ReadIni(const std::string& path) {
  std::ifstream in(path);
  Ini ini;
  if (!in) return ini;
  std::string line, section;
  bool in_section = false;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      if (t.back() != ']') return Status::InvalidArgument(fmt::format("{}:{}: a section line without ']'", path, n));
      section = Trim(t.substr(1, t.size() - 2));
      in_section = true;
      ini[section];
      continue;
    }
    // An indented line is a sub-setting of the one above (s3 =\n  region =
    // ...): none is read, and none may pass for a top-level key.
    if (line[0] == ' ' || line[0] == '\t') continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument(fmt::format("{}:{}: neither a [section] nor key = value", path, n));
    if (!in_section) return Status::InvalidArgument(fmt::format("{}:{}: a setting before any [section]", path, n));
    ini[section][Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  if (in.bad()) return Status::IOError(path + ": read failed");
  return ini;
}

std::optional<std::string> Setting(const Ini& ini, const std::string& section, const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end() || k->second.empty()) return std::nullopt;
  return k->second;
}

std::string HomeFile(const EnvLookup& env, const std::string& var, const std::string& name) {
  if (auto v = env(var); v && !v->empty()) return *v;
  auto home = env("HOME");
  return (home ? *home : std::string()) + "/.aws/" + name;
}

}  // namespace

Result<S3Location> ParseS3Uri(const std::string& uri) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(fmt::format("'{}' is not an s3://BUCKET[/PREFIX] URI: {}", uri, why));
  };
  const std::string scheme = "s3://";
  if (uri.compare(0, scheme.size(), scheme) != 0) return bad("it does not start with s3://");
  const std::string rest = uri.substr(scheme.size());
  const size_t slash = rest.find('/');
  S3Location loc;
  loc.bucket = rest.substr(0, slash);
  if (loc.bucket.size() < 3 || loc.bucket.size() > 63)
    return bad(fmt::format("a bucket name has 3 to 63 characters, '{}' has {}", loc.bucket, loc.bucket.size()));
  for (char c : loc.bucket)
    if (!BucketChar(c)) return bad(fmt::format("a bucket name has only a-z, 0-9, '.' and '-', not '{}'", c));
  if (!Alnum(loc.bucket.front()) || !Alnum(loc.bucket.back()))
    return bad("a bucket name starts and ends with a letter or digit");
  if (slash != std::string::npos) {
    std::string prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.find("//") != std::string::npos || (!prefix.empty() && prefix[0] == '/'))
      return bad("the prefix has an empty segment ('//')");
    // '.' and '..' segments: an HTTP client would resolve them (into
    // another prefix, or another bucket).
    for (size_t start = 0; !prefix.empty() && start <= prefix.size();) {
      const size_t end = std::min(prefix.find('/', start), prefix.size());
      const std::string seg = prefix.substr(start, end - start);
      if (seg == "." || seg == "..") return bad("the prefix has a '" + seg + "' segment");
      start = end + 1;
    }
    for (char c : prefix)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return bad("the prefix has a control character");
    if (!ValidUtf8(prefix)) return bad("the prefix is not valid UTF-8");
    loc.prefix = prefix;
  }
  return loc;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<S3Settings> ResolveS3Settings(const S3Overrides& flags, const EnvLookup& env) {
  auto var = [&](const std::string& name) -> std::optional<std::string> {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;  // set but empty: as if unset, as the AWS tools do
    return v;
  };
  const std::string profile = flags.profile ? *flags.profile : var("AWS_PROFILE").value_or("default");
  const std::string config_path = HomeFile(env, "AWS_CONFIG_FILE", "config");
  AETHER_ASSIGN_OR_RETURN(Ini config, ReadIni(config_path));
  const std::string config_section = profile == "default" ? "default" : "profile " + profile;

  S3Settings s;
  s.addressing = flags.addressing.value_or(S3Addressing::kAuto);
  s.region = flags.region
                 ? *flags.region
                 : var("AWS_REGION")
                       .value_or(var("AWS_DEFAULT_REGION")
                                     .value_or(Setting(config, config_section, "region").value_or("us-east-1")));
  if (flags.endpoint) {
    s.endpoint = *flags.endpoint;
  } else if (auto e = var("AWS_ENDPOINT_URL_S3")) {
    s.endpoint = *e;
  } else if (auto e2 = var("AWS_ENDPOINT_URL")) {
    s.endpoint = *e2;
  } else if (auto e3 = Setting(config, config_section, "endpoint_url")) {
    s.endpoint = *e3;
  } else {
    s.endpoint = "https://s3." + s.region + ".amazonaws.com";
  }
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  if (s.endpoint.rfind("http://", 0) != 0 && s.endpoint.rfind("https://", 0) != 0)
    return Status::InvalidArgument(fmt::format("endpoint '{}' is not an http:// or https:// URL", s.endpoint));
  if (s.endpoint.find_first_of("/?#@", s.endpoint.find("//") + 2) != std::string::npos)
    return Status::InvalidArgument(
        fmt::format("endpoint '{}' has a path, query, fragment or user; give only scheme://host[:port]", s.endpoint));

  auto from_file = [&]() -> Status {
    const std::string path = HomeFile(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    AETHER_ASSIGN_OR_RETURN(Ini creds, ReadIni(path));
    // The credentials file's sections are bare names; the config file may
    // hold keys too, under "[profile NAME]".
    for (const auto& [ini, section] : {std::pair{&creds, profile}, std::pair{&config, config_section}}) {
      auto key = Setting(*ini, section, "aws_access_key_id");
      auto secret = Setting(*ini, section, "aws_secret_access_key");
      if (!key || !secret) continue;
      s.access_key = *key;
      s.secret_key = *secret;
      s.session_token = Setting(*ini, section, "aws_session_token").value_or("");
      s.credentials_from = fmt::format("profile '{}' in {}", profile, ini == &creds ? path : config_path);
      return Status::Ok();
    }
    if (flags.profile)
      return Status::InvalidArgument(
          fmt::format("profile '{}' (--profile) has no aws_access_key_id and aws_secret_access_key in {} or {}",
                      profile, path, config_path));
    return Status::InvalidArgument(
        fmt::format("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '{}' "
                    "aws_access_key_id and aws_secret_access_key in {}",
                    profile, path));
  };
  auto key = var("AWS_ACCESS_KEY_ID"), secret = var("AWS_SECRET_ACCESS_KEY");
  if (!flags.profile && key && secret) {
    s.access_key = *key;
    s.secret_key = *secret;
    s.session_token = var("AWS_SESSION_TOKEN").value_or("");
    s.credentials_from = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
  } else if (!flags.profile && (key || secret)) {
    return Status::InvalidArgument(fmt::format("{} is set but {} is not",
                                               key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                               key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"));
  } else {
    AETHER_RETURN_IF_ERROR(from_file());
  }
  return s;
}

bool UsesPathStyle(const S3Settings& s, const std::string& bucket) {
  switch (s.addressing) {
    case S3Addressing::kPath:
      return true;
    case S3Addressing::kVirtual:
      return false;
    case S3Addressing::kAuto:
      break;
  }
  // A dotted bucket does not match the wildcard certificate of a virtual
  // host; any endpoint but AWS's own may not resolve BUCKET.HOST.
  const bool aws = s.endpoint.size() >= 14 && s.endpoint.compare(s.endpoint.size() - 14, 14, ".amazonaws.com") == 0;
  return !aws || bucket.find('.') != std::string::npos;
}

}  // namespace aether
