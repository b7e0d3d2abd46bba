// `tempa apps set`, `tempa deploys list|rollback` and the deploy lines of `apps show` and
// `builds show`, against a fake coordinator: what reaches the wire and what the user sees.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/worker/farm_cli/farm_cli_harness.h"

namespace tempa::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class FarmCliDeploysTest : public FarmCliTest {
 protected:
  void SetUp() override {
    tempa::v1::App app;
    app.set_name("web");
    app.set_repo_url("https://git.example/web.git");
    app.set_branch("main");
    fake().PutApp(app);
  }
  tempa::v1::UpdateAppRequest LastUpdate() {
    std::optional<tempa::v1::UpdateAppRequest> update = fake().last_update();
    EXPECT_TRUE(update.has_value());
    return update.value_or(tempa::v1::UpdateAppRequest());
  }
};

TEST_F(FarmCliDeploysTest, AppsSetSendsOnlyTheGivenSettingsInBytesAndMillicpus) {
  CliResult r = Run({"apps", "set", "web", "--memory", "256Mi", "--cpu", "500m", "--replicas", "2",
                     "--max-replicas", "5", "--health-path", "/healthz", "--port", "8080"});
  ASSERT_EQ(r.code, 0) << r.err;
  tempa::v1::UpdateAppRequest update = LastUpdate();
  EXPECT_EQ(update.app().name(), "web");
  EXPECT_THAT(update.update_mask(),
              UnorderedElementsAre("deploy.memory_bytes", "deploy.cpu_millis", "deploy.replicas",
                                   "deploy.max_replicas", "deploy.health_path", "deploy.port"));
  EXPECT_EQ(update.app().deploy().memory_bytes(), 256LL << 20);
  EXPECT_EQ(update.app().deploy().cpu_millis(), 500);
  EXPECT_EQ(update.app().deploy().replicas(), 2);
  EXPECT_EQ(update.app().deploy().max_replicas(), 5);
  EXPECT_EQ(update.app().deploy().health_path(), "/healthz");
  EXPECT_EQ(update.app().deploy().port(), 8080);
  EXPECT_THAT(r.out, HasSubstr("256Mi"));
  EXPECT_THAT(r.out, HasSubstr("0.5 CPU"));
  EXPECT_THAT(r.out, HasSubstr("autoscaled up to 5"));

  struct Case {
    std::string flag, value;
    int64_t memory;
    int32_t cpu;
  };
  for (const Case& c : std::vector<Case>{{"--memory", "512M", 512000000, 0},
                                         {"--memory", "1Gi", 1LL << 30, 0},
                                         {"--memory", "1.5Gi", 3LL << 29, 0},
                                         {"--memory", "1048576", 1 << 20, 0},
                                         {"--cpu", "0.5", 0, 500},
                                         {"--cpu", "2", 0, 2000},
                                         {"--cpu", "250m", 0, 250}}) {
    r = Run({"apps", "set", "web", c.flag, c.value});
    ASSERT_EQ(r.code, 0) << c.flag << " " << c.value << ": " << r.err;
    update = LastUpdate();
    ASSERT_EQ(update.update_mask_size(), 1);
    if (c.flag == "--memory") {
      EXPECT_EQ(update.app().deploy().memory_bytes(), c.memory) << c.value;
    } else {
      EXPECT_EQ(update.app().deploy().cpu_millis(), c.cpu) << c.value;
    }
  }
}

