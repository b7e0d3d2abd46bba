// Django's static files, collected at build time as Heroku does: when the project's settings set
// STATIC_ROOT, `python manage.py collectstatic --noinput` runs in the sandbox against a writable
// copy of the app at /app and the deps layer's venv at /opt/venv (read-only), and the tree it
// fills (which must be inside /app) becomes a layer of its own above the app layer. The layer is
// keyed by its inputs (the app's files, the deps layer's key, the server, a version), so a rebuild
// of the same commit does not run it. Skipped with DISABLE_COLLECTSTATIC=1 in the build env
// (Heroku's name) or `collectstatic = false` under [build] in tempa.toml.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/python/python_toolchain.h"

namespace tempa::buildpacks::python {

struct CollectstaticDecision {
  bool run = false;
  std::string settings_file;  // the file setting STATIC_ROOT, relative to the app root
  std::string reason;         // for the plan's reasons; "" when the app is not Django
};

// True when Python source `text` assigns STATIC_ROOT at module level, to anything but None.
bool SetsStaticRoot(absl::string_view text);

// Whether the Django project `project` ("" when the app is not Django) at `root`, which must have
// a manage.py, gets its static
// files collected. The settings are read as text (bounded, beneath `root`): the module manage.py
// names in DJANGO_SETTINGS_MODULE, PROJECT/settings.py, or the .py files of a PROJECT/settings/
// package. `configured` is tempa.toml's [build] collectstatic.
CollectstaticDecision DecideCollectstatic(const std::string& root, const std::string& project,
                                          const std::map<std::string, std::string>& build_env,
                                          std::optional<bool> configured);

struct CollectstaticInputs {
  PythonInterpreter interpreter;
  std::string deps_input_key;  // the deps layer's input key: the venv collectstatic runs with
  std::string server_spec;     // the supplied server ("" when the app has its own)
  std::string settings_file;   // for the report
  // The app layer's content key (PythonAppLayer): the files collectstatic sees, as the image
  // has them.
  std::string app_key;
};

// The kStatic layer. Computing its key reads (and hashes) every file of the app; failures there
// are bad_input. Producing it runs collectstatic: a non-zero exit is a compile failure with the
// log tail that says how to skip the step, a STATIC_ROOT outside /app is bad_input.
absl::StatusOr<PlannedLayer> CollectstaticLayer(const CollectstaticInputs& inputs,
                                                const BuildContext& context);

}  // namespace tempa::buildpacks::python
