// RuncContainerRuntime against the real runc, as root: containers die and come back with
// backoff, stop on request within their grace, keep a bounded log and survive a deployer restart.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/runtime/runc_fixture.h"

namespace tempa::deploy::runc_test {
namespace {

using ::testing::HasSubstr;

TEST_F(RuncContainerRuntimeTest, ExitingProcessIsRestartedWithDoublingBackoff) {
  MakeRuntime();
  ContainerSpec spec = Spec("exit", {"/app", "exit", "7", "10"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return DelaysOf(spec.id).size() >= 4; }));
  std::vector<absl::Duration> delays = DelaysOf(spec.id);
  EXPECT_EQ(delays[0], absl::Milliseconds(50));
  EXPECT_EQ(delays[1], absl::Milliseconds(100));
  EXPECT_EQ(delays[2], absl::Milliseconds(200));
  EXPECT_EQ(delays[3], absl::Milliseconds(200));  // capped at max_backoff
  ContainerStatus status = StatusOf(spec.id);
  EXPECT_GE(status.restarts, 3);
  EXPECT_EQ(status.last_exit_code, 7);
  EXPECT_EQ(status.last_exit_reason, "exited with 7");
  EXPECT_EQ(status.oom_kills, 0);
}

TEST_F(RuncContainerRuntimeTest, BackoffStartsOverAfterALongEnoughRun) {
  options_.reset_backoff_after = absl::ZeroDuration();  // every run counts as long
  MakeRuntime();
  ContainerSpec spec = Spec("reset", {"/app", "exit", "1", "10"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return DelaysOf(spec.id).size() >= 3; }));
  for (absl::Duration d : DelaysOf(spec.id)) EXPECT_EQ(d, absl::Milliseconds(50));
}

TEST_F(RuncContainerRuntimeTest, StopEndsTheProcessGracefullyWithSigterm) {
  MakeRuntime();
  ContainerSpec spec = Spec("graceful", {"/app", "sleep"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 5) == "sleeping\n"; }));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Seconds(30)).ok());
  EXPECT_THAT(ReadFile(spec.state_dir + "/log"), HasSubstr("got SIGTERM"));
  EXPECT_EQ(runtime_->Status(spec.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(runtime_->List(), ::testing::Not(::testing::Contains(spec.id)));
}

TEST_F(RuncContainerRuntimeTest, StopKillsAProcessThatIgnoresSigtermAfterTheGrace) {
  MakeRuntime();
  ContainerSpec spec = Spec("stubborn", {"/app", "ignoreterm"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 5) == "ignoring SIGTERM\n"; }));
  pid_t pid = std::stoi(ReadFile(spec.state_dir + "/pid"));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Milliseconds(200)).ok());
  // Gone (a killed process may linger a moment as a zombie until its parent reaps it).
  EXPECT_TRUE(Eventually([&] { return kill(pid, 0) != 0; }));
  EXPECT_EQ(runtime_->Status(spec.id).status().code(), absl::StatusCode::kNotFound);
  // runc no longer knows it.
  EXPECT_FALSE(fs::exists(options_.work_dir + "/runc/" + spec.id));
  EXPECT_TRUE(runtime_->Start(spec).ok());  // the id is free again
}

TEST_F(RuncContainerRuntimeTest, LogTailReturnsTheLastLinesTheProcessPrinted) {
  MakeRuntime();
  ContainerSpec spec = Spec("printer", {"/app", "print", "500"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] {
    return runtime_->LogTail(spec.id, 3) == "line 498\nline 499\nline 500\n";
  })) << runtime_->LogTail(spec.id, 3);
  EXPECT_EQ(runtime_->LogTail("no-such-container", 3), "");
}

