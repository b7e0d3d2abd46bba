// Kubeconfig and in-cluster credentials: what the deployer reads to reach the API server.
#include "deploy/kubernetes/kube_config.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using ::tempa::testing::TempDir;
using ::tempa::testing::WriteFileOrDie;
using ::testing::HasSubstr;

constexpr char kCa[] = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nMIIkey\n-----END PRIVATE KEY-----\n";

std::string TwoContexts() {
  return absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: apps}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: )",
                      absl::Base64Escape(kCa), R"(
- name: prod-cluster
  cluster:
    server: https://prod.example.com
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user: {token: dev-token}
- name: prod-user
  user:
    client-certificate-data: )",
                      absl::Base64Escape(kCert), R"(
    client-key-data: )",
                      absl::Base64Escape(kKey), "\n");
}

TEST(KubeConfigTest, CurrentContextGivesServerCaTokenAndNamespace) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), TwoContexts());
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->token, "dev-token");
  EXPECT_EQ(config->namespace_name, "apps");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(config->client_cert_pem.empty());
}

TEST(KubeConfigTest, NamedContextGivesClientCertificateAndKeyData) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), TwoContexts());
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"), "prod");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://prod.example.com");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_TRUE(config->token.empty());
  EXPECT_TRUE(config->namespace_name.empty());
}

TEST(KubeConfigTest, CertificateFilesAreReadRelativeToTheKubeconfig) {
  TempDir dir;
  WriteFileOrDie(dir.Join("ca.crt"), kCa);
  WriteFileOrDie(dir.Join("client.crt"), kCert);
  WriteFileOrDie(dir.Join("client.key"), kKey);
  WriteFileOrDie(dir.Join("token"), "file-token\n");
  WriteFileOrDie(dir.Join("config"), R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority: ca.crt}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, tokenFile: token}}]
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(config->token_file, dir.Join("token"));
}

TEST(KubeConfigTest, MissingContextIsNamedWithTheFix) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), TwoContexts());
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"), "staging");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr(dir.Join("config")));
  EXPECT_THAT(config.status().message(), HasSubstr("no context named \"staging\""));
}

TEST(KubeConfigTest, NoCurrentContextSaysHowToSetOne) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), "contexts: []\nclusters: []\nusers: []\n");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("use-context"));
}

TEST(KubeConfigTest, ExecPluginIsRefusedWithAClearMessage) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {exec: {command: aws, args: [eks, get-token]}}}]
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(), HasSubstr("exec plugin"));
  EXPECT_THAT(config.status().message(), HasSubstr("token"));
}

TEST(KubeConfigTest, BadBase64AndHalfAClientCertificateAreNamed) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority-data: "!!notbase64"}}]
users: [{name: u, user: {token: t}}]
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("certificate-authority-data"));

  WriteFileOrDie(dir.Join("config2"), absl::StrCat(R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {client-certificate-data: )",
                                                   absl::Base64Escape(kCert), "}}]\n"));
  config = LoadKubeconfig(dir.Join("config2"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("no key"));
}

TEST(KubeConfigTest, NotYamlAndMissingFileNameTheFile) {
  TempDir dir;
  WriteFileOrDie(dir.Join("config"), "clusters: [unclosed\n");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(dir.Join("config"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("not valid YAML"));
  config = LoadKubeconfig(dir.Join("absent"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr(dir.Join("absent")));
}

TEST(InClusterConfigTest, ReadsTheServiceAccountFilesAndTheServiceAddress) {
  TempDir dir;
  WriteFileOrDie(dir.Join("token"), "sa-token\n");
  WriteFileOrDie(dir.Join("ca.crt"), kCa);
  WriteFileOrDie(dir.Join("namespace"), "tempa-apps\n");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterPaths paths{dir.Join("token"), dir.Join("ca.crt"), dir.Join("namespace")};
  absl::StatusOr<KubeConfig> config =
      LoadInClusterConfig(paths, [&](absl::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir.Join("token"));
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->namespace_name, "tempa-apps");
}

TEST(InClusterConfigTest, OutsideAPodSaysToPassAKubeconfig) {
  absl::StatusOr<KubeConfig> config =
      LoadInClusterConfig({}, [](absl::string_view) { return std::optional<std::string>(); });
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("--kubeconfig"));
}

TEST(InClusterConfigTest, MissingTokenFileIsNamed) {
  TempDir dir;
  InClusterPaths paths{dir.Join("token"), dir.Join("ca.crt"), dir.Join("namespace")};
  absl::StatusOr<KubeConfig> config = LoadInClusterConfig(paths, [](absl::string_view name) {
    return std::optional<std::string>(name == "KUBERNETES_SERVICE_HOST" ? "10.96.0.1" : "443");
  });
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr(dir.Join("token")));
  EXPECT_THAT(config.status().message(), HasSubstr("service-account token"));
}

}  // namespace
}  // namespace tempa::deploy
