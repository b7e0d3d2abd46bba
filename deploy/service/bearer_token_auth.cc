#include "deploy/service/bearer_token_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"

namespace tempa::deploy {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr absl::string_view kBearer = "Bearer ";

std::array<uint8_t, 32> Digest(absl::string_view text) {
  std::array<uint8_t, 32> digest;
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest.data());
  return digest;
}

}  // namespace

absl::StatusOr<BearerTokenAuth> BearerTokenAuth::FromTokenFile(const std::string& path) {
  absl::StatusOr<std::string> token = rpc::ReadTokenFile(path);
  if (!token.ok()) return token.status();
  return FromToken(*token);
}

absl::StatusOr<BearerTokenAuth> BearerTokenAuth::FromToken(absl::string_view token) {
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(
        "the deployer's token is shorter than 16 characters: make a longer one, e.g. "
        "`openssl rand -hex 32 > FILE; chmod 600 FILE`");
  }
  BearerTokenAuth auth;
  auth.token_digest_ = Digest(token);
  return auth;
}

absl::Status BearerTokenAuth::Check(const grpc::ServerContextBase& ctx) const {
  if (is_open()) return absl::OkStatus();
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckAuthorization("");
  return CheckAuthorization(absl::string_view(it->second.data(), it->second.size()));
}

absl::Status BearerTokenAuth::CheckAuthorization(absl::string_view header) const {
  if (is_open()) return absl::OkStatus();
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "no token: the deployer takes calls from the holder of its --token-file only (give the "
        "coordinator the same token file)");
  }
  if (!absl::StartsWith(header, kBearer)) {
    return absl::UnauthenticatedError(
        "the authorization metadata is not `Bearer TOKEN`: send the deployer's token");
  }
  std::array<uint8_t, 32> presented = Digest(header.substr(kBearer.size()));
  if (CRYPTO_memcmp(presented.data(), token_digest_->data(), presented.size()) != 0) {
    return absl::UnauthenticatedError(
        "the token is not the deployer's: give the coordinator the deployer's --token-file");
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
