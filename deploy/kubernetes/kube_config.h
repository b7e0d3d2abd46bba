// Where the Kubernetes API server is and how to authenticate to it: a kubeconfig file (a named
// or the current context) or the in-cluster service account. Certificates and keys are loaded
// into memory here (files named by the kubeconfig are read once, relative to its directory), so
// the API client never writes them to disk. exec / auth-provider plugins are refused.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

struct KubeConfig {
  std::string server;  // "https://10.0.0.1:6443" (no trailing slash)
  std::string ca_pem;  // "" : the system's trust store
  bool insecure_skip_tls_verify = false;
  std::string token;            // bearer token, or
  std::string token_file;       // a file holding it, read per request (rotated tokens)
  std::string client_cert_pem;  // client certificate + key (both or neither)
  std::string client_key_pem;
  std::string namespace_name;  // the context's namespace; "" when none is named
  std::string source;          // "kubeconfig /root/.kube/config context prod" (for errors)
};

// Reads `path` and resolves `context` ("" : current-context). Errors name the file, the field
// and the fix.
absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// The in-cluster service account; paths are injectable for tests.
struct InClusterPaths {
  std::string token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};
using GetEnvFn = std::function<std::optional<std::string>(absl::string_view name)>;

// KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT from `getenv` (default: the process
// environment), the token file and CA from `paths`.
absl::StatusOr<KubeConfig> LoadInClusterConfig(const InClusterPaths& paths = {},
                                               GetEnvFn getenv = nullptr);

// A file's contents, bounded (kubeconfig material is small): errors name `what` and the path.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what);

}  // namespace tempa::deploy
