#include "common/build_error.h"

#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa {
namespace {

constexpr char kPayloadUrl[] = "type.tempa.dev/tempa.v1.BuildFailure";

constexpr std::pair<FailureKind, absl::string_view> kNames[] = {
    {FailureKind::kNoAppDetected, "no_app_detected"},
    {FailureKind::kDependencyResolution, "dependency_resolution"},
    {FailureKind::kCompile, "compile"},
    {FailureKind::kTimeout, "timeout"},
    {FailureKind::kOutOfMemory, "out_of_memory"},
    {FailureKind::kOutputTooLarge, "output_too_large"},
    {FailureKind::kProcessLimit, "process_limit"},
    {FailureKind::kPush, "push"},
    {FailureKind::kBadInput, "bad_input"},
    {FailureKind::kInternal, "internal"},
    {FailureKind::kCancelled, "cancelled"},
};

}  // namespace

absl::string_view FailureKindName(FailureKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "internal";
}

absl::Status WithFailure(absl::Status status, const BuildFailure& failure) {
  if (status.ok()) return status;
  // kind NUL step NUL log_tail: small and unambiguous, since none of the first two has a NUL.
  std::string encoded = absl::StrCat(FailureKindName(failure.kind), std::string(1, '\0'),
                                     failure.step, std::string(1, '\0'), failure.log_tail);
  status.SetPayload(kPayloadUrl, absl::Cord(encoded));
  return status;
}

std::optional<BuildFailure> FailureOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), absl::MaxSplits('\0', 2));
  BuildFailure failure;
  for (const auto& [k, name] : kNames) {
    if (!parts.empty() && parts[0] == name) failure.kind = k;
  }
  if (parts.size() > 1) failure.step = parts[1];
  if (parts.size() > 2) failure.log_tail = parts[2];
  return failure;
}

}  // namespace tempa
