// The embedded default backend: releases run on this machine under runc, behind nginx routing
// by host name. Switch-over: unpack, start the new version on a fresh loopback port, wait for
// its health check, switch the edge, drain and stop the old one. A version that never becomes
// healthy is stopped and the old one keeps serving. Rollback to a kept release skips the pull.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"

namespace tempa::deploy {

struct LocalBackendOptions {
  std::string work_dir;       // everything the backend keeps: images, containers, edge, state
  std::string proxy_listen;   // HOST:PORT nginx listens on (TLS there when certificates exist)
  std::string tls_cert_dir;   // operator's certificates ("" : a self-signed CA in work_dir)
  bool tls = true;            // false: plain HTTP at proxy_listen
  bool registry_insecure = false;   // plain HTTP to a non-loopback registry
  std::string registry_username;    // optional registry credentials for pulls
  std::string registry_password;
  absl::Duration health_timeout = absl::Seconds(60);  // a new version's time to become healthy
  absl::Duration drain = absl::Seconds(2);            // the old version's time to finish requests
  int first_port = 20000;                              // loopback ports handed to containers
  int last_port = 29999;
  int kept_releases = 5;                               // per track, for rollbacks
};

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeLocalBackend(const LocalBackendOptions& options);

}  // namespace tempa::deploy
