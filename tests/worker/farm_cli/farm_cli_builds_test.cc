// `tempa builds ...` and `tempa trigger` against a fake coordinator.
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/worker/farm_cli/farm_cli_harness.h"

namespace tempa::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

tempa::v1::Build SucceededBuild() {
  tempa::v1::Build build;
  build.set_id("b-2");
  build.set_app("web");
  build.set_branch("main");
  build.set_commit(kCommit);
  build.set_status(tempa::v1::SUCCEEDED);
  build.set_image("127.0.0.1:5000/web@sha256:feedbeef");
  build.set_sequence(2);
  build.set_queued_unix_ms(absl::ToUnixMillis(FixedNow() - absl::Minutes(5)));
  return build;
}

tempa::v1::Build FailedBuild() {
  tempa::v1::Build build;
  build.set_id("b-1");
  build.set_app("api");
  build.set_branch("main");
  build.set_commit("fedcba9876543210fedcba9876543210fedcba98");
  build.set_status(tempa::v1::FAILED);
  build.set_sequence(1);
  build.set_queued_unix_ms(absl::ToUnixMillis(FixedNow() - absl::Hours(3)));
  build.mutable_error()->set_kind("compile");
  build.mutable_error()->set_step("build");
  build.mutable_error()->set_reason("undefined: foo");
  build.mutable_error()->set_log_tail("main.go:3: undefined: foo\n\x1b[31mred\x1b[0m");
  return build;
}

class FarmCliBuildsTest : public FarmCliTest {
 protected:
  void SetUp() override {
    tempa::v1::App app;
    app.set_name("web");
    app.set_branch("main");
    fake().PutApp(app);
    app.set_name("api");
    fake().PutApp(app);
    fake().PutBuild(SucceededBuild(), {"step fetch", "step build", "pushed"});
    fake().PutBuild(FailedBuild(), {"compiling", "main.go:3: undefined: foo"});
  }
};

