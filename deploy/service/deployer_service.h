// tempa.v1.DeployerService over a DeployerCore: submit (idempotent by id), get, list, and a
// watch that streams the record now and at every change until it is terminal, the client
// goes away, or the deployer stops. Every call needs the deployer's bearer token.
#pragma once

#include "absl/time/time.h"
#include "deploy/core/deployer_core.h"
#include "deploy/service/bearer_token_auth.h"
#include "tempa/v1/deploy.grpc.pb.h"

namespace tempa::deploy {

class DeployerServiceImpl final : public tempa::v1::DeployerService::Service {
 public:
  // Neither is owned; both outlive the service. `poll` is how often a watch checks whether
  // its client is still there.
  DeployerServiceImpl(DeployerCore* core, const BearerTokenAuth* auth,
                      absl::Duration poll = absl::Seconds(1))
      : core_(core), auth_(auth), poll_(poll) {}

  grpc::Status SubmitDeploy(grpc::ServerContext* ctx, const tempa::v1::DeployRequest* request,
                            tempa::v1::Deploy* response) override;
  grpc::Status GetDeploy(grpc::ServerContext* ctx, const tempa::v1::GetDeployRequest* request,
                         tempa::v1::Deploy* response) override;
  grpc::Status ListDeploys(grpc::ServerContext* ctx, const tempa::v1::ListDeploysRequest* request,
                           tempa::v1::ListDeploysResponse* response) override;
  grpc::Status WatchDeploy(grpc::ServerContext* ctx, const tempa::v1::GetDeployRequest* request,
                           grpc::ServerWriter<tempa::v1::Deploy>* writer) override;

 private:
  DeployerCore* const core_;
  const BearerTokenAuth* const auth_;
  const absl::Duration poll_;
};

}  // namespace tempa::deploy
