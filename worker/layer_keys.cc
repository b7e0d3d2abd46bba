#include "worker/layer_keys.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"

namespace tempa::worker {

std::string LayerActionKey(buildpacks::LayerRole role, absl::string_view key,
                           const oci::LayerWriteOptions& options) {
  std::string text =
      absl::StrCat(oci::LayerWriterVersion(options), "\n", buildpacks::LayerRoleName(role), "\n",
                   key, "\nmtime=", options.mtime, "\ngzip=", options.compression_level);
  // The tar entries' owner: only named when not root's, so the keys of layers written as
  // before stay what they were.
  if (options.uid != 0 || options.gid != 0) {
    absl::StrAppend(&text, "\nowner=", options.uid, ":", options.gid);
  }
  return Sha256Of(text).ToString();
}

std::string BuildEnvScope(const std::map<std::string, std::string>& env) {
  std::string scope;
  for (const auto& [name, value] : env) {
    absl::StrAppend(&scope, "env ", name.size(), ":", name, "=", value.size(), ":", value, "\n");
  }
  return scope;
}

std::string AppBuildScope(absl::string_view app_identity,
                          const std::map<std::string, std::string>& env) {
  return absl::StrCat("app=", app_identity.size(), ":", app_identity, "\n", BuildEnvScope(env));
}

std::string InputLayerKey(const buildpacks::PlannedLayer& planned, absl::string_view build_scope,
                          const oci::LayerWriteOptions& options) {
  if (planned.input_key.empty()) return "";
  // Only a run base is the same for every app; every other layer is made by or for the app's
  // own build (its env, its index, its code) and is reused by that app alone.
  if (planned.role == buildpacks::LayerRole::kBase) {
    return LayerActionKey(planned.role, planned.input_key, options);
  }
  return LayerActionKey(planned.role, absl::StrCat(planned.input_key, "\n", build_scope), options);
}

std::string FleetLayerKey(const buildpacks::PlannedLayer& planned, absl::string_view env_scope,
                          const oci::LayerWriteOptions& options) {
  if (planned.role != buildpacks::LayerRole::kDeps || planned.input_key.empty() ||
      !planned.produce_for_fleet) {
    return "";
  }
  return LayerActionKey(planned.role, absl::StrCat(planned.input_key, "\nfleet\n", env_scope),
                        options);
}

}  // namespace tempa::worker
