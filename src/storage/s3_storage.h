// The S3 backend's factory with its environment made explicit, for tests (OpenS3Storage reads
// the process environment). See storage_s3.cc for the design and docs/cloud-storage.md for users.
#pragma once

#include <memory>
#include <string_view>

#include "base/status.h"
#include "storage/s3_credentials.h"
#include "storage/storage.h"

namespace pydepot::storage::s3 {

// As OpenS3Storage(url), reading every setting through `env`: the AWS variables of
// s3_credentials.h, AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, and pydepot's own tuning knobs
//   PYDEPOT_S3_MULTIPART_THRESHOLD  bytes above which PutFileIfAbsent uploads in parts (64 MiB)
//   PYDEPOT_S3_PART_SIZE            bytes per part (16 MiB; at least 5 MiB, S3's minimum)
//   PYDEPOT_S3_CLAIM_STALE_SECONDS  age after which an unrenewed upload claim is abandoned (600)
// `hosts` says where the container and EC2 metadata services are (tests: 127.0.0.1).
StatusOr<std::unique_ptr<Storage>> OpenS3StorageWithEnvironment(std::string_view url,
                                                                const EnvLookup& env,
                                                                const MetadataHosts& hosts = {});

}  // namespace pydepot::storage::s3
