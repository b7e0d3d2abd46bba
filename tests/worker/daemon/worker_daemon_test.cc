// The worker daemon's loop against a real in-process coordinator, with a scripted executor.
#include "worker/daemon/worker_daemon.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/core/coordinator_fixture.h"

namespace tempa::worker {
namespace {

using coordinator::testing::CoordinatorFixture;
using coordinator::testing::kAdminToken;
using coordinator::testing::kWorkerToken;

class ScriptedExecutor : public JobExecutor {
 public:
  v1::BuildResult Execute(const v1::Job& job, const JobHooks& context) override {
    ++started;
    context.log("step one output");
    context.on_step("build", absl::Milliseconds(5), "compiled");
    context.on_commit(std::string(40, 'f'));
    v1::BuildResult result;
    if (wait_for_cancel) {
      context.cancel->WaitFor(absl::Seconds(60));
      result.set_cancelled(context.cancel->cancelled());
      result.mutable_error()->set_kind("cancelled");
      return result;
    }
    result.set_succeeded(true);
    result.set_commit(std::string(40, 'f'));
    result.set_image(absl::StrCat(job.image_repository(), "@sha256:", std::string(64, '1')));
    return result;
  }
  std::atomic<int> started{0};
  bool wait_for_cancel = false;
};

struct DaemonRun {
  DaemonRun(CoordinatorFixture& f, JobExecutor* executor) {
    rpc::ClientOptions options;
    options.target = f.target();
    options.token = kWorkerToken;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(options);
    EXPECT_TRUE(channel.ok());
    link = std::make_unique<GrpcCoordinatorLink>(*channel, options);
    WorkerDaemonOptions daemon_options;
    daemon_options.worker_id = "worker-a";
    daemon_options.slots = 2;
    daemon_options.lease_wait = absl::Milliseconds(500);
    daemon_options.progress.flush_interval = absl::Milliseconds(20);
    daemon = std::make_unique<WorkerDaemon>(link.get(), executor, daemon_options);
    thread = std::thread([this] { daemon->Run(stop); });
  }
  ~DaemonRun() {
    stop.Cancel();
    thread.join();
  }
  CancelToken stop;
  std::unique_ptr<GrpcCoordinatorLink> link;
  std::unique_ptr<WorkerDaemon> daemon;
  std::thread thread;
};

v1::Build WaitForStatus(CoordinatorFixture& f, const std::string& id,
                        std::vector<v1::BuildStatus> wanted) {
  v1::Build build;
  for (int i = 0; i < 600; ++i) {
    absl::StatusOr<v1::Build> got = f.core().GetBuild(id);
    if (got.ok()) {
      build = *got;
      for (v1::BuildStatus s : wanted) {
        if (build.status() == s) return build;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return build;
}

absl::StatusOr<v1::Build> TriggerFor(CoordinatorFixture& f) {
  v1::CreateAppRequest create;
  create.mutable_app()->set_name("api");
  create.mutable_app()->set_repo_url("https://git.example.com/api.git");
  if (absl::StatusOr<v1::App> app = f.core().CreateApp(create); !app.ok()) return app.status();
  v1::TriggerBuildRequest trigger;
  trigger.set_app("api");
  return f.core().TriggerBuild(trigger);
}

TEST(WorkerDaemonTest, LeasedJobRunsAndItsResultStepsAndLogsReachTheCoordinator) {
  coordinator::CoordinatorOptions options = CoordinatorFixture::DefaultOptions();
  options.heartbeat_interval = absl::Milliseconds(100);
  CoordinatorFixture f(options);
  ScriptedExecutor executor;
  DaemonRun run(f, &executor);
  absl::StatusOr<v1::Build> build = TriggerFor(f);
  ASSERT_TRUE(build.ok()) << build.status();
  v1::Build done = WaitForStatus(f, build->id(), {v1::SUCCEEDED, v1::FAILED});
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  EXPECT_EQ(done.commit(), std::string(40, 'f'));
  EXPECT_THAT(done.image(), ::testing::HasSubstr("127.0.0.1:5999/api@sha256:"));
  absl::StatusOr<std::vector<v1::LogLine>> lines = f.core().ReadLogs(build->id(), 0, 0);
  ASSERT_TRUE(lines.ok());
  std::string text;
  for (const v1::LogLine& line : *lines) absl::StrAppend(&text, line.text(), "\n");
  EXPECT_THAT(text, ::testing::HasSubstr("step one output"));
  EXPECT_THAT(text, ::testing::HasSubstr("build"));
  EXPECT_EQ(executor.started.load(), 1);
}

TEST(WorkerDaemonTest, CancellingARunningBuildStopsItsExecutorAndItEndsCancelled) {
  coordinator::CoordinatorOptions options = CoordinatorFixture::DefaultOptions();
  options.heartbeat_interval = absl::Milliseconds(100);
  CoordinatorFixture f(options);
  ScriptedExecutor executor;
  executor.wait_for_cancel = true;
  DaemonRun run(f, &executor);
  absl::StatusOr<v1::Build> build = TriggerFor(f);
  ASSERT_TRUE(build.ok());
  ASSERT_EQ(WaitForStatus(f, build->id(), {v1::RUNNING}).status(), v1::RUNNING);
  ASSERT_TRUE(f.core().CancelBuild(build->id()).ok());
  v1::Build done = WaitForStatus(f, build->id(), {v1::CANCELLED, v1::FAILED, v1::SUCCEEDED});
  EXPECT_EQ(done.status(), v1::CANCELLED);
}

}  // namespace
}  // namespace tempa::worker
