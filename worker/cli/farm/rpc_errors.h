// Turns a failed control-plane call into one line that names the problem and the fix, the way
// the farm commands print it: "cannot reach the coordinator at 127.0.0.1:7070 (connection
// refused): start tempa-coordinator or pass --coordinator HOST:PORT".
#pragma once

#include <string>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace tempa::cli::farm {

// What the failed call was about, for the message.
struct RpcSubject {
  std::string action;  // "create app web", "list builds"
  std::string kind;    // "app", "build" or "" (NOT_FOUND and ALREADY_EXISTS name it)
  std::string name;    // the app's name or the build's id
};

// How the call went out, for the hints.
struct RpcConnection {
  std::string address;
  bool tls = false;
  std::string token_source;  // "--token-file F", "TEMPA_TOKEN"; empty: no token sent
  absl::Duration timeout = absl::Seconds(30);
};

// One line, without "tempa: " and without a trailing newline.
std::string DescribeRpcError(const grpc::Status& status, const RpcSubject& subject,
                             const RpcConnection& connection);

}  // namespace tempa::cli::farm
