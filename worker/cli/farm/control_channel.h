// How the CLI reaches the coordinator: one channel (plaintext, or TLS with the operator's CA) and
// a ClientContext per call carrying the bearer token and the deadline. Kept in one place so the
// shared common/grpc helpers can replace it without touching the commands.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace tempa::cli::farm {

struct ConnectionOptions {
  std::string address;                    // HOST:PORT
  std::optional<std::string> tls_ca_pem;  // set: TLS trusting these roots; unset: plaintext
  std::string tls_server_name;            // non-empty: the name the certificate must carry
  std::string token;                      // empty: no authorization metadata
  absl::Duration timeout = absl::Seconds(30);
};

// A channel to options.address. It does not connect yet: the first call does, and fails fast
// (UNAVAILABLE) when nothing listens.
std::shared_ptr<grpc::Channel> MakeControlChannel(const ConnectionOptions& options);

// A context for one call: `authorization: Bearer <token>` metadata (sent as metadata rather than
// call credentials, which gRPC withholds from plaintext channels) and, when `with_deadline`, the
// deadline now + options.timeout. Streams that last as long as a build pass false.
std::unique_ptr<grpc::ClientContext> MakeCallContext(const ConnectionOptions& options,
                                                     bool with_deadline = true);

}  // namespace tempa::cli::farm
