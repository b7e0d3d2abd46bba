// The Kubernetes backend end to end against the fake API server: what it applies, how it
// follows the rollout, and what it does when the rollout or the API server fails.
#include "deploy/kubernetes/kubernetes_backend.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/kubernetes/curl_kube_api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/kubernetes/fake_kube_api_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;
using ::tempa::testing::FakeKubeApiServer;
using ::tempa::testing::KubeRequest;
using ::tempa::testing::RolloutScenario;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kDeploymentPath[] = "/apis/apps/v1/namespaces/apps/deployments/shop";

std::string Digest(char c) {
  return absl::StrCat("127.0.0.1:5000/shop@sha256:", std::string(64, c));
}

Release MakeRelease(const std::string& deploy_id, char digest, const std::string& commit) {
  Release r;
  r.deploy_id = deploy_id;
  r.app = "shop";
  r.track = "production";
  r.commit = commit + std::string(40 - commit.size(), '0');
  r.image = Digest(digest);
  r.hosts = {"shop.example.com", absl::StrCat("shop-", commit.substr(0, 7), ".example.com")};
  r.settings.replicas = 2;
  r.settings.health_path = "/healthz";
  return r;
}

class RecordingObserver : public DeployObserver {
 public:
  void Step(absl::string_view what) override { steps.emplace_back(what); }
  std::vector<std::string> steps;
};

std::string ImageOf(const json& deployment) {
  const json* containers = JsonAt(deployment, {"spec", "template", "spec", "containers"});
  if (containers == nullptr || !containers->is_array() || containers->empty()) return "";
  return JsonString((*containers)[0], {"image"});
}

class KubernetesBackendTest : public ::testing::Test {
 protected:
  KubernetesBackendOptions Options(const std::string& issuer = "") {
    KubernetesBackendOptions options;
    options.objects.namespace_name = "apps";
    options.objects.tls_issuer = issuer;
    return options;
  }
  std::unique_ptr<DeployBackend> Backend(const KubernetesBackendOptions& options,
                                         const std::string& token = "test-token") {
    KubeConfig config;
    config.server = server_.url();
    config.token = token;
    KubernetesBackendDeps deps;
    deps.api = MakeCurlKubeApi(config);
    deps.sleep = [this](absl::Duration d) {
      now_ += d;
      sleeps_.push_back(d);
    };
    deps.now = [this] { return now_; };
    return MakeKubernetesBackendWithApi(options, std::move(deps));
  }
  std::unique_ptr<DeployBackend> Backend() { return Backend(Options()); }

  DeployOutcome Deploy(DeployBackend& backend, const Release& release) {
    RecordingObserver observer;
    DeployOutcome outcome = backend.Deploy(release, observer);
    steps_ = observer.steps;
    return outcome;
  }
  std::vector<KubeRequest> DeploymentApplies() {
    std::vector<KubeRequest> out;
    for (KubeRequest& r : server_.applies()) {
      if (r.path == kDeploymentPath) out.push_back(std::move(r));
    }
    return out;
  }
  std::vector<KubeRequest> Watches() {
    std::vector<KubeRequest> out;
    for (KubeRequest& r : server_.requests()) {
      if (r.Param("watch") == "1") out.push_back(std::move(r));
    }
    return out;
  }

  FakeKubeApiServer server_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::vector<absl::Duration> sleeps_;
  std::vector<std::string> steps_;
};

TEST_F(KubernetesBackendTest, DeployAppliesEveryObjectInRenderOrderWithServerSideApply) {
  Release release = MakeRelease("d-b-1", 'a', "abc1234");
  release.env = {{"DB_PASSWORD", "s3cret-value"}};
  release.settings.max_replicas = 4;
  auto backend = Backend();
  DeployOutcome outcome = Deploy(*backend, release);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;

  std::vector<KubeObject> expected = RenderRelease(release, Options().objects);
  std::multiset<std::string> kinds;
  for (const KubeObject& o : expected) kinds.insert(o.kind);
  EXPECT_EQ(kinds, (std::multiset<std::string>{"Secret", "Deployment", "Service", "Ingress",
                                               "NetworkPolicy", "HorizontalPodAutoscaler",
                                               "PodDisruptionBudget"}));
  std::vector<KubeRequest> applies = server_.applies();
  ASSERT_EQ(applies.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].kind);
    EXPECT_EQ(applies[i].path, expected[i].api_path);
    EXPECT_EQ(applies[i].content_type, "application/apply-patch+yaml");
    EXPECT_EQ(applies[i].Param("fieldManager"), "tempa");
    EXPECT_EQ(applies[i].authorization, "Bearer test-token");
    json sent = json::parse(applies[i].body, nullptr, false);
    json want = expected[i].body;
    if (expected[i].kind == "Deployment") {
      // The backend marks which release runs, for a later restore.
      want["metadata"]["annotations"]["tempa.dev/deploy-id"] = "d-b-1";
      want["metadata"]["annotations"]["tempa.dev/commit"] = release.commit;
      EXPECT_EQ(ImageOf(sent), release.image);
      EXPECT_THAT(applies[i].body, Not(HasSubstr("s3cret-value")));  // via the Secret only
    }
    EXPECT_EQ(sent, want);
  }
  EXPECT_THAT(server_.violations(), IsEmpty());
  for (const std::string& step : steps_) EXPECT_THAT(step, Not(HasSubstr("s3cret-value")));
}

