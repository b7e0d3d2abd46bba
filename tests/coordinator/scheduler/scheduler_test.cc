// The scheduler's queueing: coalescing of pushes, dispatch order, cache affinity, per-app
// limits, fairness and restore after a coordinator restart.
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/scheduler/scheduler_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SchedulerTest = SchedulerFixture;

TEST_F(SchedulerTest, SubmitQueuesTheBuildWithItsQueuedTime) {
  BuildChanges changes = Submit("web", "main", 1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].id(), "b-1");
  EXPECT_EQ(changes[0].status(), v1::QUEUED);
  EXPECT_EQ(changes[0].queued_unix_ms(), absl::ToUnixMillis(now_));
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
}

TEST_F(SchedulerTest, FivePushesToOneBranchLeaveOnlyTheNewestQueued) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    BuildChanges changes = Submit("web", "main", seq);
    ASSERT_FALSE(changes.empty());
    EXPECT_EQ(changes[0].id(), absl::StrCat("b-", seq)) << "the new record comes first";
    if (seq > 1) {
      ASSERT_EQ(changes.size(), 2u);
      EXPECT_EQ(changes[1].id(), absl::StrCat("b-", seq - 1));
      EXPECT_EQ(changes[1].status(), v1::SUPERSEDED);
      EXPECT_EQ(changes[1].superseded_by(), absl::StrCat("b-", seq));
      EXPECT_EQ(changes[1].finished_unix_ms(), absl::ToUnixMillis(now_));
      EXPECT_EQ(changes[1].error().kind(), "superseded");
    }
  }
  for (int seq = 1; seq <= 4; ++seq) EXPECT_EQ(StatusOf(absl::StrCat("b-", seq)), v1::SUPERSEDED);
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
  auto assigned = Dispatch({"w1", "w2", "w3"});
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].build.id(), "b-5");
}

TEST_F(SchedulerTest, APushAsksTheRunningBuildOfItsBranchToStopAndItEndsSuperseded) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  ASSERT_EQ(a.size(), 1u);
  BuildChanges changes = Submit("web", "main", 2);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].id(), "b-1");
  EXPECT_EQ(changes[1].status(), v1::RUNNING);
  EXPECT_TRUE(changes[1].cancel_requested());
  EXPECT_EQ(changes[1].superseded_by(), "b-2");

  std::vector<std::string> cancel, lost;
  BuildChanges hb;
  scheduler_.Heartbeat("w1", {a[0].build.lease_id()}, now_, &cancel, &lost, &hb);
  EXPECT_THAT(cancel, ElementsAre(a[0].build.lease_id()));
  EXPECT_TRUE(lost.empty());

  ASSERT_TRUE(Complete(a[0], Cancelled()));
  EXPECT_EQ(StatusOf("b-1"), v1::SUPERSEDED);
  EXPECT_EQ(store_.at("b-1").superseded_by(), "b-2");
  EXPECT_EQ(StatusOf("b-2"), v1::QUEUED);
}

TEST_F(SchedulerTest, ASupersededBuildThatSucceededAnywayEndsSuperseded) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  Submit("web", "main", 2);
  ASSERT_TRUE(Complete(a[0], Succeeded("reg/web@sha256:01")));
  EXPECT_EQ(StatusOf("b-1"), v1::SUPERSEDED);
  EXPECT_EQ(store_.at("b-1").image(), "reg/web@sha256:01") << "what was pushed stays visible";
}

TEST_F(SchedulerTest, AnOlderDeliveryArrivingAfterANewerOneIsSupersededAtOnce) {
  Submit("web", "main", 7);
  BuildChanges changes = Submit("web", "main", 6);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].id(), "b-6");
  EXPECT_EQ(changes[0].status(), v1::SUPERSEDED);
  EXPECT_EQ(changes[0].superseded_by(), "b-7");
  EXPECT_EQ(StatusOf("b-7"), v1::QUEUED);
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
}

TEST_F(SchedulerTest, AnOlderDeliveryAfterTheNewerOneSucceededIsNotBuilt) {
  Submit("web", "main", 7);
  auto a = Dispatch({"w1"});
  ASSERT_TRUE(Complete(a[0], Succeeded()));
  BuildChanges changes = Submit("web", "main", 6);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status(), v1::SUPERSEDED);
  EXPECT_EQ(scheduler_.QueuedCount(), 0);
}

TEST_F(SchedulerTest, PushesToOtherBranchesAndAppsDoNotSupersede) {
  Submit("web", "main", 1);
  Submit("web", "dev", 2);
  Submit("api", "main", 3);
  EXPECT_EQ(scheduler_.QueuedCount(), 3);
  for (const auto& [id, b] : store_) EXPECT_EQ(b.status(), v1::QUEUED) << id;
}

