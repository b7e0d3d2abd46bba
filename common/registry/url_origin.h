// URL origins (scheme, host, port) for the registry client's trust decisions: credentials go only
// to the registry's own origin, and a redirect or Location header is resolved against the URL that
// sent it and must stay on http or https.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::registry {

struct UrlOrigin {
  std::string scheme;  // "http" or "https"
  std::string host;    // lowercased; an IPv6 address in brackets
  int port = 0;        // the scheme's default port when the URL names none

  friend bool operator==(const UrlOrigin&, const UrlOrigin&) = default;
  std::string ToString() const;  // "https://host:443"
};

// The origin of an absolute http(s) URL. InvalidArgument for anything else (file://, garbage).
absl::StatusOr<UrlOrigin> OriginOf(absl::string_view url);

// `reference` (absolute, or relative as in a Location header) resolved against `base`.
// InvalidArgument when the result is not an http(s) URL.
absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view reference);

// True when both URLs parse and have the same scheme, host and port.
bool SameOrigin(absl::string_view a, absl::string_view b);

}  // namespace tempa::registry
