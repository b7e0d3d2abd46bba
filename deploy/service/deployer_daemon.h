// tempa-deployer as a whole: opens the deploy store in the work dir, starts the core over the
// backend it is given (local or Kubernetes: the main picks and builds it), serves
// tempa.v1.DeployerService (plus the standard health service and reflection, both open) and
// runs until SIGTERM, SIGINT or `stop`. deploy/deployer_main.cc parses the flags and calls
//
//   absl::Status s = tempa::deploy::RunDeployer(options, std::move(backend));
//   if (!s.ok()) { std::cerr << "tempa-deployer: " << s.message() << "\n"; return 1; }
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"

namespace tempa::deploy {

struct DeployerOptions {
  std::string listen = "127.0.0.1:7090";  // gRPC HOST:PORT (port 0: any free one)
  std::string work_dir;                   // the deploy store and its key; the backend's files
  std::string domain;                     // apps answer at APP.DOMAIN, APP-SHA.DOMAIN, ...
  // The coordinator's bearer token (a private file holding one token). Empty: every caller is
  // allowed, which RunDeployer accepts only when `listen` is a loopback address.
  std::string token_file;
  std::string tls_cert_file;  // both set: the gRPC listener speaks TLS
  std::string tls_key_file;
  absl::Duration shutdown_grace = absl::Seconds(2);  // for open calls (watches) at the end
};

// Runs the deployer until SIGTERM or SIGINT arrives, or `stop` (when given) is notified; then
// ends the open calls, lets running deploys finish and returns OK. `on_listening` (when given)
// is called with the bound port once the server answers. Errors (bad options, a work dir or
// port that cannot be used, a backend that cannot Recover) name what to fix.
absl::Status RunDeployer(const DeployerOptions& options, std::unique_ptr<DeployBackend> backend,
                         absl::Notification* stop = nullptr,
                         std::function<void(int port)> on_listening = nullptr);

}  // namespace tempa::deploy