TEST_F(SchedulerTest, AResubmittedIdChangesNothing) {
  Submit("web", "main", 1);
  EXPECT_TRUE(Submit("web", "main", 1).empty());
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
}

TEST_F(SchedulerTest, DispatchMakesTheRecordRunningWithAFreshLease) {
  Submit("web", "main", 1);
  now_ += absl::Seconds(5);
  BuildChanges changes;
  auto a = scheduler_.Dispatch({"w1"}, now_, &changes);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(changes.size(), 1u);
  const v1::Build& b = a[0].build;
  EXPECT_EQ(a[0].worker_id, "w1");
  EXPECT_EQ(b.status(), v1::RUNNING);
  EXPECT_EQ(b.worker_id(), "w1");
  EXPECT_EQ(b.attempt(), 1);
  EXPECT_EQ(b.lease_id(), "b-1@1");
  EXPECT_EQ(b.started_unix_ms(), absl::ToUnixMillis(now_));
  EXPECT_EQ(b.lease_expires_unix_ms(), absl::ToUnixMillis(now_ + absl::Seconds(30)));
  EXPECT_EQ(changes[0].SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(scheduler_.RunningCount(), 1);
  EXPECT_THAT(scheduler_.RunningOn("w1"), ElementsAre("b-1"));
}

TEST_F(SchedulerTest, DispatchPrefersTheAppsLastWorkerWhenItIsWaiting) {
  Submit("web", "main", 1);
  auto first = Dispatch({"w2"});
  ASSERT_TRUE(Complete(first[0], Succeeded()));
  Submit("web", "main", 2);
  auto a = Dispatch({"w1", "w2", "w3"});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].worker_id, "w2");
}

TEST_F(SchedulerTest, AWorkerThatLeftForGoodIsNoLongerPreferred) {
  Submit("web", "main", 1);
  auto first = Dispatch({"w2"});
  ASSERT_TRUE(Complete(first[0], Succeeded()));
  scheduler_.WorkerGone("w2");
  Submit("web", "main", 2);
  auto a = Dispatch({"w1", "w2"});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].worker_id, "w1");
}

TEST_F(SchedulerTest, DispatchDoesNotWaitForABusyPreferredWorker) {
  Submit("web", "a", 1);
  auto first = Dispatch({"w2"});
  Submit("web", "b", 2);
  auto a = Dispatch({"w1"});  // w2 is busy with b-1
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].worker_id, "w1");
  EXPECT_EQ(a[0].build.id(), "b-2");
}

TEST_F(SchedulerTest, ABuildWithoutAWarmWorkerTakesOneNoWaitingAppIsWarmOn) {
  // api was last built on w1 and has a build queued; web has never been served, so it goes
  // first, and must not take w1 from api while w3 is free.
  Submit("api", "main", 1);
  auto first = Dispatch({"w1"});
  ASSERT_TRUE(Complete(first[0], Succeeded()));
  Submit("api", "main", 2);
  Submit("web", "main", 3);
  auto a = Dispatch({"w1", "w3"});
  ASSERT_EQ(a.size(), 2u);
  std::map<std::string, std::string> on;
  for (const auto& x : a) on[x.build.app()] = x.worker_id;
  EXPECT_EQ(on["api"], "w1");
  EXPECT_EQ(on["web"], "w3");
}

TEST_F(SchedulerTest, AWorkerListedTwiceGetsTwoBuilds) {
  Submit("web", "a", 1);
  Submit("api", "a", 2);
  auto a = Dispatch({"w1", "w1"});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].worker_id, "w1");
  EXPECT_EQ(a[1].worker_id, "w1");
  EXPECT_EQ(scheduler_.RunningOn("w1").size(), 2u);
}

TEST_F(SchedulerTest, PerAppConcurrencyLimitHoldsBackTheThirdBuild) {
  Submit("web", "a", 1);
  Submit("web", "b", 2);
  Submit("web", "c", 3);
  auto a = Dispatch({"w1", "w2", "w3"});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].build.id(), "b-1");
  EXPECT_EQ(a[1].build.id(), "b-2");
  EXPECT_TRUE(Dispatch({"w3"}).empty());
  ASSERT_TRUE(Complete(a[0], Succeeded()));
  auto b = Dispatch({"w3"});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].build.id(), "b-3");
}

