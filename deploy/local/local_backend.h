// The embedded default backend: releases run on this machine under runc, behind nginx routing
// by host name. Switch-over: unpack, start the new version on a fresh loopback port, wait for
// its health check, switch the edge, drain and stop the old one. A version that never becomes
// healthy is stopped and the old one keeps serving. Rollback to a kept release skips the pull.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"
#include "deploy/edge/edge.h"
#include "deploy/image/image_unpacker.h"
#include "deploy/local/health_checker.h"
#include "deploy/local/local_state.h"
#include "deploy/local/port_allocator.h"
#include "deploy/runtime/container_runtime.h"

namespace tempa::deploy {

struct LocalBackendOptions {
  std::string work_dir;      // everything the backend keeps: images, containers, edge, state
  std::string domain;        // DOMAIN of the app hosts (a self-signed certificate covers *.DOMAIN)
  std::string proxy_listen;  // HOST:PORT nginx listens on (TLS there when certificates exist)
  std::string tls_cert_dir;  // operator's certificates ("" : a self-signed CA in work_dir)
  bool tls = true;           // false: plain HTTP at proxy_listen
  bool registry_insecure = false;  // plain HTTP to a non-loopback registry
  std::string registry_username;   // optional registry credentials for pulls
  std::string registry_password;
  absl::Duration health_timeout = absl::Seconds(60);  // a new version's time to become healthy
  absl::Duration drain = absl::Seconds(2);            // the old version's time to finish requests
  int first_port = 20000;                             // loopback ports handed to containers
  int last_port = 29999;
  int kept_releases = 5;       // per track, for rollbacks
  std::string container_init;  // tempa-container-init, each container's PID 1 ("" : none)
};

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeLocalBackend(const LocalBackendOptions& options);
// `tempa-deployer --stop-all`: stops every container of options.work_dir and its nginx (the
// apps stop answering). A deployer restart without it keeps them running and adopts them.
absl::Status StopLocalBackend(const LocalBackendOptions& options);

// The parts LocalBackend is composed of. The three interfaces are required; the rest have
// defaults (real clock and sleep, a libcurl HealthChecker on them, a PortAllocator over the
// options' range).
struct LocalBackendDeps {
  ImageUnpacker* unpacker = nullptr;
  ContainerRuntime* runtime = nullptr;
  Edge* edge = nullptr;
  std::function<absl::Time()> now;
  std::function<void(absl::Duration)> sleep;
  const HealthChecker* health = nullptr;
  PortAllocator* ports = nullptr;
  // Objects the backend keeps alive for as long as it lives (MakeLocalBackend's real parts).
  std::vector<std::shared_ptr<void>> owned;
};

class LocalBackend : public DeployBackend {
 public:
  // Opens (or starts) WORK/local/state.json; does not touch containers or the edge (Recover).
  static absl::StatusOr<std::unique_ptr<LocalBackend>> Create(const LocalBackendOptions& options,
                                                              LocalBackendDeps deps);

  DeployOutcome Deploy(const Release& release, DeployObserver& observer) override;
  // Adopts the live containers the runtime still has, starts again those it lost, stops
  // containers of ours that are not live (a deploy cut short), and applies the edge table.
  // Call before the first Deploy. An error names the tracks it could not bring back; the
  // others are recovered.
  absl::Status Recover() override;
  std::string name() const override { return "local"; }

 private:
  LocalBackend(const LocalBackendOptions& options, LocalBackendDeps deps,
               std::unique_ptr<LocalStateStore> store, LocalState state);

  // Builds the container spec for `image` and starts it under `id` on `port`.
  absl::Status StartContainer(const std::string& id, const UnpackedImage& image,
                              const std::map<std::string, std::string>& env,
                              const RunSettings& settings, int port);
  // Deploy, once the track is known to have no other deploy under way.
  DeployOutcome DeployTrack(const std::string& key, const Release& release,
                            DeployObserver& observer);
  std::string FreshContainerId(const Release& release);
  DeployOutcome Fail(absl::Status status, const std::string& container_id, int port, bool started);
  void PruneImages(DeployObserver& observer);
  bool IsKept(const std::string& image);
  bool IsLiveAndRunning(const std::string& key, const Release& release);
  // Stops the container and removes its state directory.
  void StopAndForget(const std::string& container_id);
  std::vector<Route> EdgeTable(const LocalState& state) const;

  const LocalBackendOptions options_;
  LocalBackendDeps deps_;
  std::unique_ptr<HealthChecker> own_health_;
  std::unique_ptr<PortAllocator> own_ports_;
  std::unique_ptr<LocalStateStore> store_;

  // Held while the state changes and across the edge update that follows, so that two tracks
  // switching at once each apply a table holding the other.
  absl::Mutex mu_;
  LocalState state_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);  // tracks with a Deploy running
};

}  // namespace tempa::deploy
