#include "coordinator/deploys/grpc_deployer_client.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status_conversion.h"
#include "common/status_macros.h"

namespace tempa::coordinator {

absl::StatusOr<std::unique_ptr<GrpcDeployerClient>> GrpcDeployerClient::Create(
    rpc::ClientOptions options, absl::Duration call_timeout) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("no deployer address: give --deployer HOST:PORT");
  }
  RETURN_IF_ERROR(rpc::ResolveToken(&options));
  RETURN_IF_ERROR(rpc::MakeChannel(options).status());
  return std::unique_ptr<GrpcDeployerClient>(
      new GrpcDeployerClient(std::move(options), call_timeout));
}

absl::StatusOr<std::shared_ptr<v1::DeployerService::Stub>> GrpcDeployerClient::Stub() {
  absl::MutexLock lock(&mu_);
  if (stub_ == nullptr) {
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, rpc::MakeChannel(options_));
    stub_ = std::shared_ptr<v1::DeployerService::Stub>(v1::DeployerService::NewStub(channel));
  }
  return stub_;
}

absl::Status GrpcDeployerClient::Describe(const grpc::Status& status, const std::string& what) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    absl::MutexLock lock(&mu_);
    stub_.reset();
  }
  absl::Status described =
      rpc::FromGrpcStatus(status, absl::StrCat(what, " at the deployer ", options_.target));
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::Status(described.code(),
                        absl::StrCat(described.message(), " (is tempa-deployer running at ",
                                     options_.target, "? the deploy is kept and retried)"));
  }
  return described;
}

absl::StatusOr<v1::Deploy> GrpcDeployerClient::Submit(const v1::DeployRequest& request) {
  ASSIGN_OR_RETURN(std::shared_ptr<v1::DeployerService::Stub> stub, Stub());
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, call_timeout_);
  v1::Deploy response;
  grpc::Status status = stub->SubmitDeploy(&ctx, request, &response);
  if (!status.ok()) return Describe(status, absl::StrCat("submit deploy ", request.deploy().id()));
  return response;
}

absl::StatusOr<v1::Deploy> GrpcDeployerClient::Get(const std::string& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<v1::DeployerService::Stub> stub, Stub());
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, call_timeout_);
  v1::GetDeployRequest request;
  request.set_id(id);
  v1::Deploy response;
  grpc::Status status = stub->GetDeploy(&ctx, request, &response);
  if (!status.ok()) return Describe(status, absl::StrCat("get deploy ", id));
  return response;
}

}  // namespace tempa::coordinator
