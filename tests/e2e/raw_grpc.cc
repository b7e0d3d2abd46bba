#include "tests/e2e/raw_grpc.h"

#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>

namespace tempa::testing {
namespace {

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

}  // namespace

grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& full_method,
                     const std::string& bearer, const std::string& request, std::string* answer) {
  grpc::internal::RpcMethod method(full_method.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING,
                                   channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel.get(), method, &context));
  stream->Write(Bytes(request));
  stream->WritesDone();
  grpc::ByteBuffer response;
  while (stream->Read(&response)) answer->append(Flatten(response));
  return stream->Finish();
}

grpc::Status ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel,
                                      std::string* answer) {
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  return RawCall(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "",
                 std::string("\x3a\x00", 2), answer);
}

std::vector<std::string> MethodsOf(const google::protobuf::ServiceDescriptor& service) {
  std::vector<std::string> methods;
  for (int i = 0; i < service.method_count(); ++i) {
    methods.push_back("/" + service.full_name() + "/" + service.method(i)->name());
  }
  return methods;
}

}  // namespace tempa::testing
