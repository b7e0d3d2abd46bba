// tempa-deployer: parses flags, builds the backend they name (local: runc + nginx on this
// machine; kubernetes: server-side apply to an API server) and runs the deployer
// (deploy/service/deployer_daemon.h).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/flags/dashed_flags.h"
#include "deploy/kubernetes/kubernetes_backend.h"
#include "deploy/local/local_backend.h"
#include "deploy/service/deployer_daemon.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7072", "gRPC address, HOST:PORT (port 0: any)");
ABSL_FLAG(std::string, backend, "local", "local (runc + nginx on this machine) or kubernetes");
ABSL_FLAG(std::string, domain, "",
          "apps answer at APP.DOMAIN, APP-SHORTSHA.DOMAIN, APP-BRANCH.DOMAIN");
ABSL_FLAG(std::string, work_dir, "",
          "the deployer's state (and, local, images, containers, nginx)");
ABSL_FLAG(std::string, token_file, "", "a 0600 file holding the token the coordinator sends");
ABSL_FLAG(std::string, tls_cert_file, "", "serve gRPC over TLS with this certificate");
ABSL_FLAG(std::string, tls_key_file, "", "and this private key");
// local
ABSL_FLAG(std::string, proxy_listen, "127.0.0.1:8443", "local: where nginx listens, HOST:PORT");
ABSL_FLAG(bool, proxy_tls, true, "local: serve HTTPS at --proxy-listen (false: plain HTTP)");
ABSL_FLAG(std::string, tls_cert_dir, "",
          "local: fullchain.pem + privkey.pem (or tls.crt + tls.key) for *.DOMAIN; default: a "
          "self-signed CA in WORK_DIR/tls");
ABSL_FLAG(bool, registry_insecure, false, "local: plain HTTP to a non-loopback registry");
ABSL_FLAG(std::string, registry_username, "", "local: registry user for pulls");
ABSL_FLAG(std::string, registry_password_file, "", "local: file holding the registry password");
ABSL_FLAG(absl::Duration, health_timeout, absl::Seconds(60),
          "local: a new version's time to pass its health check");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(2),
          "local: the old version's time to finish requests");
ABSL_FLAG(std::string, container_init, "",
          "local: tempa-container-init (PID 1 of each container); default: next to this binary");
ABSL_FLAG(int, first_port, 20000, "local: the loopback ports apps get: from this one");
ABSL_FLAG(int, last_port, 29999, "local: to this one");
ABSL_FLAG(int, kept_releases, 5, "local: releases kept unpacked per track, for rollbacks");
ABSL_FLAG(bool, stop_all, false, "local: stop nginx and every container of --work-dir, then exit");
// kubernetes
ABSL_FLAG(std::string, kubeconfig, "", "kubernetes: kubeconfig file (default: in-cluster account)");
ABSL_FLAG(std::string, kube_context, "", "kubernetes: context (default: current-context)");
ABSL_FLAG(std::string, namespace, "", "kubernetes: the apps' namespace (default: the context's)");
ABSL_FLAG(std::string, tls_issuer, "",
          "kubernetes: cert-manager ClusterIssuer for the Ingress TLS");
ABSL_FLAG(std::string, ingress_class, "", "kubernetes: IngressClass (default: the cluster's)");
ABSL_FLAG(std::string, ingress_namespace, "ingress-nginx",
          "kubernetes: the ingress controller's namespace (let in by each app's NetworkPolicy)");
ABSL_FLAG(absl::Duration, rollout_timeout, absl::Minutes(10), "kubernetes: a rollout's time");