TEST_F(FarmCliDeploysTest, AppsSetRefusesBadUnitsNamingTheFlagAndAnExample) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--memory", "256MB"}, "like 256Mi"},
           {{"--memory", "-1Gi"}, "--memory"},
           {{"--memory", "lots"}, "--memory \"lots\""},
           {{"--cpu", "half"}, "like 0.5 or 2, or millicpus like 500m"},
           {{"--cpu", "0.0001"}, "finer than a thousandth"},
           {{"--cpu", "1.5m"}, "--cpu"},
           {{"--port", "70000"}, "not a port"},
           {{"--replicas", "-1"}, "--replicas"},
           {{"--health-path", "healthz"}, "must start with /"},
           {{}, "nothing to change"},
       }) {
    std::vector<std::string> args = {"apps", "set", "web"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CliResult r = Run(args);
    EXPECT_EQ(r.code, 2) << c.says;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
  EXPECT_THAT(fake().methods(), IsEmpty());  // nothing reached the coordinator
}

TEST_F(FarmCliDeploysTest, AppsSetEnvReplacesTheWholeEnvAndNeverEchoesAValue) {
  std::string file = File("app.env",
                          "# the app's secrets\n"
                          "DATABASE_URL=postgres://u:s3cret-one@db/app\r\n"
                          "\n"
                          "export API_KEY=k3y=with=equals\n"
                          "OVERRIDDEN=from-file\n");
  CliResult r = Run({"apps", "set", "web", "--env-file", file, "--env", "OVERRIDDEN=fl@g-value"});
  ASSERT_EQ(r.code, 0) << r.err;
  tempa::v1::UpdateAppRequest update = LastUpdate();
  EXPECT_THAT(update.update_mask(), ElementsAre("deploy_env"));
  EXPECT_THAT(
      update.deploy_env(),
      UnorderedElementsAre(Pair("DATABASE_URL", "postgres://u:s3cret-one@db/app"),
                           Pair("API_KEY", "k3y=with=equals"), Pair("OVERRIDDEN", "fl@g-value")));
  EXPECT_THAT(r.out, HasSubstr("API_KEY DATABASE_URL OVERRIDDEN (values hidden)"));
  for (const char* value : {"s3cret-one", "k3y=with", "fl@g-value", "from-file"}) {
    EXPECT_THAT(r.out + r.err, Not(HasSubstr(value)));
  }

  // A bad pair is refused without showing its value.
  r = Run({"apps", "set", "web", "--env", "1X=top-s3cret"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("the value is not shown"));
  EXPECT_THAT(r.err, Not(HasSubstr("top-s3cret")));
  r = Run({"apps", "set", "web", "--env", "PORT=9000"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--port N"));
  std::string bad = File("bad.env", "GOOD=1\nnot a pair with s3cret\n");
  r = Run({"apps", "set", "web", "--env-file", bad});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--env-file line 2"));
  EXPECT_THAT(r.err, Not(HasSubstr("s3cret")));

  // --no-env empties it.
  r = Run({"apps", "set", "web", "--no-env"});
  ASSERT_EQ(r.code, 0) << r.err;
  update = LastUpdate();
  EXPECT_THAT(update.update_mask(), ElementsAre("deploy_env"));
  EXPECT_TRUE(update.deploy_env().empty());
  EXPECT_THAT(r.out, HasSubstr("deploy env: (none)"));
}

TEST_F(FarmCliDeploysTest, AppsShowListsTheDeploySettingsAndOnlyTheEnvNames) {
  tempa::v1::App app = *fake().app("web");
  app.mutable_deploy()->set_memory_bytes(1LL << 30);
  app.mutable_deploy()->set_cpu_millis(250);
  app.mutable_deploy()->add_env_names("DATABASE_URL");
  fake().PutApp(app);
  CliResult r = Run({"apps", "show", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1Gi"));
  EXPECT_THAT(r.out, HasSubstr("0.25 CPU"));
  EXPECT_THAT(r.out, HasSubstr("health path:  default (/)"));
  EXPECT_THAT(r.out, HasSubstr("DATABASE_URL (values hidden)"));
}

tempa::v1::Deploy MakeDeploy(const std::string& id, const std::string& app,
                             tempa::v1::DeployStatus status) {
  tempa::v1::Deploy deploy;
  deploy.set_id(id);
  deploy.set_app(app);
  deploy.set_build_id(id.substr(2));
  deploy.set_commit(std::string(40, 'e'));
  deploy.set_status(status);
  deploy.set_production(true);
  deploy.set_track("production");
  deploy.set_created_unix_ms(absl::ToUnixMillis(FixedNow() - absl::Minutes(3)));
  return deploy;
}

TEST_F(FarmCliDeploysTest, DeploysListShowsStatusUrlsAndASafeReason) {
  tempa::v1::Deploy live = MakeDeploy("d-b-1", "web", tempa::v1::DEPLOYED);
  live.add_urls("https://web.apps.example");
  fake().PutDeploy(live);
  tempa::v1::Deploy failed = MakeDeploy("d-b-2", "web", tempa::v1::DEPLOY_FAILED);
  failed.set_reason("health check failed \x1b[31mred");
  fake().PutDeploy(failed);
  fake().PutDeploy(MakeDeploy("d-b-3", "api", tempa::v1::DEPLOY_PENDING));

  CliResult r = Run({"deploys", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ID"));
  EXPECT_THAT(r.out, HasSubstr("DEPLOY_PENDING"));
  EXPECT_THAT(r.out, HasSubstr("https://web.apps.example"));
  EXPECT_THAT(r.out, HasSubstr("^[[31mred"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
  EXPECT_LT(r.out.find("d-b-3"), r.out.find("d-b-1"));  // in the coordinator's order

  r = Run({"deploys", "list", "--app", "web", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().last_list_deploys()->app(), "web");
  nlohmann::json json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json["deploys"].size(), 2u);
  EXPECT_EQ(json["deploys"][0]["id"], "d-b-2");
  EXPECT_EQ(json["deploys"][0]["status"], "DEPLOY_FAILED");
  EXPECT_EQ(json["deploys"][1]["urls"][0], "https://web.apps.example");
}

TEST_F(FarmCliDeploysTest, DeploysRollbackSendsTheTargetAndPrintsTheIntent) {
  tempa::v1::Build build;
  build.set_id("b-7");
  build.set_app("web");
  build.set_commit(std::string(40, 'f'));
  build.set_status(tempa::v1::SUCCEEDED);
  build.set_image("127.0.0.1:5000/web@sha256:" + std::string(64, 'a'));
  fake().PutBuild(build);
  CliResult r = Run({"deploys", "rollback", "web", "--to", "b-7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().last_rollback()->app(), "web");
  EXPECT_EQ(fake().last_rollback()->to_build_id(), "b-7");
  EXPECT_THAT(r.out, HasSubstr("rolling back app web to build b-7 (fffffff)"));
  EXPECT_THAT(r.out, HasSubstr("deploy r-1 (rollback)"));

  r = Run({"deploys", "rollback", "web"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(fake().last_rollback()->to_build_id(), "");
  EXPECT_THAT(r.err, HasSubstr("--to BUILD_ID"));

  r = Run({"deploys", "rollback"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("which app?"));
}

TEST_F(FarmCliDeploysTest, BuildsShowPrintsItsDeployStatusUrlsAndReason) {
  tempa::v1::Build build;
  build.set_id("b-8");
  build.set_app("web");
  build.set_status(tempa::v1::SUCCEEDED);
  *build.mutable_deploy() = MakeDeploy("d-b-8", "web", tempa::v1::DEPLOY_FAILED);
  build.mutable_deploy()->set_reason("GET /healthz never answered 200");
  build.mutable_deploy()->set_log_tail("listening on :8080\npanic: \x1b[31mno database");
  fake().PutBuild(build);
  CliResult r = Run({"builds", "show", "b-8"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("DEPLOY_FAILED (d-b-8, production)"));
  EXPECT_THAT(r.out, HasSubstr("never answered 200"));
  EXPECT_THAT(r.out, HasSubstr("deploy log tail:\n    | listening on :8080\n    | panic: ^["));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
}

}  // namespace
}  // namespace tempa::testing
