// An app's start command (`tempa apps set NAME --start CMD`): stored with the app, kept across a
// restart, cleared by "", checked, and handed to the worker in the job of its next build.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/core/coordinator_fixture.h"

namespace tempa::coordinator::testing {
namespace {

using ::testing::HasSubstr;

void CreateApp(CoordinatorFixture& f, const std::string& name) {
  v1::CreateAppRequest request;
  request.mutable_app()->set_name(name);
  request.mutable_app()->set_repo_url("https://git.example.com/team/" + name + ".git");
  v1::App app;
  grpc::Status status = f.Control()->CreateApp(f.Context().get(), request, &app);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

grpc::Status SetStart(CoordinatorFixture& f, const std::string& name, const std::string& start,
                      v1::App* app) {
  v1::UpdateAppRequest request;
  request.mutable_app()->set_name(name);
  request.mutable_app()->set_start_command(start);
  request.add_update_mask("start_command");
  return f.Control()->UpdateApp(f.Context().get(), request, app);
}

v1::App Get(CoordinatorFixture& f, const std::string& name) {
  v1::GetAppRequest request;
  request.set_name(name);
  v1::App app;
  grpc::Status status = f.Control()->GetApp(f.Context().get(), request, &app);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return app;
}

std::optional<v1::Job> TriggerAndLease(CoordinatorFixture& f, const std::string& app) {
  v1::TriggerBuildRequest trigger;
  trigger.set_app(app);
  v1::Build build;
  grpc::Status status = f.Control()->TriggerBuild(f.Context().get(), trigger, &build);
  EXPECT_TRUE(status.ok()) << status.error_message();
  v1::LeaseJobRequest request;
  request.set_worker_id("w1");
  request.set_wait_ms(2000);
  v1::LeaseJobResponse response;
  status = f.Workers()->LeaseJob(f.Context(kWorkerToken).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (!response.has_job()) return std::nullopt;
  return response.job();
}

TEST(CoordinatorStartCommandTest, TheStartCommandIsStoredKeptAcrossARestartAndCleared) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  EXPECT_EQ(Get(f, "api").start_command(), "");

  v1::App app;
  grpc::Status status = SetStart(f, "api", "/app/api -greeting hello", &app);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(app.start_command(), "/app/api -greeting hello");
  EXPECT_EQ(app.repo_url(), "https://git.example.com/team/api.git");  // the rest untouched

  f.Restart();
  EXPECT_EQ(Get(f, "api").start_command(), "/app/api -greeting hello");

  status = SetStart(f, "api", "", &app);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(app.start_command(), "");
  f.Restart();
  EXPECT_EQ(Get(f, "api").start_command(), "");
}

TEST(CoordinatorStartCommandTest, TheNextBuildsJobCarriesTheStartCommand) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  std::optional<v1::Job> job = TriggerAndLease(f, "api");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->start_command(), "");  // the repository decides

  v1::App app;
  ASSERT_TRUE(SetStart(f, "api", "/app/api -greeting hi", &app).ok());
  CreateApp(f, "web");  // another app's job carries nothing of it
  ASSERT_TRUE(SetStart(f, "web", "gunicorn web:app", &app).ok());
  job = TriggerAndLease(f, "api");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->app(), "api");
  EXPECT_EQ(job->start_command(), "/app/api -greeting hi");
}

TEST(CoordinatorStartCommandTest, ABlankOrMultiLineStartCommandIsRefusedAndNothingChanges) {
  CoordinatorFixture f;
  CreateApp(f, "api");
  v1::App app;
  ASSERT_TRUE(SetStart(f, "api", "/app/api", &app).ok());
  for (const std::string& bad :
       {std::string("   "), std::string("/app/api\n/bin/evil"), std::string(5000, 'x')}) {
    grpc::Status status = SetStart(f, "api", bad, &app);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.substr(0, 20);
    EXPECT_THAT(status.error_message(), HasSubstr("start command"));
  }
  EXPECT_EQ(Get(f, "api").start_command(), "/app/api");
}

}  // namespace
}  // namespace tempa::coordinator::testing
