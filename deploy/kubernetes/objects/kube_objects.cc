#include "deploy/kubernetes/objects/kube_objects.h"

#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/objects/kube_names.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;

constexpr int kRunAsId = 65534;  // nobody: the image's own user is not known here
constexpr int kServicePort = 80;

// What every object of one release shares.
struct Common {
  std::string workload;
  std::string ns;
  json selector;  // matchLabels of the workload's pods
  json labels;    // selector + managed-by
  json annotations;
};

Common MakeCommon(const Release& release, const KubeObjectOptions& options) {
  Common c;
  c.workload = WorkloadName(release);
  c.ns = options.namespace_name;
  c.selector = {{"app.kubernetes.io/name", kube::LabelValue(release.app)},
                {"tempa.dev/track", kube::LabelValue(release.track)}};
  c.labels = c.selector;
  c.labels["app.kubernetes.io/managed-by"] = "tempa";
  c.annotations = {{"tempa.dev/deploy-id", release.deploy_id},
                   {"tempa.dev/commit", release.commit}};
  return c;
}

KubeObject Make(const Common& c, const std::string& api_version, const std::string& kind,
                const std::string& name, const std::string& api_path) {
  KubeObject object;
  object.kind = kind;
  object.name = name;
  object.api_path = api_path;
  object.body = {{"apiVersion", api_version},
                 {"kind", kind},
                 {"metadata",
                  {{"name", name},
                   {"namespace", c.ns},
                   {"labels", c.labels},
                   {"annotations", c.annotations}}}};
  return object;
}

std::string CorePath(const Common& c, absl::string_view plural, absl::string_view name) {
  return absl::StrCat("/api/v1/namespaces/", c.ns, "/", plural, "/", name);
}
std::string GroupPath(const Common& c, absl::string_view group_version, absl::string_view plural,
                      absl::string_view name) {
  return absl::StrCat("/apis/", group_version, "/namespaces/", c.ns, "/", plural, "/", name);
}

// The env's name: its content hashed, names and values length-prefixed so that no two maps
// share a serialization.
std::string EnvSecretName(const Common& c, const Release& release) {
  std::string canonical;
  for (const auto& [name, value] : release.env) {
    absl::StrAppend(&canonical, name.size(), ":", name, value.size(), ":", value, ";");
  }
  return kube::BoundedName(c.workload, absl::StrCat("env-", kube::Hash8(canonical)));
}

KubeObject EnvSecret(const Common& c, const Release& release, const std::string& name) {
  KubeObject o = Make(c, "v1", "Secret", name, CorePath(c, "secrets", name));
  json data = json::object();
  for (const auto& [key, value] : release.env) data[key] = kube::Base64(value);
  o.body["type"] = "Opaque";
  o.body["immutable"] = true;  // content-named: never changes under its name
  o.body["data"] = std::move(data);
  return o;
}

json HttpProbe(const Release& release, int period, int timeout, int failures) {
  return {{"httpGet", {{"path", release.settings.health_path}, {"port", release.settings.port}}},
          {"periodSeconds", period},
          {"timeoutSeconds", timeout},
          {"failureThreshold", failures}};
}

// settings.pids_max has no per-pod field in the API (the kubelet's podPidsLimit applies).
json Container(const Release& release, const std::string& env_secret) {
  const RunSettings& s = release.settings;
  json resources = {{"memory", kube::MemoryQuantity(s.memory_bytes)},
                    {"cpu", kube::CpuQuantity(s.cpu_millis)}};
  json container = {
      {"name", "app"},
      {"image", release.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", json::array({{{"name", "http"}, {"containerPort", s.port}, {"protocol", "TCP"}}})},
      // `env` wins over `envFrom`: an env var named PORT cannot move the app off its port.
      {"env", json::array({{{"name", "PORT"}, {"value", std::to_string(s.port)}}})},
      {"resources", {{"requests", resources}, {"limits", resources}}},
      {"readinessProbe", HttpProbe(release, 2, 2, 3)},
      // Lenient: a slow app is taken out of the Service by readiness long before this kills it.
      {"livenessProbe", HttpProbe(release, 10, 5, 6)},
      {"startupProbe", HttpProbe(release, 2, 2, 60)},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kRunAsId},
        {"runAsGroup", kRunAsId},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"privileged", false},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts", json::array({{{"name", "tmp"}, {"mountPath", "/tmp"}}})},
  };
  if (!env_secret.empty()) {
    container["envFrom"] =
        json::array({{{"secretRef", {{"name", env_secret}, {"optional", false}}}}});
  }
  return container;
}

