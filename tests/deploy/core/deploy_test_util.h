// Shared by the deployer's core and service tests: well-formed deploy requests, and waiting for
// a deploy to reach a state through the core's WaitForChange (no sleeps).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "deploy/core/deployer_core.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy::testing {

inline constexpr char kTestCommit[] = "0123456789abcdef0123456789abcdef01234567";

// A request for deploy `id` of `app` on `branch` (production when `production`), image by
// digest, created at `created_ms` (0: the core's clock).
tempa::v1::DeployRequest MakeRequest(const std::string& id, const std::string& app = "web",
                                     const std::string& branch = "main", bool production = true,
                                     int64_t created_ms = 0);

// Waits (up to `timeout`) until `id` has `status`; the record, or DeadlineExceeded with the
// last status seen.
absl::StatusOr<tempa::v1::Deploy> WaitForStatus(DeployerCore& core, const std::string& id,
                                                tempa::v1::DeployStatus status,
                                                absl::Duration timeout = absl::Seconds(30));

}  // namespace tempa::deploy::testing
