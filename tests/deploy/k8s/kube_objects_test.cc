// RenderRelease: the objects the Kubernetes backend applies, checked field by field.
#include "deploy/kubernetes/objects/kube_objects.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const char kDigest[] = "sha256:4f1c9a0d9e7b3c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a";

Release ShopRelease() {
  Release r;
  r.deploy_id = "d-b-12";
  r.app = "shop";
  r.track = "production";
  r.commit = "0123456789abcdef0123456789abcdef01234567";
  r.image = std::string("registry.tempa.svc:5000/apps/shop@") + kDigest;
  r.hosts = {"shop.apps.example.com", "shop-0123456.apps.example.com"};
  r.settings.memory_bytes = 256ll << 20;
  r.settings.cpu_millis = 500;
  r.settings.replicas = 2;
  r.settings.max_replicas = 6;
  r.settings.health_path = "/healthz";
  r.settings.port = 8080;
  r.env = {{"DATABASE_URL", "postgres://u:hunter2-very-secret@db/shop"},
           {"STRIPE_KEY", "sk_live_51HqQxYZsecretvalue"}};
  return r;
}

KubeObjectOptions Options() {
  KubeObjectOptions o;
  o.namespace_name = "apps";
  o.tls_issuer = "letsencrypt";
  o.ingress_class = "nginx";
  o.progress_deadline_seconds = 90;
  return o;
}

std::vector<std::string> Kinds(const std::vector<KubeObject>& objects) {
  std::vector<std::string> kinds;
  for (const KubeObject& o : objects) kinds.push_back(o.kind);
  return kinds;
}

const KubeObject& Find(const std::vector<KubeObject>& objects, const std::string& kind) {
  for (const KubeObject& o : objects) {
    if (o.kind == kind) return o;
  }
  ADD_FAILURE() << "no " << kind;
  static const KubeObject kNone;
  return kNone;
}

TEST(KubeObjectsTest, ReleaseWithEnvAndMaxReplicasRendersEveryObjectInApplyOrder) {
  std::vector<KubeObject> objects = RenderRelease(ShopRelease(), Options());
  EXPECT_THAT(Kinds(objects),
              ElementsAre("Secret", "NetworkPolicy", "Deployment", "Service", "Ingress",
                          "HorizontalPodAutoscaler", "PodDisruptionBudget"));
  std::vector<std::string> paths;
  for (const KubeObject& o : objects) paths.push_back(o.api_path);
  std::string secret = objects[0].name;
  EXPECT_THAT(secret, ::testing::MatchesRegex("shop-env-[0-9a-f]{8}"));
  EXPECT_THAT(paths,
              ElementsAre("/api/v1/namespaces/apps/secrets/" + secret,
                          "/apis/networking.k8s.io/v1/namespaces/apps/networkpolicies/shop",
                          "/apis/apps/v1/namespaces/apps/deployments/shop",
                          "/api/v1/namespaces/apps/services/shop",
                          "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop",
                          "/apis/autoscaling/v2/namespaces/apps/horizontalpodautoscalers/shop",
                          "/apis/policy/v1/namespaces/apps/poddisruptionbudgets/shop"));
  for (const KubeObject& o : objects) {
    SCOPED_TRACE(o.kind);
    EXPECT_EQ(o.body["kind"], o.kind);
    EXPECT_TRUE(o.body["apiVersion"].is_string());
    const json& meta = o.body["metadata"];
    EXPECT_EQ(meta["name"], o.name);
    EXPECT_EQ(meta["namespace"], "apps");
    EXPECT_EQ(meta["labels"]["app.kubernetes.io/name"], "shop");
    EXPECT_EQ(meta["labels"]["app.kubernetes.io/managed-by"], "tempa");
    EXPECT_EQ(meta["labels"]["tempa.dev/track"], "production");
    EXPECT_EQ(meta["annotations"]["tempa.dev/deploy-id"], "d-b-12");
    EXPECT_EQ(meta["annotations"]["tempa.dev/commit"], ShopRelease().commit);
  }
}

