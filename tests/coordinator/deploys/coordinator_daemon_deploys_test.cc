// tempa-coordinator as a process with --deployer: builds that succeed while the deployer is down
// are delivered, once each, when it comes up; an intent pending when the coordinator is killed
// (SIGKILL) is delivered by the restarted one. The deployer is the in-process fake; the test
// plays the worker over the WorkerService.
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tempa/v1/worker.grpc.pb.h"
#include "tests/coordinator/deploys/fake_deployer.h"
#include "tests/e2e/daemon_process.h"
#include "tests/support/temp_dir.h"

namespace tempa::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kAdmin[] = "admin-token-0123456789abcdef";
constexpr char kWorker[] = "worker-token-0123456789abcdef";

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(60)) {
  absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return done();
}

class CoordinatorDaemonDeploysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = absl::StrCat("127.0.0.1:", tempa::testing::PickFreePort());
    tokens_ = dir_.Join("tokens");
    {
      std::ofstream out(tokens_);
      out << "admin " << kAdmin << " operator\nworker " << kWorker << " fleet\n";
    }
    ::chmod(tokens_.c_str(), 0600);
    ::mkdir(dir_.Join("state").c_str(), 0700);
    StartCoordinator();
  }

  void StartCoordinator() {
    size_t from = coordinator_ ? coordinator_->log_size() : 0;
    coordinator_.reset();
    absl::StatusOr<std::unique_ptr<tempa::testing::DaemonProcess>> started =
        tempa::testing::DaemonProcess::Start(
            {absl::StrCat(TEMPA_BINARY_DIR, "/coordinator/tempa-coordinator"), "--listen", address_,
             "--webhook-listen", "127.0.0.1:0", "--data-dir", dir_.Join("state"), "--registry",
             "127.0.0.1:5999", "--token-file", tokens_, "--deployer", deployer_.target()},
            dir_.Join("coordinator.log"));
    ASSERT_TRUE(started.ok()) << started.status();
    coordinator_ = *std::move(started);
    ASSERT_TRUE(
        coordinator_->WaitForLine("tempa-coordinator: gRPC on", absl::Seconds(30), from).ok())
        << coordinator_->log();
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }

  std::string RunBuild(const std::string& commit) {
    auto control = v1::ControlService::NewStub(channel_);
    auto workers = v1::WorkerService::NewStub(channel_);
    v1::TriggerBuildRequest trigger;
    trigger.set_app("web");
    trigger.set_commit(commit);
    v1::Build build;
    grpc::Status status = control->TriggerBuild(Context(kAdmin).get(), trigger, &build);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::LeaseJobRequest lease;
    lease.set_worker_id("w1");
    lease.set_wait_ms(5000);
    v1::LeaseJobResponse leased;
    status = workers->LeaseJob(Context(kWorker).get(), lease, &leased);
    EXPECT_TRUE(status.ok() && leased.has_job()) << status.error_message();
    v1::CompleteJobRequest complete;
    complete.set_build_id(leased.job().build_id());
    complete.set_lease_id(leased.job().lease_id());
    complete.mutable_result()->set_succeeded(true);
    complete.mutable_result()->set_commit(commit);
    complete.mutable_result()->set_image(
        absl::StrCat(leased.job().image_repository(), "@sha256:", std::string(64, 'd')));
    v1::CompleteJobResponse completed;
    status = workers->CompleteJob(Context(kWorker).get(), complete, &completed);
    EXPECT_TRUE(status.ok() && completed.accepted()) << status.error_message();
    return leased.job().build_id();
  }

  v1::DeployStatus DeployStatusOf(const std::string& build_id) {
    v1::GetBuildRequest request;
    request.set_id(build_id);
    v1::Build build;
    if (!v1::ControlService::NewStub(channel_)
             ->GetBuild(Context(kAdmin).get(), request, &build)
             .ok()) {
      return v1::DEPLOY_STATUS_UNSPECIFIED;
    }
    return build.deploy().status();
  }

  tempa::testing::TempDir dir_{"tempa-daemon-deploys-"};
  FakeDeployer deployer_;  // down until Start
  std::string address_;
  std::string tokens_;
  std::unique_ptr<tempa::testing::DaemonProcess> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CoordinatorDaemonDeploysTest, BuildsThatSucceedWhileTheDeployerIsDownAreDeliveredOnceEach) {
  auto control = v1::ControlService::NewStub(channel_);
  v1::CreateAppRequest create;
  create.mutable_app()->set_name("web");
  create.mutable_app()->set_repo_url("https://git.example/web.git");
  v1::App app;
  ASSERT_TRUE(control->CreateApp(Context(kAdmin).get(), create, &app).ok());
  v1::UpdateAppRequest update;
  update.mutable_app()->set_name("web");
  update.add_update_mask("deploy_env");
  (*update.mutable_deploy_env())["SESSION_KEY"] = "daemon-s3cret";
  ASSERT_TRUE(control->UpdateApp(Context(kAdmin).get(), update, &app).ok());

  std::string first = RunBuild(std::string(40, '1'));
  std::string second = RunBuild(std::string(40, '2'));
  // Refused deliveries are retried (the log says so); nothing is lost meanwhile.
  ASSERT_TRUE(coordinator_->WaitForLine("retrying in", absl::Seconds(30)).ok())
      << coordinator_->log();
  EXPECT_EQ(DeployStatusOf(first), v1::DEPLOY_PENDING);

  deployer_.Start();
  ASSERT_TRUE(WaitUntil([&] {
    return DeployStatusOf(first) == v1::DEPLOYING && DeployStatusOf(second) == v1::DEPLOYING;
  })) << coordinator_->log();
  EXPECT_EQ(deployer_.submits("d-" + first), 1);
  EXPECT_EQ(deployer_.submits("d-" + second), 1);
  EXPECT_THAT(deployer_.env("d-" + first), ElementsAre(Pair("SESSION_KEY", "daemon-s3cret")));
  deployer_.SetStatus("d-" + first, v1::DEPLOY_SUPERSEDED, "a newer deploy came first");
  deployer_.SetStatus("d-" + second, v1::DEPLOYED, "", {"https://web.apps.example"});
  ASSERT_TRUE(WaitUntil([&] { return DeployStatusOf(second) == v1::DEPLOYED; }));
  EXPECT_EQ(DeployStatusOf(first), v1::DEPLOY_SUPERSEDED);

  // A build succeeds and the coordinator dies before delivering it: the next one does.
  deployer_.Stop();
  std::string third = RunBuild(std::string(40, '3'));
  coordinator_->Kill9();
  deployer_.Start();
  StartCoordinator();
  ASSERT_TRUE(WaitUntil([&] { return DeployStatusOf(third) == v1::DEPLOYING; }))
      << coordinator_->log();
  EXPECT_EQ(deployer_.submits("d-" + third), 1);
  EXPECT_EQ(deployer_.submits("d-" + first), 1);  // finished ones are not handed over again
  EXPECT_EQ(deployer_.submits("d-" + second), 1);
  EXPECT_EQ(deployer_.total_submits(), 3);
  EXPECT_EQ(coordinator_->log().find("daemon-s3cret"), std::string::npos);
}

}  // namespace
}  // namespace tempa::coordinator::testing