TEST_F(SchedulerTest, AnAppsOwnLimitOverridesTheDefault) {
  v1::App app;
  app.set_name("web");
  app.set_max_concurrent_builds(1);
  scheduler_.PutApp(app);
  Submit("web", "a", 1);
  Submit("web", "b", 2);
  EXPECT_EQ(Dispatch({"w1", "w2"}).size(), 1u);
  app.set_max_concurrent_builds(3);
  scheduler_.PutApp(app);
  EXPECT_EQ(Dispatch({"w2"}).size(), 1u) << "a raised limit takes effect at once";
}

TEST_F(SchedulerTest, AppWithManyBuildsDoesNotStarveAnother) {
  v1::App big;
  big.set_name("big");
  big.set_max_concurrent_builds(1000);
  scheduler_.PutApp(big);
  for (uint64_t seq = 1; seq <= 100; ++seq) Submit("big", absl::StrCat("branch-", seq), seq);
  ASSERT_EQ(Dispatch({"w1"}).size(), 1u);  // big has been served
  Submit("small", "main", 101);
  auto a = Dispatch({"w2"});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].build.app(), "small");
}

TEST_F(SchedulerTest, AppsWithQueuedBuildsTakeTurns) {
  for (uint64_t seq = 1; seq <= 6; ++seq) Submit("a", absl::StrCat("br", seq), seq);
  for (uint64_t seq = 7; seq <= 12; ++seq) Submit("b", absl::StrCat("br", seq), seq);
  for (uint64_t seq = 13; seq <= 18; ++seq) Submit("c", absl::StrCat("br", seq), seq);
  auto assigned = Dispatch({"w1", "w2", "w3", "w4", "w5", "w6"});
  ASSERT_EQ(assigned.size(), 6u);
  std::vector<std::string> order;
  for (const auto& x : assigned) order.push_back(x.build.id());
  // Round-robin, oldest first in each app; two each (the default limit).
  EXPECT_THAT(order, ElementsAre("b-1", "b-7", "b-13", "b-2", "b-8", "b-14"));
}

TEST_F(SchedulerTest, RestoredQueuedBuildsDispatchInSequenceOrder) {
  Submit("web", "c", 3);
  Submit("web", "a", 1);
  Submit("web", "b", 2);
  now_ += absl::Minutes(1);
  RestartFromStore();
  EXPECT_EQ(scheduler_.QueuedCount(), 3);
  auto a = Dispatch({"w1"});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].build.id(), "b-1");
}

TEST_F(SchedulerTest, RestoredBuildsStillCoalesceWithNewPushes) {
  Submit("web", "main", 1);
  auto a = Dispatch({"w1"});
  Submit("web", "dev", 2);
  RestartFromStore();
  Submit("web", "main", 3);
  Submit("web", "dev", 4);
  EXPECT_TRUE(store_.at("b-1").cancel_requested());
  EXPECT_EQ(StatusOf("b-2"), v1::SUPERSEDED);
  EXPECT_EQ(scheduler_.QueuedCount(), 2);
}

TEST_F(SchedulerTest, RemovedAppFallsBackToTheDefaultLimit) {
  v1::App app;
  app.set_name("web");
  app.set_max_concurrent_builds(1);
  scheduler_.PutApp(app);
  Submit("web", "a", 1);
  Submit("web", "b", 2);
  EXPECT_EQ(Dispatch({"w1", "w2"}).size(), 1u);
  scheduler_.RemoveApp("web");
  EXPECT_EQ(Dispatch({"w2"}).size(), 1u);
}

TEST_F(SchedulerTest, UnfinishedOfListsAnAppsQueuedAndRunningBuildsForTheCallerToCancel) {
  Submit("web", "a", 1);
  Submit("web", "b", 2);
  Submit("api", "a", 3);
  Submit("web", "c", 4);
  Dispatch({"w1"});
  EXPECT_THAT(scheduler_.UnfinishedOf("web"), ::testing::UnorderedElementsAre("b-1", "b-2", "b-4"));
  for (const std::string& id : scheduler_.UnfinishedOf("web")) {
    BuildChanges changes;
    ASSERT_TRUE(scheduler_.Cancel(id, now_, &changes));
  }
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
  auto a = Dispatch({"w2"});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].build.app(), "api");
}

TEST_F(SchedulerTest, ASecondBuildWithTheSameSequenceChangesNothing) {
  Submit("web", "main", 1);
  v1::Build twin = NewBuild("web", "main", 1);
  twin.set_id("b-x");
  EXPECT_TRUE(scheduler_.Submit(twin, now_).empty());
  EXPECT_EQ(scheduler_.QueuedCount(), 1);
}

}  // namespace
}  // namespace tempa::coordinator
