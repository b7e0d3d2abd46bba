// A test-only RenderRelease/WorkloadName, linked only while deploy/kubernetes/objects/ has no
// tempa_kube_objects library (see CMakeLists.txt). Just enough shape for the backend's tests:
// the real rendering has tests of its own.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/objects/kube_objects.h"

namespace tempa::deploy {

std::string WorkloadName(const Release& release) {
  return release.track == "production" ? release.app
                                       : absl::StrCat(release.app, "-", release.track);
}

std::vector<KubeObject> RenderRelease(const Release& release, const KubeObjectOptions& options) {
  const std::string name = WorkloadName(release);
  const std::string& ns = options.namespace_name;
  nlohmann::json labels = {{"app.kubernetes.io/name", release.app},
                           {"tempa.dev/track", release.track}};
  auto meta = [&](const std::string& object_name) {
    return nlohmann::json{{"name", object_name}, {"namespace", ns}, {"labels", labels}};
  };
  std::vector<KubeObject> out;
  if (!release.env.empty()) {
    nlohmann::json data = nlohmann::json::object();
    for (const auto& [k, v] : release.env) data[k] = v;
    out.push_back({"Secret",
                   name + "-env",
                   absl::StrCat("/api/v1/namespaces/", ns, "/secrets/", name, "-env"),
                   {{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", meta(name + "-env")},
                    {"type", "Opaque"},
                    {"stringData", data}}});
  }
  nlohmann::json container = {
      {"name", "app"},
      {"image", release.image},
      {"ports", {{{"containerPort", release.settings.port}}}},
      {"readinessProbe",
       {{"httpGet", {{"path", release.settings.health_path}, {"port", release.settings.port}}}}}};
  if (!release.env.empty()) container["envFrom"] = {{{"secretRef", {{"name", name + "-env"}}}}};
  out.push_back(
      {"Deployment",
       name,
       absl::StrCat("/apis/apps/v1/namespaces/", ns, "/deployments/", name),
       {{"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", meta(name)},
        {"spec",
         {{"replicas", release.settings.replicas},
          {"progressDeadlineSeconds", options.progress_deadline_seconds},
          {"selector", {{"matchLabels", labels}}},
          {"strategy", {{"rollingUpdate", {{"maxUnavailable", 0}}}}},
          {"template",
           {{"metadata", {{"labels", labels}}}, {"spec", {{"containers", {container}}}}}}}}}});
  out.push_back({"Service",
                 name,
                 absl::StrCat("/api/v1/namespaces/", ns, "/services/", name),
                 {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"metadata", meta(name)},
                  {"spec",
                   {{"selector", labels},
                    {"ports", {{{"port", 80}, {"targetPort", release.settings.port}}}}}}}});
  nlohmann::json rules = nlohmann::json::array();
  for (const std::string& host : release.hosts) rules.push_back({{"host", host}});
  out.push_back({"Ingress",
                 name,
                 absl::StrCat("/apis/networking.k8s.io/v1/namespaces/", ns, "/ingresses/", name),
                 {{"apiVersion", "networking.k8s.io/v1"},
                  {"kind", "Ingress"},
                  {"metadata", meta(name)},
                  {"spec", {{"rules", rules}}}}});
  out.push_back(
      {"NetworkPolicy",
       name,
       absl::StrCat("/apis/networking.k8s.io/v1/namespaces/", ns, "/networkpolicies/", name),
       {{"apiVersion", "networking.k8s.io/v1"},
        {"kind", "NetworkPolicy"},
        {"metadata", meta(name)},
        {"spec", {{"podSelector", {{"matchLabels", labels}}}}}}});
  if (release.settings.max_replicas > release.settings.replicas) {
    out.push_back(
        {"HorizontalPodAutoscaler",
         name,
         absl::StrCat("/apis/autoscaling/v2/namespaces/", ns, "/horizontalpodautoscalers/", name),
         {{"apiVersion", "autoscaling/v2"},
          {"kind", "HorizontalPodAutoscaler"},
          {"metadata", meta(name)},
          {"spec",
           {{"minReplicas", release.settings.replicas},
            {"maxReplicas", release.settings.max_replicas}}}}});
    out.push_back({"PodDisruptionBudget",
                   name,
                   absl::StrCat("/apis/policy/v1/namespaces/", ns, "/poddisruptionbudgets/", name),
                   {{"apiVersion", "policy/v1"},
                    {"kind", "PodDisruptionBudget"},
                    {"metadata", meta(name)},
                    {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", labels}}}}}}});
  }
  return out;
}

}  // namespace tempa::deploy
