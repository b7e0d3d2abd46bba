// The Authorizer behind a real gRPC server on loopback, called the way the CLI and the worker
// daemon call: through tempa_grpc's channel and per-call bearer metadata.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc/client.h"
#include "common/grpc/status_conversion.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/auth/method_names.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tempa/v1/worker.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace tempa::coordinator::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "adm-0123456789abcdef";
constexpr char kWorkerToken[] = "wrk-0123456789abcdef";

class Control final : public tempa::v1::ControlService::Service {
 public:
  explicit Control(const Authorizer* authorizer) : authorizer_(authorizer) {}

  grpc::Status CreateApp(grpc::ServerContext* ctx, const tempa::v1::CreateAppRequest* request,
                         tempa::v1::App* app) override {
    if (absl::Status s = authorizer_->Authorize(*ctx, methods::kCreateApp); !s.ok()) {
      return rpc::ToGrpcStatus(s);
    }
    *app = request->app();
    return grpc::Status::OK;
  }
  grpc::Status GetApp(grpc::ServerContext* ctx, const tempa::v1::GetAppRequest* request,
                      tempa::v1::App* app) override {
    if (absl::Status s = authorizer_->Authorize(*ctx, methods::kGetApp); !s.ok()) {
      return rpc::ToGrpcStatus(s);
    }
    app->set_name(request->name());
    return grpc::Status::OK;
  }

 private:
  const Authorizer* authorizer_;
};

class Workers final : public tempa::v1::WorkerService::Service {
 public:
  explicit Workers(const Authorizer* authorizer) : authorizer_(authorizer) {}

  grpc::Status Heartbeat(grpc::ServerContext* ctx, const tempa::v1::HeartbeatRequest*,
                         tempa::v1::HeartbeatResponse*) override {
    return rpc::ToGrpcStatus(authorizer_->Authorize(*ctx, methods::kHeartbeat));
  }

 private:
  const Authorizer* authorizer_;
};

class AuthorizerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tokens = dir_.Join("tokens");
    testing::WriteFileOrDie(tokens, absl::StrCat("# farm\nadmin ", kAdminToken, " alice\nworker ",
                                                 kWorkerToken, " worker-1\n"));
    ASSERT_EQ(::chmod(tokens.c_str(), 0600), 0);
    absl::StatusOr<Authorizer> authorizer = Authorizer::FromTokenFile(tokens);
    ASSERT_TRUE(authorizer.ok()) << authorizer.status();
    authorizer_ = std::make_unique<Authorizer>(*std::move(authorizer));
    control_ = std::make_unique<Control>(authorizer_.get());
    workers_ = std::make_unique<Workers>(authorizer_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(control_.get());
    builder.RegisterService(workers_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    target_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  rpc::ClientOptions Options(absl::string_view token) {
    rpc::ClientOptions opts;
    opts.target = target_;
    opts.token = std::string(token);
    return opts;
  }

  grpc::Status CreateApp(const rpc::ClientOptions& opts) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(opts);
    EXPECT_TRUE(channel.ok()) << channel.status();
    auto stub = tempa::v1::ControlService::NewStub(*channel);
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, opts, absl::Seconds(30));
    tempa::v1::CreateAppRequest request;
    request.mutable_app()->set_name("web");
    tempa::v1::App app;
    return stub->CreateApp(&ctx, request, &app);
  }

  grpc::Status Heartbeat(const rpc::ClientOptions& opts) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(opts);
    EXPECT_TRUE(channel.ok()) << channel.status();
    auto stub = tempa::v1::WorkerService::NewStub(*channel);
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, opts, absl::Seconds(30));
    tempa::v1::HeartbeatResponse response;
    return stub->Heartbeat(&ctx, tempa::v1::HeartbeatRequest(), &response);
  }

  testing::TempDir dir_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<Control> control_;
  std::unique_ptr<Workers> workers_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

TEST_F(AuthorizerServerTest, WorkerTokenCallingAnAdminRpcIsRefused) {
  grpc::Status status = CreateApp(Options(kWorkerToken));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("needs a token of role admin"));
  EXPECT_TRUE(Heartbeat(Options(kWorkerToken)).ok());
}

TEST_F(AuthorizerServerTest, CallWithoutTokenIsRefused) {
  rpc::ClientOptions opts = Options("");
  grpc::Status status = CreateApp(opts);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("no token: pass --token-file"));
  EXPECT_EQ(Heartbeat(opts).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(rpc::DescribeCallError(status, opts, "create app web").message(),
              HasSubstr("create app web: no token"));
}

TEST_F(AuthorizerServerTest, UnknownTokenIsRefusedAndNotEchoed) {
  grpc::Status status = CreateApp(Options("adm-0123456789abcdeX"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), Not(HasSubstr("0123456789")));
}

TEST_F(AuthorizerServerTest, AdminTokenFromATokenFileCallsEverything) {
  std::string token_file = dir_.Join("admin.token");
  testing::WriteFileOrDie(token_file, absl::StrCat(kAdminToken, "\n"));
  ASSERT_EQ(::chmod(token_file.c_str(), 0600), 0);
  rpc::ClientOptions opts = Options("");
  opts.token_file = token_file;
  EXPECT_TRUE(CreateApp(opts).ok());
  EXPECT_TRUE(Heartbeat(opts).ok());
}

}  // namespace
}  // namespace tempa::coordinator::auth
