// The coordinator through its gRPC services, as the CLI and workers call it.
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/core/coordinator_fixture.h"

namespace tempa::coordinator::testing {
namespace {

using ::testing::HasSubstr;

v1::App CreateApp(CoordinatorFixture& f, const std::string& name, const std::string& secret = "",
                  const std::string& token = "") {
  v1::CreateAppRequest request;
  request.mutable_app()->set_name(name);
  request.mutable_app()->set_repo_url("https://git.example.com/team/" + name + ".git");
  request.set_webhook_secret(secret);
  if (!token.empty()) request.mutable_git_credentials()->set_https_token(token);
  v1::App app;
  grpc::Status status = f.Control()->CreateApp(f.Context().get(), request, &app);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return app;
}

v1::Build Trigger(CoordinatorFixture& f, const std::string& app, const std::string& commit = "") {
  v1::TriggerBuildRequest request;
  request.set_app(app);
  request.set_commit(commit);
  v1::Build build;
  grpc::Status status = f.Control()->TriggerBuild(f.Context().get(), request, &build);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return build;
}

std::optional<v1::Job> Lease(CoordinatorFixture& f, const std::string& worker, int wait_ms = 2000) {
  v1::LeaseJobRequest request;
  request.set_worker_id(worker);
  request.set_wait_ms(wait_ms);
  v1::LeaseJobResponse response;
  grpc::Status status = f.Workers()->LeaseJob(f.Context(kWorkerToken).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (!response.has_job()) return std::nullopt;
  return response.job();
}

v1::Build Get(CoordinatorFixture& f, const std::string& id) {
  v1::GetBuildRequest request;
  request.set_id(id);
  v1::Build build;
  grpc::Status status = f.Control()->GetBuild(f.Context().get(), request, &build);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return build;
}

bool Complete(CoordinatorFixture& f, const v1::Job& job, bool succeeded) {
  v1::CompleteJobRequest request;
  request.set_build_id(job.build_id());
  request.set_lease_id(job.lease_id());
  request.mutable_result()->set_succeeded(succeeded);
  request.mutable_result()->set_commit(std::string(40, 'a'));
  if (succeeded) {
    request.mutable_result()->set_image(
        absl::StrCat(job.image_repository(), "@sha256:", std::string(64, 'b')));
  } else {
    request.mutable_result()->mutable_error()->set_kind("compile");
    request.mutable_result()->mutable_error()->set_step("build");
    request.mutable_result()->mutable_error()->set_reason("main.go:3: undefined: x");
  }
  v1::CompleteJobResponse response;
  grpc::Status status = f.Workers()->CompleteJob(f.Context(kWorkerToken).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.accepted();
}

TEST(CoordinatorServiceTest, TriggeredBuildIsLeasedBuiltAndSucceedsWithItsImage) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  v1::Build queued = Trigger(f, "api", "1a2b3c4d");
  EXPECT_EQ(queued.status(), v1::QUEUED);
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->build_id(), queued.id());
  EXPECT_EQ(job->image_repository(), "127.0.0.1:5999/api");
  EXPECT_EQ(job->commit(), "1a2b3c4d");
  EXPECT_EQ(Get(f, queued.id()).status(), v1::RUNNING);
  EXPECT_TRUE(Complete(f, *job, true));
  v1::Build done = Get(f, queued.id());
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  EXPECT_THAT(done.image(), HasSubstr("127.0.0.1:5999/api@sha256:"));
}

TEST(CoordinatorServiceTest, FailedBuildCarriesKindStepAndReason) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  Trigger(f, "api");
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  EXPECT_TRUE(Complete(f, *job, false));
  v1::Build done = Get(f, job->build_id());
  EXPECT_EQ(done.status(), v1::FAILED);
  EXPECT_EQ(done.error().kind(), "compile");
  EXPECT_EQ(done.error().step(), "build");
  EXPECT_THAT(done.error().reason(), HasSubstr("undefined"));
}

TEST(CoordinatorServiceTest, WatchStreamsLogLinesBeforeTheBuildEnds) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  v1::Build build = Trigger(f, "api");
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());

  v1::WatchBuildRequest watch;
  watch.set_id(build.id());
  auto ctx = f.Context(kReaderToken);
  std::unique_ptr<grpc::ClientReader<v1::BuildEvent>> reader =
      f.Control()->WatchBuild(ctx.get(), watch);
  v1::BuildEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.build().status(), v1::RUNNING);

  v1::ReportProgressRequest progress;
  progress.set_build_id(job->build_id());
  progress.set_lease_id(job->lease_id());
  progress.add_log_lines("compiling main.go");
  v1::ReportProgressResponse answer;
  ASSERT_TRUE(f.Workers()->ReportProgress(f.Context(kWorkerToken).get(), progress, &answer).ok());
  // The line arrives while the build is still running.
  bool saw_line = false;
  while (!saw_line && reader->Read(&event)) {
    if (event.has_log()) {
      EXPECT_EQ(event.log().text(), "compiling main.go");
      saw_line = true;
    }
  }
  ASSERT_TRUE(saw_line);
  EXPECT_EQ(Get(f, build.id()).status(), v1::RUNNING);
  EXPECT_TRUE(Complete(f, *job, true));
  v1::BuildStatus last = v1::RUNNING;
  while (reader->Read(&event)) {
    if (event.has_build()) last = event.build().status();
  }
  EXPECT_EQ(last, v1::SUCCEEDED);
  EXPECT_TRUE(reader->Finish().ok());
}

