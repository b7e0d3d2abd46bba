// The Python run base, in a file of its own: only the default buildpack registry links it, so
// tests of the buildpack's logic need none of the .deb machinery.
#include "buildpacks/python/python_buildpack.h"
#include "buildpacks/runbase/debian_base.h"

namespace tempa::buildpacks {

absl::StatusOr<PlannedLayer> PythonRuntimeBaseLayer(const runbase::DebianBaseOptions& base) {
  return runbase::DebianBaseLayer(runbase::PythonRuntimeRecipe(), base);
}

}  // namespace tempa::buildpacks
