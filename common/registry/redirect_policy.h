// Where a redirect may take a registry request, and what the request may carry there. A pure
// function, so the transport that follows redirects (curl_http_transport.cc) stays mechanism and
// the policy is tested on its own.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/registry/http_transport.h"

namespace tempa::registry {

// The request for the hop a 3xx answer to `request` names in `location` (absolute or relative to
// request.url). When the hop changes origin (scheme, host or port) it carries no Authorization,
// Cookie or Proxy-Authorization header. PermissionDenied, naming the target, when the hop leaves
// http(s), goes from https to plain http, or from a host that is not loopback to one that is.
absl::StatusOr<HttpRequest> RedirectedRequest(const HttpRequest& request,
                                              absl::string_view location);

}  // namespace tempa::registry
