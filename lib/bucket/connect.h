#pragma once
// A client of s3://BUCKET/PREFIX: endpoint, region, credentials and
// addressing as the options say, each empty one as the environment and the
// AWS shared files say (objstore/s3_settings.h).
#include <memory>
#include <string>

#include "aether/options.h"
#include "aether/status.h"
#include "objstore/s3_client.h"

namespace aether {

Result<std::unique_ptr<S3Client>> ConnectBucket(const std::string& uri, const S3Options& o,
                                                const S3ClientOptions& client = S3ClientOptions());

}  // namespace aether
