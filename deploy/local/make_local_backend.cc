// MakeLocalBackend: the local backend over the real parts: images pulled with the project's
// registry client and unpacked (deploy/image), containers under runc (deploy/runtime), nginx as
// the edge (deploy/edge). Kept out of tempa_deploy_local so that it builds and is tested before
// those parts land; the deployer links it (see deploy/local/CMakeLists.txt).
//
//   WORK/image     the unpacker's images and temporary unpacks
//   WORK/runtime   runc's root and the supervised containers' index
//   WORK/edge      nginx's config, pid file and logs
//   WORK/tls       the self-signed CA and certificate when the operator gives none
//   WORK/local     state.json, state.key, the containers' state directories
#include <iostream>
#include <memory>
#include <utility>

#include "common/registry/curl_http_transport.h"
#include "common/status_macros.h"
#include "deploy/edge/nginx_edge.h"
#include "deploy/edge/tls_material.h"
#include "deploy/image/registry_image_unpacker.h"
#include "deploy/local/local_backend.h"
#include "deploy/runtime/runc_container_runtime.h"

namespace tempa::deploy {
namespace {

RuncRuntimeOptions RuntimeOptions(const LocalBackendOptions& options) {
  RuncRuntimeOptions runtime_options;
  runtime_options.work_dir = options.work_dir + "/runtime";
  runtime_options.init_binary = options.container_init;
  return runtime_options;
}

NginxEdgeOptions EdgeOptions(const LocalBackendOptions& options) {
  NginxEdgeOptions edge_options;
  edge_options.work_dir = options.work_dir;
  edge_options.listen = options.proxy_listen;
  edge_options.tls = options.tls;
  return edge_options;
}

}  // namespace

absl::Status StopLocalBackend(const LocalBackendOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<RuncContainerRuntime> runtime,
                   RuncContainerRuntime::Create(RuntimeOptions(options)));
  absl::Status result = absl::OkStatus();
  for (const std::string& id : runtime->List()) {
    absl::Status stopped = runtime->Stop(id, absl::Seconds(2));
    if (!stopped.ok() && result.ok()) result = stopped;
  }
  NginxEdgeOptions edge_options = EdgeOptions(options);
  edge_options.tls = false;  // only to find and stop the running nginx
  absl::StatusOr<std::unique_ptr<NginxEdge>> edge = NginxEdge::Create(edge_options);
  if (edge.ok()) {
    absl::Status stopped = (*edge)->Stop();
    if (!stopped.ok() && result.ok()) result = stopped;
  }
  return result;
}

absl::StatusOr<std::unique_ptr<DeployBackend>> MakeLocalBackend(
    const LocalBackendOptions& options) {
  if (options.work_dir.empty()) return absl::InvalidArgumentError("--work-dir is required");
  LocalBackendDeps deps;

  auto transport = std::make_shared<registry::CurlHttpTransport>();
  RegistryImageUnpackerOptions unpacker_options;
  unpacker_options.work_dir = options.work_dir + "/image";
  unpacker_options.registry.insecure = options.registry_insecure;
  if (!options.registry_username.empty()) {
    unpacker_options.registry.credentials =
        registry::RegistryCredentials{options.registry_username, options.registry_password};
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ImageUnpacker> unpacker,
                   MakeRegistryImageUnpacker(unpacker_options, transport.get()));

  // The runtime reports each restart (and why the container ended) through this log line.
  auto runtime_slot = std::make_shared<RuncContainerRuntime*>(nullptr);
  RuncRuntimeOptions runtime_options = RuntimeOptions(options);
  runtime_options.on_restart_scheduled = [runtime_slot](const std::string& id,
                                                        absl::Duration delay) {
    std::string why = "it exited";
    if (*runtime_slot != nullptr) {
      absl::StatusOr<ContainerStatus> status = (*runtime_slot)->Status(id);
      if (status.ok() && !status->last_exit_reason.empty()) why = status->last_exit_reason;
    }
    std::cerr << "tempa-deployer: container " << id << " " << why << "; restarting in "
              << absl::FormatDuration(delay) << "\n";
  };
  ASSIGN_OR_RETURN(std::unique_ptr<RuncContainerRuntime> runtime,
                   RuncContainerRuntime::Create(runtime_options));
  *runtime_slot = runtime.get();

  NginxEdgeOptions edge_options = EdgeOptions(options);
  if (options.tls) {
    TlsFiles tls;
    if (!options.tls_cert_dir.empty()) {
      ASSIGN_OR_RETURN(tls, LoadOperatorCertificateDir(options.tls_cert_dir));
    } else {
      if (options.domain.empty()) {
        return absl::InvalidArgumentError(
            "a self-signed certificate needs --domain (or give --tls-cert-dir, or turn TLS off)");
      }
      ASSIGN_OR_RETURN(tls, EnsureSelfSignedCertificate(options.work_dir + "/tls", options.domain));
    }
    edge_options.cert_path = tls.cert_path;
    edge_options.key_path = tls.key_path;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<NginxEdge> edge, NginxEdge::Create(edge_options));

  // The backend keeps its parts alive; the unpacker keeps the transport it uses.
  std::shared_ptr<ImageUnpacker> unpacker_owned(unpacker.release(),
                                                [transport](ImageUnpacker* u) { delete u; });
  std::shared_ptr<RuncContainerRuntime> runtime_owned = std::move(runtime);
  std::shared_ptr<NginxEdge> edge_owned = std::move(edge);
  deps.unpacker = unpacker_owned.get();
  deps.runtime = runtime_owned.get();
  deps.edge = edge_owned.get();
  deps.owned = {unpacker_owned, runtime_owned, edge_owned};
  ASSIGN_OR_RETURN(std::unique_ptr<LocalBackend> backend,
                   LocalBackend::Create(options, std::move(deps)));
  return std::unique_ptr<DeployBackend>(std::move(backend));
}

}  // namespace tempa::deploy
