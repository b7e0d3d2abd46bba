// How the local backend runs a release: the process (argv, environment, working directory,
// user) resolved from the image's config and the release, and the container's name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deploy/image/image_unpacker.h"

namespace tempa::deploy {

struct RunPlan {
  std::vector<std::string> args;  // Entrypoint then Cmd
  std::vector<std::string> env;   // image env, then the release's, then PORT (later wins)
  std::string cwd = "/";
  uint32_t uid = 65534;
  uint32_t gid = 65534;
};

// The uid/gid an image config's User runs as: numeric and non-zero ids as given ("1000",
// "1000:1000"; a missing gid is 65534), anything else (a name, root, empty) as 65534. Names are
// not looked up in the image's /etc/passwd: the image is untrusted and root is never wanted.
void ResolveUser(absl::string_view user, uint32_t* uid, uint32_t* gid);

// InvalidArgument when the image says nothing to run (no Entrypoint and no Cmd) or an env
// name of the release is not a valid name.
absl::StatusOr<RunPlan> ResolveRunPlan(absl::string_view image, const ImageRunConfig& config,
                                       const std::map<std::string, std::string>& release_env,
                                       int port);

// "tempa-APP-TRACK-DEPLOYID" with every character outside [a-zA-Z0-9_.-] made '-', at most 120
// characters.
std::string ContainerIdFor(absl::string_view app, absl::string_view track,
                           absl::string_view deploy_id);

}  // namespace tempa::deploy
