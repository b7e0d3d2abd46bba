#include "deploy/service/deployer_daemon.h"

#include <signal.h>

#include <atomic>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/grpc/server.h"
#include "common/status_macros.h"
#include "deploy/core/deployer_core.h"
#include "deploy/core/hosts.h"
#include "deploy/core/rocksdb_deploy_store.h"
#include "deploy/service/bearer_token_auth.h"
#include "deploy/service/deployer_service.h"

namespace tempa::deploy {
namespace {

std::atomic<bool> g_signalled{false};
void Signalled(int) { g_signalled.store(true); }

// Handlers for SIGTERM and SIGINT while the deployer runs; the previous ones come back after.
class SignalScope {
 public:
  SignalScope() {
    g_signalled.store(false);
    struct sigaction action = {};
    action.sa_handler = Signalled;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
  }
  ~SignalScope() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
  }

 private:
  struct sigaction old_term_ = {};
  struct sigaction old_int_ = {};
};

bool IsLoopbackListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" ||
         host.rfind("127.", 0) == 0;
}

absl::StatusOr<BearerTokenAuth> OpenAuth(const DeployerOptions& options) {
  if (!options.token_file.empty()) {
    absl::StatusOr<BearerTokenAuth> auth = BearerTokenAuth::FromTokenFile(options.token_file);
    if (!auth.ok()) return Annotate(auth.status(), "--token-file");
    return auth;
  }
  if (!IsLoopbackListen(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", options.listen,
        " is reachable from other machines and there is no --token-file: anyone could deploy; "
        "give a --token-file (one token, mode 0600) and the same to the coordinator"));
  }
  std::cerr << "tempa-deployer: no --token-file: any local caller may deploy\n";
  return BearerTokenAuth::Open();
}

}  // namespace

absl::Status RunDeployer(const DeployerOptions& options, std::unique_ptr<DeployBackend> backend,
                         absl::Notification* stop, std::function<void(int port)> on_listening) {
  if (backend == nullptr) return absl::InvalidArgumentError("no deploy backend given");
  RETURN_IF_ERROR(CheckDomain(options.domain));
  absl::StatusOr<BearerTokenAuth> auth = OpenAuth(options);
  if (!auth.ok()) return auth.status();
  ASSIGN_OR_RETURN(std::unique_ptr<DeployStore> store, OpenDeployStoreInWorkDir(options.work_dir));

  DeployerCore core(store.get(), backend.get(), absl::Now, options.domain);
  RETURN_IF_ERROR(core.Start());
  DeployerServiceImpl service(&core, &*auth);
  rpc::ServerOptions server_options;
  server_options.listen = options.listen;
  server_options.tls.cert_file = options.tls_cert_file;
  server_options.tls.key_file = options.tls_key_file;
  SignalScope signals;
  absl::StatusOr<rpc::RunningServer> server = rpc::StartServer(server_options, {&service});
  if (!server.ok()) {
    core.Stop();
    return Annotate(server.status(), "--listen");
  }
  std::cerr << "tempa-deployer: gRPC on " << options.listen.substr(0, options.listen.rfind(':'))
            << ":" << server->port << ", backend " << backend->name() << ", apps under "
            << options.domain << ", work dir " << options.work_dir << "\n";
  if (on_listening) on_listening(server->port);

  while (!g_signalled.load()) {
    if (stop != nullptr) {
      if (stop->WaitForNotificationWithTimeout(absl::Milliseconds(100))) break;
    } else {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  std::cerr << "tempa-deployer: stopping (running deploys finish first)\n";
  server->server->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(options.shutdown_grace));
  server->server->Wait();
  core.Stop();
  return absl::OkStatus();
}

}  // namespace tempa::deploy
