// DeployerClient over gRPC (tempa.v1.DeployerService): one channel (plaintext or TLS, with the
// bearer token the deployer expects), a deadline on every call. A channel that failed with
// UNAVAILABLE is replaced on the next call, so a deployer that comes back is reached at once
// rather than after gRPC's reconnect backoff.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc/client.h"
#include "coordinator/deploys/deployer_client.h"
#include "tempa/v1/deploy.grpc.pb.h"

namespace tempa::coordinator {

class GrpcDeployerClient : public DeployerClient {
 public:
  // Checks the options (target, token file, TLS files); does not connect.
  static absl::StatusOr<std::unique_ptr<GrpcDeployerClient>> Create(
      rpc::ClientOptions options, absl::Duration call_timeout = absl::Seconds(10));

  absl::StatusOr<v1::Deploy> Submit(const v1::DeployRequest& request) override;
  absl::StatusOr<v1::Deploy> Get(const std::string& id) override;

 private:
  GrpcDeployerClient(rpc::ClientOptions options, absl::Duration call_timeout)
      : options_(std::move(options)), call_timeout_(call_timeout) {}
  // The stub, on a fresh channel when the last call found the deployer unavailable.
  absl::StatusOr<std::shared_ptr<v1::DeployerService::Stub>> Stub();
  // The call's status as an absl::Status naming `what` and the deployer's address.
  absl::Status Describe(const grpc::Status& status, const std::string& what);

  const rpc::ClientOptions options_;
  const absl::Duration call_timeout_;
  absl::Mutex mu_;
  std::shared_ptr<v1::DeployerService::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::coordinator
