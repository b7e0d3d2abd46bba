// The scheduler's leases: heartbeats, expiry into a requeue, results, cancels, and leases that
// survive a coordinator restart.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/scheduler/scheduler_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using SchedulerLeaseTest = SchedulerFixture;

TEST_F(SchedulerLeaseTest, ExpiredLeaseRequeuesThenFailsAfterMaxAttempts) {
  Submit("web", "main", 1);
  std::vector<std::string> leases;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto a = Dispatch({absl::StrCat("w", attempt)});
    ASSERT_EQ(a.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(a[0].build.attempt(), attempt);
    leases.push_back(a[0].build.lease_id());
    BuildChanges progress;
    bool cancel = false;
    ASSERT_TRUE(
        scheduler_.Progress("b-1", a[0].build.lease_id(), "build", "", now_, &cancel, &progress));
    Persist(progress);
    EXPECT_EQ(scheduler_.NextExpiry(), now_ + absl::Seconds(30));
    now_ += absl::Seconds(29);
    EXPECT_TRUE(Expire().empty()) << "not expired before its time";
    now_ += absl::Seconds(1);
    BuildChanges expired = Expire();
    ASSERT_EQ(expired.size(), 1u);
    if (attempt < 3) {
      EXPECT_EQ(expired[0].status(), v1::QUEUED);
      EXPECT_TRUE(expired[0].lease_id().empty());
      EXPECT_EQ(scheduler_.QueuedCount(), 1);
    }
  }
  EXPECT_EQ(std::set<std::string>(leases.begin(), leases.end()).size(), 3u);
  const v1::Build& b = store_.at("b-1");
  EXPECT_EQ(b.status(), v1::FAILED);
  EXPECT_EQ(b.error().kind(), "lease_expired");
  EXPECT_EQ(b.error().step(), "build");
  EXPECT_THAT(b.error().reason(), HasSubstr("w3"));
  EXPECT_THAT(b.error().reason(), HasSubstr("3 attempts"));
  EXPECT_EQ(b.finished_unix_ms(), absl::ToUnixMillis(now_));
  EXPECT_EQ(scheduler_.QueuedCount() + scheduler_.RunningCount(), 0);
  EXPECT_EQ(scheduler_.NextExpiry(), absl::InfiniteFuture());
}

TEST_F(SchedulerLeaseTest, HeartbeatsKeepALeaseAlive) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  for (int i = 0; i < 5; ++i) {
    now_ += absl::Seconds(20);
    std::vector<std::string> cancel, lost;
    BuildChanges changes;
    scheduler_.Heartbeat("w1", {a[0].build.lease_id()}, now_, &cancel, &lost, &changes);
    EXPECT_THAT(lost, IsEmpty());
    EXPECT_THAT(changes, IsEmpty()) << "extensions are not written";
    EXPECT_TRUE(Expire().empty());
  }
  now_ += absl::Seconds(30);
  ASSERT_EQ(Expire().size(), 1u);
  EXPECT_EQ(StatusOf("b-1"), v1::QUEUED);
}

TEST_F(SchedulerLeaseTest, HeartbeatWithAnUnknownOrForeignLeaseReportsItLost) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  std::vector<std::string> cancel, lost;
  BuildChanges changes;
  scheduler_.Heartbeat("w2", {a[0].build.lease_id(), "b-99@1"}, now_, &cancel, &lost, &changes);
  EXPECT_THAT(lost, ElementsAre(a[0].build.lease_id(), "b-99@1"));
  EXPECT_THAT(cancel, IsEmpty());
  EXPECT_THAT(changes, IsEmpty());
}

TEST_F(SchedulerLeaseTest, ALeasePastItsExpiryIsLostEvenBeforeTheTimerRuns) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  now_ += absl::Seconds(31);
  std::vector<std::string> cancel, lost;
  BuildChanges changes;
  scheduler_.Heartbeat("w1", {a[0].build.lease_id()}, now_, &cancel, &lost, &changes);
  EXPECT_THAT(lost, ElementsAre(a[0].build.lease_id()));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status(), v1::QUEUED);
}

TEST_F(SchedulerLeaseTest, StaleLeaseResultIsRefused) {
  Submit("web", "main", 1);
  auto first = Dispatch({"w1"});
  now_ += absl::Seconds(31);
  Expire();
  auto second = Dispatch({"w2"});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].build.lease_id(), first[0].build.lease_id());

  BuildChanges changes;
  EXPECT_FALSE(scheduler_.Complete("b-1", first[0].build.lease_id(), Succeeded(), now_, &changes));
  EXPECT_THAT(changes, IsEmpty());
  EXPECT_EQ(StatusOf("b-1"), v1::RUNNING);
  bool cancel = false;
  EXPECT_FALSE(
      scheduler_.Progress("b-1", first[0].build.lease_id(), "push", "", now_, &cancel, &changes));
  EXPECT_THAT(changes, IsEmpty());

  ASSERT_TRUE(Complete(second[0], Succeeded()));
  EXPECT_EQ(StatusOf("b-1"), v1::SUCCEEDED);
  EXPECT_FALSE(Complete(second[0], Succeeded())) << "a finished build takes no second result";
}

