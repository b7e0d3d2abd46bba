// tempa_grpc's channels and server credentials against a real gRPC server on loopback (port 0),
// with TLS certificates the test makes with the openssl CLI.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"
#include "common/grpc/retry.h"
#include "common/grpc/server_credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/layer_cache.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace tempa::rpc {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "tok-0123456789abcdef";

// FindLayer answers with what it saw: the authorization metadata in entry.repository, whether
// the call had a deadline in entry.worker_id. Keys script failures: "unavailable:N" fails the
// first N calls with UNAVAILABLE, "invalid" always fails with INVALID_ARGUMENT.
class EchoLayerCache final : public tempa::v1::LayerCacheService::Service {
 public:
  grpc::Status FindLayer(grpc::ServerContext* ctx, const tempa::v1::FindLayerRequest* request,
                         tempa::v1::FindLayerResponse* response) override {
    int call = ++calls;
    if (request->key() == "invalid") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad key");
    }
    if (absl::StartsWith(request->key(), "unavailable:") &&
        call <= std::atoi(request->key().c_str() + 12)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting up");
    }
    auto it = ctx->client_metadata().find("authorization");
    response->set_found(true);
    response->mutable_entry()->set_repository(
        it == ctx->client_metadata().end() ? "<none>"
                                           : std::string(it->second.data(), it->second.size()));
    bool has_deadline = ctx->deadline() < std::chrono::system_clock::now() + std::chrono::hours(1);
    response->mutable_entry()->set_worker_id(has_deadline ? "deadline" : "no deadline");
    return grpc::Status::OK;
  }

  std::atomic<int> calls{0};
};

class GrpcChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("openssl version >/dev/null 2>&1") != 0) {
      GTEST_FAIL() << "the openssl CLI is needed to make test certificates";
    }
  }

  // A self-signed certificate (its own CA) and key for `names` (subjectAltName entries).
  void MakeCert(const std::string& name, const std::string& alt_names) {
    std::string cmd = absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=",
        name, " -addext subjectAltName=", alt_names, " -keyout ", dir_.Join(name + ".key"),
        " -out ", dir_.Join(name + ".crt"), " >", dir_.Join("openssl.log"), " 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ASSERT_EQ(::chmod(dir_.Join(name + ".key").c_str(), 0600), 0);
  }

  void StartServer(const ServerTlsOptions& tls) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(tls);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    target_ = absl::StrCat("127.0.0.1:", port);
  }

  ServerTlsOptions ServerTls(const std::string& name) {
    return ServerTlsOptions{dir_.Join(name + ".crt"), dir_.Join(name + ".key"), ""};
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  ClientOptions Client() {
    ClientOptions opts;
    opts.target = target_;
    opts.token = kToken;
    return opts;
  }

  grpc::Status Find(const ClientOptions& opts, const std::string& key,
                    tempa::v1::FindLayerResponse* response) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(opts);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto stub = tempa::v1::LayerCacheService::NewStub(*channel);
    grpc::ClientContext ctx;
    PrepareContext(&ctx, opts, absl::Seconds(30));
    tempa::v1::FindLayerRequest request;
    request.set_key(key);
    return stub->FindLayer(&ctx, request, response);
  }

  testing::TempDir dir_;
  EchoLayerCache service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

TEST_F(GrpcChannelTest, PlaintextCallCarriesTheBearerTokenAndTheDeadline) {
  StartServer({});
  tempa::v1::FindLayerResponse response;
  grpc::Status status = Find(Client(), "k", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.entry().repository(), absl::StrCat("Bearer ", kToken));
  EXPECT_EQ(response.entry().worker_id(), "deadline");
}

TEST_F(GrpcChannelTest, CallWithoutATokenCarriesNoAuthorization) {
  StartServer({});
  ClientOptions opts = Client();
  opts.token.clear();
  tempa::v1::FindLayerResponse response;
  ASSERT_TRUE(Find(opts, "k", &response).ok());
  EXPECT_EQ(response.entry().repository(), "<none>");
}

