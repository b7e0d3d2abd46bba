#include "common/registry/registry_auth.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tempa::registry {

std::optional<AuthChallenge> ParseWwwAuthenticate(absl::string_view header) {
  absl::string_view s = absl::StripAsciiWhitespace(header);
  size_t space = s.find(' ');
  AuthChallenge challenge;
  challenge.scheme = absl::AsciiStrToLower(s.substr(0, space));
  if (challenge.scheme != "basic" && challenge.scheme != "bearer") return std::nullopt;
  if (space == absl::string_view::npos) return challenge;
  s.remove_prefix(space + 1);
  // auth-param *( "," auth-param ), auth-param = token "=" ( token / quoted-string )
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    size_t eq = s.find('=', i);
    if (eq == absl::string_view::npos) break;
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < s.size() && s[i] != ',') value.push_back(s[i++]);
      value = std::string(absl::StripAsciiWhitespace(value));
    }
    challenge.params[key] = value;
  }
  return challenge;
}

std::string BasicAuthorization(const RegistryCredentials& credentials) {
  return absl::StrCat(
      "Basic ", absl::Base64Escape(absl::StrCat(credentials.username, ":", credentials.password)));
}

std::vector<std::string> RepositoryScopes(const std::vector<std::string>& repos,
                                          absl::string_view actions) {
  std::vector<std::string> scopes;
  for (size_t i = 0; i < repos.size(); ++i) {
    scopes.push_back(absl::StrCat("repository:", repos[i], ":", i == 0 ? actions : "pull"));
  }
  return scopes;
}

std::string UrlEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace tempa::registry
