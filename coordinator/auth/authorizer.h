// Who is calling and may they: every coordinator RPC handler starts with
//
//   if (absl::Status s = authorizer_.Authorize(*ctx, auth::methods::kCreateApp); !s.ok())
//     return rpc::ToGrpcStatus(s);
//
// (gRPC C++ 1.51 lets neither an AuthMetadataProcessor run on insecure credentials nor an
// interceptor fail a call, so the check is the handler's first line.) The caller's token comes
// in `authorization: Bearer TOKEN` metadata and is compared in constant time with every known
// token. Without a token file the authorizer is open: every call is allowed (the coordinator
// warns once at startup). An Authorizer is immutable once made: handlers on every thread share
// one.
#pragma once

#include <grpcpp/server_context.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "coordinator/auth/method_policy.h"
#include "coordinator/auth/role.h"
#include "coordinator/auth/token_file.h"

namespace tempa::coordinator::auth {

struct Caller {
  Role role = Role::kReadOnly;
  std::string name;  // the token file's NAME (or "line N" when it gives none); "open mode"
};

class Authorizer {
 public:
  // From a token file (see token_file.h); errors name the file and line.
  static absl::StatusOr<Authorizer> FromTokenFile(const std::string& path,
                                                  MethodPolicy policy = MethodPolicy::Default());
  // From parsed entries (tests, or tokens from elsewhere). Refuses none, short or repeated.
  static absl::StatusOr<Authorizer> FromTokens(const std::vector<TokenEntry>& tokens,
                                               MethodPolicy policy = MethodPolicy::Default());
  // No token file: every call is allowed, as admin.
  static Authorizer Open();

  bool is_open() const { return open_; }

  // The caller of the call `ctx` belongs to, from its bearer token. UNAUTHENTICATED when the
  // call carries no token ("no token: pass --token-file ..."), a malformed authorization
  // value, or a token that is not known. Never says which token was closest, never prints one.
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The same from the metadata itself (what ServerContextBase::client_metadata() returns).
  absl::StatusOr<Caller> AuthenticateMetadata(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

  // OK when the call may run `full_method`: a method open without a token, or an authenticated
  // caller whose role the policy lists for it. UNAUTHENTICATED as above; PERMISSION_DENIED
  // naming the role needed, or saying the method is unknown.
  absl::Status Authorize(const grpc::ServerContextBase& ctx, absl::string_view full_method) const;
  absl::Status AuthorizeMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                                 absl::string_view full_method) const;

 private:
  using TokenDigest = std::array<unsigned char, 32>;
  struct Known {
    TokenDigest digest;  // SHA-256 of the token: the token itself is not kept
    Caller caller;
  };

  Authorizer(bool open, MethodPolicy policy) : open_(open), policy_(std::move(policy)) {}

  bool open_;
  MethodPolicy policy_;
  std::vector<Known> known_;
};

}  // namespace tempa::coordinator::auth
