#include "buildpacks/buildpack.h"

namespace tempa::buildpacks {

absl::string_view LayerRoleName(LayerRole role) {
  switch (role) {
    case LayerRole::kBase:
      return "base";
    case LayerRole::kDeps:
      return "deps";
    case LayerRole::kServer:
      return "server";
    case LayerRole::kFiles:
      return "files";
    case LayerRole::kApp:
      return "app";
    case LayerRole::kStatic:
      return "static";
  }
  return "unknown";
}

}  // namespace tempa::buildpacks
