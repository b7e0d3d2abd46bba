#include "deploy/edge/nginx_config.h"

#include <arpa/inet.h>

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "deploy/edge/tls_material.h"

namespace tempa::deploy {
namespace {

// Paths and user names go into the config unquoted: allow only characters nginx reads literally.
absl::Status ValidateConfigWord(const std::string& what, const std::string& value, bool path) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || (path && (c == '/' || c == '+' || c == '@'));
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " \"", value, "\" has a character the edge does not write into nginx.conf (",
          std::string(1, c), "): use letters, digits, '-', '_', '.'", path ? ", '/'" : ""));
    }
  }
  if (path && value[0] != '/')
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", value, "\" must be absolute"));
  return absl::OkStatus();
}

}  // namespace

std::string NginxControlSocket(const std::string& prefix) { return prefix + "/control.sock"; }

absl::Status ValidateListen(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("listen address \"", listen, "\" ", why,
                                                   ": write HOST:PORT, e.g. 0.0.0.0:443"));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("has no HOST:PORT form");
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 1 || port > 65535)
    return bad("has no port between 1 and 65535");
  std::string host = listen.substr(0, colon);
  unsigned char buf[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) == 1)
      return absl::OkStatus();
    return bad("has an IPv6 address that does not parse");
  }
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return absl::OkStatus();
  if (ValidateDnsName(host).ok()) return absl::OkStatus();
  return bad("has a host that is neither an IP address nor a DNS name");
}

absl::Status ValidateRoutes(const std::vector<Route>& routes) {
  std::set<std::string> seen;
  for (size_t i = 0; i < routes.size(); ++i) {
    const Route& r = routes[i];
    const std::string which = absl::StrCat("route ", i, " (port ", r.upstream_port, ")");
    if (r.hosts.empty())
      return absl::InvalidArgumentError(absl::StrCat(which, " has no host name: give it one"));
    if (r.upstream_port < 1 || r.upstream_port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, " has upstream port ", r.upstream_port, ", not in 1-65535"));
    }
    for (const std::string& host : r.hosts) {
      RETURN_IF_ERROR(Annotate(ValidateDnsName(host), which));
      if (!seen.insert(host).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            which, ": host ", host, " is routed twice; each host must go to one upstream"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderNginxConfig(const NginxConfigParams& p,
                                              const std::vector<Route>& routes) {
  RETURN_IF_ERROR(ValidateRoutes(routes));
  RETURN_IF_ERROR(ValidateListen(p.listen));
  RETURN_IF_ERROR(ValidateConfigWord("edge directory", p.prefix, true));
  RETURN_IF_ERROR(ValidateConfigWord("worker user", p.worker_user, false));
  RETURN_IF_ERROR(ValidateConfigWord("worker group", p.worker_group, false));
  RETURN_IF_ERROR(ValidateConfigWord("generation", p.generation, false));
  if (p.worker_processes < 1 || p.worker_processes > 64)
    return absl::InvalidArgumentError("worker processes must be between 1 and 64");
  if (p.tls) {
    RETURN_IF_ERROR(ValidateConfigWord("certificate path", p.cert_path, true));
    RETURN_IF_ERROR(ValidateConfigWord("key path", p.key_path, true));
  }
  if (!p.http_redirect_listen.empty()) {
    if (!p.tls) return absl::InvalidArgumentError("an http redirect listener needs tls on");
    RETURN_IF_ERROR(ValidateListen(p.http_redirect_listen));
  }
  const std::string ssl = p.tls ? " ssl" : "";
  std::string c = absl::StrCat(
      "# Written by tempa-deployer (NginxEdge) and replaced on every apply: edit nothing here.\n",
      "# generation ", p.generation, "\n", "user ", p.worker_user, " ", p.worker_group, ";\n",
      "worker_processes ", p.worker_processes, ";\n", "pid ", p.prefix, "/nginx.pid;\n",
      "error_log ", p.prefix, "/error.log notice;\n", "worker_shutdown_timeout 60s;\n",
      "events { worker_connections 4096; }\n", "http {\n", "  access_log ", p.prefix,
      "/access.log;\n");
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    absl::StrAppend(&c, "  ", kind, "_temp_path ", p.prefix, "/tmp/", kind, ";\n");
  }
  absl::StrAppend(&c,
                  "  server_tokens off;\n"
                  "  default_type text/plain;\n"
                  "  server_names_hash_bucket_size 128;\n"
                  "  server_names_hash_max_size 65536;\n"
                  "  client_max_body_size 64m;\n"
                  "  proxy_http_version 1.1;\n"
                  "  proxy_connect_timeout 5s;\n"
                  "  proxy_send_timeout 120s;\n"
                  "  proxy_read_timeout 120s;\n"
                  "  proxy_next_upstream error timeout;\n"
                  "  proxy_next_upstream_tries 3;\n"
                  "  proxy_set_header Host $host;\n"
                  "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                  "  proxy_set_header X-Forwarded-Proto $scheme;\n"
                  "  proxy_set_header X-Forwarded-Host $host;\n"
                  "  proxy_set_header X-Real-IP $remote_addr;\n"
                  "  proxy_set_header Upgrade $http_upgrade;\n"
                  "  proxy_set_header Connection $tempa_connection;\n"
                  "  map $http_upgrade $tempa_connection { default upgrade; '' ''; }\n");
  if (p.tls) {
    absl::StrAppend(&c, "  ssl_certificate ", p.cert_path, ";\n  ssl_certificate_key ", p.key_path,
                    ";\n  ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_session_cache shared:tempa:10m;\n");
  }
  // Control: which config is live, on a socket only root can reach.
  absl::StrAppend(&c, "  server {\n    listen unix:", NginxControlSocket(p.prefix), ";\n",
                  "    access_log off;\n", "    location = ", kGenerationPath, " {\n",
                  "      add_header X-Tempa-Edge-Generation ", p.generation, " always;\n",
                  "      return 200 \"", p.generation, "\\n\";\n    }\n",
                  "    location / { return 404; }\n  }\n");
  // Hosts nobody routes: a short answer naming the host and the fix.
  absl::StrAppend(
      &c, "  server {\n    listen ", p.listen, " default_server", ssl, ";\n",
      "    server_name _;\n", "    add_header X-Content-Type-Options nosniff always;\n",
      "    location / {\n      return 404 \"no app at this host: $host\\n",
      "Nothing is deployed under this name. Check the app name and branch (tempa deploys list) ",
      "and that the name ends with the deployer's --domain.\\n\";\n    }\n  }\n");
  for (const Route& r : routes) {
    absl::StrAppend(&c, "  server {\n    listen ", p.listen, ssl, ";\n", "    server_name ",
                    absl::StrJoin(r.hosts, " "), ";\n",
                    "    location / { proxy_pass http://127.0.0.1:", r.upstream_port, "; }\n  }\n");
  }
  if (!p.http_redirect_listen.empty()) {
    const std::string port = p.listen.substr(p.listen.rfind(':') + 1);
    absl::StrAppend(&c, "  server {\n    listen ", p.http_redirect_listen, " default_server;\n",
                    "    server_name _;\n    location / { return 308 https://$host",
                    port == "443" ? "" : ":" + port, "$request_uri; }\n  }\n");
  }
  absl::StrAppend(&c, "}\n");
  return c;
}

}  // namespace tempa::deploy
