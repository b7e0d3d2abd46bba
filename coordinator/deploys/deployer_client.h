// How the coordinator reaches tempa-deployer: hand it a deploy (idempotent by the deploy's id)
// and read where that deploy is. The real one speaks tempa.v1.DeployerService over gRPC
// (grpc_deployer_client.h); tests substitute their own.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::coordinator {

class DeployerClient {
 public:
  virtual ~DeployerClient() = default;
  // Starts the deploy, or returns the deployer's record when it knows the id already. A
  // transport failure is Unavailable or DeadlineExceeded (worth another try, with the same id).
  virtual absl::StatusOr<v1::Deploy> Submit(const v1::DeployRequest& request) = 0;
  // The deployer's record of deploy `id`; NotFound when it does not know it.
  virtual absl::StatusOr<v1::Deploy> Get(const std::string& id) = 0;
};

using DeployerClientPtr = std::unique_ptr<DeployerClient>;

}  // namespace tempa::coordinator
