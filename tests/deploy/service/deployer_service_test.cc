// tempa-deployer in process: RunDeployer over a scripted backend, called through a real gRPC
// channel on a loopback port, the way the coordinator calls it.
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/grpc/client.h"
#include "deploy/service/deployer_daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/deploy.grpc.pb.h"
#include "tests/deploy/core/deploy_test_util.h"
#include "tests/deploy/core/fake_deploy_backend.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using tempa::v1::Deploy;
using testing::FakeDeployBackend;
using ::testing::HasSubstr;
using testing::MakeRequest;

constexpr char kToken[] = "deployer-token-0123456789abcdef";

// RunDeployer owns its backend; the test keeps the fake and hands over this.
class ForwardingBackend final : public DeployBackend {
 public:
  explicit ForwardingBackend(DeployBackend* to) : to_(to) {}
  DeployOutcome Deploy(const Release& release, DeployObserver& observer) override {
    return to_->Deploy(release, observer);
  }
  absl::Status Recover() override { return to_->Recover(); }
  std::string name() const override { return to_->name(); }

 private:
  DeployBackend* to_;
};

class DeployerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tempa::testing::WriteFileOrDie(dir_.Join("token"), std::string(kToken) + "\n");
    ASSERT_EQ(chmod(dir_.Join("token").c_str(), 0600), 0);
    options_.listen = "127.0.0.1:0";
    options_.work_dir = dir_.Join("work");
    options_.domain = "apps.test";
    options_.token_file = dir_.Join("token");
    options_.shutdown_grace = absl::Milliseconds(200);
    runner_ = std::thread([this] {
      result_ = RunDeployer(options_, std::make_unique<ForwardingBackend>(&backend_), &stop_,
                            [this](int port) {
                              port_ = port;
                              listening_.Notify();
                            });
      if (!listening_.HasBeenNotified()) listening_.Notify();
    });
    listening_.WaitForNotification();
    ASSERT_GT(port_, 0) << result_;
    client_.target = "127.0.0.1:" + std::to_string(port_);
    client_.token = kToken;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(client_);
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = *channel;
    stub_ = tempa::v1::DeployerService::NewStub(channel_);
  }

  void TearDown() override { StopDeployer(); }

  void StopDeployer() {
    if (!runner_.joinable()) return;
    stop_.Notify();
    runner_.join();
    EXPECT_TRUE(result_.ok()) << result_;
  }

  grpc::Status Submit(const tempa::v1::DeployRequest& request, Deploy* out,
                      const std::string& token = kToken) {
    grpc::ClientContext ctx;
    rpc::ClientOptions opts = client_;
    opts.token = token;
    rpc::PrepareContext(&ctx, opts, absl::Seconds(30));
    return stub_->SubmitDeploy(&ctx, request, out);
  }

  // Every record WatchDeploy streams for `id`, and how the stream ended.
  grpc::Status Watch(const std::string& id, std::vector<Deploy>* seen,
                     absl::Notification* first = nullptr) {
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, client_, absl::Seconds(60));
    tempa::v1::GetDeployRequest request;
    request.set_id(id);
    std::unique_ptr<grpc::ClientReader<Deploy>> reader = stub_->WatchDeploy(&ctx, request);
    Deploy deploy;
    while (reader->Read(&deploy)) {
      seen->push_back(deploy);
      if (first != nullptr && !first->HasBeenNotified()) first->Notify();
    }
    return reader->Finish();
  }

  tempa::testing::TempDir dir_;
  FakeDeployBackend backend_;
  DeployerOptions options_;
  absl::Notification stop_;
  absl::Notification listening_;
  std::thread runner_;
  absl::Status result_;
  int port_ = 0;
  rpc::ClientOptions client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<tempa::v1::DeployerService::Stub> stub_;
};

TEST_F(DeployerServiceTest, EveryCallNeedsTheTokenButHealthIsOpen) {
  Deploy out;
  grpc::Status none = Submit(MakeRequest("d-1"), &out, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("token"));
  grpc::Status wrong = Submit(MakeRequest("d-1"), &out, "not-the-deployer-token-at-all");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), ::testing::Not(HasSubstr(kToken)));
  // Almost the token: one character short.
  std::string almost(kToken);
  almost.pop_back();
  EXPECT_EQ(Submit(MakeRequest("d-1"), &out, almost).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext ctx;
    tempa::v1::ListDeploysResponse list;
    EXPECT_EQ(stub_->ListDeploys(&ctx, tempa::v1::ListDeploysRequest(), &list).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(backend_.releases().size(), 0u);

  // grpc.health.v1.Health/Check with no token: SERVING (field 1 = 1).
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status health;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      health = s;
                      done.Notify();
                    });
  done.WaitForNotification();
  ASSERT_TRUE(health.ok()) << health.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(DeployerServiceTest, WatchStreamsEveryChangeUntilTheDeployIsLive) {
  backend_.SetScript("d-1", {.block = true});
  Deploy submitted;
  ASSERT_TRUE(Submit(MakeRequest("d-1", "web", "feature/new-ui", false), &submitted).ok());
  EXPECT_EQ(submitted.status(), tempa::v1::DEPLOY_PENDING);
  EXPECT_EQ(submitted.track(), "feature-new-ui");
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  std::vector<Deploy> seen;
  absl::Notification first;
  grpc::Status watched;
  std::thread watcher([&] { watched = Watch("d-1", &seen, &first); });
  first.WaitForNotification();
  backend_.Unblock("d-1");
  watcher.join();
  ASSERT_TRUE(watched.ok()) << watched.error_message();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front().status(), tempa::v1::DEPLOYING);
  EXPECT_EQ(seen.back().status(), tempa::v1::DEPLOYED);
  EXPECT_THAT(seen.back().urls(), ::testing::ElementsAre("https://web-feature-new-ui.apps.test",
                                                         "https://web-0123456.apps.test"));
  // A finished deploy: one record, then the stream ends.
  seen.clear();
  ASSERT_TRUE(Watch("d-1", &seen).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status(), tempa::v1::DEPLOYED);
}