TEST_F(SchedulerLeaseTest, CompleteCopiesTheResultIntoTheRecord) {
  Submit("web", "main", 1);
  now_ += absl::Seconds(1);
  auto a = Dispatch({"w1"});
  now_ += absl::Seconds(10);
  v1::BuildResult result = Succeeded("reg:5000/web@sha256:feed");
  result.set_language("go");
  result.set_commit(std::string(40, 'a'));
  result.add_layers()->set_digest("sha256:01");
  BuildChanges changes;
  ASSERT_TRUE(scheduler_.Complete("b-1", a[0].build.lease_id(), result, now_, &changes));
  ASSERT_EQ(changes.size(), 1u);
  const v1::Build& b = changes[0];
  EXPECT_EQ(b.status(), v1::SUCCEEDED);
  EXPECT_EQ(b.image(), "reg:5000/web@sha256:feed");
  EXPECT_EQ(b.language(), "go");
  EXPECT_EQ(b.commit(), std::string(40, 'a'));
  ASSERT_EQ(b.layers_size(), 1);
  EXPECT_EQ(b.layers(0).digest(), "sha256:01");
  EXPECT_EQ(b.worker_id(), "w1");
  EXPECT_EQ(b.finished_unix_ms(), absl::ToUnixMillis(now_));
  EXPECT_EQ(b.started_unix_ms(), absl::ToUnixMillis(now_ - absl::Seconds(10)));
  EXPECT_TRUE(b.lease_id().empty());
  EXPECT_EQ(scheduler_.RunningCount(), 0);
  EXPECT_THAT(scheduler_.RunningOn("w1"), IsEmpty());
}

TEST_F(SchedulerLeaseTest, AFailedResultKeepsTheWorkersErrorAndStep) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  BuildChanges changes;
  bool cancel = false;
  ASSERT_TRUE(
      scheduler_.Progress("b-1", a[0].build.lease_id(), "build", "", now_, &cancel, &changes));
  v1::BuildResult result;
  result.mutable_error()->set_kind("compile");
  result.mutable_error()->set_reason("main.go:3: undefined: x");
  ASSERT_TRUE(Complete(a[0], result));
  const v1::Build& b = store_.at("b-1");
  EXPECT_EQ(b.status(), v1::FAILED);
  EXPECT_EQ(b.error().kind(), "compile");
  EXPECT_EQ(b.error().step(), "build");
  EXPECT_EQ(b.error().reason(), "main.go:3: undefined: x");
}

TEST_F(SchedulerLeaseTest, ProgressRecordsTheStepAndTheResolvedCommit) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  BuildChanges changes;
  bool cancel = true;
  ASSERT_TRUE(scheduler_.Progress("b-1", a[0].build.lease_id(), "fetch", std::string(40, 'c'), now_,
                                  &cancel, &changes));
  EXPECT_FALSE(cancel);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].step(), "fetch");
  EXPECT_EQ(changes[0].commit(), std::string(40, 'c'));
  changes.clear();
  ASSERT_TRUE(
      scheduler_.Progress("b-1", a[0].build.lease_id(), "fetch", "", now_, &cancel, &changes));
  EXPECT_THAT(changes, IsEmpty()) << "nothing changed, nothing to write";
}

TEST_F(SchedulerLeaseTest, CancelOfAQueuedBuildEndsItAtOnce) {
  Submit("web", "main", 1);
  BuildChanges changes;
  ASSERT_TRUE(scheduler_.Cancel("b-1", now_, &changes));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status(), v1::CANCELLED);
  EXPECT_EQ(changes[0].error().kind(), "cancelled");
  EXPECT_EQ(scheduler_.QueuedCount(), 0);
  EXPECT_TRUE(Dispatch({"w1"}).empty());
  changes.clear();
  EXPECT_FALSE(scheduler_.Cancel("b-1", now_, &changes)) << "terminal: no change";
  EXPECT_FALSE(scheduler_.Cancel("b-404", now_, &changes));
  EXPECT_THAT(changes, IsEmpty());
}