TEST(KubeObjectsTest, DeploymentIsPinnedLimitedProbedAndLockedDown) {
  Release release = ShopRelease();
  std::vector<KubeObject> objects = RenderRelease(release, Options());
  const json& d = Find(objects, "Deployment").body;
  EXPECT_EQ(d["apiVersion"], "apps/v1");
  const json& spec = d["spec"];
  EXPECT_FALSE(spec.contains("replicas")) << "the HPA owns the scale";
  EXPECT_EQ(spec["strategy"]["type"], "RollingUpdate");
  EXPECT_EQ(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 90);
  EXPECT_TRUE(spec["revisionHistoryLimit"].is_number());
  json selector = {{"app.kubernetes.io/name", "shop"}, {"tempa.dev/track", "production"}};
  EXPECT_EQ(spec["selector"]["matchLabels"], selector);
  const json& pod = spec["template"]["spec"];
  for (const auto& [key, value] : selector.items()) {
    EXPECT_EQ(spec["template"]["metadata"]["labels"][key], value);
  }
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["runAsUser"], 65534);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  ASSERT_EQ(pod["containers"].size(), 1u);
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["name"], "app");
  EXPECT_EQ(c["image"], release.image) << "the digest is kept exactly";
  EXPECT_EQ(c["ports"][0]["containerPort"], 8080);
  EXPECT_EQ(c["env"], json::parse(R"([{"name":"PORT","value":"8080"}])"));
  std::string secret = Find(objects, "Secret").name;
  EXPECT_EQ(c["envFrom"],
            json::parse(R"([{"secretRef":{"name":")" + secret + R"(","optional":false}}])"));
  json resources = {{"memory", "256Mi"}, {"cpu", "500m"}};
  EXPECT_EQ(c["resources"]["requests"], resources);
  EXPECT_EQ(c["resources"]["limits"], resources);
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], 8080);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_GE(c["livenessProbe"]["failureThreshold"].get<int>(),
            c["readinessProbe"]["failureThreshold"].get<int>());
  const json& sc = c["securityContext"];
  EXPECT_EQ(sc["runAsNonRoot"], true);
  EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
  EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
  EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(sc["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/tmp");
  EXPECT_EQ(c["volumeMounts"][0]["name"], pod["volumes"][0]["name"]);
  EXPECT_TRUE(pod["volumes"][0].contains("emptyDir"));
}

TEST(KubeObjectsTest, ServiceIngressAndNetworkPolicyRouteOnlyTheIngressControllerToThePort) {
  Release release = ShopRelease();
  std::vector<KubeObject> objects = RenderRelease(release, Options());
  const json& svc = Find(objects, "Service").body["spec"];
  EXPECT_EQ(svc["type"], "ClusterIP");
  EXPECT_EQ(svc["ports"], json::parse(R"([{"name":"http","protocol":"TCP","port":80,
                                           "targetPort":8080}])"));
  EXPECT_EQ(svc["selector"]["app.kubernetes.io/name"], "shop");

  const json& ing = Find(objects, "Ingress").body;
  EXPECT_EQ(ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], "letsencrypt");
  EXPECT_EQ(ing["spec"]["ingressClassName"], "nginx");
  ASSERT_EQ(ing["spec"]["rules"].size(), 2u);
  for (size_t i = 0; i < release.hosts.size(); ++i) {
    const json& rule = ing["spec"]["rules"][i];
    EXPECT_EQ(rule["host"], release.hosts[i]);
    const json& path = rule["http"]["paths"][0];
    EXPECT_EQ(path["path"], "/");
    EXPECT_EQ(path["pathType"], "Prefix");
    EXPECT_EQ(path["backend"]["service"]["name"], "shop");
    EXPECT_EQ(path["backend"]["service"]["port"]["number"], 80);
  }
  EXPECT_EQ(ing["spec"]["tls"], json::parse(R"([{"hosts":["shop.apps.example.com",
      "shop-0123456.apps.example.com"],"secretName":"shop-tls"}])"));

  const json& np = Find(objects, "NetworkPolicy").body["spec"];
  EXPECT_EQ(np["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "shop");
  EXPECT_EQ(np["policyTypes"], json::array({"Ingress", "Egress"}));
  EXPECT_EQ(np["ingress"], json::parse(R"([{"from":[{"namespaceSelector":{"matchLabels":
      {"kubernetes.io/metadata.name":"ingress-nginx"}}}],"ports":[{"protocol":"TCP","port":8080}]}])"));
  ASSERT_EQ(np["egress"].size(), 2u);
  EXPECT_EQ(
      np["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
      "kube-system");
  EXPECT_EQ(np["egress"][0]["ports"][0]["port"], 53);
  const json& block = np["egress"][1]["to"][0]["ipBlock"];
  EXPECT_EQ(block["cidr"], "0.0.0.0/0");
  EXPECT_EQ(block["except"], json::parse(R"(["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16",
      "169.254.0.0/16","100.64.0.0/10"])"));
  EXPECT_FALSE(np["egress"][1].contains("ports")) << "the internet on any port";
}

