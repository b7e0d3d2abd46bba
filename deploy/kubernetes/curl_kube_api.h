// KubeApi over libcurl: HTTPS with the kubeconfig's CA, client certificate and key handed to
// curl from memory (never written to disk), a bearer token (re-read from its file per request,
// as projected service-account tokens rotate); bounded bodies, timeouts on every request, and
// watches read as newline-delimited JSON while they stream. Thread-safe (a handle per request).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "deploy/kubernetes/kube_api.h"
#include "deploy/kubernetes/kube_config.h"

namespace tempa::deploy {

struct CurlKubeApiOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration request_timeout = absl::Seconds(30);  // Get and Apply
  size_t max_body_bytes = 16 << 20;                    // an answer, or one watch event
};

std::unique_ptr<KubeApi> MakeCurlKubeApi(KubeConfig config, CurlKubeApiOptions options = {});

}  // namespace tempa::deploy
