// A release as Kubernetes objects, ready for server-side apply: a Deployment (requests/limits,
// readiness probe on the health path, maxUnavailable 0, image by digest, env from a Secret), a
// Service, an Ingress with the release's hosts and TLS via a cert-manager issuer annotation, a
// NetworkPolicy isolating the app, and when max_replicas > replicas an HPA (autoscaling/v2, CPU)
// and a PodDisruptionBudget. Pure: no I/O.
//
// Every object carries the labels app.kubernetes.io/name=APP, app.kubernetes.io/managed-by=tempa,
// tempa.dev/track=TRACK and the annotations tempa.dev/deploy-id and tempa.dev/commit. Names are
// DNS-1123 labels of at most 63 characters (cut, with a hash of the whole name appended).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "deploy/core/release.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

struct KubeObjectOptions {
  std::string namespace_name = "default";
  std::string tls_issuer;  // cert-manager ClusterIssuer; "" : no TLS section
  // A Secret in the namespace holding a wildcard certificate for *.DOMAIN (made by the operator,
  // e.g. cert-manager with DNS-01): when set, every Ingress uses it and no certificate is issued
  // per app (each deploy adds a commit host, so per-app certificates are re-issued per deploy).
  std::string tls_secret;
  std::string ingress_class;  // "" : the cluster's default class
  int progress_deadline_seconds = 120;
  int cpu_target_percent = 70;  // the HPA's target
  // Namespace where the ingress controller runs (allowed in by the NetworkPolicy).
  std::string ingress_namespace = "ingress-nginx";
  // Egress the NetworkPolicy refuses inside 0.0.0.0/0: the private ranges where pods, services,
  // nodes and the control plane live. Add the cluster's pod/service CIDRs if they are public.
  std::vector<std::string> egress_blocked_cidrs = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                   "169.254.0.0/16", "100.64.0.0/10"};
};

struct KubeObject {
  std::string kind;  // "Deployment", "Service", ...
  std::string name;
  std::string api_path;  // "/apis/apps/v1/namespaces/NS/deployments/NAME" (no query)
  nlohmann::json body;   // the full object for apply (apiVersion, kind, metadata, spec)
};

// Whether `release` and `options` can be rendered into objects the API server accepts: app a DNS
// label, hosts DNS names, image pinned by sha256 digest, port 1024-65535 (the app runs as a
// non-root user with every capability dropped), sane limits and replicas, env names that are
// C identifiers. InvalidArgument naming the field and the fix otherwise. The backend calls it
// before RenderRelease; RenderRelease of a release it refuses may render objects the API
// server refuses (names are always valid).
absl::Status ValidateRelease(const Release& release, const KubeObjectOptions& options);

// Objects in apply order: the env Secret (when env is set), the NetworkPolicy (before any pod
// of the workload exists), the Deployment, the Service, the Ingress, then the HPA and the PDB
// (when max_replicas > replicas). The Secret is named WORKLOAD-env-<8 hex of the env's sha256>:
// a change of env changes the pod template (pods roll), and a rollback renders its own env
// under its own name. Env values appear nowhere but in that Secret's data (the name carries 32
// bits of a hash over the whole env: only a guess at every name and value at once can be checked
// against it). Content-named Secrets are immutable and kept: a rollback finds its own.
std::vector<KubeObject> RenderRelease(const Release& release, const KubeObjectOptions& options);

// What an earlier release of the same track may have created and this one does not: the HPA and
// the PDB when max_replicas <= replicas (body empty). The backend deletes them (404 is fine), or
// an old HPA would keep scaling a Deployment that no longer asks for it.
std::vector<KubeObject> ObjectsToRemove(const Release& release, const KubeObjectOptions& options);

// Object name for an app's track: "APP" for production, "APP-TRACK-<8 hex>" for a preview (a
// DNS-1035 label of at most 63 characters). The hash of (app, track) keeps one app's preview
// from landing on another app's production objects (app "shop" branch "api" vs app "shop-api").
std::string WorkloadName(const Release& release);

}  // namespace tempa::deploy
