#include "common/grpc/status_conversion.h"

#include "gtest/gtest.h"

namespace tempa::rpc {
namespace {

TEST(StatusConversionTest, EveryCodeMapsOneToOneBothWaysWithItsMessage) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status status(static_cast<absl::StatusCode>(code), "why");
    grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code);
    EXPECT_EQ(converted.error_message(), "why");
    absl::Status back = FromGrpcStatus(converted);
    EXPECT_EQ(back, status);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "context").ok());
}

TEST(StatusConversionTest, NamedCodesKeepTheirMeaning) {
  EXPECT_EQ(ToGrpcStatus(absl::PermissionDeniedError("x")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(StatusConversionTest, ContextIsPrependedToAFailedCallsMessage) {
  absl::Status status =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "no app web"), "get app web");
  EXPECT_EQ(status, absl::NotFoundError("get app web: no app web"));
}

}  // namespace
}  // namespace tempa::rpc
