// `tempa apps set NAME --start CMD` against a fake coordinator: what reaches the wire, how ""
// clears it, and how `apps show` shows it.
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

class FarmCliStartTest : public FarmCliTest {
 protected:
  void SetUp() override {
    tempa::v1::App app;
    app.set_name("web");
    app.set_repo_url("https://git.example/web.git");
    app.set_branch("main");
    fake().PutApp(app);
  }
};

TEST_F(FarmCliStartTest, AppsSetStartSendsOnlyTheStartCommandAndSaysTheNextBuildUsesIt) {
  CliResult r = Run({"apps", "set", "web", "--start", "/app/web -greeting hello"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::optional<tempa::v1::UpdateAppRequest> update = fake().last_update();
  ASSERT_TRUE(update.has_value());
  EXPECT_THAT(update->update_mask(), ElementsAre("start_command"));
  EXPECT_EQ(update->app().start_command(), "/app/web -greeting hello");
  EXPECT_THAT(r.out, HasSubstr("the next build starts it with: /app/web -greeting hello"));

  r = Run({"apps", "show", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/app/web -greeting hello (app settings)"));
  r = Run({"apps", "show", "web", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["start_command"], "/app/web -greeting hello");
}

TEST_F(FarmCliStartTest, AnEmptyStartGoesBackToTheRepositorysOwn) {
  ASSERT_EQ(Run({"apps", "set", "web", "--start", "/app/web -x"}).code, 0);
  CliResult r = Run({"apps", "set", "web", "--start", ""});
  ASSERT_EQ(r.code, 0) << r.err;
  std::optional<tempa::v1::UpdateAppRequest> update = fake().last_update();
  ASSERT_TRUE(update.has_value());
  EXPECT_THAT(update->update_mask(), ElementsAre("start_command"));
  EXPECT_EQ(update->app().start_command(), "");
  EXPECT_THAT(r.out, HasSubstr("the repository's command"));
  r = Run({"apps", "show", "web", "--json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["start_command"], "");
  EXPECT_THAT(Run({"apps", "show", "web"}).out, HasSubstr("the repository's (tempa.toml"));
}

TEST_F(FarmCliStartTest, ABlankStartIsAUsageErrorAndNothingIsSent) {
  CliResult r = Run({"apps", "set", "web", "--start", "   "});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--start needs a command"));
  EXPECT_FALSE(fake().last_update().has_value());
}

TEST_F(FarmCliStartTest, AppsCreateAndUpdateTakeTheStartCommandToo) {
  CliResult r = Run({"apps", "create", "api", "--repo", "https://git.example/api.git", "--start",
                     "/app/api -listen-from-env"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::optional<tempa::v1::CreateAppRequest> create = fake().last_create();
  ASSERT_TRUE(create.has_value());
  EXPECT_EQ(create->app().start_command(), "/app/api -listen-from-env");
  EXPECT_THAT(r.out, HasSubstr("starts with:  /app/api -listen-from-env (app settings)"));

  r = Run({"apps", "update", "web", "--start", "/app/web -v"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::optional<tempa::v1::UpdateAppRequest> update = fake().last_update();
  ASSERT_TRUE(update.has_value());
  EXPECT_THAT(update->update_mask(), ElementsAre("start_command"));
  EXPECT_EQ(update->app().start_command(), "/app/web -v");

  r = Run({"apps", "update", "web", "--start", " "});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--start needs a command"));
}

}  // namespace
}  // namespace tempa::testing
