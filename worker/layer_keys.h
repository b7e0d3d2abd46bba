// The keys under which the pipeline finds a layer it built before: in this worker's action cache
// (common/cas/action_cache.h) and in the fleet's layer index (remote_layer_index.h). A key names
// everything that decides the layer's bytes, so a change in any of them is a miss; what does not
// change the bytes (file times, where the checkout is) never enters it. docs/caching.md lists
// what decides a hit for every cache Tempa keeps.
#pragma once

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"
#include "common/oci/layer_writer.h"

namespace tempa::worker {

// "sha256:…" over the writer (format, libdeflate version, gzip member size), the layer's role,
// `key`, and what the writer is told (the entries' mtime, owner, compression level).
std::string LayerActionKey(buildpacks::LayerRole role, absl::string_view key,
                           const oci::LayerWriteOptions& options);

// The build env as it scopes a key: every entry in name order, each name and value prefixed by
// its length, so no value (tempa.toml allows newlines) can pass for two entries.
std::string BuildEnvScope(const std::map<std::string, std::string>& env);

// What limits a dependency layer to one app: its identity ("REGISTRY/REPO") and its build env.
std::string AppBuildScope(absl::string_view app_identity,
                          const std::map<std::string, std::string>& env);

// The action-cache key of a layer keyed by its inputs (planned.input_key set): every layer but a
// run base also names `build_scope` (AppBuildScope), since the app's own code, env and index
// shape it; a base layer's does not (made from the worker's files alone). Empty when keyed by
// output.
std::string InputLayerKey(const buildpacks::PlannedLayer& planned, absl::string_view build_scope,
                          const oci::LayerWriteOptions& options);

// The fleet-index key of a dependency layer made from its inputs alone (produce_for_fleet):
// its inputs and `env_scope` (BuildEnvScope), never the app. Empty when the layer is not shared.
std::string FleetLayerKey(const buildpacks::PlannedLayer& planned, absl::string_view env_scope,
                          const oci::LayerWriteOptions& options);

}  // namespace tempa::worker
