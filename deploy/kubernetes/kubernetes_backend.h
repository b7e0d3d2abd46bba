// The Kubernetes backend: server-side apply (PATCH application/apply-patch+yaml,
// fieldManager=tempa) of a release's objects (kube_objects.h), then the rollout watched the way
// `kubectl rollout status` does; on failure the previous image is applied again.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"
#include "deploy/kubernetes/objects/kube_objects.h"

namespace tempa::deploy {

struct KubernetesBackendOptions {
  std::string kubeconfig;     // "" : in-cluster service account (KUBERNETES_SERVICE_HOST, token, CA)
  std::string context;        // "" : the kubeconfig's current-context
  KubeObjectOptions objects;  // namespace, issuer, ingress class, ...
  absl::Duration rollout_timeout = absl::Minutes(10);  // beyond progressDeadlineSeconds
};

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeKubernetesBackend(
    const KubernetesBackendOptions& options);

}  // namespace tempa::deploy
