// What makes a DeployRequest acceptable to the deployer: an id, an app that is a DNS label, an
// image by digest, a hex commit, a branch for a preview, settings within bounds, env names a
// process environment can hold. Each error is InvalidArgument naming the field and the fix.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy {

// 1-128 characters of [A-Za-z0-9._-] ("d-b-12", "r-3").
absl::Status CheckDeployId(absl::string_view id);
// NAME@sha256:<64 lowercase hex>, NAME not empty and free of spaces and control characters.
absl::Status CheckImageByDigest(absl::string_view image);
// 7 to 64 lowercase hexadecimal digits.
absl::Status CheckCommitHex(absl::string_view commit);
// [A-Za-z_][A-Za-z0-9_]*, at most 256 characters.
absl::Status CheckEnvName(absl::string_view name);

// Every rule above for request.deploy() and request.env(), plus the settings (ResolveSettings)
// and, for a deploy that is not production, a branch.
absl::Status CheckDeployRequest(const tempa::v1::DeployRequest& request);

}  // namespace tempa::deploy