namespace {

// tempa-container-init beside this binary (build tree: runtime/tempa-container-init), as an
// absolute path: runc binds it into each container.
std::string DefaultContainerInit() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  std::string path(self, static_cast<size_t>(n));
  std::string dir = path.substr(0, path.rfind('/'));
  for (const std::string& candidate :
       {dir + "/tempa-container-init", dir + "/runtime/tempa-container-init"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<tempa::deploy::LocalBackendOptions> LocalOptions() {
  tempa::deploy::LocalBackendOptions options;
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.domain = absl::GetFlag(FLAGS_domain);
  options.proxy_listen = absl::GetFlag(FLAGS_proxy_listen);
  options.tls = absl::GetFlag(FLAGS_proxy_tls);
  options.tls_cert_dir = absl::GetFlag(FLAGS_tls_cert_dir);
  options.registry_insecure = absl::GetFlag(FLAGS_registry_insecure);
  options.registry_username = absl::GetFlag(FLAGS_registry_username);
  if (std::string file = absl::GetFlag(FLAGS_registry_password_file); !file.empty()) {
    std::ifstream in(file);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("cannot read --registry-password-file ", file));
    }
    std::getline(in, options.registry_password);
  }
  options.health_timeout = absl::GetFlag(FLAGS_health_timeout);
  options.drain = absl::GetFlag(FLAGS_drain);
  options.kept_releases = absl::GetFlag(FLAGS_kept_releases);
  options.first_port = absl::GetFlag(FLAGS_first_port);
  options.last_port = absl::GetFlag(FLAGS_last_port);
  options.container_init = absl::GetFlag(FLAGS_container_init);
  if (options.container_init.empty()) options.container_init = DefaultContainerInit();
  return options;
}

tempa::deploy::KubernetesBackendOptions KubernetesOptions() {
  tempa::deploy::KubernetesBackendOptions options;
  options.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  options.context = absl::GetFlag(FLAGS_kube_context);
  options.objects.namespace_name = absl::GetFlag(FLAGS_namespace);  // "": the context's
  options.objects.tls_issuer = absl::GetFlag(FLAGS_tls_issuer);
  options.objects.ingress_class = absl::GetFlag(FLAGS_ingress_class);
  options.objects.ingress_namespace = absl::GetFlag(FLAGS_ingress_namespace);
  options.rollout_timeout = absl::GetFlag(FLAGS_rollout_timeout);
  return options;
}

int Fail(const absl::Status& status) {
  std::cerr << "tempa-deployer: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tempa-deployer --listen HOST:PORT --backend local --domain DOMAIN --proxy-listen HOST:PORT "
      "--work-dir DIR\n"
      "tempa-deployer --listen HOST:PORT --backend kubernetes --domain DOMAIN [--kubeconfig F] "
      "[--namespace NS] [--tls-issuer NAME] [--ingress-class NAME]");
  std::vector<std::string> args = tempa::UnderscoreFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (absl::GetFlag(FLAGS_work_dir).empty()) {
    return Fail(absl::InvalidArgumentError("--work-dir is required (the deployer's state)"));
  }

  std::string backend_name = absl::GetFlag(FLAGS_backend);
  absl::StatusOr<std::unique_ptr<tempa::deploy::DeployBackend>> backend;
  if (backend_name == "local") {
    absl::StatusOr<tempa::deploy::LocalBackendOptions> options = LocalOptions();
    if (!options.ok()) return Fail(options.status());
    if (absl::GetFlag(FLAGS_stop_all)) {
      absl::Status stopped = tempa::deploy::StopLocalBackend(*options);
      return stopped.ok() ? 0 : Fail(stopped);
    }
    backend = tempa::deploy::MakeLocalBackend(*options);
  } else if (backend_name == "kubernetes") {
    backend = tempa::deploy::MakeKubernetesBackend(KubernetesOptions());
  } else {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--backend ", backend_name, " is not known: use local or kubernetes")));
  }
  if (!backend.ok()) return Fail(backend.status());

  tempa::deploy::DeployerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.domain = absl::GetFlag(FLAGS_domain);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  absl::Status status = tempa::deploy::RunDeployer(options, *std::move(backend));
  return status.ok() ? 0 : Fail(status);
}
