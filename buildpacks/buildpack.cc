#include "buildpacks/buildpack.h"

namespace tempa::buildpacks {

absl::string_view LayerRoleName(LayerRole role) {
  switch (role) {
    case LayerRole::kBase:
      return "base";
    case LayerRole::kDeps:
      return "deps";
    case LayerRole::kApp:
      return "app";
  }
  return "unknown";
}

}  // namespace tempa::buildpacks
