#include "common/grpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"

namespace tempa::rpc {

absl::StatusOr<RunningServer> StartServer(const ServerOptions& opts,
                                          const std::vector<grpc::Service*>& services) {
  if (opts.listen.empty()) return absl::InvalidArgumentError("no listen address: give HOST:PORT");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(opts.tls);
  if (!creds.ok()) return creds.status();
  // Both are process-wide switches read when a builder is made, so they come first.
  grpc::EnableDefaultHealthCheckService(opts.health);
  if (opts.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  RunningServer running;
  builder.AddListeningPort(opts.listen, *creds, &running.port);
  builder.SetMaxReceiveMessageSize(opts.max_receive_message_bytes);
  // gRPC sets SO_REUSEPORT by default: a second coordinator on the same port would start and
  // silently take half the calls. Off, so it fails to bind instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients (MakeChannel) ping every 30 s during calls: allow it rather than answer GOAWAY
  // "too many pings". The server pings too, to drop streams of clients that vanished.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  for (grpc::Service* service : services) builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    if (running.server) running.server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("could not listen on ", opts.listen,
                     ": the port is in use or the host is not an address of this machine"));
  }
  return running;
}

}  // namespace tempa::rpc