TEST_F(DeployerServiceTest, ARetriedSubmitDeploysOnceAndGetAndListShowIt) {
  Deploy first;
  ASSERT_TRUE(Submit(MakeRequest("d-7"), &first).ok());
  std::vector<Deploy> seen;
  ASSERT_TRUE(Watch("d-7", &seen).ok());
  ASSERT_EQ(seen.back().status(), tempa::v1::DEPLOYED);
  Deploy again;
  ASSERT_TRUE(Submit(MakeRequest("d-7"), &again).ok());
  EXPECT_EQ(again.status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(backend_.calls("d-7"), 1);

  grpc::ClientContext get_ctx;
  rpc::PrepareContext(&get_ctx, client_, absl::Seconds(30));
  tempa::v1::GetDeployRequest get;
  get.set_id("d-7");
  Deploy got;
  ASSERT_TRUE(stub_->GetDeploy(&get_ctx, get, &got).ok());
  EXPECT_EQ(got.status(), tempa::v1::DEPLOYED);

  grpc::ClientContext list_ctx;
  rpc::PrepareContext(&list_ctx, client_, absl::Seconds(30));
  tempa::v1::ListDeploysRequest list;
  list.set_app("web");
  tempa::v1::ListDeploysResponse listed;
  ASSERT_TRUE(stub_->ListDeploys(&list_ctx, list, &listed).ok());
  ASSERT_EQ(listed.deploys_size(), 1);
  EXPECT_EQ(listed.deploys(0).id(), "d-7");
}

TEST_F(DeployerServiceTest, BadRequestsAndUnknownIdsAnswerWithTheirCodes) {
  tempa::v1::DeployRequest request = MakeRequest("d-1");
  request.mutable_deploy()->set_image("127.0.0.1:5000/web:latest");
  Deploy out;
  grpc::Status bad = Submit(request, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("deploy.image"));
  std::vector<Deploy> seen;
  EXPECT_EQ(Watch("d-unknown", &seen).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DeployerServiceTest, AWatcherThatGoesAwayDoesNotHoldTheDeployerUp) {
  backend_.SetScript("d-1", {.block = true});
  Deploy out;
  ASSERT_TRUE(Submit(MakeRequest("d-1"), &out).ok());
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  {
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, client_, absl::Seconds(60));
    tempa::v1::GetDeployRequest request;
    request.set_id("d-1");
    std::unique_ptr<grpc::ClientReader<Deploy>> reader = stub_->WatchDeploy(&ctx, request);
    Deploy first;
    ASSERT_TRUE(reader->Read(&first));
    ctx.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  backend_.Unblock("d-1");
  StopDeployer();
  EXPECT_EQ(backend_.calls("d-1"), 1);
}

TEST(DeployerDaemonTest, SigtermStopsTheDeployerCleanly) {
  tempa::testing::TempDir dir;
  DeployerOptions options;
  options.listen = "127.0.0.1:0";
  options.work_dir = dir.Join("work");
  options.domain = "apps.test";
  FakeDeployBackend backend;
  absl::Notification listening;
  absl::Status result = absl::UnknownError("not returned");
  std::thread runner([&] {
    result = RunDeployer(options, std::make_unique<ForwardingBackend>(&backend), nullptr,
                         [&](int) { listening.Notify(); });
  });
  listening.WaitForNotification();
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  runner.join();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(backend.recover_calls(), 1);
}

TEST(DeployerDaemonTest, RefusesToListenBeyondLoopbackWithoutAToken) {
  tempa::testing::TempDir dir;
  DeployerOptions options;
  options.listen = "0.0.0.0:0";
  options.work_dir = dir.Join("work");
  options.domain = "apps.test";
  FakeDeployBackend backend;
  absl::Status s = RunDeployer(options, std::make_unique<ForwardingBackend>(&backend));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--token-file"));
  options.listen = "127.0.0.1:0";
  options.domain = "Not A Domain";
  s = RunDeployer(options, std::make_unique<ForwardingBackend>(&backend));
  EXPECT_THAT(s.message(), HasSubstr("--domain"));
  EXPECT_EQ(backend.recover_calls(), 0);
}

}  // namespace
}  // namespace tempa::deploy
