// Starting the coordinator's gRPC server the one way: the listen address, optional TLS, the
// standard health service and server reflection on (so `grpcurl -plaintext HOST:PORT list`
// works), and the port actually bound (port 0 picks a free one, for tests).
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/server_credentials.h"

namespace tempa::rpc {

struct ServerOptions {
  std::string listen;  // HOST:PORT
  ServerTlsOptions tls;
  bool health = true;      // grpc.health.v1.Health, reporting SERVING while the server runs
  bool reflection = true;  // grpc.reflection.v1alpha.ServerReflection
  int max_receive_message_bytes = 16 << 20;
};

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts a server for `services` (not owned: they must outlive it). Errors:
// InvalidArgument for bad TLS options, Unavailable when the address cannot be bound (in use,
// or not an address of this machine).
absl::StatusOr<RunningServer> StartServer(const ServerOptions& opts,
                                          const std::vector<grpc::Service*>& services);

}  // namespace tempa::rpc
