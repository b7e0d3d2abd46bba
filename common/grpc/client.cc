#include "common/grpc/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto/private_file.h"
#include "common/grpc/pem_files.h"
#include "common/grpc/status_conversion.h"

namespace tempa::rpc {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  crypto::PrivateFileRules rules;
  rules.what = "token file";
  rules.max_bytes = 4096;
  absl::StatusOr<std::string> contents = crypto::ReadPrivateFile(path, rules);
  if (!contents.ok()) return contents.status();
  std::string token(absl::StripAsciiWhitespace(*contents));
  if (token.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path,
                     " holds no token of at least 16 characters (it should hold just the "
                     "token, as given to the coordinator's --token-file)"));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          "token file ", path,
          " holds more than one token or a character a token cannot have: it should hold just "
          "the token (printable, no spaces)"));
    }
  }
  return token;
}

absl::Status ResolveToken(ClientOptions* opts) {
  if (!opts->token.empty() || opts->token_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> token = ReadTokenFile(opts->token_file);
  if (!token.ok()) return token.status();
  opts->token = *std::move(token);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& opts) {
  if (opts.target.empty()) {
    return absl::InvalidArgumentError("no coordinator address: give HOST:PORT");
  }
  if (opts.token.empty() && !opts.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(opts.token_file);
    if (!token.ok()) return token.status();
  }
  grpc::ChannelArguments args;
  // Long polls (LeaseJob) and streams (WatchBuild) notice a coordinator that vanished without
  // closing the connection (a partition, a host gone) within ~40 s, not at the deadline. The
  // server's StartServer allows pings this often.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  if (opts.tls_ca_file.empty()) {
    if (!opts.tls_cert_file.empty() || !opts.tls_key_file.empty() ||
        !opts.tls_server_name.empty()) {
      return absl::InvalidArgumentError(
          "a TLS client certificate or server name without a TLS CA file: give the CA that "
          "signed the server's certificate (--tls-ca-file), or drop the TLS options");
    }
    return grpc::CreateCustomChannel(opts.target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadCertificatePem(opts.tls_ca_file, "TLS CA file");
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *std::move(ca);
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS client certificate needs both its certificate file and its key file");
  }
  if (!opts.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadCertificatePem(opts.tls_cert_file, "TLS client certificate file");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPrivateKeyPem(opts.tls_key_file, "TLS client key file");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!opts.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(opts.tls_server_name);
  }
  return grpc::CreateCustomChannel(opts.target, grpc::SslCredentials(ssl), args);
}

void PrepareContext(grpc::ClientContext* ctx, const ClientOptions& opts, absl::Time deadline) {
  std::string token = opts.token;
  if (token.empty() && !opts.token_file.empty()) {
    absl::StatusOr<std::string> read = ReadTokenFile(opts.token_file);
    if (read.ok()) token = *std::move(read);
  }
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  if (deadline != absl::InfiniteFuture()) ctx->set_deadline(absl::ToChronoTime(deadline));
}

void PrepareContext(grpc::ClientContext* ctx, const ClientOptions& opts, absl::Duration timeout) {
  PrepareContext(
      ctx, opts,
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout);
}

absl::Status DescribeCallError(const grpc::Status& status, const ClientOptions& opts,
                               absl::string_view what) {
  absl::Status described = FromGrpcStatus(status, what);
  if (described.ok()) return described;
  std::string hint;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      hint = opts.tls_ca_file.empty()
                 ? absl::StrCat(" (is the coordinator running at ", opts.target,
                                "? If it serves TLS, give its CA certificate with --tls-ca-file)")
                 : absl::StrCat(" (is the coordinator running at ", opts.target,
                                " and serving TLS with a certificate signed by ", opts.tls_ca_file,
                                " for the name ",
                                opts.tls_server_name.empty() ? opts.target : opts.tls_server_name,
                                "? A coordinator without TLS needs no --tls-ca-file)");
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (opts.token.empty() && opts.token_file.empty()) {
        hint =
            " (this call sent no token: pass --token-file F, a private file holding a token "
            "the coordinator's --token-file lists)";
      }
      break;
    default:
      break;
  }
  if (hint.empty()) return described;
  return absl::Status(described.code(), absl::StrCat(described.message(), hint));
}

}  // namespace tempa::rpc
