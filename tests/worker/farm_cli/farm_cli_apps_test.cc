// `tempa apps ...` against a fake coordinator: what reaches the wire and what the user sees.
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

class FarmCliAppsTest : public FarmCliTest {
 protected:
  void PutWebApp() {
    tempa::v1::App app;
    app.set_name("web");
    app.set_repo_url("https://git.example/web.git");
    app.set_branch("main");
    (*app.mutable_build_env())["A"] = "1";
    (*app.mutable_build_env())["B"] = "2";
    app.set_has_webhook_secret(true);
    fake().PutApp(app);
  }
};

TEST_F(FarmCliAppsTest, CreateSendsTheSecretsReadFromFilesAndNeverPrintsThem) {
  std::string webhook = File("webhook", "hook-s3cret-value\n");
  std::string token = File("git-token", "ghp_t0ken-value\n");
  for (bool json : {false, true}) {
    std::string name = json ? "api" : "web";
    std::vector<std::string> args = {"apps",
                                     "create",
                                     name,
                                     "--repo",
                                     "https://git.example/web.git",
                                     "--branch",
                                     "dev",
                                     "--path",
                                     "svc/web",
                                     "--env",
                                     "A=1",
                                     "--env=B=x=y",
                                     "--webhook-secret-file",
                                     webhook,
                                     "--git-token-file",
                                     token,
                                     "--git-username",
                                     "bot",
                                     "--poll-interval",
                                     "5m",
                                     "--max-concurrent",
                                     "2"};
    if (json) args.push_back("--json");
    CliResult r = Run(args);
    ASSERT_EQ(r.code, 0) << r.err;

    auto request = fake().last_create();
    ASSERT_TRUE(request.has_value());
    EXPECT_EQ(request->webhook_secret(), "hook-s3cret-value");
    EXPECT_EQ(request->git_credentials().https_token(), "ghp_t0ken-value");
    EXPECT_EQ(request->git_credentials().https_username(), "bot");
    EXPECT_EQ(request->app().name(), name);
    EXPECT_EQ(request->app().repo_url(), "https://git.example/web.git");
    EXPECT_EQ(request->app().branch(), "dev");
    EXPECT_EQ(request->app().path(), "svc/web");
    EXPECT_THAT(request->app().build_env(), UnorderedElementsAre(Pair("A", "1"), Pair("B", "x=y")));
    EXPECT_EQ(request->app().poll_interval_seconds(), 300);
    EXPECT_EQ(request->app().max_concurrent_builds(), 2);

    for (const std::string& text : {r.out, r.err}) {
      EXPECT_THAT(text, Not(HasSubstr("s3cret")));
      EXPECT_THAT(text, Not(HasSubstr("t0ken")));
    }
    if (json) {
      nlohmann::json app = nlohmann::json::parse(r.out);
      EXPECT_EQ(app["name"], "api");
      EXPECT_EQ(app["has_webhook_secret"], true);
      EXPECT_EQ(app["has_git_credentials"], true);
    } else {
      EXPECT_THAT(r.out, HasSubstr("created app web"));
      EXPECT_THAT(r.out, HasSubstr("tempa trigger web"));
    }
  }
}

TEST_F(FarmCliAppsTest, CreateReadsAnSshKeyVerbatimAndRequiresItsKnownHosts) {
  std::string key = File("id",
                         "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH "
                         "PRIVATE KEY-----\n");
  CliResult alone =
      Run({"apps", "create", "web", "--repo", "git@h:web.git", "--ssh-key-file", key});
  EXPECT_EQ(alone.code, 2);
  EXPECT_THAT(alone.err, HasSubstr("--ssh-known-hosts-file"));
  EXPECT_FALSE(fake().last_create().has_value());

  std::string hosts = File("known_hosts", "h ssh-ed25519 AAAA\n");
  CliResult r = Run({"apps", "create", "web", "--repo", "git@h:web.git", "--ssh-key-file", key,
                     "--ssh-known-hosts-file", hosts});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_create()->git_credentials().ssh_private_key(),
              HasSubstr("abc\n-----END OPENSSH PRIVATE KEY-----\n"));
  EXPECT_EQ(fake().last_create()->git_credentials().ssh_known_hosts(), "h ssh-ed25519 AAAA\n");
  EXPECT_THAT(r.out, Not(HasSubstr("abc")));
}

TEST_F(FarmCliAppsTest, CreateRefusesAnEmptyOrMissingSecretFileWithoutCalling) {
  std::string empty = File("empty", "\n");
  CliResult r = Run({"apps", "create", "web", "--repo", "u", "--webhook-secret-file", empty});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("is empty"));
  r = Run({"apps", "create", "web", "--repo", "u", "--webhook-secret-file", dir_.Join("nope")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("read --webhook-secret-file"));
  EXPECT_THAT(fake().methods(), IsEmpty());
}

