#include "bucket/connect.h"

namespace aether {

Result<std::unique_ptr<S3Client>> ConnectBucket(const std::string& uri, const S3Options& o,
                                                const S3ClientOptions& client) {
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
  return S3Client::Create(settings, loc, client);
}

}  // namespace aether
