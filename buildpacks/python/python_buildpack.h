// The Python buildpack: detects a Python app by its dependency manifest (python_manifest.h) or a
// bare main.py / app.py, decides how it starts (python_start.h), and builds three layers onto
// nothing else: Debian's python3.11 run base, a venv at /opt/venv with the dependencies (keyed
// by the manifests, never by code), and the source tree at /app.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/internal/runtime_files.h"
#include "buildpacks/python/python_toolchain.h"
#include "buildpacks/runbase/debian_base.h"

namespace tempa::buildpacks {

struct PythonBuildpackOptions {
  std::shared_ptr<PythonInterpreterLocator> interpreter;  // null: HostPythonLocator
  // The run base's options; an empty deb_cache_dir becomes CACHE/debs of the build context.
  runbase::DebianBaseOptions base;
  // Makes the base layer (required): PythonRuntimeBaseLayer on a worker, a cheap fake in tests.
  // Injected rather than called directly so the buildpack's logic does not link the .deb
  // machinery.
  std::function<absl::StatusOr<PlannedLayer>(const runbase::DebianBaseOptions&)> base_layer;
};

class PythonBuildpack : public Buildpack {
 public:
  explicit PythonBuildpack(PythonBuildpackOptions options = {});

  absl::string_view language() const override { return "python"; }

  // nullopt without any Python marker at the root. Errors: a manifest Tempa cannot read (named,
  // with the fix), a framework whose server is missing from the dependencies, nothing to start,
  // or no interpreter on the worker.
  absl::StatusOr<std::optional<BuildPlan>> Detect(const std::string& source_dir,
                                                  const DetectOptions& options) override;

  // Layers: base (python3.11 from Debian), deps (/opt/venv, input-keyed), the supplied server
  // when the plan has one (/opt/tempa-server, input-keyed), app (/app, keyed by its content),
  // and Django's collected static files when STATIC_ROOT is set (input-keyed).
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan, const BuildContext& context) override;

 private:
  PythonBuildpackOptions options_;
};

// runbase::DebianBaseLayer(runbase::PythonRuntimeRecipe(), base): the real base layer.
absl::StatusOr<PlannedLayer> PythonRuntimeBaseLayer(const runbase::DebianBaseOptions& base);

namespace python {
// The app layer: `source_dir` at /app without .git, __pycache__, *.pyc, .venv and venv, nor what
// .tempaignore (or .dockerignore) excludes; tempa.toml's `include` / `exclude` globs override
// (internal/runtime_files.h). content_key over every entry's path, type, mode and content digest.
// The selection the app layer makes (the same for every step that must see the app as the image
// has it: collectstatic's copy).
internal::RuntimeFilesOptions PythonAppFilesOptions(const std::vector<std::string>& include,
                                                    const std::vector<std::string>& exclude);
absl::StatusOr<LayerOutput> PythonAppLayer(const std::string& source_dir,
                                           const std::vector<std::string>& include = {},
                                           const std::vector<std::string>& exclude = {});
}  // namespace python

}  // namespace tempa::buildpacks
