// absl::Status ⇄ grpc::Status. The codes are the same numbers (both follow
// google.rpc.Code), so the mapping is 1:1 and keeps the message. Services convert at their edge
// only: `return ToGrpcStatus(authorizer.Authorize(ctx, kMethod));`.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);

// The absl::Status of a finished call; `context` (e.g. "CreateApp web") is prepended to the
// message when not empty.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view context = "");

}  // namespace tempa::rpc
