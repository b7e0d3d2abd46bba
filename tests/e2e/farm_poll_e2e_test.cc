// The polling fallback end to end, with real processes: an app with --poll-interval and no
// webhook at all gets its branch's new commits built (the repository served by `git daemon`),
// and a repository the coordinator cannot reach is reported by `tempa apps show`.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/git_repo_builder.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

void WriteGoApp(GitRepoBuilder& repo, const std::string& salt) {
  repo.WriteFile("go.mod", "module example.com/polled\n\ngo 1.19\n");
  repo.WriteFile("main.go", absl::StrCat("package main\n\nimport \"fmt\"\n\nfunc main() {\n"
                                         "\tfmt.Println(\"polled ",
                                         salt, "\")\n}\n"));
}

class FarmPollE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
  }

  std::vector<json> Builds(const std::string& app) {
    absl::StatusOr<json> listed = farm_.CliJson({"builds", "list", "--app", app});
    if (!listed.ok()) return {};
    json list = listed->is_array() ? *listed : (*listed)["builds"];
    return std::vector<json>(list.begin(), list.end());
  }

  // Waits (bounded) until `app` has a build of `commit`.
  absl::StatusOr<json> WaitForBuildOf(const std::string& app, const std::string& commit,
                                      absl::Duration timeout) {
    absl::Time until = absl::Now() + timeout;
    while (absl::Now() < until) {
      for (const json& build : Builds(app)) {
        if (build.value("commit", "") == commit) return build;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("no build of ", commit, " within ", absl::FormatDuration(timeout)));
  }

  FarmFixture farm_;
  TempDir repos_{"tempa-poll-repos-"};
};

TEST_F(FarmPollE2eTest, AnAppWithAPollIntervalBuildsANewCommitWithoutAnyWebhook) {
  GitRepoBuilder repo(repos_.Join("polled"));
  WriteGoApp(repo, "one");
  std::string first = repo.Commit("first");
  GitDaemon daemon(repos_.path());
  CommandResult created = farm_.Cli(
      {"apps", "create", "polled", "--repo", daemon.Url("polled"), "--poll-interval", "10"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_TRUE(farm_.StartWorker("w1").ok()) << farm_.worker("w1")->log();

  // The first poll finds the branch's head and builds it.
  absl::StatusOr<json> found = WaitForBuildOf("polled", first, absl::Seconds(60));
  ASSERT_TRUE(found.ok()) << found.status() << farm_.coordinator()->log();
  EXPECT_EQ((*found)["trigger"], "POLL") << found->dump(2);
  absl::StatusOr<json> built = farm_.WaitForBuild((*found)["id"], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);

  // A new commit is seen on a later poll; the one already built is not built again.
  WriteGoApp(repo, "two");
  std::string second = repo.Commit("second");
  found = WaitForBuildOf("polled", second, absl::Seconds(60));
  ASSERT_TRUE(found.ok()) << found.status() << farm_.coordinator()->log();
  EXPECT_EQ((*found)["trigger"], "POLL");
  built = farm_.WaitForBuild((*found)["id"], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  EXPECT_THAT((*built)["image"].get<std::string>(),
              HasSubstr(farm_.registry() + "/polled@sha256:"));
  EXPECT_EQ(Builds("polled").size(), 2u);

  absl::StatusOr<json> app = farm_.CliJson({"apps", "show", "polled"});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->value("last_poll_error", ""), "") << app->dump(2);
}

TEST_F(FarmPollE2eTest, ARepositoryThatCannotBeReadIsReportedByAppsShow) {
  std::string url = absl::StrCat("git://127.0.0.1:", PickFreePort(), "/nothing");
  CommandResult created =
      farm_.Cli({"apps", "create", "unreachable", "--repo", url, "--poll-interval", "10"});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  std::string error;
  absl::Time until = absl::Now() + absl::Seconds(60);
  while (error.empty() && absl::Now() < until) {
    absl::StatusOr<json> app = farm_.CliJson({"apps", "show", "unreachable"});
    if (app.ok()) error = app->value("last_poll_error", "");
    if (error.empty()) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_FALSE(error.empty()) << farm_.coordinator()->log();
  EXPECT_THAT(error, HasSubstr("cannot read branch main"));
  CommandResult shown = farm_.Cli({"apps", "show", "unreachable"});
  EXPECT_THAT(shown.out, HasSubstr("the last poll failed")) << shown.out;
  EXPECT_THAT(farm_.coordinator()->log(), HasSubstr("poll app unreachable: cannot read branch"));
  EXPECT_TRUE(Builds("unreachable").empty());
}

}  // namespace
}  // namespace tempa::testing
