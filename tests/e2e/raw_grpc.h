// gRPC calls by method name with raw bytes, for end-to-end tests that must reach every method a
// server has (enumerated from the descriptor pool) without a typed stub per method, and for
// server reflection's list_services (what `grpcurl list` asks).
#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

namespace tempa::testing {

// Calls `full_method` ("/tempa.v1.ControlService/ListApps") with one message of `request` bytes
// (empty: the empty message), as a stream so unary and streaming methods alike are reached;
// `bearer` (when not empty) goes in `authorization: Bearer …`. Every response message is
// appended to `answer`. A 30 s deadline.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& full_method,
                     const std::string& bearer, const std::string& request, std::string* answer);

// The services a server's reflection lists (ServerReflectionInfo, list_services), without a
// token; the raw response bytes are in `answer`.
grpc::Status ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel,
                                      std::string* answer);

// "/SERVICE/METHOD" for every method of `service`.
std::vector<std::string> MethodsOf(const google::protobuf::ServiceDescriptor& service);

}  // namespace tempa::testing
