// Pieces of the registry auth dance (distribution's token spec): parsing WWW-Authenticate
// challenges and Basic credentials (token answers: registry_json.h). No I/O here; RegistryClient
// drives it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::registry {

struct RegistryCredentials {
  std::string username;
  std::string password;
};

// One challenge: `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"`.
struct AuthChallenge {
  std::string scheme;                         // lowercased: "basic" or "bearer"
  std::map<std::string, std::string> params;  // keys lowercased, values unquoted
};

// Parses the first challenge of a WWW-Authenticate value; nullopt when it is not understood.
std::optional<AuthChallenge> ParseWwwAuthenticate(absl::string_view header);

// "Basic base64(user:password)".
std::string BasicAuthorization(const RegistryCredentials& credentials);

// "repository:<repo>:<actions>" scopes for a request touching `repos` (the first gets
// `actions`, the rest — cross-repo mount sources — get "pull").
std::vector<std::string> RepositoryScopes(const std::vector<std::string>& repos,
                                          absl::string_view actions);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
std::string UrlEncode(absl::string_view value);

}  // namespace tempa::registry
