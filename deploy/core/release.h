// What a deploy backend makes live, and the interface every backend (local runc + nginx,
// Kubernetes) implements. Plain C++ types: backends never see the wire messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

// How a release runs, with the deployer's defaults already filled in (see ResolveSettings in
// deploy/core/hosts.h): every field is meaningful.
struct RunSettings {
  int64_t memory_bytes = 256ll << 20;
  int cpu_millis = 500;
  int replicas = 1;
  int max_replicas = 1;  // > replicas: autoscaled up to this
  std::string health_path = "/";
  int port = 8080;  // the port the app listens on (PORT is set to it)
  // The app's settings named `port`. When false, `port` is the default (8080) and a backend
  // that reads the image's config may use the image's port (EXPOSE, or a PORT env) instead.
  bool port_explicit = false;
  int pids_max = 256;
};

// One deploy of one app's track ("production" or a preview branch), image by digest.
struct Release {
  std::string deploy_id;  // "d-b-12" or "r-3": unique, stable across retries
  std::string app;        // DNS label ([a-z0-9-])
  std::string track;      // "production" or the preview branch as a DNS label
  std::string commit;     // full SHA
  std::string image;      // HOST[:PORT]/REPO@sha256:<hex>
  // Every host it answers on, the track's host first (APP.DOMAIN or APP-BRANCH.DOMAIN), then
  // the commit's (APP-SHORTSHA.DOMAIN).
  std::vector<std::string> hosts;
  RunSettings settings;
  std::map<std::string, std::string> env;  // secret values: never logged, never in a status
  bool rollback = false;
};

// How a deploy ended. On failure the previous live version of the track keeps serving.
struct DeployOutcome {
  absl::Status status;            // OK: live; else what went wrong and the fix
  std::string log_tail;           // failure: the new version's last output lines
  std::vector<std::string> urls;  // success: "https://app.example.com", ...
};

// Receives progress lines while a deploy runs (shown in the deploy's record).
class DeployObserver {
 public:
  virtual ~DeployObserver() = default;
  virtual void Step(absl::string_view what) = 0;  // "pulling", "starting", "health check", ...
};

class DeployBackend {
 public:
  virtual ~DeployBackend() = default;
  // Makes `release` the live version of its app's track and returns once its hosts answer
  // with it, or gives up leaving the live version as it was. Blocking; called for one track
  // at a time (the core serializes deploys per app+track), for different tracks concurrently.
  // A release deployed before (a rollback) must be fast: no rebuild, no pull when kept.
  virtual DeployOutcome Deploy(const Release& release, DeployObserver& observer) = 0;
  // Restores what should be running after the deployer restarted (containers, routes).
  virtual absl::Status Recover() { return absl::OkStatus(); }
  virtual std::string name() const = 0;  // "local", "kubernetes"
};

}  // namespace tempa::deploy