TEST(KubeObjectsTest, AutoscalerAndBudgetFollowTheSettings) {
  std::vector<KubeObject> objects = RenderRelease(ShopRelease(), Options());
  const json& hpa = Find(objects, "HorizontalPodAutoscaler").body;
  EXPECT_EQ(hpa["apiVersion"], "autoscaling/v2");
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"],
            json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","name":"shop"})"));
  EXPECT_EQ(hpa["spec"]["minReplicas"], 2);
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 6);
  EXPECT_EQ(hpa["spec"]["metrics"], json::parse(R"([{"type":"Resource","resource":{"name":"cpu",
      "target":{"type":"Utilization","averageUtilization":70}}}])"));
  const json& pdb = Find(objects, "PodDisruptionBudget").body;
  EXPECT_EQ(pdb["apiVersion"], "policy/v1");
  EXPECT_EQ(pdb["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"]["tempa.dev/track"], "production");
}

TEST(KubeObjectsTest, ReleaseWithoutEnvOrAutoscalingHasNoSecretHpaOrPdbAndFixedReplicas) {
  Release release = ShopRelease();
  release.env.clear();
  release.settings.max_replicas = release.settings.replicas;
  KubeObjectOptions options = Options();
  options.tls_issuer.clear();
  options.ingress_class.clear();
  std::vector<KubeObject> objects = RenderRelease(release, options);
  EXPECT_THAT(Kinds(objects), ElementsAre("NetworkPolicy", "Deployment", "Service", "Ingress"));
  const json& d = Find(objects, "Deployment").body;
  EXPECT_EQ(d["spec"]["replicas"], 2);
  EXPECT_FALSE(d["spec"]["template"]["spec"]["containers"][0].contains("envFrom"));
  const json& ing = Find(objects, "Ingress").body;
  EXPECT_FALSE(ing["spec"].contains("tls"));
  EXPECT_FALSE(ing["spec"].contains("ingressClassName"));
  EXPECT_FALSE(ing["metadata"]["annotations"].contains("cert-manager.io/cluster-issuer"));
  // What an earlier autoscaled release left is named for removal.
  std::vector<KubeObject> stale = ObjectsToRemove(release, options);
  EXPECT_THAT(Kinds(stale), ElementsAre("HorizontalPodAutoscaler", "PodDisruptionBudget"));
  EXPECT_EQ(stale[0].api_path,
            "/apis/autoscaling/v2/namespaces/apps/horizontalpodautoscalers/shop");
  EXPECT_TRUE(ObjectsToRemove(ShopRelease(), options).empty());
}

TEST(KubeObjectsTest, EnvValuesAppearOnlyBase64InTheSecretData) {
  Release release = ShopRelease();
  std::vector<KubeObject> objects = RenderRelease(release, Options());
  for (const KubeObject& o : objects) {
    std::string text = o.body.dump();
    for (const auto& [name, value] : release.env) {
      EXPECT_THAT(text, Not(HasSubstr(value))) << o.kind;
      EXPECT_THAT(text, Not(HasSubstr("hunter2"))) << o.kind;
    }
  }
  const json& secret = Find(objects, "Secret").body;
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_FALSE(secret.contains("stringData"));
  EXPECT_EQ(secret["data"], json::parse(R"({
      "DATABASE_URL":"cG9zdGdyZXM6Ly91Omh1bnRlcjItdmVyeS1zZWNyZXRAZGIvc2hvcA==",
      "STRIPE_KEY":"c2tfbGl2ZV81MUhxUXhZWnNlY3JldHZhbHVl"})"));
}

