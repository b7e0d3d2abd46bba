// CurlKubeApi against the fake API server (HTTP and HTTPS) and against hostile answers.
#include "deploy/kubernetes/curl_kube_api.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/kubernetes/fake_kube_api_server.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;
using ::tempa::testing::FakeKubeApiServer;
using ::tempa::testing::LoopbackHttpServer;
using ::tempa::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kPath[] = "/apis/apps/v1/namespaces/apps/deployments/shop";
constexpr char kCollection[] = "/apis/apps/v1/namespaces/apps/deployments";

json ShopDeployment(const std::string& image) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "shop"}, {"namespace", "apps"}}},
          {"spec",
           {{"replicas", 1},
            {"template", {{"spec", {{"containers", {{{"name", "app"}, {"image", image}}}}}}}}}}};
}

KubeConfig ConfigFor(const std::string& url) {
  KubeConfig config;
  config.server = url;
  config.token = "test-token";
  return config;
}

TEST(CurlKubeApiTest, ApplyIsAServerSideApplyPatchWithFieldManagerAndToken) {
  FakeKubeApiServer server;
  auto api = MakeCurlKubeApi(ConfigFor(server.url()));
  absl::StatusOr<json> stored =
      api->Apply(kPath, ShopDeployment("r/shop@sha256:aa"), "tempa", true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(JsonInt(*stored, {"metadata", "generation"}), 1);
  stored = api->Apply(kPath, ShopDeployment("r/shop@sha256:bb"), "tempa", true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(JsonInt(*stored, {"metadata", "generation"}), 2);
  EXPECT_THAT(server.violations(), ::testing::IsEmpty());
  auto applies = server.applies();
  ASSERT_EQ(applies.size(), 2u);
  EXPECT_EQ(applies[0].content_type, "application/apply-patch+yaml");
  EXPECT_EQ(applies[0].Param("fieldManager"), "tempa");
  EXPECT_EQ(applies[0].Param("force"), "true");
  EXPECT_EQ(applies[0].authorization, "Bearer test-token");
}

TEST(CurlKubeApiTest, TokenIsReadFromItsFileOnEveryRequest) {
  FakeKubeApiServer server;
  TempDir dir;
  tempa::testing::WriteFileOrDie(dir.Join("token"), "stale\n");
  KubeConfig config = ConfigFor(server.url());
  config.token.clear();
  config.token_file = dir.Join("token");
  auto api = MakeCurlKubeApi(config);
  EXPECT_EQ(api->Get(kPath).status().code(), absl::StatusCode::kUnauthenticated);
  tempa::testing::WriteFileOrDie(dir.Join("token"), "test-token\n");  // rotated
  EXPECT_EQ(api->Get(kPath).status().code(), absl::StatusCode::kNotFound);
}

TEST(CurlKubeApiTest, ErrorsCarryTheApiStatusMessageAndAHint) {
  FakeKubeApiServer server;
  server.FailApplies(409, 1);
  auto api = MakeCurlKubeApi(ConfigFor(server.url()));
  absl::StatusOr<json> stored =
      api->Apply(kPath, ShopDeployment("r/shop@sha256:aa"), "tempa", true);
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stored.status().message(), HasSubstr("409 Conflict: Apply failed with 1 conflict"));
  EXPECT_THAT(stored.status().message(), HasSubstr("another field manager owns"));

  KubeConfig wrong = ConfigFor(server.url());
  wrong.token = "wrong";
  absl::StatusOr<json> got = MakeCurlKubeApi(wrong)->Get(kPath);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(), HasSubstr("401 Unauthorized"));
  EXPECT_THAT(got.status().message(), HasSubstr("kubeconfig"));
}

