// The coordinator's gRPC server: control, worker and layer-cache services, the standard health
// service and server reflection (so grpcurl lists and calls everything).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"

namespace tempa::coordinator {

class ControlServiceImpl;
class WorkerServiceImpl;
class LayerCacheServiceImpl;

class CoordinatorServer {
 public:
  CoordinatorServer(Coordinator* coordinator, const auth::Authorizer* authorizer);
  ~CoordinatorServer();

  // Listens on HOST:PORT (port 0: any free one); returns the bound port.
  absl::StatusOr<int> Start(const std::string& listen,
                            std::shared_ptr<grpc::ServerCredentials> credentials);
  // Ends every call (long-polls and watches included) within `grace`.
  void Shutdown(absl::Duration grace = absl::Seconds(2));

 private:
  std::unique_ptr<ControlServiceImpl> control_;
  std::unique_ptr<WorkerServiceImpl> workers_;
  std::unique_ptr<LayerCacheServiceImpl> layers_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace tempa::coordinator