TEST(KubeObjectsTest, EnvSecretNameFollowsTheEnvSoAChangeRollsThePods) {
  Release a = ShopRelease();
  Release b = a;
  b.env["STRIPE_KEY"] = "sk_live_rotated";
  Release c = a;
  c.deploy_id = "r-3";  // a rollback to a's env finds the same Secret
  auto secret_of = [](const Release& r) { return RenderRelease(r, Options())[0].name; };
  EXPECT_NE(secret_of(a), secret_of(b));
  EXPECT_EQ(secret_of(a), secret_of(c));
  // Key/value boundaries count: {"A":"B=C"} and {"A=B":"C"} are different envs.
  Release d = a, e = a;
  d.env = {{"AB", "C"}};
  e.env = {{"A", "BC"}};
  EXPECT_NE(secret_of(d), secret_of(e));
}

TEST(KubeObjectsTest, NamesStayDnsLabelsForALongAppAndALongBranch) {
  Release release = ShopRelease();
  release.app = std::string(60, 'a');
  release.track = "feature-" + std::string(80, 'x') + "-and-more";
  std::vector<KubeObject> objects = RenderRelease(release, Options());
  std::vector<std::string> names;
  for (const KubeObject& o : objects) names.push_back(o.name);
  names.push_back(Find(objects, "Ingress").body["spec"]["tls"][0]["secretName"]);
  names.push_back(
      Find(objects, "Deployment").body["metadata"]["labels"]["tempa.dev/track"].get<std::string>());
  for (const std::string& name : names) {
    EXPECT_LE(name.size(), 63u) << name;
    EXPECT_THAT(name, ::testing::MatchesRegex("[a-z]([-a-z0-9]*[a-z0-9])?")) << name;
  }
  // Two long branches differing only past the cut stay apart.
  Release other = release;
  other.track = "feature-" + std::string(80, 'x') + "-and-less";
  EXPECT_NE(WorkloadName(release), WorkloadName(other));
  EXPECT_TRUE(ValidateRelease(release, Options()).ok());
}

TEST(KubeObjectsTest, ALongProductionAppKeepsItsNameAndBoundsWhatDerivesFromIt) {
  Release release = ShopRelease();
  release.app = "a" + std::string(62, 'b');  // 63: the longest DNS label
  std::vector<KubeObject> objects = RenderRelease(release, Options());
  EXPECT_EQ(WorkloadName(release), release.app);
  EXPECT_EQ(Find(objects, "Deployment").name, release.app);
  std::string secret = Find(objects, "Secret").name;
  std::string tls = Find(objects, "Ingress").body["spec"]["tls"][0]["secretName"];
  for (const std::string& name : {secret, tls}) {
    EXPECT_LE(name.size(), 63u) << name;
    EXPECT_THAT(name, ::testing::MatchesRegex("[a-z]([-a-z0-9]*[a-z0-9])?")) << name;
  }
  EXPECT_THAT(secret, ::testing::MatchesRegex("ab+-[0-9a-f]{8}-env-[0-9a-f]{8}"));
  EXPECT_THAT(tls, ::testing::MatchesRegex("ab+-[0-9a-f]{8}-tls"));
}

TEST(KubeObjectsTest, AnAppStartingWithADigitStillGetsAValidServiceName) {
  Release release = ShopRelease();
  release.app = "1shop";
  ASSERT_TRUE(ValidateRelease(release, Options()).ok());
  std::string name = Find(RenderRelease(release, Options()), "Service").name;
  EXPECT_THAT(name, ::testing::MatchesRegex("[a-z]([-a-z0-9]*[a-z0-9])?"));
  EXPECT_LE(name.size(), 63u);
  EXPECT_THAT(name, HasSubstr("1shop"));
}

TEST(KubeObjectsTest, AWildcardCertificateSecretReplacesPerAppIssuance) {
  KubeObjectOptions options = Options();
  options.tls_secret = "wildcard-apps-example-com";
  std::vector<KubeObject> objects = RenderRelease(ShopRelease(), options);
  const json& ing = Find(objects, "Ingress").body;
  EXPECT_EQ(ing["spec"]["tls"][0]["secretName"], "wildcard-apps-example-com");
  EXPECT_EQ(ing["spec"]["tls"][0]["hosts"].size(), 2u);
  EXPECT_FALSE(ing["metadata"]["annotations"].contains("cert-manager.io/cluster-issuer"));
}

