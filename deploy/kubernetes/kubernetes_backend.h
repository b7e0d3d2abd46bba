// The Kubernetes backend: server-side apply (PATCH application/apply-patch+yaml,
// fieldManager=tempa) of a release's objects (kube_objects.h), then the rollout watched the way
// `kubectl rollout status` does; on failure the previous image is applied again.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"
#include "deploy/kubernetes/kube_api.h"
#include "deploy/kubernetes/objects/kube_objects.h"

namespace tempa::deploy {

struct KubernetesBackendOptions {
  std::string kubeconfig;  // "" : in-cluster service account (KUBERNETES_SERVICE_HOST, token, CA)
  std::string context;     // "" : the kubeconfig's current-context
  // namespace, issuer, ingress class, ...; an empty namespace_name takes the kubeconfig
  // context's (or the pod's) namespace, else "default".
  KubeObjectOptions objects;
  absl::Duration rollout_timeout = absl::Minutes(10);  // beyond progressDeadlineSeconds
  // Applies and reads that fail retryably (409, 5xx, 429, timeouts) are tried this many times,
  // with backoff doubling from `initial_backoff` up to `max_backoff`.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(8);
  // A rollout watch that breaks is resumed (after a fresh read); this many breaks in a row
  // without progress and the deploy fails.
  int max_watch_failures = 5;
  absl::Duration watch_timeout = absl::Minutes(1);  // one watch request; then read and re-watch
  absl::Duration poll_interval = absl::Seconds(2);  // between reads when a watch ends idle
  // After a failed rollout the previous image is applied again and followed this long.
  absl::Duration restore_timeout = absl::Minutes(2);
};

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeKubernetesBackend(
    const KubernetesBackendOptions& options);

// What the backend reaches outside itself; tests inject a KubeApi on a fake API server and a
// sleeper that only advances a fake clock.
struct KubernetesBackendDeps {
  std::unique_ptr<KubeApi> api;
  std::function<void(absl::Duration)> sleep;  // default absl::SleepFor
  std::function<absl::Time()> now;            // default absl::Now
};

// `options.objects.namespace_name` must be set; kubeconfig/context are unused.
std::unique_ptr<DeployBackend> MakeKubernetesBackendWithApi(const KubernetesBackendOptions& options,
                                                            KubernetesBackendDeps deps);

}  // namespace tempa::deploy
