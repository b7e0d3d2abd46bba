#include "deploy/kubernetes/kube_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace tempa::deploy {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

// The entry named `name` in a kubeconfig list (clusters, users, contexts), its inner map
// under `inner` ("cluster", "user", "context").
absl::StatusOr<YAML::Node> FindNamed(const YAML::Node& root, const std::string& list,
                                     const std::string& inner, const std::string& name,
                                     const std::string& path) {
  YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& entry : entries) {
      if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar()) continue;
      if (entry["name"].as<std::string>() != name) continue;
      YAML::Node body = entry[inner];
      if (!body || !body.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", list,
                                                       "[name=", name, "].", inner,
                                                       " is missing or not a map"));
      }
      return body;
    }
  }
  return absl::NotFoundError(absl::StrCat("kubeconfig ", path, ": no ", inner, " named \"", name,
                                          "\" under ", list,
                                          "; fix the kubeconfig or name another context"));
}

std::string Scalar(const YAML::Node& map, const std::string& key) {
  YAML::Node v = map[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

// A path from the kubeconfig, relative to the kubeconfig's own directory.
std::string Resolve(const std::string& kubeconfig, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  size_t slash = kubeconfig.rfind('/');
  if (slash == std::string::npos) return file;
  return absl::StrCat(kubeconfig.substr(0, slash + 1), file);
}

// `KEY-data` (base64) or `KEY` (a file): at most one of them.
absl::StatusOr<std::string> DataOrFile(const YAML::Node& map, const std::string& key,
                                       const std::string& where, const std::string& kubeconfig) {
  std::string data = Scalar(map, key + "-data");
  std::string file = Scalar(map, key);
  if (!data.empty() && !file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", kubeconfig, ": ", where,
                                                   " sets both ", key, " and ", key,
                                                   "-data; keep one"));
  }
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", kubeconfig, ": ", where, ".",
                                                     key,
                                                     "-data is not valid base64; re-encode it with "
                                                     "`base64 -w0`"));
    }
    return decoded;
  }
  if (!file.empty()) {
    return ReadSmallFile(Resolve(kubeconfig, file), absl::StrCat(where, ".", key));
  }
  return std::string();
}

absl::StatusOr<KubeConfig> Parse(const YAML::Node& root, const std::string& path,
                                 const std::string& wanted_context) {
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": not a YAML map; is it a kubeconfig file?"));
  }
  std::string context_name = wanted_context;
  if (context_name.empty()) context_name = Scalar(root, "current-context");
  if (context_name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path,
                     ": no current-context; set one (`kubectl config use-context NAME`) or pass "
                     "the context to use"));
  }
  ASSIGN_OR_RETURN(YAML::Node context, FindNamed(root, "contexts", "context", context_name, path));
  std::string cluster_name = Scalar(context, "cluster");
  std::string user_name = Scalar(context, "user");
  if (cluster_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": context \"",
                                                   context_name,
                                                   "\" names no cluster; add context.cluster"));
  }
  ASSIGN_OR_RETURN(YAML::Node cluster, FindNamed(root, "clusters", "cluster", cluster_name, path));

  KubeConfig config;
  config.source = absl::StrCat("kubeconfig ", path, " context ", context_name);
  config.namespace_name = Scalar(context, "namespace");
  config.server = std::string(absl::StripSuffix(Scalar(cluster, "server"), "/"));
  if (config.server.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": cluster \"",
                                                   cluster_name,
                                                   "\" has no server; add cluster.server "
                                                   "(https://HOST:PORT)"));
  }
  if (!absl::StartsWith(config.server, "https://") && !absl::StartsWith(config.server, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": cluster \"",
                                                   cluster_name, "\" server \"", config.server,
                                                   "\" is not an http(s) URL"));
  }
  std::string where = absl::StrCat("cluster \"", cluster_name, "\"");
  ASSIGN_OR_RETURN(config.ca_pem, DataOrFile(cluster, "certificate-authority", where, path));
  std::string insecure = Scalar(cluster, "insecure-skip-tls-verify");
  config.insecure_skip_tls_verify = insecure == "true";

  if (user_name.empty()) return config;  // anonymous
  ASSIGN_OR_RETURN(YAML::Node user, FindNamed(root, "users", "user", user_name, path));
  where = absl::StrCat("user \"", user_name, "\"");
  if (user["exec"] || user["auth-provider"]) {
    return absl::UnimplementedError(
        absl::StrCat("kubeconfig ", path, ": ", where, " authenticates through an ",
                     user["exec"] ? "exec" : "auth-provider",
                     " plugin, which tempa does not run; give the deployer a service-account token "
                     "(user.token or user.tokenFile) or a client certificate instead"));
  }
  config.token = Scalar(user, "token");
  config.token_file = Scalar(user, "tokenFile");
  if (config.token_file.empty()) config.token_file = Scalar(user, "token-file");
  config.token_file = Resolve(path, config.token_file);
  ASSIGN_OR_RETURN(config.client_cert_pem, DataOrFile(user, "client-certificate", where, path));
  ASSIGN_OR_RETURN(config.client_key_pem, DataOrFile(user, "client-key", where, path));
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kubeconfig ", path, ": ", where, " has a client ",
        config.client_cert_pem.empty() ? "key but no certificate" : "certificate but no key",
        "; set both client-certificate(-data) and client-key(-data)"));
  }
  if (!Scalar(user, "username").empty() || !Scalar(user, "password").empty()) {
    return absl::UnimplementedError(absl::StrCat("kubeconfig ", path, ": ", where,
                                                 " uses basic auth (username/password), which "
                                                 "Kubernetes removed; use a token"));
  }
  return config;
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, absl::string_view what) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Annotate(ErrnoStatus(errno, "open", path), absl::StrCat("reading ", what));
  }
  std::string out;
  char buffer[16384];
  while (true) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Annotate(ErrnoStatus(errno, "read", path), absl::StrCat("reading ", what));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > kMaxFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reading ", what, ": ", path, " is larger than 1 MiB; is it the right file?"));
    }
  }
  return out;
}

absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, "the kubeconfig"));
  try {
    return Parse(YAML::Load(text), path, context);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": not valid YAML (", e.what(), "); fix the file"));
  }
}

absl::StatusOr<KubeConfig> LoadInClusterConfig(const InClusterPaths& paths, GetEnvFn getenv) {
  if (!getenv) {
    getenv = [](absl::string_view name) -> std::optional<std::string> {
      const char* v = std::getenv(std::string(name).c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
  }
  std::optional<std::string> host = getenv("KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return absl::FailedPreconditionError(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are "
        "unset); pass --kubeconfig FILE");
  }
  KubeConfig config;
  config.source = "in-cluster service account";
  // An IPv6 service address needs brackets in a URL.
  std::string h = host->find(':') != std::string::npos ? absl::StrCat("[", *host, "]") : *host;
  config.server = absl::StrCat("https://", h, ":", *port);
  ASSIGN_OR_RETURN(std::string token, ReadSmallFile(paths.token, "the service-account token"));
  if (absl::StripAsciiWhitespace(token).empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the service-account token ", paths.token,
                     " is empty; is automountServiceAccountToken off for the deployer's pod?"));
  }
  config.token_file = paths.token;
  ASSIGN_OR_RETURN(config.ca_pem, ReadSmallFile(paths.ca, "the service-account CA"));
  absl::StatusOr<std::string> ns = ReadSmallFile(paths.namespace_file, "the pod's namespace");
  if (ns.ok()) config.namespace_name = std::string(absl::StripAsciiWhitespace(*ns));
  return config;
}

}  // namespace tempa::deploy
