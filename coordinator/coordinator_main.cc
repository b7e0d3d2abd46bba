// tempa-coordinator: parses flags and runs the daemon (coordinator/service/coordinator_daemon.h).
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "common/flags/dashed_flags.h"
#include "coordinator/service/coordinator_daemon.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC address, HOST:PORT (port 0: any)");
ABSL_FLAG(std::string, webhook_listen, "127.0.0.1:7071",
          "HTTP address for POST /webhooks/github and GET /metrics");
ABSL_FLAG(std::string, data_dir, "", "where the state (RocksDB) lives; made 0700");
ABSL_FLAG(std::string, registry, "", "the OCI registry workers push to, HOST:PORT");
ABSL_FLAG(std::string, token_file, "", "bearer tokens: lines 'ROLE TOKEN [NAME]' (0600)");
ABSL_FLAG(std::string, secret_key_file, "",
          "AES-256 key sealing stored secrets (default DATA_DIR/secret.key, made if missing)");
ABSL_FLAG(std::string, tls_cert_file, "", "serve gRPC over TLS with this certificate");
ABSL_FLAG(std::string, tls_key_file, "", "and this private key");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(30),
          "a build is handed to another worker when its worker is silent this long");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1),
          "how often workers heartbeat (and so learn of a cancel)");
ABSL_FLAG(int, max_attempts, 3, "leases a build gets before it fails");
ABSL_FLAG(std::string, deployer, "",
          "tempa-deployer's gRPC address, HOST:PORT: every successful build is deployed");
ABSL_FLAG(std::string, deployer_token_file, "",
          "a private file (0600) holding the bearer token the deployer expects");
ABSL_FLAG(std::string, deployer_tls_ca, "",
          "the CA certificate (PEM) that signed the deployer's; empty: plaintext");
ABSL_FLAG(int, app_concurrency, 2, "builds of one app running at once, unless the app says");

int main(int argc, char** argv) {
  // Abseil's deadlock detection (on in this abseil build) takes a process-wide lock on every
  // Mutex acquisition: about 7% of the coordinator's CPU under load (farm_bench). Tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "tempa-coordinator --listen HOST:PORT --webhook-listen HOST:PORT --data-dir DIR "
      "--registry HOST:PORT [--token-file F] [--deployer HOST:PORT]");
  std::vector<std::string> args = tempa::UnderscoreFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  tempa::coordinator::CoordinatorDaemonOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.webhook_listen = absl::GetFlag(FLAGS_webhook_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.registry = absl::GetFlag(FLAGS_registry);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.secret_key_file = absl::GetFlag(FLAGS_secret_key_file);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  options.app_concurrency = absl::GetFlag(FLAGS_app_concurrency);
  options.deployer = absl::GetFlag(FLAGS_deployer);
  options.deployer_token_file = absl::GetFlag(FLAGS_deployer_token_file);
  options.deployer_tls_ca_file = absl::GetFlag(FLAGS_deployer_tls_ca);
  return tempa::coordinator::RunCoordinatorDaemon(options);
}
