#include "deploy/service/deployer_service.h"

#include <utility>

#include "common/grpc/status_conversion.h"

namespace tempa::deploy {

grpc::Status DeployerServiceImpl::SubmitDeploy(grpc::ServerContext* ctx,
                                               const tempa::v1::DeployRequest* request,
                                               tempa::v1::Deploy* response) {
  if (absl::Status s = auth_->Check(*ctx); !s.ok()) return rpc::ToGrpcStatus(s);
  absl::StatusOr<tempa::v1::Deploy> deploy = core_->Submit(*request);
  if (!deploy.ok()) return rpc::ToGrpcStatus(deploy.status());
  *response = *std::move(deploy);
  return grpc::Status::OK;
}

grpc::Status DeployerServiceImpl::GetDeploy(grpc::ServerContext* ctx,
                                            const tempa::v1::GetDeployRequest* request,
                                            tempa::v1::Deploy* response) {
  if (absl::Status s = auth_->Check(*ctx); !s.ok()) return rpc::ToGrpcStatus(s);
  absl::StatusOr<tempa::v1::Deploy> deploy = core_->Get(request->id());
  if (!deploy.ok()) return rpc::ToGrpcStatus(deploy.status());
  *response = *std::move(deploy);
  return grpc::Status::OK;
}

grpc::Status DeployerServiceImpl::ListDeploys(grpc::ServerContext* ctx,
                                              const tempa::v1::ListDeploysRequest* request,
                                              tempa::v1::ListDeploysResponse* response) {
  if (absl::Status s = auth_->Check(*ctx); !s.ok()) return rpc::ToGrpcStatus(s);
  absl::StatusOr<std::vector<tempa::v1::Deploy>> deploys =
      core_->List(request->app(), request->limit());
  if (!deploys.ok()) return rpc::ToGrpcStatus(deploys.status());
  for (tempa::v1::Deploy& deploy : *deploys) *response->add_deploys() = std::move(deploy);
  return grpc::Status::OK;
}

grpc::Status DeployerServiceImpl::WatchDeploy(grpc::ServerContext* ctx,
                                              const tempa::v1::GetDeployRequest* request,
                                              grpc::ServerWriter<tempa::v1::Deploy>* writer) {
  if (absl::Status s = auth_->Check(*ctx); !s.ok()) return rpc::ToGrpcStatus(s);
  absl::StatusOr<DeployerCore::Versioned> current =
      core_->WaitForChange(request->id(), 0, absl::InfinitePast());
  if (!current.ok()) return rpc::ToGrpcStatus(current.status());
  if (!writer->Write(current->deploy)) return grpc::Status::OK;  // the client is gone
  uint64_t version = current->version;
  while (!IsTerminal(current->deploy.status())) {
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    current = core_->WaitForChange(request->id(), version, absl::Now() + poll_);
    if (!current.ok()) {
      return rpc::ToGrpcStatus(absl::UnavailableError(current.status().message()));
    }
    if (current->version == version) continue;
    version = current->version;
    if (!writer->Write(current->deploy)) return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

}  // namespace tempa::deploy