TEST_F(FarmCliAppsTest, CreateReadsASecretFromStandardInputForDash) {
  stdin_.str("from-stdin\n");
  CliResult r = Run({"apps", "create", "web", "--repo", "u", "--webhook-secret-file", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().last_create()->webhook_secret(), "from-stdin");
}

TEST_F(FarmCliAppsTest, CreateOfAnExistingAppSaysHowToChangeIt) {
  PutWebApp();
  CliResult r = Run({"apps", "create", "web", "--repo", "u"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("an app named web already exists"));
  EXPECT_THAT(r.err, HasSubstr("tempa apps update web"));
}

TEST_F(FarmCliAppsTest, UpdateSendsOnlyTheFieldsGiven) {
  PutWebApp();
  CliResult r = Run({"apps", "update", "web", "--branch", "release"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_update()->update_mask(), ElementsAre("branch"));
  EXPECT_EQ(fake().app("web")->branch(), "release");
  EXPECT_EQ(fake().app("web")->repo_url(), "https://git.example/web.git");
  EXPECT_THAT(fake().app("web")->build_env(), UnorderedElementsAre(Pair("A", "1"), Pair("B", "2")));

  r = Run({"apps", "update", "web", "--max-concurrent", "0", "--poll-interval", "60"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_update()->update_mask(),
              UnorderedElementsAre("max_concurrent_builds", "poll_interval_seconds"));
  EXPECT_EQ(fake().app("web")->poll_interval_seconds(), 60);
  EXPECT_EQ(fake().app("web")->branch(), "release");
}

TEST_F(FarmCliAppsTest, UpdateEnvAddsToAndRemovesFromTheStoredEnv) {
  PutWebApp();
  CliResult r = Run({"apps", "update", "web", "--env", "C=3", "--env", "B=22", "--unset-env", "A"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_update()->update_mask(), ElementsAre("build_env"));
  EXPECT_THAT(fake().app("web")->build_env(),
              UnorderedElementsAre(Pair("B", "22"), Pair("C", "3")));
}

TEST_F(FarmCliAppsTest, UpdateSecretsOnlyWhenAsked) {
  PutWebApp();
  CliResult r = Run({"apps", "update", "web", "--no-webhook-secret"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_update()->update_mask(), ElementsAre("webhook_secret"));
  EXPECT_EQ(fake().last_update()->webhook_secret(), "");
  EXPECT_FALSE(fake().app("web")->has_webhook_secret());

  std::string token = File("token", "tok-123\n");
  r = Run({"apps", "update", "web", "--git-token-file", token});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().last_update()->update_mask(), ElementsAre("git_credentials"));
  EXPECT_EQ(fake().last_update()->git_credentials().https_token(), "tok-123");
  EXPECT_THAT(r.out, Not(HasSubstr("tok-123")));
}

TEST_F(FarmCliAppsTest, UpdateWithNothingToChangeIsAUsageError) {
  PutWebApp();
  CliResult r = Run({"apps", "update", "web"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("nothing to change"));
  EXPECT_THAT(r.err, HasSubstr("tempa apps update NAME"));
  EXPECT_FALSE(fake().last_update().has_value());
}

TEST_F(FarmCliAppsTest, ListAndShowPrintAppsForPeopleAndAsJson) {
  PutWebApp();
  CliResult r = Run({"apps", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("https://git.example/web.git"));

  r = Run({"apps", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list["apps"].size(), 1u);
  EXPECT_EQ(list["apps"][0]["name"], "web");
  EXPECT_EQ(list["apps"][0]["repo_url"], "https://git.example/web.git");
  EXPECT_EQ(list["apps"][0]["build_env"]["A"], "1");
  EXPECT_TRUE(list["apps"][0].contains("path"));  // primitives printed even when empty

  r = Run({"apps", "show", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("A=1 B=2"));
  EXPECT_THAT(r.out, HasSubstr("secret set"));
}

TEST_F(FarmCliAppsTest, ShowOfAnUnknownAppNamesItAndPointsToTheList) {
  CliResult r = Run({"apps", "show", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "tempa: no app named nope; see `tempa apps list`\n");
}

TEST_F(FarmCliAppsTest, DeleteRemovesTheApp) {
  PutWebApp();
  CliResult r = Run({"apps", "delete", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fake().app("web").has_value());
  r = Run({"apps", "delete", "web"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no app named web"));
}

}  // namespace
}  // namespace tempa::testing