TEST(CoordinatorServiceTest, FivePushesInARowLeaveOnlyTheNewestToBuild) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  std::vector<v1::Build> builds;
  for (int i = 0; i < 5; ++i) builds.push_back(Trigger(f, "api", absl::StrCat("abcdef", i)));
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->build_id(), builds.back().id());
  EXPECT_FALSE(Lease(f, "w2", 100).has_value());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Get(f, builds[i].id()).status(), v1::SUPERSEDED);
}

TEST(CoordinatorServiceTest, ExpiredLeaseIsHandedToAnotherWorkerAndTheOldResultRefused) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  v1::Build build = Trigger(f, "api");
  std::optional<v1::Job> first = Lease(f, "w1");
  ASSERT_TRUE(first.has_value());
  f.clock().Advance(absl::Seconds(31));
  std::optional<v1::Job> second = Lease(f, "w2", 5000);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->build_id(), build.id());
  EXPECT_NE(second->lease_id(), first->lease_id());
  EXPECT_FALSE(Complete(f, *first, true));
  EXPECT_TRUE(Complete(f, *second, true));
  EXPECT_EQ(Get(f, build.id()).status(), v1::SUCCEEDED);
}

TEST(CoordinatorServiceTest, RestartKeepsQueuedAndRunningBuildsAndTheirLeases) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  CreateApp(f, "web");
  v1::Build running = Trigger(f, "api");
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  v1::Build queued = Trigger(f, "web");
  f.Restart();
  EXPECT_EQ(Get(f, queued.id()).status(), v1::QUEUED);
  EXPECT_EQ(Get(f, running.id()).status(), v1::RUNNING);
  // The worker that held the lease before the crash still completes under it.
  EXPECT_TRUE(Complete(f, *job, true));
  std::optional<v1::Job> next = Lease(f, "w1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->build_id(), queued.id());
  // Build ids keep counting: nothing is reused after the restart.
  v1::Build later = Trigger(f, "api");
  EXPECT_NE(later.id(), running.id());
  EXPECT_NE(later.id(), queued.id());
}

TEST(CoordinatorServiceTest, SecretsAreSealedAtRestNeverAnsweredAndGoOnlyToTheLeasedWorker) {
  CoordinatorFixture f;
  const std::string secret = "webhook-secret-value-123";
  const std::string token = "ghp_privatetokenvalue456";
  v1::App created = CreateApp(f, "api", secret, token);
  EXPECT_TRUE(created.has_webhook_secret());
  EXPECT_TRUE(created.has_git_credentials());
  v1::ListAppsResponse apps;
  ASSERT_TRUE(f.Control()->ListApps(f.Context().get(), v1::ListAppsRequest(), &apps).ok());
  std::string answered = apps.SerializeAsString() + created.SerializeAsString();
  EXPECT_THAT(answered, ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(answered, ::testing::Not(HasSubstr(token)));
  absl::StatusOr<std::optional<std::string>> stored = f.store().GetSecret("api", kWebhookSecret);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_THAT(**stored, ::testing::Not(HasSubstr(secret)));
  Trigger(f, "api");
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->git_credentials().https_token(), token);
}

