// Turns a sandboxed build step that did not succeed into a Status carrying its failure kind, the
// same way for every buildpack: timeouts, memory and output limits keep their own kinds.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/build_error.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::internal {

// `what` names the step ("go build"); `exit_kind` is the kind of a plain non-zero exit
// (compile or dependency_resolution, decided by the caller from the output); `exit_detail` is
// appended to the exit message. The failure's step is "build" and its log tail `tail`.
absl::Status StepFailed(absl::string_view what, const SandboxResult& result,
                        const std::string& tail, const SandboxLimits& limits,
                        FailureKind exit_kind, const std::string& exit_detail = "");

}  // namespace tempa::buildpacks::internal
