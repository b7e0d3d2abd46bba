#include "coordinator/service/coordinator_daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/crypto/secret_box.h"
#include "common/grpc/server_credentials.h"
#include "common/metrics/metrics.h"
#include "common/status_macros.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/deploys/deploy_dispatcher.h"
#include "coordinator/deploys/grpc_deployer_client.h"
#include "coordinator/poller/branch_poller.h"
#include "coordinator/service/coordinator_metrics.h"
#include "coordinator/service/coordinator_server.h"
#include "coordinator/service/libgit2_branch_resolver.h"
#include "coordinator/service/secret_box_sealer.h"
#include "coordinator/state/state_store.h"
#include "coordinator/webhook/github_webhook_handler.h"
#include "coordinator/webhook/webhook_http_server.h"

namespace tempa::coordinator {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "tempa-coordinator: " << status.message() << "\n";
  return 1;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address,
                                                          absl::string_view flag) {
  size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " \"", address, "\" is not HOST:PORT, e.g. 127.0.0.1:7071"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

absl::StatusOr<crypto::SecretBox> OpenSecretKey(const CoordinatorDaemonOptions& options) {
  std::string path = options.secret_key_file;
  if (path.empty()) {
    path = options.data_dir + "/secret.key";
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
      RETURN_IF_ERROR(crypto::SecretBox::GenerateKeyFile(path));
      std::cerr << "tempa-coordinator: made a new secret key in " << path
                << "; keep a copy: stored secrets cannot be read without it\n";
    }
  }
  return crypto::SecretBox::FromKeyFile(path);
}

volatile sig_atomic_t g_signalled = 0;
void Signalled(int) { g_signalled = 1; }

}  // namespace

int RunCoordinatorDaemon(const CoordinatorDaemonOptions& options) {
  if (options.data_dir.empty()) {
    return Fail(absl::InvalidArgumentError("--data-dir is required: where the state lives"));
  }
  if (options.registry.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--registry is required: the HOST:PORT of the registry workers push images to"));
  }
  absl::StatusOr<std::pair<std::string, int>> webhook_address =
      SplitHostPort(options.webhook_listen, "webhook-listen");
  if (!webhook_address.ok()) return Fail(webhook_address.status());

  absl::StatusOr<std::unique_ptr<StateStore>> store = OpenRocksdbStateStore(options.data_dir);
  if (!store.ok()) return Fail(Annotate(store.status(), "open the state in " + options.data_dir));
  absl::StatusOr<crypto::SecretBox> key = OpenSecretKey(options);
  if (!key.ok()) return Fail(key.status());
  SecretBoxSealer sealer(*std::move(key));

  absl::StatusOr<auth::Authorizer> authorizer =
      options.token_file.empty() ? auth::Authorizer::Open()
                                 : auth::Authorizer::FromTokenFile(options.token_file);
  if (!authorizer.ok()) return Fail(authorizer.status());
  if (options.token_file.empty()) {
    std::cerr << "tempa-coordinator: no --token-file: every caller is an admin; give one "
                 "before anyone but you can reach "
              << options.listen << "\n";
  }
  rpc::ServerTlsOptions tls;
  tls.cert_file = options.tls_cert_file;
  tls.key_file = options.tls_key_file;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      rpc::MakeServerCredentials(tls);
  if (!credentials.ok()) return Fail(credentials.status());

  CoordinatorOptions core_options;
  core_options.registry = options.registry;
  core_options.scheduler.lease_ttl = options.lease_ttl;
  core_options.scheduler.max_attempts = options.max_attempts;
  core_options.scheduler.default_app_concurrency = options.app_concurrency;
  core_options.heartbeat_interval = options.heartbeat_interval;
  core_options.worker_timeout = std::max(options.lease_ttl, options.heartbeat_interval * 3);
  core_options.deployer = !options.deployer.empty();
  std::unique_ptr<GrpcDeployerClient> deployer_client;
  if (!options.deployer.empty()) {
    rpc::ClientOptions deployer_options;
    deployer_options.target = options.deployer;
    deployer_options.token_file = options.deployer_token_file;
    deployer_options.tls_ca_file = options.deployer_tls_ca_file;
    absl::StatusOr<std::unique_ptr<GrpcDeployerClient>> client =
        GrpcDeployerClient::Create(deployer_options);
    if (!client.ok()) return Fail(Annotate(client.status(), "--deployer " + options.deployer));
    deployer_client = *std::move(client);
  } else if (!options.deployer_token_file.empty() || !options.deployer_tls_ca_file.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--deployer-token-file and --deployer-tls-ca need --deployer HOST:PORT"));
  }
  Coordinator coordinator(store->get(), &sealer, core_options);
  // Shared with the waker, which a state write still in flight at shutdown may run.
  std::shared_ptr<DeployDispatcher> dispatcher;
  if (deployer_client != nullptr) {
    dispatcher = std::make_shared<DeployDispatcher>(&coordinator, std::move(deployer_client));
    coordinator.SetDeployWaker([dispatcher] { dispatcher->Wake(); });
  }
  if (absl::Status s = coordinator.Start(); !s.ok()) {
    return Fail(Annotate(s, "restore the state"));
  }
  // Unfinished intents of the last run are delivered (again, same ids) from the first pass.
  if (dispatcher != nullptr) dispatcher->Start();

  // The polling fallback: apps with a poll interval have their branch head read on it.
  BranchPoller poller(&coordinator,
                      std::make_shared<Libgit2BranchResolver>(options.data_dir + "/poll-mirrors"));
  poller.Start();

  CoordinatorServer server(&coordinator, &*authorizer);
  absl::StatusOr<int> grpc_port = server.Start(options.listen, *credentials);
  if (!grpc_port.ok()) return Fail(grpc_port.status());

  metrics::MetricsRegistry webhook_metrics;
  GithubWebhookHandler webhooks(&coordinator, &webhook_metrics);
  WebhookHttpServer::Options http_options;
  http_options.host = webhook_address->first;
  http_options.port = webhook_address->second;
  // Each accepted push waits for its synced write; concurrent ones share it (group commit), so
  // more handlers in flight mean more pushes per fsync.
  http_options.threads = 64;
  StateStore* state = store->get();
  DeployDispatcher* deploys = dispatcher.get();
  WebhookHttpServer http(http_options, &webhooks, [&coordinator, state, &webhook_metrics, deploys] {
    return RenderCoordinatorMetrics(coordinator.stats(), state->write_stats()) +
           webhook_metrics.Render() + (deploys ? RenderDeployMetrics(deploys->stats()) : "");
  });
  absl::StatusOr<int> http_port = http.Start();
  if (!http_port.ok()) return Fail(http_port.status());

  std::cerr << "tempa-coordinator: gRPC on " << options.listen.substr(0, options.listen.rfind(':'))
            << ":" << *grpc_port << ", webhooks and /metrics on " << webhook_address->first << ":"
            << *http_port << ", state in " << options.data_dir
            << (options.deployer.empty() ? std::string(", no deployer (builds are not deployed)")
                                         : ", deploys to tempa-deployer at " + options.deployer)
            << "\n";
  std::cerr.flush();

  struct sigaction action = {};
  action.sa_handler = Signalled;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  while (!g_signalled) ::usleep(100 * 1000);
  std::cerr << "tempa-coordinator: stopping\n";
  http.Stop();
  server.Shutdown();
  poller.Stop();
  if (dispatcher != nullptr) dispatcher->Stop();
  coordinator.SetDeployWaker(nullptr);
  coordinator.Stop();
  return 0;
}

}  // namespace tempa::coordinator