TEST_F(KubernetesBackendTest, SuccessfulRolloutIsDeployedWithHttpsUrlsWhenAnIssuerIsSet) {
  auto backend = Backend(Options("letsencrypt"));
  DeployOutcome outcome = Deploy(*backend, MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.urls,
              ElementsAre("https://shop.example.com", "https://shop-abc1234.example.com"));
  // The rollout was followed to its end through a watch of that one Deployment.
  ASSERT_FALSE(Watches().empty());
  EXPECT_EQ(Watches()[0].Param("fieldSelector"), "metadata.name=shop");
  json live = *server_.object(kDeploymentPath);
  EXPECT_EQ(JsonInt(live, {"status", "availableReplicas"}), 2);
  EXPECT_TRUE(std::any_of(steps_.begin(), steps_.end(), [](const std::string& s) {
    return absl::StrContains(s, "successfully rolled out");
  }));

  outcome = Deploy(*Backend(), MakeRelease("d-b-2", 'b', "bcd2345"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.urls,
              ElementsAre("http://shop.example.com", "http://shop-bcd2345.example.com"));
}

TEST_F(KubernetesBackendTest, ProgressDeadlineExceededReappliesThePreviousImage) {
  auto backend = Backend();
  Release old_release = MakeRelease("d-b-1", 'a', "abc1234");
  ASSERT_TRUE(Deploy(*backend, old_release).status.ok());
  server_.SetRolloutScenario(RolloutScenario::kProgressDeadlineExceeded, 1);
  server_.SetPodLog("shop-7d9-x2", "app", "listening on :8080\npanic: DATABASE_URL is not set\n");
  server_.SetPods(
      {{"items",
        {{{"metadata", {{"name", "shop-7d9-x2"}}},
          {"status",
           {{"phase", "Running"},
            {"containerStatuses",
             {{{"name", "app"},
               {"restartCount", 5},
               {"state",
                {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 2m40s"}}}}},
               {"lastState", {{"terminated", {{"reason", "Error"}, {"exitCode", 3}}}}}}}}}}}}}});

  DeployOutcome outcome = Deploy(*backend, MakeRelease("d-b-2", 'b', "bcd2345"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("ProgressDeadlineExceeded"));
  EXPECT_THAT(outcome.status.message(),
              HasSubstr(absl::StrCat("the previous image ", old_release.image,
                                     " (deploy d-b-1) was applied again")));
  EXPECT_THAT(outcome.log_tail, HasSubstr("CrashLoopBackOff"));
  EXPECT_THAT(outcome.log_tail, HasSubstr("exit 3"));

  std::vector<KubeRequest> deployments = DeploymentApplies();
  ASSERT_EQ(deployments.size(), 3u);  // old, new, old again
  json last = json::parse(deployments.back().body);
  EXPECT_EQ(ImageOf(last), old_release.image);
  EXPECT_EQ(JsonString(last, {"metadata", "annotations", "tempa.dev/deploy-id"}), "d-b-1");
  EXPECT_EQ(ImageOf(*server_.object(kDeploymentPath)), old_release.image);
  // The Ingress answers on the old release's hosts again.
  json ingress = *server_.object("/apis/networking.k8s.io/v1/namespaces/apps/ingresses/shop");
  EXPECT_THAT(ingress.dump(), HasSubstr("shop-abc1234.example.com"));
  EXPECT_THAT(ingress.dump(), Not(HasSubstr("shop-bcd2345.example.com")));
  EXPECT_THAT(server_.violations(), IsEmpty());
}

TEST_F(KubernetesBackendTest, AFirstDeployThatFailsHasNothingToRestore) {
  server_.SetRolloutScenario(RolloutScenario::kProgressDeadlineExceeded);
  DeployOutcome outcome = Deploy(*Backend(), MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("no previous version to restore"));
  EXPECT_EQ(DeploymentApplies().size(), 1u);
}

TEST_F(KubernetesBackendTest, RollbackReleaseAppliesTheOldDigest) {
  auto backend = Backend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("d-b-1", 'a', "abc1234")).status.ok());
  ASSERT_TRUE(Deploy(*backend, MakeRelease("d-b-2", 'b', "bcd2345")).status.ok());
  EXPECT_EQ(ImageOf(*server_.object(kDeploymentPath)), Digest('b'));

  Release rollback = MakeRelease("r-1", 'a', "abc1234");
  rollback.rollback = true;
  DeployOutcome outcome = Deploy(*backend, rollback);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  json last = json::parse(DeploymentApplies().back().body);
  EXPECT_EQ(ImageOf(last), Digest('a'));
  EXPECT_EQ(ImageOf(*server_.object(kDeploymentPath)), Digest('a'));
  EXPECT_EQ(JsonInt(*server_.object(kDeploymentPath), {"metadata", "generation"}), 3);
}

TEST_F(KubernetesBackendTest, ConflictOnceIsRetriedAndTheDeploySucceeds) {
  server_.FailApplies(409, 1);
  DeployOutcome outcome = Deploy(*Backend(), MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  std::vector<KubeRequest> applies = server_.applies();
  ASSERT_GE(applies.size(), 2u);
  EXPECT_EQ(applies[0].path, applies[1].path);  // the same object, again
  EXPECT_EQ(sleeps_.front(), absl::Milliseconds(500));
}

TEST_F(KubernetesBackendTest, ServerErrorForeverFailsClearlyAfterBoundedRetries) {
  server_.FailApplies(500, -1);
  KubernetesBackendOptions options = Options();
  options.max_attempts = 4;
  DeployOutcome outcome = Deploy(*Backend(options), MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("failed 4 times, giving up"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("500 Internal Server Error"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("etcdserver: request timed out"));
  EXPECT_THAT(std::string(outcome.status.message()),
              HasSubstr("the live Deployment was not changed"));
  std::vector<KubeRequest> applies = server_.applies();
  ASSERT_EQ(applies.size(), 4u);
  for (const KubeRequest& r : applies) EXPECT_EQ(r.path, applies[0].path);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Milliseconds(500), absl::Seconds(1), absl::Seconds(2)));
  EXPECT_THAT(Watches(), IsEmpty());
}

TEST_F(KubernetesBackendTest, DroppedWatchIsResumedFromTheLastResourceVersion) {
  auto backend = Backend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("d-b-1", 'a', "abc1234")).status.ok());
  size_t watches_before = Watches().size();
  size_t streams_before = server_.watch_events().size();
  server_.DropWatches(1, 1);  // the next watch: one event, then the connection drops
  DeployOutcome outcome = Deploy(*backend, MakeRelease("d-b-2", 'b', "bcd2345"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;

  std::vector<KubeRequest> watches = Watches();
  ASSERT_GE(watches.size(), watches_before + 2);
  const KubeRequest& dropped = watches[watches_before];
  const KubeRequest& resumed = watches[watches_before + 1];
  // Resumed from the one event the dropped watch delivered, not from the start.
  std::vector<std::string> delivered = server_.watch_events()[streams_before];
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_NE(dropped.Param("resourceVersion"), delivered[0]);
  EXPECT_EQ(resumed.Param("resourceVersion"), delivered[0]);
  EXPECT_TRUE(std::any_of(steps_.begin(), steps_.end(),
                          [](const std::string& s) { return absl::StrContains(s, "broke"); }));
  EXPECT_EQ(ImageOf(*server_.object(kDeploymentPath)), Digest('b'));
}

TEST_F(KubernetesBackendTest, WatchThatKeepsFailingEndsInAClearFailureAndRestores) {
  auto backend = Backend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("d-b-1", 'a', "abc1234")).status.ok());
  size_t watches_before = Watches().size();
  server_.FailWatches(500, 5);
  DeployOutcome outcome = Deploy(*backend, MakeRelease("d-b-2", 'b', "bcd2345"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("failed 5 times in a row"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("500 Internal Server Error"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("was applied again and is live"));
  EXPECT_GT(Watches().size() - watches_before, 5u);  // five failed, then the restore's
  EXPECT_EQ(ImageOf(*server_.object(kDeploymentPath)), Digest('a'));
}

TEST_F(KubernetesBackendTest, TurningAutoscalingOffDeletesTheHpaAndPdbTempaApplied) {
  const std::string hpa = "/apis/autoscaling/v2/namespaces/apps/horizontalpodautoscalers/shop";
  const std::string pdb = "/apis/policy/v1/namespaces/apps/poddisruptionbudgets/shop";
  auto backend = Backend();
  Release scaled = MakeRelease("d-b-1", 'a', "abc1234");
  scaled.settings.max_replicas = 5;
  ASSERT_TRUE(Deploy(*backend, scaled).status.ok());
  // The rendering names them as the backend expects (if this fails, PruneAutoscaling must follow).
  ASSERT_TRUE(server_.object(hpa).has_value());
  ASSERT_TRUE(server_.object(pdb).has_value());

  DeployOutcome outcome = Deploy(*backend, MakeRelease("d-b-2", 'b', "bcd2345"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_FALSE(server_.object(hpa).has_value());
  EXPECT_FALSE(server_.object(pdb).has_value());
  int deletes = 0;
  for (const KubeRequest& r : server_.requests()) deletes += r.method == "DELETE";
  EXPECT_EQ(deletes, 2);

  // Already gone: nothing more is deleted.
  ASSERT_TRUE(Deploy(*backend, MakeRelease("d-b-3", 'c', "cde3456")).status.ok());
  deletes = 0;
  for (const KubeRequest& r : server_.requests()) deletes += r.method == "DELETE";
  EXPECT_EQ(deletes, 2);
  EXPECT_THAT(server_.violations(), IsEmpty());
}

TEST_F(KubernetesBackendTest, RolloutThatNeverFinishesTimesOut) {
  server_.SetRolloutScenario(RolloutScenario::kHangs);
  KubernetesBackendOptions options = Options();
  options.rollout_timeout = absl::Seconds(30);
  DeployOutcome outcome = Deploy(*Backend(options), MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("did not finish within 30s"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("spec update to be observed"));
}

TEST_F(KubernetesBackendTest, RefusedCredentialsFailAtOnceAndChangeNothing) {
  DeployOutcome outcome =
      Deploy(*Backend(Options(), "wrong-token"), MakeRelease("d-b-1", 'a', "abc1234"));
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("nothing was changed"));
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_THAT(sleeps_, IsEmpty());
}

// The backend as the deployer makes it: from a kubeconfig (HTTPS with its CA, a token), into the
// context's namespace, with the real clock and sleeper.
TEST(KubernetesBackendFromKubeconfigTest, DeploysOverHttpsIntoTheContextsNamespace) {
  tempa::testing::TempDir dir;
  ASSERT_TRUE(tempa::testing::MakeLoopbackCertificate(dir.path(), "server"));
  FakeKubeApiServer server({"kube-token", dir.Join("server.crt"), dir.Join("server.key")});
  tempa::testing::WriteFileOrDie(
      dir.Join("kubeconfig"),
      absl::StrCat("current-context: test\n"
                   "contexts: [{name: test, context: {cluster: c, user: u, namespace: team-a}}]\n"
                   "clusters: [{name: c, cluster: {server: \"",
                   server.url(), "\", certificate-authority: server.crt}}]\n",
                   "users: [{name: u, user: {token: kube-token}}]\n"));
  KubernetesBackendOptions options;
  options.kubeconfig = dir.Join("kubeconfig");
  options.objects.namespace_name = "";  // the context's
  absl::StatusOr<std::unique_ptr<DeployBackend>> backend = MakeKubernetesBackend(options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->name(), "kubernetes");
  RecordingObserver observer;
  DeployOutcome outcome = (*backend)->Deploy(MakeRelease("d-b-1", 'a', "abc1234"), observer);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(server.object("/apis/apps/v1/namespaces/team-a/deployments/shop").has_value());
  EXPECT_THAT(server.violations(), IsEmpty());

  options.kubeconfig = dir.Join("absent");
  backend = MakeKubernetesBackend(options);
  ASSERT_FALSE(backend.ok());
  EXPECT_THAT(std::string(backend.status().message()), HasSubstr(dir.Join("absent")));
}

}  // namespace
}  // namespace tempa::deploy
