// Structured build failures. A failed step returns an absl::Status whose payload names the
// failure kind and step, so the CLI, the JSON output and (later) the coordinator can tell a
// compile error from a timeout without parsing messages.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa {

enum class FailureKind {
  kNoAppDetected,
  kDependencyResolution,
  kCompile,
  kTimeout,
  kOutOfMemory,
  kOutputTooLarge,
  kProcessLimit,  // forked past the process limit (a fork bomb, or a limit set too low)
  kPush,
  kBadInput,   // bad flags, image names, config
  kInternal,   // Tempa itself or the machine (disk, sandbox) failed
  kCancelled,  // stopped on request (a cancel, or a newer push superseding it)
};

// "no_app_detected", "compile", ... as printed and carried in JSON.
absl::string_view FailureKindName(FailureKind kind);

struct BuildFailure {
  FailureKind kind = FailureKind::kInternal;
  std::string step;      // "detect", "build", "layers", "push", ...
  std::string log_tail;  // the last lines of the failing command's output, when there was one
};

// Returns `status` carrying `failure` (an OK status stays OK).
absl::Status WithFailure(absl::Status status, const BuildFailure& failure);
// The failure carried by `status`, if any.
std::optional<BuildFailure> FailureOf(const absl::Status& status);

}  // namespace tempa