TEST(CurlKubeApiTest, WatchDeliversEachEventAsItStreamsAndStopsWhenAsked) {
  FakeKubeApiServer server;
  auto api = MakeCurlKubeApi(ConfigFor(server.url()));
  ASSERT_TRUE(api->Apply(kPath, ShopDeployment("r/shop@sha256:aa"), "tempa", true).ok());
  std::vector<json> events;
  absl::Status watched =
      api->Watch(absl::StrCat(kCollection, "?fieldSelector=metadata.name%3Dshop"), "101",
                 absl::Seconds(30), [&](const json& event) {
                   events.push_back(event);
                   return WatchNext::kContinue;
                 });
  ASSERT_TRUE(watched.ok()) << watched;
  ASSERT_EQ(events.size(), 2u);  // the fake's first rollout: two status changes
  EXPECT_EQ(JsonString(events[0], {"type"}), "MODIFIED");
  EXPECT_EQ(JsonInt(events[1], {"object", "status", "availableReplicas"}), 1);
  auto requests = server.requests();
  EXPECT_EQ(requests.back().Param("watch"), "1");
  EXPECT_EQ(requests.back().Param("resourceVersion"), "101");
  EXPECT_EQ(requests.back().Param("fieldSelector"), "metadata.name=shop");

  ASSERT_TRUE(api->Apply(kPath, ShopDeployment("r/shop@sha256:bb"), "tempa", true).ok());
  int seen = 0;
  watched = api->Watch(absl::StrCat(kCollection, "?fieldSelector=metadata.name%3Dshop"), "",
                       absl::Seconds(30), [&](const json&) {
                         ++seen;
                         return WatchNext::kStop;
                       });
  EXPECT_TRUE(watched.ok()) << watched;
  EXPECT_EQ(seen, 1);
}

TEST(CurlKubeApiTest, AWatchDroppedMidStreamIsAnError) {
  FakeKubeApiServer server;
  auto api = MakeCurlKubeApi(ConfigFor(server.url()));
  ASSERT_TRUE(api->Apply(kPath, ShopDeployment("r/shop@sha256:aa"), "tempa", true).ok());
  server.DropWatches(1, 1);
  int seen = 0;
  absl::Status watched =
      api->Watch(absl::StrCat(kCollection, "?fieldSelector=metadata.name%3Dshop"), "",
                 absl::Seconds(30), [&](const json&) {
                   ++seen;
                   return WatchNext::kContinue;
                 });
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(watched.ok());
  EXPECT_EQ(watched.code(), absl::StatusCode::kUnavailable);
}

TEST(CurlKubeApiTest, HostileAnswersAreRefusedWithoutCrashing) {
  LoopbackHttpServer hostile("127.0.0.1", [](httplib::Server& s) {
    s.Get("/huge", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3 << 20, 'x'), "application/json");
    });
    s.Get("/notjson", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("[1,2,", "application/json");
    });
    s.Get("/watch", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"type\":\"ADDED\",\"object\":{}}\nnot an event\n", "application/json");
    });
  });
  CurlKubeApiOptions options;
  options.max_body_bytes = 1 << 20;
  auto api = MakeCurlKubeApi(ConfigFor(absl::StrCat("http://127.0.0.1:", hostile.port())), options);
  EXPECT_EQ(api->Get("/huge").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(api->Get("/notjson").status().code(), absl::StatusCode::kDataLoss);
  int seen = 0;
  absl::Status watched = api->Watch("/watch", "", absl::Seconds(10), [&](const json&) {
    ++seen;
    return WatchNext::kContinue;
  });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(watched.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(watched.message(), HasSubstr("not an event"));
}

TEST(CurlKubeApiTest, HttpsTrustsTheKubeconfigCaAndNothingElse) {
  TempDir dir;
  ASSERT_TRUE(tempa::testing::MakeLoopbackCertificate(dir.path(), "server"));
  ASSERT_TRUE(tempa::testing::MakeLoopbackCertificate(dir.path(), "client"));
  FakeKubeApiServer server({"test-token", dir.Join("server.crt"), dir.Join("server.key")});
  KubeConfig config = ConfigFor(server.url());
  ASSERT_THAT(config.server, HasSubstr("https://"));

  // Without the cluster's CA the system trust store refuses the self-signed server.
  absl::StatusOr<json> got = MakeCurlKubeApi(config)->Get(kPath);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(got.status().message(), HasSubstr("TLS"));

  absl::StatusOr<std::string> ca = ReadSmallFile(dir.Join("server.crt"), "ca");
  ASSERT_TRUE(ca.ok());
  config.ca_pem = *ca;
  // A client certificate and key are handed to curl from memory.
  config.client_cert_pem = *ReadSmallFile(dir.Join("client.crt"), "cert");
  config.client_key_pem = *ReadSmallFile(dir.Join("client.key"), "key");
  auto api = MakeCurlKubeApi(config);
  absl::StatusOr<json> stored =
      api->Apply(kPath, ShopDeployment("r/shop@sha256:aa"), "tempa", true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(api->Get(kPath).status().code(), absl::StatusCode::kOk);

  // A key that does not match the certificate is refused before anything is sent.
  config.client_key_pem = *ReadSmallFile(dir.Join("server.key"), "key");
  EXPECT_FALSE(MakeCurlKubeApi(config)->Get(kPath).ok());
}

}  // namespace
}  // namespace tempa::deploy
