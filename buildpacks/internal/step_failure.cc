#include "buildpacks/internal/step_failure.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tempa::buildpacks::internal {

absl::Status StepFailed(absl::string_view what, const SandboxResult& result,
                        const std::string& tail, const SandboxLimits& limits, FailureKind exit_kind,
                        const std::string& exit_detail) {
  std::string sep = tail.empty() ? "" : ":\n";
  absl::Status status;
  FailureKind kind = exit_kind;
  switch (result.outcome) {
    case SandboxResult::Outcome::kExited:
      status = absl::InvalidArgumentError(
          absl::StrCat(what, " failed (exit ", result.exit_code, ")", exit_detail, sep, tail));
      break;
    case SandboxResult::Outcome::kTimedOut:
      kind = FailureKind::kTimeout;
      status = absl::DeadlineExceededError(absl::StrCat(
          what, " timed out after ", absl::FormatDuration(limits.wall_time), sep, tail));
      break;
    case SandboxResult::Outcome::kOutOfMemory:
      kind = FailureKind::kOutOfMemory;
      status = absl::ResourceExhaustedError(absl::StrCat(
          what, " ran out of memory (limit ", limits.memory_bytes >> 20, " MiB)", sep, tail));
      break;
    case SandboxResult::Outcome::kOutputTooLarge:
      kind = FailureKind::kOutputTooLarge;
      status = absl::ResourceExhaustedError(
          absl::StrCat(what, " printed more than ", limits.output_bytes,
                       " bytes and was stopped; raise the limit with --max-output", sep, tail));
      break;
    case SandboxResult::Outcome::kFileTooLarge:
      kind = FailureKind::kOutputTooLarge;
      status = absl::ResourceExhaustedError(
          absl::StrCat(what, " tried to write a file larger than ", limits.file_bytes,
                       " bytes; raise the limit with --max-file-size", sep, tail));
      break;
    case SandboxResult::Outcome::kProcessLimit:
      kind = FailureKind::kProcessLimit;
      status = absl::ResourceExhaustedError(
          absl::StrCat(what, " hit the process limit (", limits.max_processes,
                       " processes and threads); raise it with --max-processes", sep, tail));
      break;
    case SandboxResult::Outcome::kKilled:
      kind = FailureKind::kInternal;
      status = absl::AbortedError(absl::StrCat(what, " was killed", sep, tail));
      break;
    case SandboxResult::Outcome::kCancelled:
      kind = FailureKind::kCancelled;
      status = absl::CancelledError(absl::StrCat(what, " was cancelled", sep, tail));
      break;
  }
  return WithFailure(status, BuildFailure{kind, "build", tail});
}

}  // namespace tempa::buildpacks::internal
