// A scripted buildpack and the wiring to drive the real BuildPipeline with it, for tests of the
// pipeline itself (cancellation, pinning, concurrent builds) that need no toolchain. An app is a
// directory with `deps.lock` (its dependency layer's input key) and `deps.sh`, a shell script
// run in the real sandbox to make the dependency layer (its output lines reach the build log);
// an app holding `deps.own-code` has a deps layer never shared across apps (no produce_for_fleet);
// the app layer holds `app.txt`, after running `app.sh` in the sandbox when there is one, and with
// `app.unpacks-deps` also `dep-copy.txt`: deps/dep.txt of the deps layer, unpacked through
// BuildContext::extract_layer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "buildpacks/buildpack.h"
#include "buildpacks/detector.h"

namespace tempa::testing {

class ScriptedBuildpack : public buildpacks::Buildpack {
 public:
  absl::string_view language() const override { return "scripted"; }
  absl::StatusOr<std::optional<buildpacks::BuildPlan>> Detect(
      const std::string& source_dir, const buildpacks::DetectOptions& options) override;
  absl::StatusOr<buildpacks::BuildRecipe> Prepare(const buildpacks::BuildPlan& plan,
                                                  const buildpacks::BuildContext& context) override;
};

// A detector knowing only the scripted buildpack.
buildpacks::Detector ScriptedDetector();

// Writes a scripted app into `dir` (created, world-readable).
void WriteScriptedApp(const std::string& dir, const std::string& lock, const std::string& deps_sh,
                      const std::string& app_text);

}  // namespace tempa::testing
