// How the CLI and the worker daemon reach the coordinator: one channel per process (plaintext,
// or TLS checked against a CA the operator gives) and, per call, the bearer token and a
// deadline. Call credentials are never sent over a plaintext channel, so the token travels as
// `authorization: Bearer TOKEN` metadata added to each call's context instead.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tempa::rpc {

struct ClientOptions {
  std::string target;      // HOST:PORT
  std::string token;       // the bearer token; empty: read token_file, or send none
  std::string token_file;  // a private file (mode 0600) holding just the token
  // TLS: the CA certificate (PEM) that signed the server's certificate. Empty: plaintext.
  std::string tls_ca_file;
  // The name the server's certificate must carry when it differs from the target's host.
  std::string tls_server_name;
  // Mutual TLS (a server given a client CA): this client's certificate and key (PEM).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// The token in a token file: its contents without surrounding whitespace. The file must be
// private (owned by us, no group/other access: else the error says "chmod 600 F"), hold one
// token of at least 16 printable characters and nothing else.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// A channel to opts.target: TLS when tls_ca_file is set, plaintext otherwise. Checks what can be
// checked before the first call: the target is not empty, the token file (if any) reads, the TLS
// files read. Does not connect.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& opts);

// Fills `token` from `token_file` when `token` is empty, so PrepareContext need not read the
// file on every call.
absl::Status ResolveToken(ClientOptions* opts);

// Adds `authorization: Bearer TOKEN` (opts.token, else the token in opts.token_file; nothing when
// neither is set or the file no longer reads: the server then answers UNAUTHENTICATED) and the
// deadline to a fresh context.
void PrepareContext(grpc::ClientContext* ctx, const ClientOptions& opts, absl::Duration timeout);
void PrepareContext(grpc::ClientContext* ctx, const ClientOptions& opts, absl::Time deadline);

// A failed call's status for a person: "<what>: <server's message>", with a hint where the cause
// is usually on the client's side (UNAVAILABLE: the server is down, or TLS on one side only;
// UNAUTHENTICATED without a token: pass one).
absl::Status DescribeCallError(const grpc::Status& status, const ClientOptions& opts,
                               absl::string_view what);

}  // namespace tempa::rpc