TEST_F(FarmCliBuildsTest, ListPrintsAlignedColumnsWithShortCommitsAgesAndOutcomes) {
  CliResult r = Run({"builds", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("ID   APP  STATUS     COMMIT   AGE  IMAGE/ERROR"));
  EXPECT_EQ(lines[1], "b-2  web  SUCCEEDED  0123456  5m   127.0.0.1:5000/web@sha256:feedbeef");
  EXPECT_EQ(lines[2], "b-1  api  FAILED     fedcba9  3h   compile: undefined: foo");
}

TEST_F(FarmCliBuildsTest, ListAsJsonHasEveryBuildWithStatusNamesImageAndError) {
  CliResult r = Run({"builds", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json["builds"].size(), 2u);
  const nlohmann::json& ok = json["builds"][0];
  EXPECT_EQ(ok["id"], "b-2");
  EXPECT_EQ(ok["app"], "web");
  EXPECT_EQ(ok["commit"], kCommit);
  EXPECT_EQ(ok["status"], "SUCCEEDED");
  EXPECT_EQ(ok["image"], "127.0.0.1:5000/web@sha256:feedbeef");
  ASSERT_TRUE(ok.contains("error"));
  EXPECT_TRUE(ok["error"].is_null());
  const nlohmann::json& failed = json["builds"][1];
  EXPECT_EQ(failed["status"], "FAILED");
  ASSERT_TRUE(failed.contains("image"));
  EXPECT_EQ(failed["image"], "");
  EXPECT_EQ(failed["error"]["kind"], "compile");
  EXPECT_EQ(failed["error"]["step"], "build");
  EXPECT_EQ(failed["error"]["reason"], "undefined: foo");
  EXPECT_THAT(failed["error"]["log_tail"].get<std::string>(), HasSubstr("main.go:3"));
}

TEST_F(FarmCliBuildsTest, ListPassesTheAppAndLimitAndNamesAnUnknownApp) {
  CliResult r = Run({"builds", "list", "--app", "web", "--limit", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().last_list_builds()->app(), "web");
  EXPECT_EQ(fake().last_list_builds()->limit(), 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["builds"].size(), 1u);

  r = Run({"builds", "list", "--app", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no app named nope; see `tempa apps list`"));
}

TEST_F(FarmCliBuildsTest, ShowPrintsTheErrorKindStepReasonAndASafeLogTail) {
  CliResult r = Run({"builds", "show", "b-1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("build b-1"));
  EXPECT_THAT(r.out, HasSubstr("FAILED"));
  EXPECT_THAT(r.out, HasSubstr("error kind:"));
  EXPECT_THAT(r.out, HasSubstr("compile"));
  EXPECT_THAT(r.out, HasSubstr("error step:"));
  EXPECT_THAT(r.out, HasSubstr("undefined: foo"));
  EXPECT_THAT(r.out, HasSubstr("| main.go:3: undefined: foo"));
  EXPECT_THAT(r.out, HasSubstr("^[[31mred"));  // the escape shown, not sent to the terminal
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
}

TEST_F(FarmCliBuildsTest, ShowAsJsonIsTheBuildObject) {
  CliResult r = Run({"builds", "show", "b-1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json build = nlohmann::json::parse(r.out);
  EXPECT_EQ(build["id"], "b-1");
  EXPECT_EQ(build["status"], "FAILED");
  EXPECT_EQ(build["error"]["kind"], "compile");
  EXPECT_EQ(build["trigger"], "BUILD_TRIGGER_UNSPECIFIED");
  EXPECT_EQ(build["error"]["log_tail"], "main.go:3: undefined: foo\n\x1b[31mred\x1b[0m");
}

TEST_F(FarmCliBuildsTest, ShowOfAnUnknownBuildPointsToTheList) {
  CliResult r = Run({"builds", "show", "b-99"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "tempa: no build b-99; see `tempa builds list`\n");
}

TEST_F(FarmCliBuildsTest, LogsPrintsTheStoredLinesAndTheTail) {
  CliResult r = Run({"builds", "logs", "b-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "step fetch\nstep build\npushed\n");
  r = Run({"builds", "logs", "b-2", "--tail", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "pushed\n");
}

TEST_F(FarmCliBuildsTest, ShowAndLogsWithAppNameTheAppsNewestBuild) {
  CliResult r = Run({"builds", "show", "--app", "web", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["id"], "b-2");
  EXPECT_EQ(fake().last_list_builds()->limit(), 1);
  r = Run({"builds", "logs", "--app", "api"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "compiling\nmain.go:3: undefined: foo\n");

  tempa::v1::App fresh;
  fresh.set_name("fresh");
  fake().PutApp(fresh);
  r = Run({"builds", "logs", "--app", "fresh"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "tempa: app fresh has no builds yet; start one: tempa trigger fresh\n");
  r = Run({"builds", "show", "b-1", "--app", "web"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("not both"));
}

TEST_F(FarmCliBuildsTest, FollowPrintsLinesAsTheyArriveAndExitsZeroWhenTheBuildSucceeds) {
  SharedTextBuf buf;
  std::ostream out(&buf);
  std::atomic<bool> seen_before_the_end{false};
  fake().AddWatchScript({{"compiling main.go", "linking"}, 0, SucceededBuild(), [&] {
                           // The build has not finished yet: its lines must be on screen.
                           seen_before_the_end = buf.WaitFor("linking\n", absl::Seconds(30));
                         }});
  CliResult r =
      RunRaw({"--coordinator", coordinator_.address(), "builds", "logs", "b-2", "--follow"}, &out);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(seen_before_the_end.load());
  EXPECT_EQ(buf.text(), "compiling main.go\nlinking\n");
  EXPECT_THAT(r.err, HasSubstr("build b-2 SUCCEEDED"));
}

TEST_F(FarmCliBuildsTest, FollowExitsOneWithASummaryWhenTheBuildFails) {
  fake().AddWatchScript({{"compiling"}, 0, FailedBuild(), nullptr});
  CliResult r = Run({"builds", "logs", "b-1", "--follow"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "compiling\n");
  EXPECT_EQ(r.err, "tempa: build b-1 FAILED (compile in step build): undefined: foo\n");

  tempa::v1::Build superseded = SucceededBuild();
  superseded.set_status(tempa::v1::SUPERSEDED);
  superseded.set_superseded_by("b-3");
  fake().AddWatchScript({{}, 0, superseded, nullptr});
  r = Run({"builds", "logs", "b-2", "--follow"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("SUPERSEDED by b-3"));
}

TEST_F(FarmCliBuildsTest, FollowSaysOnStderrWhereTheBuildStands) {
  tempa::v1::Build running = SucceededBuild();
  running.set_status(tempa::v1::RUNNING);
  running.set_worker_id("w-1");
  WatchScript script{{"compiling"}, 0, SucceededBuild(), nullptr};
  script.first = running;
  fake().AddWatchScript(script);
  CliResult r = Run({"builds", "logs", "b-2", "--follow"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "compiling\n");
  EXPECT_THAT(r.err, HasSubstr("tempa: build b-2 is RUNNING on w-1\n"));
}

TEST_F(FarmCliBuildsTest, FollowOfAFinishedBuildPrintsItsStoredLinesAndExitsByItsStatus) {
  // No script: the fake answers as the coordinator does, the build first and its lines after.
  CliResult r = Run({"builds", "logs", "b-1", "--follow"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "compiling\nmain.go:3: undefined: foo\n");
  EXPECT_EQ(r.err, "tempa: build b-1 FAILED (compile in step build): undefined: foo\n");
  r = Run({"builds", "logs", "b-2", "--follow", "--tail", "1"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "pushed\n");
}

TEST_F(FarmCliBuildsTest, FollowOfAStreamThatEndsWithoutAWordFails) {
  fake().AddWatchScript({{}, 0, std::nullopt, nullptr});
  CliResult r = Run({"builds", "logs", "b-2", "--follow"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ended the stream of build b-2 without a word"));
  EXPECT_THAT(r.err, HasSubstr("tempa builds show b-2"));
}

TEST_F(FarmCliBuildsTest, FollowPicksUpFromTheNextLineWhenTheStreamDrops) {
  fake().AddWatchScript({{"one", "two"}, 0, std::nullopt, nullptr});  // ends before the build
  fake().AddWatchScript({{"two", "three"}, 1, SucceededBuild(), nullptr});
  CliResult r = Run({"builds", "logs", "b-2", "--follow"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\nthree\n");
  std::vector<tempa::v1::WatchBuildRequest> watches = fake().watch_requests();
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[0].from_line(), 0);
  EXPECT_EQ(watches[1].from_line(), 2);
  EXPECT_THAT(r.err, HasSubstr("reconnecting"));
}

TEST_F(FarmCliBuildsTest, TriggerQueuesABuildAndFollowsItWhenAsked) {
  CliResult r = Run({"trigger", "web", "--commit", "abc1234", "--branch", "dev"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().last_trigger()->app(), "web");
  EXPECT_EQ(fake().last_trigger()->commit(), "abc1234");
  EXPECT_EQ(fake().last_trigger()->branch(), "dev");
  EXPECT_THAT(r.out, HasSubstr("queued build b-100 of web (branch dev, commit abc1234)"));

  r = Run({"trigger", "web", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json build = nlohmann::json::parse(r.out);
  EXPECT_EQ(build["id"], "b-101");
  EXPECT_EQ(build["status"], "QUEUED");
  EXPECT_EQ(build["trigger"], "MANUAL");

  fake().AddWatchScript({{"building"}, 0, SucceededBuild(), nullptr});
  r = Run({"trigger", "web", "--follow"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "building\n");
  EXPECT_EQ(fake().watch_requests().back().id(), "b-102");

  r = Run({"trigger", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no app named nope"));
}

TEST_F(FarmCliBuildsTest, CancelSaysWhatHappened) {
  CliResult r = Run({"trigger", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run({"builds", "cancel", "b-100"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "cancelled build b-100\n");
  r = Run({"builds", "cancel", "b-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("already finished (SUCCEEDED)"));
}

TEST_F(FarmCliBuildsTest, WorkersListShowsSlotsAndRunningBuilds) {
  tempa::v1::Worker worker;
  worker.set_id("w-1");
  worker.set_hostname("node1");
  worker.set_slots(4);
  worker.add_running_builds("b-7");
  worker.set_connected(true);
  worker.set_last_seen_unix_ms(absl::ToUnixMillis(FixedNow() - absl::Seconds(3)));
  fake().PutWorker(worker);
  CliResult r = Run({"workers", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("w-1  node1  connected  1/4    3s ago     b-7"));
  r = Run({"workers", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["workers"][0]["running_builds"][0], "b-7");
}

}  // namespace
}  // namespace tempa::testing