TEST_F(RuncContainerRuntimeTest, ANewRuntimeAdoptsARunningContainerAndSupervisesIt) {
  MakeRuntime();
  ContainerSpec spec = Spec("adopted", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  runtime_.reset();  // the deployer goes away; the container keeps serving
  EXPECT_FALSE(HttpGet(spec.port).empty());

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  EXPECT_TRUE(StatusOf(spec.id).running);
  EXPECT_EQ(StatusOf(spec.id).restarts, 0);
  // It is supervised again: killed, it comes back.
  std::string pid_text = ReadFile(spec.state_dir + "/pid");
  ASSERT_EQ(kill(std::stoi(pid_text), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return StatusOf(spec.id).restarts >= 1; }));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  EXPECT_EQ(StatusOf(spec.id).last_exit_reason, "killed by signal 9");
}

TEST_F(RuncContainerRuntimeTest, ContainerThatDiedWhileNoDeployerWatchedIsRestartedOnAdoption) {
  MakeRuntime();
  ContainerSpec spec = Spec("orphan", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  runtime_.reset();
  ASSERT_EQ(kill(std::stoi(ReadFile(spec.state_dir + "/pid")), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return HttpGet(spec.port).empty(); }));

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  ASSERT_TRUE(Eventually([&] { return StatusOf(spec.id).restarts == 1; }));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
}

TEST_F(RuncContainerRuntimeTest, ABrokenRecordIsReportedAndTheOthersAreStillAdopted) {
  MakeRuntime();
  ContainerSpec spec = Spec("survivor", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  runtime_.reset();
  testing::WriteFileOrDie(options_.work_dir + "/containers/broken.json", "{not json");

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  ASSERT_EQ(runtime_->adoption_problems().size(), 1u);
  EXPECT_THAT(runtime_->adoption_problems()[0].message(), HasSubstr("broken.json"));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
}

TEST_F(RuncContainerRuntimeTest, StartRefusesRootAndATakenId) {
  MakeRuntime();
  ContainerSpec spec = Spec("refused", {"/app", "sleep"});
  spec.uid = 0;
  EXPECT_EQ(runtime_->Start(spec).code(), absl::StatusCode::kInvalidArgument);
  spec.uid = 65534;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  EXPECT_EQ(runtime_->Start(spec).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runtime_->Stop("no-such-container", absl::ZeroDuration()).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RuncContainerRuntimeTest, LogIsKeptBoundedWhileTheContainerRuns) {
  options_.log_max_bytes = 2048;
  options_.log_keep_bytes = 512;
  MakeRuntime();
  ContainerSpec spec = Spec("chatty", {"/app", "print", "1000"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  // All 1000 lines (about 9 KiB) were printed, and the file was cut below its bound.
  ASSERT_TRUE(Eventually([&] {
    return runtime_->LogTail(spec.id, 1) == "line 1000\n" &&
           fs::file_size(spec.state_dir + "/log") <= 2048;
  })) << runtime_->LogTail(spec.id, 3);
  EXPECT_THAT(runtime_->LogTail(spec.id, 1000), HasSubstr("[log truncated by tempa]"));
}

TEST_F(RuncContainerRuntimeTest, StartOfAMissingProgramFailsWithRuncsReason) {
  MakeRuntime();
  ContainerSpec spec = Spec("missing", {"/no-such-program"});
  absl::Status started = runtime_->Start(spec);
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("no-such-program"));
  EXPECT_THAT(runtime_->List(), ::testing::IsEmpty());
}

TEST_F(RuncContainerRuntimeTest, UnderTheInitAnAppWithoutHandlersStopsOnSigterm) {
  options_.init_binary = TEMPA_CONTAINER_INIT;
  MakeRuntime();
  ContainerSpec spec = Spec("init-term", {"/app", "nohandler"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(
      Eventually([&] { return runtime_->LogTail(spec.id, 1) == "sleeping without handlers\n"; }));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Seconds(60)).ok());
  // SIGTERM reached the app (not SIGKILL after the grace).
  EXPECT_THAT(ReadFile(spec.state_dir + "/log"), HasSubstr("ended by signal 15"));
}

}  // namespace
}  // namespace tempa::deploy::runc_test
