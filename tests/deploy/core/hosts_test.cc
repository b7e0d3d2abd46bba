#include "deploy/core/hosts.h"

#include <string>

#include "absl/strings/match.h"
#include "deploy/core/deploy_request_rules.h"
#include "deploy/core/deploy_settings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

TEST(TrackForTest, TheProductionBranchDeploysToProductionWhateverItIsCalled) {
  EXPECT_EQ(TrackFor("main", true), "production");
  EXPECT_EQ(TrackFor("release/2024", true), "production");
}

TEST(TrackForTest, APreviewBranchKeepsItsReadableName) {
  EXPECT_EQ(TrackFor("main", false), "main");
  EXPECT_EQ(TrackFor("feature/login", false), "feature-login");
  EXPECT_EQ(TrackFor("fix-42", false), "fix-42");
}

TEST(TrackForTest, BranchesThatOnlyDifferInWhatTheLabelLosesGetDifferentTracks) {
  std::string upper = TrackFor("Feature/Login", false);
  std::string underscore = TrackFor("feature_login", false);
  std::string dot = TrackFor("feature.login", false);
  EXPECT_TRUE(IsDnsLabel(upper)) << upper;
  EXPECT_THAT(upper, StartsWith("feature-login-"));
  EXPECT_NE(upper, TrackFor("feature/login", false));
  EXPECT_NE(upper, underscore);
  EXPECT_NE(underscore, dot);
  EXPECT_NE(underscore, "feature-login");
  EXPECT_NE(TrackFor("a--b", false), TrackFor("a-b", false));
}

TEST(TrackForTest, UnicodeBecomesOneDashPerCharacterAndIsHashed) {
  std::string track = TrackFor("fix/ünïcode-ß", false);
  EXPECT_TRUE(IsDnsLabel(track)) << track;
  EXPECT_THAT(track, StartsWith("fix-n-code-"));
  EXPECT_NE(track, TrackFor("fix/ònïcode-ß", false));
  std::string only_unicode = TrackFor("日本語", false);
  EXPECT_TRUE(IsDnsLabel(only_unicode)) << only_unicode;
  EXPECT_NE(only_unicode, TrackFor("中文", false));
}

TEST(TrackForTest, ABranchNamedProductionIsNotTheProductionTrack) {
  std::string track = TrackFor("production", false);
  EXPECT_NE(track, "production");
  EXPECT_TRUE(IsDnsLabel(track)) << track;
}

TEST(TrackForTest, LongBranchesAreCutWithAHashSoTheyNeverCollide) {
  std::string common(200, 'x');
  std::string a = TrackFor("feature/" + common + "-a", false);
  std::string b = TrackFor("feature/" + common + "-b", false);
  EXPECT_LE(a.size(), kMaxTrackLength);
  EXPECT_TRUE(IsDnsLabel(a)) << a;
  EXPECT_TRUE(IsDnsLabel(b)) << b;
  EXPECT_NE(a, b);
  EXPECT_THAT(a, StartsWith("feature-xxx"));
}

TEST(TrackForTest, BranchesOfOnlySeparatorsStillGetALabel) {
  for (const char* branch : {"///", "-", "__", "."}) {
    std::string track = TrackFor(branch, false);
    EXPECT_TRUE(IsDnsLabel(track)) << branch << " -> " << track;
  }
  EXPECT_NE(TrackFor("///", false), TrackFor("__", false));
}

TEST(HostsForTest, ProductionIsTheAppsOwnHostThenTheCommitsHost) {
  EXPECT_THAT(HostsFor("web", "production", kCommit, "apps.example.com"),
              ::testing::ElementsAre("web.apps.example.com", "web-0123456.apps.example.com"));
}

TEST(HostsForTest, APreviewIsAppDashTrackThenTheCommitsHost) {
  EXPECT_THAT(HostsFor("web", "feature-login", "ABCDEF0123", "example.org"),
              ::testing::ElementsAre("web-feature-login.example.org", "web-abcdef0.example.org"));
}

