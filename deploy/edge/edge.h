// The edge on one machine: an HTTP(S) reverse proxy routing by host name to containers on
// loopback ports. The real one runs nginx (deploy/edge/nginx_edge.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tempa::deploy {

struct Route {
  std::vector<std::string> hosts;  // exact host names
  int upstream_port = 0;           // 127.0.0.1:PORT
};

class Edge {
 public:
  virtual ~Edge() = default;
  // Makes `routes` the whole routing table and returns once new connections follow it;
  // requests in flight on the old table finish (graceful). Hosts not routed answer 404.
  virtual absl::Status Apply(const std::vector<Route>& routes) = 0;
  // "https://HOST" when the edge serves TLS (with the port when it is not 443), else "http://...".
  virtual std::string UrlFor(const std::string& host) const = 0;
};

}  // namespace tempa::deploy
