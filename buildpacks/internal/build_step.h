// Runs one sandboxed compile step (go build, cargo build) the same way for every compiled
// language: output streamed to the build log, its last lines kept for the error, and a plain
// non-zero exit classified by the tool's own words as dependency_resolution or compile.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"
#include "common/build_error.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::internal {

// kDependencyResolution when `tail` contains one of `dependency_markers` (the tool's messages for
// a module or crate it cannot find or fetch), else kCompile.
FailureKind KindOfExit(absl::string_view tail,
                       std::span<const absl::string_view> dependency_markers);

// Runs `command` in context.sandbox, passing every output line to context.log. OK when the step
// succeeded. Otherwise StepFailed for `what` ("go build") with the output's last lines, a plain
// non-zero exit classified by KindOfExit; a sandbox that cannot run the step at all is kInternal.
absl::Status RunBuildStep(absl::string_view what, SandboxCommand command,
                          const BuildContext& context,
                          std::span<const absl::string_view> dependency_markers);

// A build step with egress, split so that only its fetch has network: `fetch` is `build` with
// `fetch_argv` (go mod download, cargo fetch) and the egress; the compile that follows (which
// runs code from the repository and its dependencies: build scripts, generators) keeps none, and
// `offline_env` on top of its env. A step without egress runs as is.
struct SplitStep {
  std::optional<SandboxCommand> fetch;
  SandboxCommand compile;
};
SplitStep SplitFetchFromCompile(SandboxCommand build, std::vector<std::string> fetch_argv,
                                const std::map<std::string, std::string>& offline_env);

// " (reaches a.example:443, b.example:443)" for a log line; " (offline)" without egress.
std::string DescribeEgress(const std::vector<NetworkTarget>& egress);

// Runs `command` like RunBuildStep, but any plain non-zero exit is dependency_resolution.
absl::Status RunFetchStep(absl::string_view what, SandboxCommand command,
                          const BuildContext& context);

}  // namespace tempa::buildpacks::internal