KubeObject Deployment(const Common& c, const Release& release, const KubeObjectOptions& options,
                      const std::string& env_secret, bool autoscaled) {
  KubeObject o = Make(c, "apps/v1", "Deployment", c.workload,
                      GroupPath(c, "apps/v1", "deployments", c.workload));
  json pod_spec = {
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},  // no other Service's address leaks in as env
      {"terminationGracePeriodSeconds", 30},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kRunAsId},
        {"runAsGroup", kRunAsId},
        {"fsGroup", kRunAsId},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      // Replicas spread over nodes when the scheduler can; never left pending for it.
      {"topologySpreadConstraints",
       json::array({{{"maxSkew", 1},
                     {"topologyKey", "kubernetes.io/hostname"},
                     {"whenUnsatisfiable", "ScheduleAnyway"},
                     {"labelSelector", {{"matchLabels", c.selector}}}}})},
      {"containers", json::array({Container(release, env_secret)})},
      {"volumes", json::array({{{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "256Mi"}}}}})},
  };
  json spec = {
      {"selector", {{"matchLabels", c.selector}}},
      {"strategy",
       {{"type", "RollingUpdate"},
        {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", "25%"}}}}},
      {"progressDeadlineSeconds", options.progress_deadline_seconds},
      {"revisionHistoryLimit", 10},
      {"minReadySeconds", 0},
      // No deploy id in the template: a rollback to the same image and env is the same template.
      {"template",
       {{"metadata",
         {{"labels", c.labels}, {"annotations", {{"tempa.dev/commit", release.commit}}}}},
        {"spec", std::move(pod_spec)}}},
  };
  // Under an HPA, a replicas field owned by our apply would reset the scale on every deploy.
  if (!autoscaled) spec["replicas"] = release.settings.replicas;
  o.body["spec"] = std::move(spec);
  return o;
}

KubeObject Service(const Common& c, const Release& release) {
  KubeObject o = Make(c, "v1", "Service", c.workload, CorePath(c, "services", c.workload));
  o.body["spec"] = {{"type", "ClusterIP"},
                    {"selector", c.selector},
                    {"ports", json::array({{{"name", "http"},
                                            {"protocol", "TCP"},
                                            {"port", kServicePort},
                                            {"targetPort", release.settings.port}}})}};
  return o;
}

KubeObject Ingress(const Common& c, const Release& release, const KubeObjectOptions& options) {
  KubeObject o = Make(c, "networking.k8s.io/v1", "Ingress", c.workload,
                      GroupPath(c, "networking.k8s.io/v1", "ingresses", c.workload));
  json backend = {{"service", {{"name", c.workload}, {"port", {{"number", kServicePort}}}}}};
  json rules = json::array();
  for (const std::string& host : release.hosts) {
    rules.push_back(
        {{"host", host},
         {"http",
          {{"paths",
            json::array({{{"path", "/"}, {"pathType", "Prefix"}, {"backend", backend}}})}}}});
  }
  json spec = {{"rules", std::move(rules)}};
  if (!options.ingress_class.empty()) spec["ingressClassName"] = options.ingress_class;
  if (!options.tls_secret.empty()) {
    spec["tls"] = json::array({{{"hosts", release.hosts}, {"secretName", options.tls_secret}}});
  } else if (!options.tls_issuer.empty()) {
    o.body["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] = options.tls_issuer;
    spec["tls"] = json::array(
        {{{"hosts", release.hosts}, {"secretName", kube::BoundedName(c.workload, "tls")}}});
  }
  o.body["spec"] = std::move(spec);
  return o;
}

KubeObject NetworkPolicy(const Common& c, const Release& release,
                         const KubeObjectOptions& options) {
  KubeObject o = Make(c, "networking.k8s.io/v1", "NetworkPolicy", c.workload,
                      GroupPath(c, "networking.k8s.io/v1", "networkpolicies", c.workload));
  auto in_namespace = [](const std::string& ns) {
    return json{{"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns}}}}}};
  };
  json from_ingress = {
      {"from", json::array({in_namespace(options.ingress_namespace)})},
      {"ports", json::array({{{"protocol", "TCP"}, {"port", release.settings.port}}})}};
  json dns = {{"to", json::array({in_namespace("kube-system")})},
              {"ports", json::array({{{"protocol", "UDP"}, {"port", 53}},
                                     {{"protocol", "TCP"}, {"port", 53}}})}};
  // The internet, not the cluster: private ranges hold pods, services, nodes and the API server.
  json internet = {
      {"to", json::array({{{"ipBlock",
                            {{"cidr", "0.0.0.0/0"}, {"except", options.egress_blocked_cidrs}}}}})}};
  o.body["spec"] = {{"podSelector", {{"matchLabels", c.selector}}},
                    {"policyTypes", json::array({"Ingress", "Egress"})},
                    {"ingress", json::array({std::move(from_ingress)})},
                    {"egress", json::array({std::move(dns), std::move(internet)})}};
  return o;
}

KubeObject Autoscaler(const Common& c, const Release& release, const KubeObjectOptions& options) {
  KubeObject o = Make(c, "autoscaling/v2", "HorizontalPodAutoscaler", c.workload,
                      GroupPath(c, "autoscaling/v2", "horizontalpodautoscalers", c.workload));
  o.body["spec"] = {
      {"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", c.workload}}},
      {"minReplicas", release.settings.replicas},
      {"maxReplicas", release.settings.max_replicas},
      {"metrics", json::array({{{"type", "Resource"},
                                {"resource",
                                 {{"name", "cpu"},
                                  {"target",
                                   {{"type", "Utilization"},
                                    {"averageUtilization", options.cpu_target_percent}}}}}}})}};
  return o;
}

KubeObject DisruptionBudget(const Common& c) {
  KubeObject o = Make(c, "policy/v1", "PodDisruptionBudget", c.workload,
                      GroupPath(c, "policy/v1", "poddisruptionbudgets", c.workload));
  // maxUnavailable, not minAvailable 1: a one-replica app must not block node drains forever.
  o.body["spec"] = {{"maxUnavailable", 1}, {"selector", {{"matchLabels", c.selector}}}};
  return o;
}

bool Autoscaled(const Release& release) {
  return release.settings.max_replicas > release.settings.replicas;
}

}  // namespace

std::string WorkloadName(const Release& release) {
  if (release.track == "production") {
    if (kube::IsDns1035Label(release.app)) return release.app;
    return kube::BoundedName(kube::SanitizeLabel(release.app, 54), kube::Hash8(release.app));
  }
  std::string base = kube::SanitizeLabel(absl::StrCat(release.app, "-", release.track), 54);
  return absl::StrCat(base, "-", kube::Hash8(absl::StrCat(release.app, "\n", release.track)));
}

std::vector<KubeObject> RenderRelease(const Release& release, const KubeObjectOptions& options) {
  Common c = MakeCommon(release, options);
  bool autoscaled = Autoscaled(release);
  std::vector<KubeObject> objects;
  std::string env_secret;
  if (!release.env.empty()) {
    env_secret = EnvSecretName(c, release);
    objects.push_back(EnvSecret(c, release, env_secret));
  }
  objects.push_back(NetworkPolicy(c, release, options));
  objects.push_back(Deployment(c, release, options, env_secret, autoscaled));
  objects.push_back(Service(c, release));
  objects.push_back(Ingress(c, release, options));
  if (autoscaled) {
    objects.push_back(Autoscaler(c, release, options));
    objects.push_back(DisruptionBudget(c));
  }
  return objects;
}

std::vector<KubeObject> ObjectsToRemove(const Release& release, const KubeObjectOptions& options) {
  if (Autoscaled(release)) return {};
  Common c = MakeCommon(release, options);
  std::vector<KubeObject> objects = {Autoscaler(c, release, options), DisruptionBudget(c)};
  for (KubeObject& o : objects) o.body = nlohmann::json();
  return objects;
}

}  // namespace tempa::deploy
