// tempa-coordinator as a whole: opens the state, the secret key and the tokens, starts the gRPC
// server and the webhook/metrics HTTP server, and runs until SIGTERM or SIGINT.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace tempa::coordinator {

struct CoordinatorDaemonOptions {
  std::string listen = "127.0.0.1:7070";          // gRPC
  std::string webhook_listen = "127.0.0.1:7071";  // POST /webhooks/github, GET /metrics
  std::string data_dir;
  std::string registry;         // HOST:PORT workers push to
  std::string token_file;       // empty: every caller is admin (a warning says so)
  std::string secret_key_file;  // empty: DATA_DIR/secret.key, made on first start
  std::string tls_cert_file;    // both set: the gRPC listener speaks TLS
  std::string tls_key_file;
  absl::Duration lease_ttl = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int max_attempts = 3;
  int app_concurrency = 2;
  // tempa-deployer's gRPC address; empty: builds are not deployed (and rollbacks refused).
  std::string deployer;
  std::string deployer_token_file;   // the bearer token the deployer expects (0600)
  std::string deployer_tls_ca_file;  // set: the deployer speaks TLS, signed by this CA
};

// Returns the process exit code.
int RunCoordinatorDaemon(const CoordinatorDaemonOptions& options);

}  // namespace tempa::coordinator
