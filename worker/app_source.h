// Resolves what to build from a source tree: the app's tempa.toml and Procfile, a monorepo
// subdirectory, and the build settings, with the CLI's flags taking precedence over the files;
// then detects the plan. `tempa build` (through BuildPipeline) and `tempa detect` both call
// PlanApp, so what detect prints is what the build builds.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/build_plan.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/detector.h"

namespace tempa::worker {

struct ResolvedApp {
  std::string app_dir;       // the source root, or its configured subdirectory
  std::string subdirectory;  // `subdirectory` of tempa.toml, cleaned; "" for the root
  buildpacks::DetectOptions detect;
  std::map<std::string, std::string> build_env;
  // tempa.toml's runtime-file globs (the root's, else the subdirectory's), relative to app_dir.
  std::vector<std::string> include_files;
  std::vector<std::string> exclude_files;
  std::vector<std::string> notes;  // what the config files changed, for the progress line
};

// `cli_detect` and `cli_env` come from flags and win over tempa.toml. The start command's
// precedence: `cli_detect.start` (from `cli_detect.start_source`: "--start" when empty, "app
// settings" for the control plane's) > tempa.toml `start` > Procfile `web:` > detection.
// `source_dir` must be a directory; a subdirectory is refused when it leaves the tree
// (absolute, "..", a symlink).
absl::StatusOr<ResolvedApp> ResolveApp(const std::string& source_dir,
                                       const buildpacks::DetectOptions& cli_detect,
                                       const std::map<std::string, std::string>& cli_env);

struct AppPlan {
  ResolvedApp app;
  buildpacks::Buildpack* buildpack = nullptr;  // owned by the detector
  buildpacks::BuildPlan plan;
};

// The app a build of `source_dir` builds, and how: ResolveApp, then `detector` on its directory.
// Failures carry a BuildFailure (common/build_error.h): bad_input in step "detect" when
// `source_dir` is not a directory, bad_input in "config" for tempa.toml / Procfile /
// subdirectory problems, and the detector's own kind in "detect" (no_app_detected naming what
// was looked for, bad_input, or the buildpack's).
absl::StatusOr<AppPlan> PlanApp(const std::string& source_dir,
                                const buildpacks::DetectOptions& cli_detect,
                                const std::map<std::string, std::string>& cli_env,
                                const buildpacks::Detector& detector);

}  // namespace tempa::worker
