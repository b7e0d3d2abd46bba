// Resolves what to build from a source tree: the app's tempa.toml and Procfile, a monorepo
// subdirectory, and the build settings, with the CLI's flags taking precedence over the files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/build_plan.h"

namespace tempa::worker {

struct ResolvedApp {
  std::string app_dir;  // the source root, or its configured subdirectory
  buildpacks::DetectOptions detect;
  std::map<std::string, std::string> build_env;
  std::vector<std::string> notes;  // what the config files changed, for the progress line
};

// `cli_detect` and `cli_env` come from flags and win over tempa.toml.
absl::StatusOr<ResolvedApp> ResolveApp(const std::string& source_dir,
                                       const buildpacks::DetectOptions& cli_detect,
                                       const std::map<std::string, std::string>& cli_env);

}  // namespace tempa::worker