TEST(HostsForTest, EveryLabelFitsSixtyThreeCharactersEvenForLongNames) {
  std::string app(63, 'a');
  std::string track = TrackFor(std::string(100, 'b'), false);
  std::vector<std::string> hosts = HostsFor(app, track, kCommit, "example.com");
  ASSERT_EQ(hosts.size(), 2u);
  for (const std::string& host : hosts) {
    std::string label = host.substr(0, host.find('.'));
    EXPECT_TRUE(IsDnsLabel(label)) << label;
  }
  EXPECT_NE(hosts[0],
            HostsFor(app, TrackFor(std::string(100, 'c'), false), kCommit, "example.com")[0]);
  // A 22-character app and the longest track still fit without cutting.
  std::string app22(22, 'w');
  std::string longest = TrackFor(std::string(100, 'z'), false);
  EXPECT_EQ(HostsFor(app22, longest, kCommit, "x.io")[0], app22 + "-" + longest + ".x.io");
}

TEST(CheckDomainTest, RefusesWhatIsNotADomain) {
  EXPECT_TRUE(CheckDomain("apps.example.com").ok());
  EXPECT_TRUE(CheckDomain("localhost").ok());
  for (const char* bad : {"", "Apps.example.com", "a..b", "example.com.", "-a.b", "a b.c"}) {
    absl::Status s = CheckDomain(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("--domain")) << bad;
  }
}

TEST(ResolveSettingsTest, ZeroValuesGetTheDeployersDefaults) {
  absl::StatusOr<RunSettings> run = ResolveSettings(tempa::v1::DeploySettings());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->memory_bytes, 256ll << 20);
  EXPECT_EQ(run->cpu_millis, 500);
  EXPECT_EQ(run->replicas, 1);
  EXPECT_EQ(run->max_replicas, 1);
  EXPECT_EQ(run->health_path, "/");
  EXPECT_EQ(run->port, 8080);
  EXPECT_FALSE(run->port_explicit);
}

TEST(ResolveSettingsTest, ThePortIsTheSettingsThenTheImagesThen8080) {
  tempa::v1::DeploySettings settings;
  EXPECT_EQ(ResolveSettings(settings, 3000)->port, 3000);
  settings.set_port(5000);
  EXPECT_EQ(ResolveSettings(settings, 3000)->port, 5000);
  EXPECT_TRUE(ResolveSettings(settings, 3000)->port_explicit);
}

TEST(ResolveSettingsTest, MaxReplicasIsNeverBelowReplicas) {
  tempa::v1::DeploySettings settings;
  settings.set_replicas(4);
  settings.set_max_replicas(2);
  EXPECT_EQ(ResolveSettings(settings)->max_replicas, 4);
  settings.set_max_replicas(10);
  EXPECT_EQ(ResolveSettings(settings)->max_replicas, 10);
  settings.set_memory_bytes(1ll << 30);
  settings.set_cpu_millis(2000);
  settings.set_health_path("/healthz?full=1");
  absl::StatusOr<RunSettings> run = ResolveSettings(settings);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->memory_bytes, 1ll << 30);
  EXPECT_EQ(run->cpu_millis, 2000);
  EXPECT_EQ(run->health_path, "/healthz?full=1");
}

