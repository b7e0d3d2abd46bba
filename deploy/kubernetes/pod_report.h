// Why a rollout's pods are not ready, for DEPLOY_FAILED's log tail: for each pod of the
// Deployment with a container that is not ready, its waiting/terminated reasons (e.g.
// CrashLoopBackOff, OOMKilled, ImagePullBackOff) and the last lines it printed (the previous
// container's when it restarted). Best effort: what cannot be read is said in the text.
#pragma once

#include <string>

#include "deploy/kubernetes/kube_api.h"

namespace tempa::deploy {

struct PodReportOptions {
  int tail_lines = 20;          // log lines per container
  int max_pods = 2;             // pods whose logs are fetched
  size_t max_log_bytes = 4096;  // per container
};

// `match_labels`: the Deployment's spec.selector.matchLabels.
std::string DescribeUnreadyPods(KubeApi& api, const std::string& namespace_name,
                                const nlohmann::json& match_labels,
                                const PodReportOptions& options = {});

}  // namespace tempa::deploy
