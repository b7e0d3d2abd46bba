#include "deploy/kubernetes/rollout_watcher.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/rollout_status.h"

namespace tempa::deploy {

absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max) {
  absl::Duration d = initial;
  for (int i = 1; i < attempt && d < max; ++i) d *= 2;
  return std::min(d, max);
}

absl::Status WatchRollout(KubeApi& api, const std::string& api_path, int64_t generation,
                          const RolloutWatchOptions& options, DeployObserver& observer) {
  size_t slash = api_path.rfind('/');
  std::string name = api_path.substr(slash + 1);
  std::string watch_path =
      absl::StrCat(api_path.substr(0, slash), "?fieldSelector=metadata.name%3D", name);
  const absl::Time deadline = options.now() + options.timeout;
  std::string last_message = "no status read yet";
  int failures = 0;
  absl::Status last_error;

  // Judges one Deployment object; a verdict once the rollout is done or failed.
  auto judge = [&](const nlohmann::json& object) -> std::optional<absl::Status> {
    RolloutVerdict v = JudgeRollout(object, generation);
    if (v.message != last_message) {
      observer.Step(absl::StrCat("rollout: ", v.message));
      last_message = v.message;
    }
    if (v.state == RolloutVerdict::kDone) return absl::OkStatus();
    if (v.state == RolloutVerdict::kFailed) return absl::FailedPreconditionError(v.message);
    return std::nullopt;
  };
  // Counts a failure; an error once there were too many in a row.
  auto failed = [&](const absl::Status& error) -> std::optional<absl::Status> {
    last_error = error;
    if (++failures >= options.max_failures) {
      return absl::UnavailableError(absl::StrCat(
          "following the rollout of deployment ", name, " failed ", failures,
          " times in a row (last: ", error.message(), "); its last known state: ", last_message,
          ". Check the API server, then `kubectl rollout status deployment/", name, "`"));
    }
    options.sleep(Backoff(failures, options.initial_backoff, options.max_backoff));
    return std::nullopt;
  };

  while (true) {
    if (options.now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("the rollout of deployment ", name, " did not finish within ",
                       absl::FormatDuration(options.timeout), "; last state: ", last_message));
    }
    // A fresh read: where the rollout is, and the resourceVersion to watch from.
    absl::StatusOr<nlohmann::json> read = api.Get(api_path);
    if (!read.ok()) {
      if (!IsRetryableKubeError(read.status()) &&
          read.status().code() != absl::StatusCode::kUnavailable) {
        return read.status();
      }
      if (auto verdict = failed(read.status())) return *verdict;
      continue;
    }
    if (auto verdict = judge(*read)) return *verdict;
    std::string resource_version = JsonString(*read, {"metadata", "resourceVersion"});

    bool progressed = false;
    std::optional<absl::Status> verdict;
    absl::Status event_error;
    absl::Duration remaining = std::max(deadline - options.now(), absl::Seconds(1));
    absl::Status watched = api.Watch(
        watch_path, resource_version, std::min(options.watch_timeout, remaining),
        [&](const nlohmann::json& event) {
          std::string type = JsonString(event, {"type"});
          const nlohmann::json* object = JsonAt(event, {"object"});
          if (type == "ERROR") {
            long code = object != nullptr ? JsonInt(*object, {"code"}, 500) : 500;
            event_error = StatusFromKubeAnswer(code, object != nullptr ? object->dump() : "",
                                               absl::StrCat("watch of deployment ", name));
            return WatchNext::kStop;
          }
          if (object == nullptr || !object->is_object()) return WatchNext::kContinue;
          if (type == "BOOKMARK") return WatchNext::kContinue;
          if (type == "DELETED") {
            verdict = absl::FailedPreconditionError(
                absl::StrCat("deployment ", name, " was deleted during its rollout"));
            return WatchNext::kStop;
          }
          if (JsonString(*object, {"metadata", "name"}) != name) return WatchNext::kContinue;
          progressed = true;
          verdict = judge(*object);
          return verdict ? WatchNext::kStop : WatchNext::kContinue;
        });
    if (verdict) return *verdict;
    if (progressed) failures = 0;
    // Errors include 410 Gone (our resourceVersion is too old): read again, watch from there.
    absl::Status error = !watched.ok() ? watched : event_error;
    if (!error.ok()) {
      observer.Step(absl::StrCat("watch of deployment ", name, " broke (", error.message(),
                                 "); reading it again"));
      if (auto v = failed(error)) return *v;
      continue;
    }
    // The watch ended (server timeout) without a verdict: poll, then watch again.
    if (!progressed) options.sleep(options.poll_interval);
  }
}

}  // namespace tempa::deploy
