// RemoteLayerIndex: the fleet-wide layer cache as a worker sees it. A dependency layer one
// worker built is found by its key on every other and cross-repository mounted in the registry
// instead of being built again. The daemon implements it over gRPC (LayerCacheService in
// proto/tempa/v1/layer_cache.proto); tests use an in-memory one.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/oci/descriptor.h"

namespace tempa::worker {

struct RemoteLayer {
  oci::LayerRecord record;
  // "REGISTRY/REPO" (as in an image reference) of a repository holding the layer's blob.
  std::string repository;
};

class RemoteLayerIndex {
 public:
  virtual ~RemoteLayerIndex() = default;
  // The layer known for `key`, or nullopt. Errors are the index's own (unreachable, refused);
  // a build treats them as a miss and says so in its log.
  virtual absl::StatusOr<std::optional<RemoteLayer>> Find(const std::string& key) = 0;
  // Records that the layer built for `key` is in `repository` ("REGISTRY/REPO"). Called only
  // once the image holding it was pushed there.
  virtual absl::Status Put(const std::string& key, const oci::LayerRecord& record,
                           const std::string& repository) = 0;
};

}  // namespace tempa::worker
