// deploy/k8s/: every YAML document of every manifest parsed and checked for what running Tempa on
// Kubernetes relies on: names and namespaces, the deployer's least privilege, the coordinator's
// volume, the registry on MinIO, limits and non-root containers.
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kDir = std::string(TEMPA_SOURCE_DIR) + "/deploy/k8s";

struct Doc {
  std::string file;
  YAML::Node node;
  std::string kind() const { return node["kind"].as<std::string>(""); }
  std::string name() const { return node["metadata"]["name"].as<std::string>(""); }
  std::string ns() const { return node["metadata"]["namespace"].as<std::string>(""); }
  std::string where() const { return file + ": " + kind() + " " + name(); }
};

std::vector<std::string> YamlFiles() {
  std::vector<std::string> files;
  DIR* dir = ::opendir(kDir.c_str());
  if (dir == nullptr) return files;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") files.push_back(name);
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Doc> LoadAll() {
  std::vector<Doc> docs;
  for (const std::string& file : YamlFiles()) {
    std::vector<YAML::Node> nodes;
    try {
      nodes = YAML::LoadAllFromFile(kDir + "/" + file);
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << file << " does not parse: " << e.what();
      continue;
    }
    for (const YAML::Node& node : nodes) {
      if (node.IsNull()) continue;  // an empty document between "---"
      docs.push_back({file, node});
    }
  }
  return docs;
}

std::vector<Doc> OfKind(const std::vector<Doc>& docs, const std::string& kind) {
  std::vector<Doc> out;
  for (const Doc& d : docs) {
    if (d.kind() == kind) out.push_back(d);
  }
  return out;
}

const Doc* Find(const std::vector<Doc>& docs, const std::string& kind, const std::string& name) {
  for (const Doc& d : docs) {
    if (d.kind() == kind && d.name() == name) return &d;
  }
  return nullptr;
}

YAML::Node PodTemplate(const Doc& d) { return d.node["spec"]["template"]; }

bool IsWorkload(const Doc& d) {
  return d.kind() == "Deployment" || d.kind() == "StatefulSet" || d.kind() == "DaemonSet" ||
         d.kind() == "Job";
}

std::set<std::string> Strings(const YAML::Node& seq) {
  std::set<std::string> out;
  for (const YAML::Node& item : seq) out.insert(item.as<std::string>());
  return out;
}

TEST(K8sManifestsTest, EveryDocumentParsesAndNamesItsKindAndName) {
  std::vector<std::string> files = YamlFiles();
  EXPECT_THAT(files, ::testing::IsSupersetOf({"namespace.yaml", "coordinator.yaml", "workers.yaml",
                                              "deployer.yaml", "registry.yaml", "minio.yaml"}));
  std::vector<Doc> docs = LoadAll();
  EXPECT_GE(docs.size(), 15u);
  std::set<std::string> seen;
  for (const Doc& d : docs) {
    SCOPED_TRACE(d.where());
    EXPECT_TRUE(d.node.IsMap());
    EXPECT_FALSE(d.node["apiVersion"].as<std::string>("").empty());
    EXPECT_FALSE(d.kind().empty());
    EXPECT_FALSE(d.name().empty());
    EXPECT_TRUE(seen.insert(d.kind() + "/" + d.ns() + "/" + d.name()).second) << "duplicate";
  }
  // The example Secrets (kept out of `kubectl apply -f deploy/k8s/`) name what the pods use.
  std::vector<YAML::Node> secrets = YAML::LoadAllFromFile(kDir + "/secrets.yaml.example");
  std::set<std::string> secret_names;
  for (const YAML::Node& s : secrets) {
    EXPECT_EQ(s["kind"].as<std::string>(), "Secret");
    EXPECT_EQ(s["metadata"]["namespace"].as<std::string>(), "tempa");
    secret_names.insert(s["metadata"]["name"].as<std::string>());
  }
  for (const Doc& d : docs) {
    if (d.kind() != "Deployment" && d.kind() != "StatefulSet") continue;
    for (const YAML::Node& v : d.node["spec"]["template"]["spec"]["volumes"]) {
      if (v["secret"]) {
        EXPECT_EQ(secret_names.count(v["secret"]["secretName"].as<std::string>()), 1u) << d.where();
      }
    }
  }
}

TEST(K8sManifestsTest, EveryNamespacedObjectIsInANamespaceTheManifestsCreate) {
  std::vector<Doc> docs = LoadAll();
  std::set<std::string> namespaces;
  for (const Doc& d : OfKind(docs, "Namespace")) namespaces.insert(d.name());
  EXPECT_THAT(namespaces, UnorderedElementsAre("tempa", "tempa-apps"));
  for (const Doc& d : docs) {
    if (d.kind() == "Namespace") continue;
    SCOPED_TRACE(d.where());
    EXPECT_EQ(namespaces.count(d.ns()), 1u) << "namespace '" << d.ns() << "'";
    // Tempa itself runs in "tempa"; only the deployer's Role and its binding reach the apps.
    if (d.kind() != "Role" && d.kind() != "RoleBinding") {
      EXPECT_EQ(d.ns(), "tempa");
    }
  }
  // Names a pod refers to exist in its namespace (Secrets excepted: the operator makes them).
  for (const Doc& d : docs) {
    if (!IsWorkload(d)) continue;
    for (const YAML::Node& v : PodTemplate(d)["spec"]["volumes"]) {
      if (v["configMap"]) {
        EXPECT_NE(Find(docs, "ConfigMap", v["configMap"]["name"].as<std::string>()), nullptr)
            << d.where();
      }
    }
    if (auto sa = PodTemplate(d)["spec"]["serviceAccountName"]) {
      EXPECT_NE(Find(docs, "ServiceAccount", sa.as<std::string>()), nullptr) << d.where();
    }
  }
}

TEST(K8sManifestsTest, DeployerRoleGrantsExactlyWhatApplyAndRolloutStatusNeedInTheAppsNamespace) {
  std::vector<Doc> docs = LoadAll();
  EXPECT_THAT(OfKind(docs, "ClusterRole"), IsEmpty());
  EXPECT_THAT(OfKind(docs, "ClusterRoleBinding"), IsEmpty());
  const Doc* role = Find(docs, "Role", "tempa-deployer");
  ASSERT_NE(role, nullptr);
  EXPECT_EQ(role->ns(), "tempa-apps");
  // group/resource -> verbs, merged over the rules.
  std::map<std::string, std::set<std::string>> granted;
  for (const YAML::Node& rule : role->node["rules"]) {
    EXPECT_FALSE(rule["resourceNames"]) << "unexpected";
    EXPECT_FALSE(rule["nonResourceURLs"]);
    for (const std::string& group : Strings(rule["apiGroups"])) {
      for (const std::string& resource : Strings(rule["resources"])) {
        for (const std::string& verb : Strings(rule["verbs"])) {
          EXPECT_NE(group, "*");
          EXPECT_NE(resource, "*");
          EXPECT_NE(verb, "*");
          granted[group + "/" + resource].insert(verb);
        }
      }
    }
  }
  using Verbs = std::set<std::string>;
  // patch: server-side apply; create: an apply that creates the object is authorized as create.
  const Verbs apply = {"get", "patch", "create"};
  Verbs apply_and_delete = apply;
  apply_and_delete.insert("delete");
  std::map<std::string, Verbs> want = {
      {"apps/deployments", {"get", "list", "watch", "patch", "create"}},
      {"/services", apply},
      {"/secrets", apply},
      {"networking.k8s.io/ingresses", apply},
      {"networking.k8s.io/networkpolicies", apply},
      {"policy/poddisruptionbudgets", apply_and_delete},
      {"autoscaling/horizontalpodautoscalers", apply_and_delete},
      {"apps/replicasets", {"get", "list"}},
      {"/pods", {"get", "list"}},
      {"/pods/log", {"get"}},
  };
  EXPECT_EQ(granted, want);

  const Doc* binding = Find(docs, "RoleBinding", "tempa-deployer");
  ASSERT_NE(binding, nullptr);
  EXPECT_EQ(binding->ns(), "tempa-apps");
  EXPECT_EQ(binding->node["roleRef"]["kind"].as<std::string>(), "Role");
  EXPECT_EQ(binding->node["roleRef"]["name"].as<std::string>(), "tempa-deployer");
  ASSERT_EQ(binding->node["subjects"].size(), 1u);
  EXPECT_EQ(binding->node["subjects"][0]["kind"].as<std::string>(), "ServiceAccount");
  EXPECT_EQ(binding->node["subjects"][0]["name"].as<std::string>(), "tempa-deployer");
  EXPECT_EQ(binding->node["subjects"][0]["namespace"].as<std::string>(), "tempa");

  const Doc* deployer = Find(docs, "Deployment", "tempa-deployer");
  ASSERT_NE(deployer, nullptr);
  EXPECT_EQ(PodTemplate(*deployer)["spec"]["serviceAccountName"].as<std::string>(),
            "tempa-deployer");
  // Only the deployer talks to the API server.
  for (const Doc& d : docs) {
    if (!IsWorkload(d) || d.name() == "tempa-deployer") continue;
    EXPECT_FALSE(PodTemplate(d)["spec"]["automountServiceAccountToken"].as<bool>(true))
        << d.where();
  }
}

TEST(K8sManifestsTest, CoordinatorKeepsItsStateOnAPersistentVolume) {
  std::vector<Doc> docs = LoadAll();
  const Doc* coordinator = Find(docs, "StatefulSet", "tempa-coordinator");
  ASSERT_NE(coordinator, nullptr);
  EXPECT_EQ(coordinator->node["spec"]["replicas"].as<int>(), 1);
  YAML::Node claims = coordinator->node["spec"]["volumeClaimTemplates"];
  ASSERT_TRUE(claims.IsSequence());
  ASSERT_EQ(claims.size(), 1u);
  std::string claim = claims[0]["metadata"]["name"].as<std::string>();
  EXPECT_FALSE(claims[0]["spec"]["resources"]["requests"]["storage"].as<std::string>("").empty());
  YAML::Node container = PodTemplate(*coordinator)["spec"]["containers"][0];
  std::string data_dir;
  for (const YAML::Node& arg : container["args"]) {
    std::string a = arg.as<std::string>();
    if (a.rfind("--data_dir=", 0) == 0) data_dir = a.substr(11);
  }
  ASSERT_FALSE(data_dir.empty());
  bool mounted = false;
  for (const YAML::Node& m : container["volumeMounts"]) {
    if (m["name"].as<std::string>() == claim && m["mountPath"].as<std::string>() == data_dir) {
      mounted = true;
    }
  }
  EXPECT_TRUE(mounted) << "the claim is mounted at --data_dir";
  const Doc* service = Find(docs, "Service", "tempa-coordinator");
  ASSERT_NE(service, nullptr);
  std::set<int> ports;
  for (const YAML::Node& p : service->node["spec"]["ports"]) ports.insert(p["port"].as<int>());
  EXPECT_EQ(ports, (std::set<int>{7070, 7071}));
}

TEST(K8sManifestsTest, RegistryStoresBlobsInMinioThroughS3WithCredentialsFromASecret) {
  std::vector<Doc> docs = LoadAll();
  const Doc* config_map = Find(docs, "ConfigMap", "tempa-registry");
  ASSERT_NE(config_map, nullptr);
  YAML::Node config = YAML::Load(config_map->node["data"]["config.yml"].as<std::string>());
  YAML::Node storage = config["storage"];
  EXPECT_TRUE(storage["s3"].IsMap());
  EXPECT_FALSE(storage["filesystem"]) << "blobs on a pod's disk would be lost";
  const Doc* minio_service = Find(docs, "Service", "tempa-minio");
  ASSERT_NE(minio_service, nullptr);
  std::string endpoint = "http://tempa-minio." + minio_service->ns() + ".svc.cluster.local:" +
                         std::to_string(minio_service->node["spec"]["ports"][0]["port"].as<int>());
  EXPECT_EQ(storage["s3"]["regionendpoint"].as<std::string>(), endpoint);
  EXPECT_FALSE(storage["s3"]["bucket"].as<std::string>("").empty());
  EXPECT_FALSE(storage["s3"]["accesskey"]) << "credentials belong in a Secret";
  EXPECT_FALSE(storage["s3"]["secretkey"]);

  const Doc* registry = Find(docs, "Deployment", "tempa-registry");
  ASSERT_NE(registry, nullptr);
  std::map<std::string, std::string> env_secret;
  for (const YAML::Node& e : PodTemplate(*registry)["spec"]["containers"][0]["env"]) {
    if (e["valueFrom"]["secretKeyRef"]) {
      env_secret[e["name"].as<std::string>()] =
          e["valueFrom"]["secretKeyRef"]["name"].as<std::string>();
    }
  }
  EXPECT_EQ(env_secret["REGISTRY_STORAGE_S3_ACCESSKEY"], "tempa-minio");
  EXPECT_EQ(env_secret["REGISTRY_STORAGE_S3_SECRETKEY"], "tempa-minio");

  const Doc* minio = Find(docs, "StatefulSet", "tempa-minio");
  ASSERT_NE(minio, nullptr);
  EXPECT_EQ(minio->node["spec"]["volumeClaimTemplates"].size(), 1u);
}

// A container's effective runAsNonRoot: its own securityContext, else the pod's.
bool RunsAsNonRoot(const YAML::Node& pod_spec, const YAML::Node& container) {
  if (container["securityContext"]["runAsNonRoot"]) {
    return container["securityContext"]["runAsNonRoot"].as<bool>();
  }
  return pod_spec["securityContext"]["runAsNonRoot"].as<bool>(false);
}

TEST(K8sManifestsTest, EveryContainerHasLimitsAndRunsAsNonRootUnlessItsPodSaysWhy) {
  std::vector<Doc> docs = LoadAll();
  int containers = 0, documented_root = 0;
  for (const Doc& d : docs) {
    if (!IsWorkload(d)) continue;
    YAML::Node pod = PodTemplate(d);
    YAML::Node spec = pod["spec"];
    for (const char* list : {"initContainers", "containers"}) {
      for (const YAML::Node& c : spec[list]) {
        std::string name = c["name"].as<std::string>();
        SCOPED_TRACE(d.where() + " container " + name);
        ++containers;
        EXPECT_TRUE(c["resources"]["limits"]["memory"]) << "no memory limit";
        EXPECT_TRUE(c["resources"]["limits"]["cpu"]) << "no cpu limit";
        EXPECT_TRUE(c["resources"]["requests"]) << "no requests";
        EXPECT_NE(c["image"].as<std::string>("").find(':'), std::string::npos)
            << "image without a tag";
        bool privileged = c["securityContext"]["privileged"].as<bool>(false);
        if (RunsAsNonRoot(spec, c) && !privileged) {
          EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>(true));
          continue;
        }
        std::string why =
            pod["metadata"]["annotations"]["tempa.dev/root-reason-" + name].as<std::string>("");
        EXPECT_GE(why.size(), 40u) << "runs as root or privileged without saying why";
        ++documented_root;
      }
    }
  }
  EXPECT_GE(containers, 7);
  EXPECT_LE(documented_root, 2) << "the worker and the coordinator's secret copy only";
}

TEST(K8sManifestsTest, ImagesOfTempaItselfArePlaceholdersTheReadmeExplains) {
  std::vector<Doc> docs = LoadAll();
  std::ifstream readme(kDir + "/README.md");
  std::stringstream text;
  text << readme.rdbuf();
  ASSERT_FALSE(text.str().empty()) << "deploy/k8s/README.md";
  for (const char* image :
       {"tempa/coordinator:VERSION", "tempa/worker:VERSION", "tempa/deployer:VERSION"}) {
    bool used = false;
    for (const Doc& d : docs) {
      if (!IsWorkload(d)) continue;
      for (const YAML::Node& c : PodTemplate(d)["spec"]["containers"]) {
        if (c["image"].as<std::string>() == image) used = true;
      }
    }
    EXPECT_TRUE(used) << image;
    EXPECT_NE(text.str().find(image), std::string::npos) << image << " not in the README";
  }
  const Doc* workers = Find(docs, "Deployment", "tempa-worker");
  ASSERT_NE(workers, nullptr);
  EXPECT_EQ(workers->node["spec"]["replicas"].as<int>(), 3);
}

}  // namespace
