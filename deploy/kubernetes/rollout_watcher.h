// Follows one Deployment's rollout until it is done, failed or out of time, the way
// `kubectl rollout status` does: a read, then a watch (?watch=1&fieldSelector=metadata.name=N)
// from the read's resourceVersion, judging every event (rollout_status.h). A watch that breaks
// is resumed after a fresh read (polling in between); too many breaks in a row is a failure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"
#include "deploy/kubernetes/kube_api.h"

namespace tempa::deploy {

struct RolloutWatchOptions {
  absl::Duration timeout = absl::Minutes(10);
  int max_failures = 5;
  absl::Duration watch_timeout = absl::Minutes(1);
  absl::Duration poll_interval = absl::Seconds(2);
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(8);
  std::function<void(absl::Duration)> sleep;
  std::function<absl::Time()> now;
};

// `api_path`: the Deployment (".../namespaces/NS/deployments/NAME"); `generation`: the one
// our apply produced. OK once rolled out; FailedPrecondition when the rollout failed
// (ProgressDeadlineExceeded, deleted); DeadlineExceeded past `timeout`; Unavailable (or the
// API's error) when the API server could not be followed.
absl::Status WatchRollout(KubeApi& api, const std::string& api_path, int64_t generation,
                          const RolloutWatchOptions& options, DeployObserver& observer);

// Exponential backoff: initial * 2^(attempt-1), at most `max`.
absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max);

}  // namespace tempa::deploy
