// The last line of every unary handler: the core's answer into the response, or its error
// (codes kept 1:1) into the call's status.
#pragma once

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/status_conversion.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/support/status.h"

namespace tempa::coordinator {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> answer, T* response) {
  if (!answer.ok()) return rpc::ToGrpcStatus(answer.status());
  *response = *std::move(answer);
  return grpc::Status::OK;
}

// A list answer into a repeated field of the response.
template <typename T>
grpc::Status ReplyList(absl::StatusOr<std::vector<T>> answer,
                       google::protobuf::RepeatedPtrField<T>* field) {
  if (!answer.ok()) return rpc::ToGrpcStatus(answer.status());
  for (T& item : *answer) *field->Add() = std::move(item);
  return grpc::Status::OK;
}

}  // namespace tempa::coordinator
