// nginx.conf for the edge, rendered from a routing table (pure; no files, no processes). Every
// name reaching the text has been checked first: host names are DNS labels, ports numbers,
// listen addresses HOST:PORT with an IP or DNS host, paths without characters nginx would parse.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/edge/edge.h"

namespace tempa::deploy {

struct NginxConfigParams {
  std::string prefix;  // absolute dir holding pid, logs, temp dirs, control socket
  std::string listen;  // HOST:PORT of the public listener
  bool tls = false;
  std::string cert_path;             // PEM chain, when tls
  std::string key_path;              // PEM key, when tls
  std::string http_redirect_listen;  // HOST:PORT answering 308 to https, optional (tls only)
  std::string worker_user = "nobody";
  std::string worker_group = "nogroup";
  int worker_processes = 2;
  std::string generation;  // answered on the control socket: which config is live
};

// The control socket's path for `prefix` (a unix socket served by nginx; only root can reach it).
std::string NginxControlSocket(const std::string& prefix);
// The path answering the live generation on the control socket (with X-Tempa-Edge-Generation).
inline constexpr char kGenerationPath[] = "/.tempa/edge-generation";

// Checks `listen` is HOST:PORT (IPv4, [IPv6] or a DNS name; port 1-65535).
absl::Status ValidateListen(const std::string& listen);
// Checks every route: at least one host, hosts valid DNS names and routed once, port 1-65535.
absl::Status ValidateRoutes(const std::vector<Route>& routes);

// The whole nginx.conf; fails (before rendering anything) on a route or parameter that is not
// valid.
absl::StatusOr<std::string> RenderNginxConfig(const NginxConfigParams& params,
                                              const std::vector<Route>& routes);

}  // namespace tempa::deploy
