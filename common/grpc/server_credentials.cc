#include "common/grpc/server_credentials.h"

#include <grpcpp/security/server_credentials.h>

#include "common/grpc/pem_files.h"

namespace tempa::rpc {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& opts) {
  if (!opts.enabled()) {
    if (!opts.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "a TLS client CA without a TLS certificate and key: give --tls-cert-file and "
          "--tls-key-file too, or drop --tls-client-ca-file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (opts.cert_file.empty() || opts.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate file and a key file (--tls-cert-file, --tls-key-file)");
  }
  absl::StatusOr<std::string> cert = ReadCertificatePem(opts.cert_file, "TLS certificate file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPrivateKeyPem(opts.key_file, "TLS key file");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!opts.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadCertificatePem(opts.client_ca_file, "TLS client CA file");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace tempa::rpc