TEST_F(GrpcChannelTest, TokenFileIsReadAndMustBePrivate) {
  StartServer({});
  std::string path = dir_.Join("worker.token");
  testing::WriteFileOrDie(path, absl::StrCat("  ", kToken, "\n"));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ClientOptions opts = Client();
  opts.token.clear();
  opts.token_file = path;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(opts);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(channel.status().message(), HasSubstr("chmod 600 " + path));

  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  tempa::v1::FindLayerResponse response;
  ASSERT_TRUE(Find(opts, "k", &response).ok());
  EXPECT_EQ(response.entry().repository(), absl::StrCat("Bearer ", kToken));
  ASSERT_TRUE(ResolveToken(&opts).ok());
  EXPECT_EQ(opts.token, kToken);
}

TEST_F(GrpcChannelTest, TokenFileWithMoreThanATokenIsRefused) {
  std::string path = dir_.Join("tokens");
  testing::WriteFileOrDie(path, absl::StrCat("admin ", kToken, "\n"));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  absl::StatusOr<std::string> token = ReadTokenFile(path);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(token.status().message(), ::testing::Not(HasSubstr(kToken)));
}

TEST_F(GrpcChannelTest, TlsClientWithTheServersCaReachesIt) {
  MakeCert("server", "IP:127.0.0.1,DNS:localhost");
  StartServer(ServerTls("server"));
  ClientOptions opts = Client();
  opts.tls_ca_file = dir_.Join("server.crt");
  tempa::v1::FindLayerResponse response;
  grpc::Status status = Find(opts, "k", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.entry().repository(), absl::StrCat("Bearer ", kToken));
}

