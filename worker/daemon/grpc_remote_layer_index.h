// The fleet layer cache over the coordinator's LayerCacheService: what one worker built and
// pushed, every other finds by key (and mounts from the repository holding it).
#pragma once

#include <memory>
#include <string>

#include "common/grpc/client.h"
#include "tempa/v1/layer_cache.grpc.pb.h"
#include "worker/remote_layer_index.h"

namespace tempa::worker {

class GrpcRemoteLayerIndex final : public RemoteLayerIndex {
 public:
  GrpcRemoteLayerIndex(std::shared_ptr<grpc::Channel> channel, rpc::ClientOptions options,
                       std::string worker_id);
  absl::StatusOr<std::optional<RemoteLayer>> Find(const std::string& key) override;
  absl::Status Put(const std::string& key, const oci::LayerRecord& record,
                   const std::string& repository) override;

 private:
  std::unique_ptr<v1::LayerCacheService::Stub> stub_;
  rpc::ClientOptions options_;
  std::string worker_id_;
};

}  // namespace tempa::worker