TEST(KubeObjectsTest, ReplicasAreSpreadOverNodesWithoutBlockingScheduling) {
  std::vector<KubeObject> objects = RenderRelease(ShopRelease(), Options());
  const json& pod = Find(objects, "Deployment").body["spec"]["template"]["spec"];
  const json& spread = pod["topologySpreadConstraints"][0];
  EXPECT_EQ(spread["topologyKey"], "kubernetes.io/hostname");
  EXPECT_EQ(spread["whenUnsatisfiable"], "ScheduleAnyway");
  EXPECT_EQ(spread["labelSelector"]["matchLabels"]["app.kubernetes.io/name"], "shop");
}

TEST(KubeObjectsTest, OnePreviewNeverTakesAnotherAppsProductionName) {
  Release preview = ShopRelease();
  preview.track = "api";
  Release production = ShopRelease();
  production.app = "shop-api";
  EXPECT_EQ(WorkloadName(production), "shop-api");
  EXPECT_NE(WorkloadName(preview), WorkloadName(production));
  EXPECT_THAT(WorkloadName(preview), ::testing::MatchesRegex("shop-api-[0-9a-f]{8}"));
}

TEST(KubeObjectsTest, ValidateRefusesWhatTheApiServerOrTheSandboxWouldRefuse) {
  EXPECT_TRUE(ValidateRelease(ShopRelease(), Options()).ok());
  auto refused = [](auto mutate, const std::string& says) {
    Release r = ShopRelease();
    KubeObjectOptions o = Options();
    mutate(r, o);
    absl::Status status = ValidateRelease(r, o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << says;
    EXPECT_THAT(std::string(status.message()), HasSubstr(says));
    for (const auto& [name, value] : r.env) {
      EXPECT_THAT(std::string(status.message()), Not(HasSubstr(value)));
    }
  };
  refused([](Release& r, KubeObjectOptions&) { r.image = "registry/apps/shop:latest"; }, "digest");
  refused([](Release& r, KubeObjectOptions&) { r.image = "registry/shop@sha256:abc"; }, "digest");
  refused([](Release& r, KubeObjectOptions&) { r.app = "Shop_App"; }, "Shop_App");
  refused([](Release& r, KubeObjectOptions&) { r.hosts.push_back("*.example.com"); }, "host");
  refused([](Release& r, KubeObjectOptions&) { r.hosts.push_back("a b.example.com"); }, "host");
  refused([](Release& r, KubeObjectOptions&) { r.hosts.clear(); }, "host");
  refused([](Release& r, KubeObjectOptions&) { r.settings.port = 80; }, "port 80");
  refused([](Release& r, KubeObjectOptions&) { r.settings.port = 70000; }, "port");
  refused([](Release& r, KubeObjectOptions&) { r.settings.max_replicas = 1; }, "max replicas");
  refused([](Release& r, KubeObjectOptions&) { r.settings.replicas = 0; }, "replicas");
  refused([](Release& r, KubeObjectOptions&) { r.settings.health_path = "healthz"; }, "health");
  refused([](Release& r, KubeObjectOptions&) { r.settings.health_path = "/a\nb"; }, "health");
  refused([](Release& r, KubeObjectOptions&) { r.settings.cpu_millis = 0; }, "cpu");
  refused([](Release& r, KubeObjectOptions&) { r.settings.memory_bytes = 1000; }, "memory");
  refused([](Release& r, KubeObjectOptions&) { r.env["1BAD"] = "x"; }, "1BAD");
  refused([](Release& r, KubeObjectOptions&) { r.env["A-B"] = "secret-v"; }, "A-B");
  refused([](Release&, KubeObjectOptions& o) { o.namespace_name = "Apps"; }, "namespace");
  refused([](Release&, KubeObjectOptions& o) { o.tls_issuer = "bad issuer"; }, "issuer");
}

TEST(KubeObjectsTest, MemoryQuantitiesAreExact) {
  Release release = ShopRelease();
  auto memory = [&](int64_t bytes) {
    release.settings.memory_bytes = bytes;
    return Find(RenderRelease(release, Options()), "Deployment")
        .body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        .get<std::string>();
  };
  EXPECT_EQ(memory(1ll << 30), "1Gi");
  EXPECT_EQ(memory(1536ll << 20), "1536Mi");
  EXPECT_EQ(memory(100000ll * 1024), "100000Ki");
  EXPECT_EQ(memory(123456789), "123456789");
}

}  // namespace
}  // namespace tempa::deploy
