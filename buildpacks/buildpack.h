// A buildpack detects one language and says how to turn a source tree into image layers. The
// worker's pipeline drives it: it checks the action cache with each layer's key before asking
// the buildpack to produce the layer, so a layer whose inputs did not change is never rebuilt.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "buildpacks/build_plan.h"
#include "common/oci/layer_spec.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks {

// In image order. kServer: an app server Tempa supplies (Python's gunicorn/uvicorn); kFiles: the
// repository's runtime files next to a compiled binary (templates/, static/); kStatic: files a
// build step generates from the app (Django's collectstatic).
enum class LayerRole { kBase, kDeps, kServer, kFiles, kApp, kStatic };
// "base", "deps", "server", "files", "app", "static"
absl::string_view LayerRoleName(LayerRole role);

// What a produced layer contains, plus a cheap key of its content when one is known
// (e.g. the binary's digest), so an identical artifact reuses the cached layer.
struct LayerOutput {
  oci::LayerSpec spec;
  std::string content_key;  // empty: always write the layer
  // What the layer holds and why, for the build log and `tempa build --json` (e.g. "files":
  // "42", "bytes": "18211", "why": "..."). Flat and printable; never secrets.
  std::map<std::string, std::string> report;
};

struct PlannedLayer {
  LayerRole role;
  // Key of everything that goes into the layer, known before building (base: runtime
  // version; deps: lockfile + toolchain + index settings). Empty when keyed by output.
  std::string input_key;
  // Builds the layer's files (running sandboxed steps as needed).
  std::function<absl::StatusOr<LayerOutput>()> produce;
  // Builds the same files from what `input_key` names alone: a trusted installer fed the
  // lockfile, with no state an earlier build could have written (no persisted per-app tool
  // cache) and none of the app's own code. Only a layer made by it is shared with other apps
  // through the fleet's layer cache; unset, the layer is never shared across apps.
  std::function<absl::StatusOr<LayerOutput>()> produce_for_fleet;
};

// The runtime part of the image config.
struct ImageConfigSpec {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  std::string working_dir;
  std::string user;  // "uid:gid"
  int port = 8080;
  std::map<std::string, std::string> labels;
};

struct BuildContext {
  std::string source_dir;   // read-only input
  std::string scratch_dir;  // empty, writable, removed after the build
  std::string cache_dir;    // per-app tool caches (persisted, never in the image)
  // Tempa's own cache of fetched .debs for run bases, shared by all apps and never mounted into
  // a sandbox. Empty: a debs/ directory in cache_dir (or scratch_dir).
  std::string deb_cache_dir;
  // Root's directory of toolchain seeds (the Go standard library compiled once per toolchain,
  // see go/go_std_cache.h), shared by all apps; builds only ever see read-only links to what is
  // in it. Empty: app caches start empty.
  std::string toolchain_seed_dir;
  std::map<std::string, std::string> build_env;  // user's --build-env
  // tempa.toml's `include` / `exclude` globs over the app's runtime files
  // (internal/runtime_files.h): include brings back what the defaults or .tempaignore leave out,
  // exclude leaves out more.
  std::vector<std::string> include_files;
  std::vector<std::string> exclude_files;
  Sandbox* sandbox = nullptr;
  // Limits for every sandboxed step of this build (memory, processes, time, output).
  SandboxLimits limits;
  std::function<void(absl::string_view line)> log;  // build log, one line per call
  // Unpacks the layer of `role` that this build already produced or reused (an earlier layer of
  // the recipe, e.g. the venv for a later step that runs the app) into `dir`, which must not
  // exist yet; the blob is treated as hostile (no entry is written outside `dir` or through a
  // link). NotFound when the build has no such layer (yet). Set by the pipeline; unset in tests
  // that drive a buildpack alone.
  std::function<absl::Status(LayerRole role, const std::string& dir)> extract_layer;
};

// A buildpack's product: the layers in image order (base first) and the runtime config.
struct BuildRecipe {
  std::vector<PlannedLayer> layers;
  ImageConfigSpec config;
};

class Buildpack {
 public:
  virtual ~Buildpack() = default;
  virtual absl::string_view language() const = 0;
  // nullopt when this buildpack does not apply. An error when the tree is recognisably this
  // language but cannot be built as is (e.g. several cmd/* mains and none chosen), with the fix.
  virtual absl::StatusOr<std::optional<BuildPlan>> Detect(const std::string& source_dir,
                                                          const DetectOptions& options) = 0;
  // Prepares the layers for `plan`. Layers are produced lazily by the pipeline.
  virtual absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan,
                                              const BuildContext& context) = 0;
};

using BuildpackPtr = std::unique_ptr<Buildpack>;

}  // namespace tempa::buildpacks
