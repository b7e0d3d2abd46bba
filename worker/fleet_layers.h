// The pipeline's side of the fleet-wide layer cache (remote_layer_index.h): looking a dependency
// layer up before building it, and recording it after the push.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "worker/remote_layer_index.h"

namespace tempa::worker {

// A layer the fleet has for `key` whose blob can be mounted into `target`'s repository: it is
// on the same registry and its repository still holds the blob. nullopt otherwise — including
// when the index or the registry fails, which `log` reports (the layer is then built).
std::optional<RemoteLayer> FindFleetLayer(RemoteLayerIndex& index, registry::RegistryClient& client,
                                          const registry::ImageReference& target,
                                          const std::string& key,
                                          const std::function<void(absl::string_view)>& log);

// The repository part of "REGISTRY/REPO" when REGISTRY is `registry`; nullopt otherwise.
std::optional<std::string> RepositoryOn(absl::string_view registry, absl::string_view full);

}  // namespace tempa::worker
