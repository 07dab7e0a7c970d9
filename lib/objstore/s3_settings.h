#pragma once
// Where a bucket is and how to reach it: an s3:// URI, and the endpoint,
// region and credentials resolved as the AWS tools resolve them (flags, then
// the environment, then the shared files ~/.aws/credentials and
// ~/.aws/config).

#include <functional>
#include <optional>
#include <string>

#include "aether/status.h"

namespace aether {

// s3://BUCKET[/PREFIX]: the prefix is kept without a leading or trailing
// '/' (objects are PREFIX/NAME; an empty prefix names the bucket's root).
struct S3Location {
  std::string bucket;
  std::string prefix;
  std::string Uri() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }
};
// kInvalidArgument for anything that is not an s3:// URI with a valid
// bucket name (3-63 characters of a-z, 0-9, '.', '-'; starting and ending
// with a letter or digit) and a prefix without empty segments.
Result<S3Location> ParseS3Uri(const std::string& uri);

enum class S3Addressing {
  kAuto,     // virtual-hosted on AWS's own endpoints, path-style elsewhere or for a dotted bucket
  kPath,     // ENDPOINT/BUCKET/KEY
  kVirtual,  // BUCKET.HOST/KEY
};

struct S3Settings {
  std::string endpoint;  // scheme://host[:port], no path
  std::string region;
  std::string access_key, secret_key, session_token;
  S3Addressing addressing = S3Addressing::kAuto;
  std::string credentials_from;  // where the keys came from, for messages
};

// What a command line may set; each, when set, wins over the environment.
struct S3Overrides {
  std::optional<std::string> endpoint, region, profile;
  std::optional<S3Addressing> addressing;
};

// The environment as a function (tests pass their own): the value of a
// variable, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Endpoint: --endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
// endpoint_url in the config file, else https://s3.REGION.amazonaws.com.
// Region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region,
// else us-east-1. Credentials: the profile named by --profile; else
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN);
// else the profile AWS_PROFILE names, or "default", in the credentials
// file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). The config
// file is AWS_CONFIG_FILE, else ~/.aws/config ("[profile NAME]" sections,
// "[default]"). Errors (kInvalidArgument) name what is missing or where a
// file is malformed.
Result<S3Settings> ResolveS3Settings(const S3Overrides& flags, const EnvLookup& env);

// Whether requests for this bucket go path-style.
bool UsesPathStyle(const S3Settings& s, const std::string& bucket);

}  // namespace aether
