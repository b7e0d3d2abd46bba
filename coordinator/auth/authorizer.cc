#include "coordinator/auth/authorizer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace tempa::coordinator::auth {
namespace {

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest;
  unsigned int size = 0;
  TEMPA_CHECK(
      EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) == 1 &&
          size == digest.size(),
      "SHA-256 failed");
  return digest;
}

absl::string_view ToView(grpc::string_ref ref) { return absl::string_view(ref.data(), ref.size()); }

constexpr absl::string_view kNoToken =
    "no token: pass --token-file F (a private file holding a token listed in the coordinator's "
    "--token-file); the call must carry `authorization: Bearer TOKEN` metadata";

}  // namespace

absl::StatusOr<Authorizer> Authorizer::FromTokenFile(const std::string& path, MethodPolicy policy) {
  absl::StatusOr<std::vector<TokenEntry>> tokens = LoadTokenFile(path);
  if (!tokens.ok()) return tokens.status();
  absl::StatusOr<Authorizer> authorizer = FromTokens(*tokens, std::move(policy));
  for (TokenEntry& entry : *tokens) OPENSSL_cleanse(entry.token.data(), entry.token.size());
  return authorizer;
}

absl::StatusOr<Authorizer> Authorizer::FromTokens(const std::vector<TokenEntry>& tokens,
                                                  MethodPolicy policy) {
  if (tokens.empty()) {
    return absl::InvalidArgumentError("no tokens: every call would be refused");
  }
  Authorizer authorizer(false, std::move(policy));
  for (const TokenEntry& entry : tokens) {
    if (entry.token.size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the token of line ", entry.line, " is shorter than ", kMinTokenLength, " characters"));
    }
    Known known{
        Sha256(entry.token),
        Caller{entry.role, entry.name.empty() ? absl::StrCat("line ", entry.line) : entry.name}};
    for (const Known& other : authorizer.known_) {
      if (other.digest == known.digest) {
        return absl::InvalidArgumentError(absl::StrCat("the token of ", known.caller.name,
                                                       " is also ", other.caller.name,
                                                       "'s: every token must be different"));
      }
    }
    authorizer.known_.push_back(std::move(known));
  }
  return authorizer;
}

Authorizer Authorizer::Open() { return Authorizer(true, MethodPolicy()); }

absl::StatusOr<Caller> Authorizer::Authenticate(const grpc::ServerContextBase& ctx) const {
  return AuthenticateMetadata(ctx.client_metadata());
}

absl::StatusOr<Caller> Authorizer::AuthenticateMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (open_) return Caller{Role::kAdmin, "open mode"};
  auto [begin, end] = metadata.equal_range("authorization");
  if (begin == end) return absl::UnauthenticatedError(kNoToken);
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError("more than one `authorization` metadata entry: send one");
  }
  absl::string_view value = absl::StripAsciiWhitespace(ToView(begin->second));
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError("the `authorization` metadata is not `Bearer TOKEN`");
  }
  absl::string_view token = absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
  if (token.empty()) return absl::UnauthenticatedError(kNoToken);

  // Every known digest is compared, whatever matches, and the match is selected without a
  // branch on the comparison, so the time taken says nothing about which token was close.
  const std::array<unsigned char, 32> digest = Sha256(token);
  size_t match = known_.size();
  for (size_t i = 0; i < known_.size(); ++i) {
    size_t equal = static_cast<size_t>(
        CRYPTO_memcmp(digest.data(), known_[i].digest.data(), digest.size()) == 0);
    size_t mask = ~(equal - 1);  // all ones when equal
    match = (i & mask) | (match & ~mask);
  }
  if (match == known_.size()) {
    return absl::UnauthenticatedError(
        "unknown token: it is not in the coordinator's --token-file (or it was removed)");
  }
  return known_[match].caller;
}

absl::Status Authorizer::Authorize(const grpc::ServerContextBase& ctx,
                                   absl::string_view full_method) const {
  return AuthorizeMetadata(ctx.client_metadata(), full_method);
}

absl::Status Authorizer::AuthorizeMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view full_method) const {
  if (open_) return absl::OkStatus();
  const MethodPolicy::Rule* rule = policy_.Find(full_method);
  if (rule != nullptr && rule->without_token) return absl::OkStatus();
  absl::StatusOr<Caller> caller = AuthenticateMetadata(metadata);
  if (!caller.ok()) return caller.status();
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        full_method, " has no entry in the coordinator's method policy, so no role may call it"));
  }
  if (!rule->roles.Contains(caller->role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(caller->role), " (", caller->name, ") may not call ",
                     full_method, ": it needs a token of role ", rule->roles.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace tempa::coordinator::auth
