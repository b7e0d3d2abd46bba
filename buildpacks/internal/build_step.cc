#include "buildpacks/internal/build_step.h"

#include <deque>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/step_failure.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::internal {
namespace {

// How much of the output a failure carries: enough for a compiler's error and its context.
constexpr size_t kTailLines = 20;

}  // namespace

FailureKind KindOfExit(absl::string_view tail,
                       std::span<const absl::string_view> dependency_markers) {
  for (absl::string_view marker : dependency_markers) {
    if (absl::StrContains(tail, marker)) return FailureKind::kDependencyResolution;
  }
  return FailureKind::kCompile;
}

namespace {

// Runs `command`; a plain non-zero exit gets kind `classify(tail)`.
template <typename Classify>
absl::Status RunStep(absl::string_view what, SandboxCommand command, const BuildContext& context,
                     Classify classify) {
  std::deque<std::string> tail;
  command.on_output = [&](absl::string_view line) {
    if (context.log) context.log(line);
    tail.emplace_back(line);
    if (tail.size() > kTailLines) tail.pop_front();
  };
  absl::StatusOr<SandboxResult> result = context.sandbox->Run(command);
  if (!result.ok()) {
    return WithFailure(Annotate(result.status(), what), {FailureKind::kInternal, "build", ""});
  }
  if (result->ok()) return absl::OkStatus();
  std::string tail_text = absl::StrJoin(tail, "\n");
  if (tail_text.empty()) tail_text = result->log_tail;
  return StepFailed(what, *result, tail_text, command.limits, classify(tail_text));
}

}  // namespace

absl::Status RunBuildStep(absl::string_view what, SandboxCommand command,
                          const BuildContext& context,
                          std::span<const absl::string_view> dependency_markers) {
  return RunStep(what, std::move(command), context, [&](absl::string_view tail) {
    return KindOfExit(tail, dependency_markers);
  });
}

absl::Status RunFetchStep(absl::string_view what, SandboxCommand command,
                          const BuildContext& context) {
  return RunStep(what, std::move(command), context,
                 [](absl::string_view) { return FailureKind::kDependencyResolution; });
}

std::string DescribeEgress(const std::vector<NetworkTarget>& egress) {
  if (egress.empty()) return " (offline)";
  return absl::StrCat(" (reaches ", absl::StrJoin(egress, ", ",
                                                  [](std::string* out, const NetworkTarget& t) {
                                                    absl::StrAppend(out, t.host, ":", t.port);
                                                  }),
                      ")");
}

SplitStep SplitFetchFromCompile(SandboxCommand build, std::vector<std::string> fetch_argv,
                                const std::map<std::string, std::string>& offline_env) {
  SplitStep split;
  if (build.egress.empty()) {
    split.compile = std::move(build);
    return split;
  }
  split.fetch = build;
  split.fetch->argv = std::move(fetch_argv);
  split.compile = std::move(build);
  split.compile.egress.clear();
  for (const auto& [key, value] : offline_env) split.compile.env[key] = value;
  return split;
}

}  // namespace tempa::buildpacks::internal
