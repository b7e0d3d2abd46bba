// StartServer: health and reflection answer without a token (what `grpcurl -plaintext HOST:PORT
// list` and probes need), the bound port is reported, a taken port is a clear error.
#include "common/grpc/server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tempa/v1/layer_cache.grpc.pb.h"

namespace tempa::rpc {
namespace {

using ::testing::HasSubstr;

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer Bytes(const std::string& data) {
  grpc::Slice slice(data);
  return grpc::ByteBuffer(&slice, 1);
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions opts) {
    absl::StatusOr<RunningServer> running = StartServer(opts, {&control_, &layers_});
    ASSERT_TRUE(running.ok()) << running.status();
    running_ = *std::move(running);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", running_.port),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (running_.server) running_.server->Shutdown();
  }

  // The raw bytes of the reflection service's answer to `list_services` (no token sent).
  grpc::Status ListServices(std::string* answer) {
    grpc::internal::RpcMethod method(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
        grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
            channel_.get(), method, &ctx));
    // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
    stream->Write(Bytes(std::string("\x3a\x00", 2)));
    stream->WritesDone();
    grpc::ByteBuffer response;
    while (stream->Read(&response)) answer->append(Flatten(response));
    return stream->Finish();
  }

  tempa::v1::ControlService::Service control_;
  tempa::v1::LayerCacheService::Service layers_;
  RunningServer running_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcServerTest, ReflectionListsTheServicesWithoutAToken) {
  Start({.listen = "127.0.0.1:0"});
  EXPECT_GT(running_.port, 0);
  std::string answer;
  grpc::Status status = ListServices(&answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(answer, HasSubstr("tempa.v1.ControlService"));
  EXPECT_THAT(answer, HasSubstr("tempa.v1.LayerCacheService"));
  EXPECT_THAT(answer, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(GrpcServerTest, HealthCheckAnswersServingWithoutAToken) {
  Start({.listen = "127.0.0.1:0"});
  grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                   grpc::internal::RpcMethod::NORMAL_RPC, channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::ByteBuffer response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel_.get(), method, &ctx, Bytes(""), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)}.
  EXPECT_EQ(Flatten(response), std::string("\x08\x01", 2));
}

TEST_F(GrpcServerTest, TakenPortIsAClearError) {
  Start({.listen = "127.0.0.1:0"});
  tempa::v1::ControlService::Service other;
  absl::StatusOr<RunningServer> second =
      StartServer({.listen = absl::StrCat("127.0.0.1:", running_.port)}, {&other});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("could not listen on 127.0.0.1:"));
}

TEST_F(GrpcServerTest, HalfATlsConfigurationIsRefusedBeforeListening) {
  tempa::v1::ControlService::Service other;
  absl::StatusOr<RunningServer> server =
      StartServer({.listen = "127.0.0.1:0", .tls = {.cert_file = "/nonexistent.crt"}}, {&other});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tempa::rpc
