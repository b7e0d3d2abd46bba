#include "coordinator/service/coordinator_server.h"

#include "absl/strings/str_cat.h"
#include "coordinator/service/control_service.h"
#include "coordinator/service/worker_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"

namespace tempa::coordinator {

CoordinatorServer::CoordinatorServer(Coordinator* coordinator, const auth::Authorizer* authorizer)
    : control_(std::make_unique<ControlServiceImpl>(coordinator, authorizer)),
      workers_(std::make_unique<WorkerServiceImpl>(coordinator, authorizer)),
      layers_(std::make_unique<LayerCacheServiceImpl>(coordinator, authorizer)) {}

CoordinatorServer::~CoordinatorServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<int> CoordinatorServer::Start(const std::string& listen,
                                             std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, std::move(credentials), &port);
  builder.RegisterService(control_.get());
  builder.RegisterService(workers_.get());
  builder.RegisterService(layers_.get());
  // Requests are small; logs arrive in batches well under this.
  builder.SetMaxReceiveMessageSize(8 << 20);
  // gRPC sets SO_REUSEPORT by default: a second coordinator on the same port would start and
  // quietly take half the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for gRPC on ", listen,
        ": is the address in use or not this machine's? pass another --listen HOST:PORT"));
  }
  return port;
}

void CoordinatorServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
}

}  // namespace tempa::coordinator
