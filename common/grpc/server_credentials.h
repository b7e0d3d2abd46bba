// The coordinator's listener credentials: plaintext by default, TLS when the operator gives a
// certificate and key, and mutual TLS (clients must present a certificate the given CA signed)
// when a client CA is given too.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tempa::rpc {

struct ServerTlsOptions {
  std::string cert_file;       // PEM certificate chain; empty (with key_file): plaintext
  std::string key_file;        // PEM private key: a private file (0600, or 0640 for a group)
  std::string client_ca_file;  // optional: require client certificates signed by this CA

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// Insecure credentials when no TLS option is set; otherwise TLS from the files, which are read
// and checked now (a key others can read is refused with the chmod that fixes it).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& opts);

}  // namespace tempa::rpc