TEST(CoordinatorServiceTest, TokensAreCheckedOnEveryCall) {
  CoordinatorFixture f;
  v1::CreateAppRequest request;
  request.mutable_app()->set_name("api");
  request.mutable_app()->set_repo_url("https://git.example.com/api.git");
  v1::App app;
  EXPECT_EQ(f.Control()->CreateApp(f.Context("").get(), request, &app).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(f.Control()
                ->CreateApp(f.Context("not-a-token-at-all-xxxx").get(), request, &app)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(f.Control()->CreateApp(f.Context(kWorkerToken).get(), request, &app).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(f.Control()->CreateApp(f.Context(kReaderToken).get(), request, &app).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListAppsResponse apps;
  EXPECT_TRUE(f.Control()->ListApps(f.Context(kReaderToken).get(), {}, &apps).ok());
  EXPECT_EQ(apps.apps_size(), 0);  // the refused creates left nothing
  v1::LeaseJobRequest lease;
  lease.set_worker_id("w1");
  v1::LeaseJobResponse job;
  EXPECT_EQ(f.Workers()->LeaseJob(f.Context(kReaderToken).get(), lease, &job).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(CoordinatorServiceTest, BadInputIsRefusedNamingTheFix) {
  CoordinatorFixture f;
  v1::CreateAppRequest request;
  request.mutable_app()->set_name("Bad Name");
  request.mutable_app()->set_repo_url("https://git.example.com/api.git");
  v1::App app;
  grpc::Status status = f.Control()->CreateApp(f.Context().get(), request, &app);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("lowercase"));
  v1::TriggerBuildRequest trigger;
  trigger.set_app("missing");
  v1::Build build;
  status = f.Control()->TriggerBuild(f.Context().get(), trigger, &build);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("tempa apps create"));
}

TEST(CoordinatorServiceTest, SameDeliveryTwiceMakesOneBuild) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  std::vector<PushTarget> targets = {{"api", "main", std::string(40, 'c')}};
  absl::StatusOr<std::vector<AcceptedBuild>> first = f.core().AcceptPush("delivery-1", targets);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::vector<AcceptedBuild>> again = f.core().AcceptPush("delivery-1", targets);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(first->size(), 1u);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*first)[0].build_id, (*again)[0].build_id);
  f.Restart();  // the delivery id is remembered across restarts
  absl::StatusOr<std::vector<AcceptedBuild>> after = f.core().AcceptPush("delivery-1", targets);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[0].build_id, (*first)[0].build_id);
  absl::StatusOr<std::vector<v1::Build>> builds = f.core().ListBuilds("api", 10);
  ASSERT_TRUE(builds.ok());
  EXPECT_EQ(builds->size(), 1u);
}

TEST(CoordinatorServiceTest, CancelStopsAQueuedBuildAtOnceAndTellsARunningOnesWorker) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  CreateApp(f, "web");
  v1::Build running = Trigger(f, "api");
  std::optional<v1::Job> job = Lease(f, "w1");
  ASSERT_TRUE(job.has_value());
  v1::Build queued = Trigger(f, "web");
  v1::CancelBuildRequest cancel;
  cancel.set_id(queued.id());
  v1::Build answer;
  ASSERT_TRUE(f.Control()->CancelBuild(f.Context().get(), cancel, &answer).ok());
  EXPECT_EQ(answer.status(), v1::CANCELLED);
  cancel.set_id(running.id());
  ASSERT_TRUE(f.Control()->CancelBuild(f.Context().get(), cancel, &answer).ok());
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id("w1");
  heartbeat.add_lease_ids(job->lease_id());
  v1::HeartbeatResponse beat;
  ASSERT_TRUE(f.Workers()->Heartbeat(f.Context(kWorkerToken).get(), heartbeat, &beat).ok());
  ASSERT_EQ(beat.cancel_lease_ids_size(), 1);
  EXPECT_EQ(beat.cancel_lease_ids(0), job->lease_id());
  v1::CompleteJobRequest done;
  done.set_build_id(job->build_id());
  done.set_lease_id(job->lease_id());
  done.mutable_result()->set_cancelled(true);
  v1::CompleteJobResponse accepted;
  ASSERT_TRUE(f.Workers()->CompleteJob(f.Context(kWorkerToken).get(), done, &accepted).ok());
  EXPECT_EQ(Get(f, running.id()).status(), v1::CANCELLED);
}

