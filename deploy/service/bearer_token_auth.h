// Who may call the deployer: the holder of its bearer token (the coordinator). The token comes
// from a private token file (one token, as common/grpc's ReadTokenFile reads it), the caller
// sends `authorization: Bearer TOKEN`, and the comparison takes the same time whatever the
// caller sent. Without a token the check is open (the daemon allows that on loopback only).
// Immutable once made; shared by every handler thread.
#pragma once

#include <grpcpp/server_context.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

class BearerTokenAuth {
 public:
  // Reads the token from `path` (private file, one token of 16+ printable characters).
  static absl::StatusOr<BearerTokenAuth> FromTokenFile(const std::string& path);
  // InvalidArgument for a token under 16 characters.
  static absl::StatusOr<BearerTokenAuth> FromToken(absl::string_view token);
  // Every call allowed.
  static BearerTokenAuth Open() { return BearerTokenAuth(); }

  bool is_open() const { return !token_digest_.has_value(); }

  // OK when the call carries the token (or the auth is open). UNAUTHENTICATED otherwise, with
  // a message that says what to pass and never echoes what was sent.
  absl::Status Check(const grpc::ServerContextBase& ctx) const;
  absl::Status CheckAuthorization(absl::string_view authorization_header) const;

 private:
  BearerTokenAuth() = default;
  // SHA-256 of the token: comparing digests of equal length hides the token's length too.
  std::optional<std::array<uint8_t, 32>> token_digest_;
};

}  // namespace tempa::deploy
