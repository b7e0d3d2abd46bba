#include "worker/fleet_layers.h"

#include "absl/strings/str_cat.h"

namespace tempa::worker {

std::optional<std::string> RepositoryOn(absl::string_view registry, absl::string_view full) {
  size_t slash = full.find('/');
  if (slash == absl::string_view::npos || full.substr(0, slash) != registry ||
      slash + 1 == full.size()) {
    return std::nullopt;
  }
  return std::string(full.substr(slash + 1));
}

std::optional<RemoteLayer> FindFleetLayer(RemoteLayerIndex& index, registry::RegistryClient& client,
                                          const registry::ImageReference& target,
                                          const std::string& key,
                                          const std::function<void(absl::string_view)>& log) {
  auto say = [&](absl::string_view line) {
    if (log) log(line);
  };
  absl::StatusOr<std::optional<RemoteLayer>> found = index.Find(key);
  if (!found.ok()) {
    say(absl::StrCat("tempa: the fleet's layer cache did not answer (", found.status().message(),
                     "); building the layer here"));
    return std::nullopt;
  }
  if (!found->has_value()) return std::nullopt;
  const RemoteLayer& layer = **found;
  // A mount works only within one registry; another registry's layer is built here instead.
  std::optional<std::string> repository = RepositoryOn(target.registry(), layer.repository);
  if (!repository) return std::nullopt;
  absl::StatusOr<bool> there = client.BlobExists(*repository, layer.record.blob.digest);
  if (!there.ok() || !*there) {
    say(there.ok() ? absl::StrCat("tempa: the fleet's layer is gone from ", layer.repository,
                                  "; building the layer here")
                   : absl::StrCat("tempa: cannot check the fleet's layer in ", layer.repository,
                                  " (", there.status().message(), "); building the layer here"));
    return std::nullopt;
  }
  return layer;
}

}  // namespace tempa::worker
