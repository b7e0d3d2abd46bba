// A release as Kubernetes objects, ready for server-side apply: a Deployment (requests/limits,
// readiness probe on the health path, maxUnavailable 0, image by digest, env from a Secret), a
// Service, an Ingress with the release's hosts and TLS via a cert-manager issuer annotation, a
// NetworkPolicy isolating the app, and when max_replicas > replicas an HPA (autoscaling/v2, CPU)
// and a PodDisruptionBudget. Pure: no I/O.
#pragma once

#include <string>
#include <vector>

#include "deploy/core/release.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

struct KubeObjectOptions {
  std::string namespace_name = "default";
  std::string tls_issuer;       // cert-manager ClusterIssuer; "" : no TLS section
  std::string ingress_class;    // "" : the cluster's default class
  int progress_deadline_seconds = 120;
  int cpu_target_percent = 70;  // the HPA's target
  // Namespace where the ingress controller runs (allowed in by the NetworkPolicy).
  std::string ingress_namespace = "ingress-nginx";
};

struct KubeObject {
  std::string kind;      // "Deployment", "Service", ...
  std::string name;
  std::string api_path;  // "/apis/apps/v1/namespaces/NS/deployments/NAME" (no query)
  nlohmann::json body;   // the full object for apply (apiVersion, kind, metadata, spec)
};

// Objects in apply order (Secret first, Deployment before what points at it).
std::vector<KubeObject> RenderRelease(const Release& release, const KubeObjectOptions& options);

// Object name for an app's track: "APP" for production, "APP-TRACK" for a preview (a DNS label).
std::string WorkloadName(const Release& release);

}  // namespace tempa::deploy
