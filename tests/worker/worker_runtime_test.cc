// The worker's composition root as the daemon uses it: one runtime, builds from several threads
// at once (each with its own registry access, observers and counts), the CAS held for the
// runtime's lifetime, and a cancel passed with one build stopping only that one.
#include "worker/worker_runtime.h"

#include <sys/stat.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_registry.h"
#include "tests/support/temp_dir.h"
#include "tests/worker/scripted_app.h"

namespace tempa::worker {
namespace {

class WorkerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { ::chmod(tmp_.path().c_str(), 0711); }

  absl::StatusOr<std::unique_ptr<WorkerRuntime>> Open(
      absl::Duration lock_wait = absl::Seconds(30)) {
    WorkerRuntimeOptions options;
    options.cache_dir = tmp_.Join("cache");
    options.detector = std::make_shared<buildpacks::Detector>(testing::ScriptedDetector());
    options.cas_lock_wait = lock_wait;
    return WorkerRuntime::Open(std::move(options));
  }
  BuildRequest Request(const std::string& app, const std::string& repo) {
    BuildRequest request;
    request.source_dir = tmp_.Join(app);
    request.image = *registry::ImageReference::Parse(registry_.host_port() + "/" + repo + ":1");
    request.source_date_epoch = 1700000000;
    return request;
  }

  testing::TempDir tmp_{"runtime-test-"};
  testing::FakeRegistry registry_{testing::FakeRegistry::Options{}};
};

TEST_F(WorkerRuntimeTest, BuildsFromSeveralThreadsRunSideBySideOnOneRuntime) {
  absl::StatusOr<std::unique_ptr<WorkerRuntime>> runtime = Open();
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  // A waits inside its sandbox until B has finished: the two builds overlap.
  testing::WriteScriptedApp(tmp_.Join("a"), "lock a", "echo a > a.txt\n", "a");
  testing::WriteFileOrDie(tmp_.Join("a/app.sh"),
                          "echo waiting\nwhile [ ! -e /src/go ]; do sleep 0.05; done\n");
  testing::WriteScriptedApp(tmp_.Join("b"), "lock b", "echo b > b.txt\n", "b");
  absl::Notification a_waiting;
  std::vector<std::string> steps_a, steps_b;
  JobContext context_a;
  context_a.log = [&](absl::string_view line) {
    if (line == "waiting") a_waiting.Notify();
  };
  context_a.on_step = [&](absl::string_view step, absl::Duration, absl::string_view) {
    steps_a.emplace_back(step);
  };
  JobContext context_b;
  context_b.on_step = [&](absl::string_view step, absl::Duration, absl::string_view) {
    steps_b.emplace_back(step);
  };
  absl::StatusOr<JobOutcome> a = absl::UnknownError("not run");
  std::thread thread_a([&] { a = (*runtime)->Build(Request("a", "team/a"), context_a); });
  // Not a timing assertion: only keeps a build that never gets there from hanging the test.
  ASSERT_TRUE(a_waiting.WaitForNotificationWithTimeout(absl::Minutes(2)));
  absl::StatusOr<JobOutcome> b = (*runtime)->Build(Request("b", "team/b"), context_b);
  testing::WriteFileOrDie(tmp_.Join("a/go"), "");
  thread_a.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(a->build.image, ::testing::HasSubstr("/team/a@sha256:"));
  EXPECT_THAT(b->build.image, ::testing::HasSubstr("/team/b@sha256:"));
  EXPECT_EQ(steps_a.back(), "push");
  EXPECT_EQ(steps_b.back(), "push");
  // Each build's counts are its own: together they are what the registry saw.
  EXPECT_GT(a->registry_requests.put, 0);
  EXPECT_GT(b->registry_requests.put, 0);
  EXPECT_EQ(a->registry_requests.put + b->registry_requests.put, registry_.requests("PUT"));
}

TEST_F(WorkerRuntimeTest, ACancelStopsOnlyTheBuildItWasPassedWith) {
  absl::StatusOr<std::unique_ptr<WorkerRuntime>> runtime = Open();
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  testing::WriteScriptedApp(tmp_.Join("a"), "lock a",
                            "echo started\nwhile true; do sleep 1; done\n", "a");
  testing::WriteScriptedApp(tmp_.Join("b"), "lock b", "echo b > b.txt\n", "b");
  CancelToken cancel;
  absl::Notification started;
  JobContext context_a;
  context_a.cancel = &cancel;
  context_a.log = [&](absl::string_view line) {
    if (line == "started") started.Notify();
  };
  absl::StatusOr<JobOutcome> a = absl::UnknownError("not run");
  std::thread thread_a([&] { a = (*runtime)->Build(Request("a", "a"), context_a); });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Minutes(2)));
  cancel.Cancel();
  absl::StatusOr<JobOutcome> b = (*runtime)->Build(Request("b", "b"), JobContext{});
  thread_a.join();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(FailureOf(a.status())->kind, FailureKind::kCancelled) << a.status();
  EXPECT_TRUE(b.ok()) << b.status();
}

TEST_F(WorkerRuntimeTest, ASecondRuntimeOnTheSameCacheWaitsForTheFirst) {
  absl::StatusOr<std::unique_ptr<WorkerRuntime>> first = Open();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<WorkerRuntime>> second = Open(absl::Milliseconds(200));
  ASSERT_FALSE(second.ok());
  std::optional<BuildFailure> failure = FailureOf(second.status());
  ASSERT_TRUE(failure.has_value()) << second.status();
  EXPECT_EQ(failure->kind, FailureKind::kInternal);
  EXPECT_EQ(failure->step, "cache");
  first->reset();
  second = Open(absl::Milliseconds(200));
  EXPECT_TRUE(second.ok()) << second.status();
}

}  // namespace
}  // namespace tempa::worker