TEST_F(SchedulerLeaseTest, CancelOfARunningBuildAsksItsWorkerAndEndsCancelled) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  BuildChanges changes;
  ASSERT_TRUE(scheduler_.Cancel("b-1", now_, &changes));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status(), v1::RUNNING);
  EXPECT_TRUE(changes[0].cancel_requested());
  bool cancel = false;
  ASSERT_TRUE(
      scheduler_.Progress("b-1", a[0].build.lease_id(), "build", "", now_, &cancel, &changes));
  EXPECT_TRUE(cancel);
  v1::BuildResult failed;  // the killed build looks failed to the worker; cancelled it is
  failed.mutable_error()->set_kind("timeout");
  ASSERT_TRUE(Complete(a[0], failed));
  EXPECT_EQ(StatusOf("b-1"), v1::CANCELLED);
  EXPECT_EQ(store_.at("b-1").error().kind(), "cancelled");
}

TEST_F(SchedulerLeaseTest, ACancelledBuildWhoseWorkerVanishedEndsCancelledAtExpiry) {
  Submit("web", "main", 1);
  Dispatch({"w1"});
  BuildChanges changes;
  ASSERT_TRUE(scheduler_.Cancel("b-1", now_, &changes));
  now_ += absl::Seconds(30);
  BuildChanges expired = Expire();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].status(), v1::CANCELLED);
  EXPECT_EQ(scheduler_.QueuedCount(), 0);
}

TEST_F(SchedulerLeaseTest, ACancelledBuildIsNotKeptAliveByHeartbeats) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  Submit("web", "main", 2);  // supersedes the running one
  now_ += absl::Seconds(20);
  std::vector<std::string> cancel, lost;
  BuildChanges changes;
  scheduler_.Heartbeat("w1", {a[0].build.lease_id()}, now_, &cancel, &lost, &changes);
  EXPECT_THAT(cancel, ElementsAre(a[0].build.lease_id()));
  now_ += absl::Seconds(10);
  BuildChanges expired = Expire();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].status(), v1::SUPERSEDED);
}

TEST_F(SchedulerLeaseTest, AWorkerGivingTheBuildBackRequeuesIt) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  ASSERT_TRUE(Complete(a[0], Cancelled()));
  EXPECT_EQ(StatusOf("b-1"), v1::QUEUED);
  auto b = Dispatch({"w2"});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].build.attempt(), 2);
}

TEST_F(SchedulerLeaseTest, ARestartedWorkersLeasesEndAtOnce) {
  Submit("web", "a", 1);
  Submit("api", "a", 2);
  Dispatch({"w1", "w1"});
  BuildChanges changes = scheduler_.ReleaseWorker("w1", now_);
  Persist(changes);
  EXPECT_EQ(changes.size(), 2u);
  EXPECT_EQ(scheduler_.QueuedCount(), 2);
  EXPECT_THAT(scheduler_.RunningOn("w1"), IsEmpty());
}

TEST_F(SchedulerLeaseTest, RestoredRunningBuildKeepsItsLeaseAndCanComplete) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  now_ += absl::Seconds(25);
  RestartFromStore();
  EXPECT_EQ(scheduler_.RunningCount(), 1);
  EXPECT_THAT(scheduler_.RunningOn("w1"), ElementsAre("b-1"));
  now_ += absl::Seconds(20);  // past the lease's original expiry, not past its restart
  EXPECT_TRUE(Expire().empty());
  std::vector<std::string> cancel, lost;
  BuildChanges changes;
  scheduler_.Heartbeat("w1", {a[0].build.lease_id()}, now_, &cancel, &lost, &changes);
  EXPECT_THAT(lost, IsEmpty());
  ASSERT_TRUE(Complete(a[0], Succeeded()));
  EXPECT_EQ(StatusOf("b-1"), v1::SUCCEEDED);
}

TEST_F(SchedulerLeaseTest, RestoredRunningBuildExpiresOneTtlAfterTheRestart) {
  Submit("web", "main", 1);
  Dispatch({"w1"});
  now_ += absl::Minutes(10);
  RestartFromStore();
  EXPECT_EQ(scheduler_.NextExpiry(), now_ + absl::Seconds(30));
  now_ += absl::Seconds(30);
  ASSERT_EQ(Expire().size(), 1u);
  EXPECT_EQ(StatusOf("b-1"), v1::QUEUED);
}

TEST_F(SchedulerLeaseTest, LeaseIdsAreNotReusedAcrossARestart) {
  Submit("web", "main", 1);
  auto first = Dispatch({"w1"});
  now_ += absl::Seconds(30);
  Expire();
  RestartFromStore();
  auto second = Dispatch({"w2"});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].build.lease_id(), first[0].build.lease_id());
  BuildChanges changes;
  EXPECT_FALSE(scheduler_.Complete("b-1", first[0].build.lease_id(), Succeeded(), now_, &changes));
}

}  // namespace
}  // namespace tempa::coordinator
