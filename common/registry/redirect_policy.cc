#include "common/registry/redirect_policy.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/registry/image_reference.h"
#include "common/registry/url_origin.h"

namespace tempa::registry {

absl::StatusOr<HttpRequest> RedirectedRequest(const HttpRequest& request,
                                              absl::string_view location) {
  absl::StatusOr<std::string> next = ResolveUrl(request.url, location);
  absl::StatusOr<UrlOrigin> from = OriginOf(request.url);
  absl::StatusOr<UrlOrigin> to = next.ok() ? OriginOf(*next) : next.status();
  if (!from.ok() || !to.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("refused redirect: ", (!to.ok() ? to.status() : from.status()).message()));
  }
  if (IsLoopbackHost(to->host) && !IsLoopbackHost(from->host)) {
    return absl::PermissionDeniedError(
        absl::StrCat("refused redirect to loopback (", to->ToString(), ")"));
  }
  if (from->scheme == "https" && to->scheme != "https") {
    return absl::PermissionDeniedError(
        absl::StrCat("refused redirect from https to plain http (", to->ToString(), ")"));
  }
  HttpRequest hop = request;
  hop.url = *std::move(next);
  // Credentials belong to the origin they were meant for: another host, port or scheme (blob
  // storage, or anyone a hostile registry names) gets none, on this hop and every later one.
  if (!(*from == *to)) {
    std::erase_if(hop.headers, [](const auto& header) {
      std::string name = absl::AsciiStrToLower(header.first);
      return name == "authorization" || name == "cookie" || name == "proxy-authorization";
    });
  }
  return hop;
}

}  // namespace tempa::registry
