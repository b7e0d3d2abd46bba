// ValidateRelease: what RenderRelease needs to produce objects the API server accepts.
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/objects/kube_names.h"
#include "deploy/kubernetes/objects/kube_objects.h"

namespace tempa::deploy {
namespace {

absl::Status Invalid(absl::string_view deploy_id, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("deploy ", deploy_id, ": ", what));
}

bool IsCIdentifier(absl::string_view name) {
  if (name.empty()) return false;
  if (absl::ascii_isdigit(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// "HOST[:PORT]/REPO@sha256:<64 lowercase hex>".
bool IsDigestImage(absl::string_view image) {
  size_t at = image.rfind("@sha256:");
  if (at == absl::string_view::npos || at == 0) return false;
  absl::string_view hex = image.substr(at + 8);
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  for (char c : image.substr(0, at)) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

bool IsHttpPath(absl::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 1024) return false;
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateRelease(const Release& release, const KubeObjectOptions& options) {
  const std::string& id = release.deploy_id;
  if (!kube::IsDnsLabel(release.app)) {
    return Invalid(id, absl::StrCat("app name '", release.app,
                                    "' is not a DNS label ([a-z0-9-], at most 63 characters, "
                                    "alphanumeric at both ends): rename the app"));
  }
  if (release.track.empty())
    return Invalid(id, "the release has no track: set 'production' or the branch");
  if (!IsDigestImage(release.image)) {
    return Invalid(id, absl::StrCat("image '", release.image,
                                    "' is not pinned by digest (REPO@sha256:<64 hex>): deploy "
                                    "the digest the build pushed"));
  }
  if (release.hosts.empty()) return Invalid(id, "the release has no host: the Ingress needs one");
  for (const std::string& host : release.hosts) {
    if (!kube::IsDnsSubdomain(host)) {
      return Invalid(id, absl::StrCat("host '", host,
                                      "' is not a lowercase DNS name (labels of [a-z0-9-], at "
                                      "most 63 characters each): check --domain and the branch"));
    }
  }
  const RunSettings& s = release.settings;
  if (s.port < 1024 || s.port > 65535) {
    return Invalid(id, absl::StrCat("port ", s.port,
                                    " is outside 1024-65535: the app runs as a non-root user "
                                    "with every capability dropped; listen on $PORT >= 1024"));
  }
  if (s.memory_bytes < (4ll << 20)) {
    return Invalid(id, absl::StrCat("memory limit ", s.memory_bytes,
                                    " bytes is below 4Mi: set --memory to at least 4Mi"));
  }
  if (s.cpu_millis < 1) return Invalid(id, "cpu limit is below 1m: set --cpu above 0");
  if (s.replicas < 1) return Invalid(id, "replicas must be at least 1: set --replicas");
  if (s.max_replicas < s.replicas) {
    return Invalid(id, absl::StrCat("max replicas ", s.max_replicas, " is below replicas ",
                                    s.replicas, ": set --max-replicas to at least --replicas"));
  }
  if (!IsHttpPath(s.health_path)) {
    return Invalid(id, absl::StrCat("health path '", s.health_path,
                                    "' must start with '/' and hold no spaces or control "
                                    "characters: set --health-path"));
  }
  for (const auto& [name, value] : release.env) {
    // The name only: values are secret.
    if (!IsCIdentifier(name)) {
      return Invalid(id, absl::StrCat("env name '", name,
                                      "' is not [A-Za-z_][A-Za-z0-9_]*: rename the variable"));
    }
  }
  if (!kube::IsDnsLabel(options.namespace_name)) {
    return Invalid(id, absl::StrCat("namespace '", options.namespace_name,
                                    "' is not a DNS label: fix --namespace"));
  }
  if (!kube::IsDnsLabel(options.ingress_namespace)) {
    return Invalid(
        id, absl::StrCat("ingress namespace '", options.ingress_namespace, "' is not a DNS label"));
  }
  if (!options.tls_issuer.empty() && !kube::IsDnsSubdomain(options.tls_issuer)) {
    return Invalid(id, absl::StrCat("TLS issuer '", options.tls_issuer,
                                    "' is not a valid object name: fix --tls-issuer"));
  }
  if (!options.tls_secret.empty() && !kube::IsDnsSubdomain(options.tls_secret)) {
    return Invalid(id,
                   absl::StrCat("TLS secret '", options.tls_secret,
                                "' is not a valid object name: fix the wildcard Secret's name"));
  }
  if (!options.ingress_class.empty() && !kube::IsDnsSubdomain(options.ingress_class)) {
    return Invalid(id, absl::StrCat("ingress class '", options.ingress_class,
                                    "' is not a valid object name: fix --ingress-class"));
  }
  if (options.progress_deadline_seconds < 1 || options.cpu_target_percent < 1) {
    return Invalid(id, "progress deadline and CPU target must be positive");
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
