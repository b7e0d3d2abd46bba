// A KubeApi decorator that tries reads, applies and deletes again when they fail retryably
// (409 conflict, 5xx, 429, timeouts, connection errors: IsRetryableKubeError), with bounded
// exponential backoff through an injected sleeper, then gives up naming the attempts. Watches
// pass through: the rollout watcher resumes them itself.
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "deploy/kubernetes/kube_api.h"

namespace tempa::deploy {

struct KubeRetryPolicy {
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(500);  // doubled per attempt
  absl::Duration max_backoff = absl::Seconds(8);
  std::function<void(absl::Duration)> sleep;  // default absl::SleepFor
};

// `inner` must outlive the result.
std::unique_ptr<KubeApi> MakeRetryingKubeApi(KubeApi* inner, KubeRetryPolicy policy);

}  // namespace tempa::deploy