TEST_F(GrpcChannelTest, PlaintextClientToATlsServerFailsWithAHintAboutTls) {
  MakeCert("server", "IP:127.0.0.1");
  StartServer(ServerTls("server"));
  ClientOptions opts = Client();
  tempa::v1::FindLayerResponse response;
  grpc::Status status = Find(opts, "k", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  absl::Status described = DescribeCallError(status, opts, "find layer");
  EXPECT_THAT(described.message(), HasSubstr("find layer: "));
  EXPECT_THAT(described.message(), HasSubstr("If it serves TLS, give its CA certificate"));
  EXPECT_EQ(service_.calls.load(), 0);
}

TEST_F(GrpcChannelTest, TlsClientToAPlaintextServerFails) {
  MakeCert("server", "IP:127.0.0.1");
  StartServer({});
  ClientOptions opts = Client();
  opts.tls_ca_file = dir_.Join("server.crt");
  tempa::v1::FindLayerResponse response;
  grpc::Status status = Find(opts, "k", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(DescribeCallError(status, opts, "find layer").message(),
              HasSubstr("A coordinator without TLS needs no --tls-ca-file"));
  EXPECT_EQ(service_.calls.load(), 0);
}

TEST_F(GrpcChannelTest, TlsClientTrustingAnotherCaIsRefused) {
  MakeCert("server", "IP:127.0.0.1");
  MakeCert("stranger", "IP:127.0.0.1");
  StartServer(ServerTls("server"));
  ClientOptions opts = Client();
  opts.tls_ca_file = dir_.Join("stranger.crt");
  tempa::v1::FindLayerResponse response;
  EXPECT_EQ(Find(opts, "k", &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_.calls.load(), 0);
}

TEST_F(GrpcChannelTest, ServerNameOverrideMatchesACertificateForAnotherName) {
  MakeCert("named", "DNS:coordinator.tempa.test");
  StartServer(ServerTls("named"));
  ClientOptions opts = Client();
  opts.tls_ca_file = dir_.Join("named.crt");
  tempa::v1::FindLayerResponse response;
  EXPECT_EQ(Find(opts, "k", &response).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a certificate for another name was accepted";
  opts.tls_server_name = "coordinator.tempa.test";
  grpc::Status status = Find(opts, "k", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GrpcChannelTest, MutualTlsServerRefusesAClientWithoutItsCertificate) {
  MakeCert("server", "IP:127.0.0.1");
  MakeCert("client", "DNS:worker-1");
  ServerTlsOptions tls = ServerTls("server");
  tls.client_ca_file = dir_.Join("client.crt");
  StartServer(tls);
  ClientOptions opts = Client();
  opts.tls_ca_file = dir_.Join("server.crt");
  tempa::v1::FindLayerResponse response;
  EXPECT_EQ(Find(opts, "k", &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_.calls.load(), 0);
  opts.tls_cert_file = dir_.Join("client.crt");
  opts.tls_key_file = dir_.Join("client.key");
  grpc::Status status = Find(opts, "k", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GrpcChannelTest, ServerCredentialsRefuseAKeyOthersCanReadAndHalfAConfiguration) {
  MakeCert("server", "IP:127.0.0.1");
  std::string key = dir_.Join("server.key");
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto creds = MakeServerCredentials(ServerTls("server"));
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(creds.status().message(), HasSubstr("chmod 640 " + key));
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  EXPECT_TRUE(MakeServerCredentials(ServerTls("server")).ok());

  EXPECT_EQ(MakeServerCredentials({dir_.Join("server.crt"), "", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeServerCredentials({"", "", dir_.Join("server.crt")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Certificate and key swapped.
  EXPECT_EQ(MakeServerCredentials({key, dir_.Join("server.crt"), ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> insecure = MakeServerCredentials({});
  ASSERT_TRUE(insecure.ok());
  EXPECT_NE(*insecure, nullptr);
}

TEST_F(GrpcChannelTest, MakeChannelRefusesAMissingCaAndTlsOptionsWithoutOne) {
  ClientOptions opts;
  opts.target = "127.0.0.1:1";
  opts.tls_ca_file = dir_.Join("missing.crt");
  EXPECT_EQ(MakeChannel(opts).status().code(), absl::StatusCode::kNotFound);
  opts.tls_ca_file.clear();
  opts.tls_server_name = "coordinator.tempa.test";
  EXPECT_EQ(MakeChannel(opts).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeChannel(ClientOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GrpcChannelTest, RetrierRetriesARealUnavailableThenSucceeds) {
  StartServer({});
  ClientOptions opts = Client();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(opts);
  ASSERT_TRUE(channel.ok());
  auto stub = tempa::v1::LayerCacheService::NewStub(*channel);
  RetryOptions retry;
  retry.deadline = absl::Now() + absl::Seconds(60);
  retry.sleep = [](absl::Duration) {};  // no real waiting
  tempa::v1::FindLayerResponse response;
  auto call = [&](const std::string& key) {
    return CallWithRetry(retry, [&](absl::Time deadline) {
      grpc::ClientContext ctx;
      PrepareContext(&ctx, opts, deadline);
      tempa::v1::FindLayerRequest request;
      request.set_key(key);
      return stub->FindLayer(&ctx, request, &response);
    });
  };
  grpc::Status status = call("unavailable:2");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(service_.calls.load(), 3);
  EXPECT_EQ(response.entry().repository(), absl::StrCat("Bearer ", kToken));

  service_.calls = 0;
  status = call("invalid");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(service_.calls.load(), 1);
}

TEST_F(GrpcChannelTest, RetrierGivesUpOnAServerThatNeverComesWithinTheAttempts) {
  ClientOptions opts = Client();
  opts.target = absl::StrCat("127.0.0.1:", testing::PickFreePort());  // nothing listens
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(opts);
  ASSERT_TRUE(channel.ok());
  auto stub = tempa::v1::LayerCacheService::NewStub(*channel);
  RetryOptions retry;
  retry.max_attempts = 3;
  retry.sleep = [](absl::Duration) {};
  int attempts = 0;
  grpc::Status status = CallWithRetry(retry, [&](absl::Time deadline) {
    ++attempts;
    grpc::ClientContext ctx;
    PrepareContext(&ctx, opts, absl::Seconds(30));
    tempa::v1::FindLayerResponse response;
    return stub->FindLayer(&ctx, tempa::v1::FindLayerRequest(), &response);
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(attempts, 3);
  EXPECT_THAT(status.error_message(), HasSubstr("3 attempts"));
}

}  // namespace
}  // namespace tempa::rpc