TEST(CoordinatorServiceTest, LayerIndexFindsWhatAnotherWorkerPut) {
  CoordinatorFixture f;
  v1::PutLayerRequest put;
  v1::LayerCacheEntry* entry = put.mutable_entry();
  entry->set_key("deps:python:abc");
  entry->set_repository("127.0.0.1:5999/api");
  entry->mutable_layer()->set_digest("sha256:" + std::string(64, 'd'));
  entry->mutable_layer()->set_diff_id("sha256:" + std::string(64, 'e'));
  entry->mutable_layer()->set_size(1234);
  v1::PutLayerResponse ok;
  ASSERT_TRUE(f.Layers()->PutLayer(f.Context(kWorkerToken).get(), put, &ok).ok());
  v1::FindLayerRequest find;
  find.set_key("deps:python:abc");
  v1::FindLayerResponse found;
  ASSERT_TRUE(f.Layers()->FindLayer(f.Context(kWorkerToken).get(), find, &found).ok());
  EXPECT_TRUE(found.found());
  EXPECT_EQ(found.entry().repository(), "127.0.0.1:5999/api");
  // A mount source outside the farm's registry is refused.
  entry->set_repository("evil.example.com/x");
  EXPECT_EQ(f.Layers()->PutLayer(f.Context(kWorkerToken).get(), put, &ok).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace tempa::coordinator::testing

namespace tempa::coordinator::testing {
namespace {

TEST(CoordinatorLeaseTest, AGuessedLeaseIdCannotCompleteAnotherWorkersBuild) {
  CoordinatorFixture f;
  v1::CreateAppRequest create;
  create.mutable_app()->set_name("api");
  create.mutable_app()->set_repo_url("https://git.example.com/api.git");
  ASSERT_TRUE(f.core().CreateApp(create).ok());
  v1::TriggerBuildRequest trigger;
  trigger.set_app("api");
  absl::StatusOr<v1::Build> build = f.core().TriggerBuild(trigger);
  ASSERT_TRUE(build.ok());
  v1::LeaseJobRequest lease;
  lease.set_worker_id("w1");
  lease.set_wait_ms(2000);
  v1::LeaseJobResponse job;
  ASSERT_TRUE(f.Workers()->LeaseJob(f.Context(kWorkerToken).get(), lease, &job).ok());
  ASSERT_TRUE(job.has_job());
  // The id names the build and the attempt, and a secret no other worker was told.
  EXPECT_THAT(job.job().lease_id(), ::testing::StartsWith(build->id() + "@1."));
  v1::CompleteJobRequest forged;
  forged.set_build_id(build->id());
  forged.set_lease_id(build->id() + "@1");
  forged.mutable_result()->set_succeeded(true);
  forged.mutable_result()->set_image("127.0.0.1:5999/api@sha256:" + std::string(64, '6'));
  v1::CompleteJobResponse answer;
  ASSERT_TRUE(f.Workers()->CompleteJob(f.Context(kWorkerToken).get(), forged, &answer).ok());
  EXPECT_FALSE(answer.accepted());
  absl::StatusOr<v1::Build> still = f.core().GetBuild(build->id());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->status(), v1::RUNNING);
  EXPECT_TRUE(still->image().empty());
}

}  // namespace
}  // namespace tempa::coordinator::testing

namespace tempa::coordinator::testing {
namespace {

TEST(CoordinatorDeliveryTest, ARefusedPushLeavesNoBuildBehindEvenAfterARestart) {
  CoordinatorFixture f;
  for (const char* name : {"api", "web"}) {
    v1::CreateAppRequest create;
    create.mutable_app()->set_name(name);
    create.mutable_app()->set_repo_url("https://git.example.com/shared.git");
    ASSERT_TRUE(f.core().CreateApp(create).ok());
  }
  // The first target is fine, the second names no commit: nothing at all may be queued.
  std::vector<PushTarget> targets = {{"api", "main", std::string(40, 'a')},
                                     {"web", "main", "not-a-commit"}};
  EXPECT_EQ(f.core().AcceptPush("d-1", targets).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(f.core().ListBuilds("", 10)->empty());
  EXPECT_EQ(f.core().stats().queued, 0);
  v1::LeaseJobRequest lease;
  lease.set_worker_id("w1");
  lease.set_wait_ms(100);
  v1::LeaseJobResponse job;
  ASSERT_TRUE(f.Workers()->LeaseJob(f.Context(kWorkerToken).get(), lease, &job).ok());
  EXPECT_FALSE(job.has_job());
  // A SHA-256 repository's 64-digit commit is a commit.
  targets[1].commit = std::string(64, 'b');
  absl::StatusOr<std::vector<AcceptedBuild>> accepted = f.core().AcceptPush("d-2", targets);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->size(), 2u);
}

}  // namespace
}  // namespace tempa::coordinator::testing