TEST(ResolveSettingsTest, OutOfBoundsSettingsAreRefusedNamingTheField) {
  struct Case {
    const char* field;
    void (*set)(tempa::v1::DeploySettings*);
  };
  const Case cases[] = {
      {"memory_bytes", [](tempa::v1::DeploySettings* s) { s->set_memory_bytes(1 << 20); }},
      {"memory_bytes", [](tempa::v1::DeploySettings* s) { s->set_memory_bytes(-5); }},
      {"cpu_millis", [](tempa::v1::DeploySettings* s) { s->set_cpu_millis(5); }},
      {"cpu_millis", [](tempa::v1::DeploySettings* s) { s->set_cpu_millis(64001); }},
      {"replicas", [](tempa::v1::DeploySettings* s) { s->set_replicas(101); }},
      {"replicas", [](tempa::v1::DeploySettings* s) { s->set_replicas(-1); }},
      {"max_replicas", [](tempa::v1::DeploySettings* s) { s->set_max_replicas(-1); }},
      {"port", [](tempa::v1::DeploySettings* s) { s->set_port(70000); }},
      {"health_path", [](tempa::v1::DeploySettings* s) { s->set_health_path("healthz"); }},
      {"health_path", [](tempa::v1::DeploySettings* s) { s->set_health_path("/a b"); }},
      {"health_path", [](tempa::v1::DeploySettings* s) { s->set_health_path("/a\nb"); }},
      {"health_path", [](tempa::v1::DeploySettings* s) { s->set_health_path("/a;\"}"); }},
  };
  for (const Case& c : cases) {
    tempa::v1::DeploySettings settings;
    c.set(&settings);
    absl::StatusOr<RunSettings> run = ResolveSettings(settings);
    ASSERT_FALSE(run.ok()) << c.field;
    EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(run.status().message(), HasSubstr(c.field));
  }
}

tempa::v1::DeployRequest GoodRequest() {
  tempa::v1::DeployRequest request;
  tempa::v1::Deploy* d = request.mutable_deploy();
  d->set_id("d-b-1");
  d->set_app("web");
  d->set_commit(kCommit);
  d->set_branch("main");
  d->set_production(true);
  d->set_image("127.0.0.1:5000/web@sha256:" + std::string(64, 'a'));
  return request;
}

TEST(CheckDeployRequestTest, RefusesEachBadFieldByName) {
  EXPECT_TRUE(CheckDeployRequest(GoodRequest()).ok());
  struct Case {
    const char* field;
    void (*spoil)(tempa::v1::DeployRequest*);
  };
  const Case cases[] = {
      {"deploy.id", [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_id(""); }},
      {"deploy.id", [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_id("a/b"); }},
      {"deploy.app", [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_app("Web"); }},
      {"deploy.app", [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_app("-web"); }},
      {"deploy.image",
       [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_image("reg/web:latest"); }},
      {"deploy.image",
       [](tempa::v1::DeployRequest* r) {
         r->mutable_deploy()->set_image("reg/web@sha256:" + std::string(63, 'a'));
       }},
      {"deploy.image",
       [](tempa::v1::DeployRequest* r) {
         r->mutable_deploy()->set_image("reg/web@sha256:" + std::string(64, 'A'));
       }},
      {"deploy.commit",
       [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_commit("xyz"); }},
      {"deploy.commit",
       [](tempa::v1::DeployRequest* r) { r->mutable_deploy()->set_commit("abc12"); }},
      {"deploy.branch",
       [](tempa::v1::DeployRequest* r) {
         r->mutable_deploy()->set_production(false);
         r->mutable_deploy()->set_branch("");
       }},
      {"health_path",
       [](tempa::v1::DeployRequest* r) {
         r->mutable_deploy()->mutable_settings()->set_health_path("x");
       }},
      {"env name", [](tempa::v1::DeployRequest* r) { (*r->mutable_env())["1BAD"] = "v"; }},
      {"env name", [](tempa::v1::DeployRequest* r) { (*r->mutable_env())["A=B"] = "v"; }},
  };
  for (const Case& c : cases) {
    tempa::v1::DeployRequest request = GoodRequest();
    c.spoil(&request);
    absl::Status s = CheckDeployRequest(request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(s.message(), HasSubstr(c.field));
  }
}

TEST(CheckDeployRequestTest, AnEnvErrorNeverShowsTheValue) {
  tempa::v1::DeployRequest request = GoodRequest();
  (*request.mutable_env())["TOKEN"] = std::string("hunter2-secret\0x", 16);
  absl::Status s = CheckDeployRequest(request);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("TOKEN"));
  EXPECT_FALSE(absl::StrContains(s.message(), "hunter2"));
}

}  // namespace
}  // namespace tempa::deploy
