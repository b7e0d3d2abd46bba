// How a Python image starts: the app's own start command (tempa.toml / Procfile `web:`) first,
// else the framework found in the code — Django (manage.py + PROJECT/wsgi.py) and Flask under
// gunicorn, FastAPI under uvicorn — else `python app.py` / `python main.py`. A framework whose
// server is not among the dependencies gets one Tempa supplies (python_server.h) when the build
// env names a package index, and is otherwise an error saying what to add, not an image that
// crashes on start.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/build_plan.h"
#include "buildpacks/python/python_manifest.h"

namespace tempa::buildpacks::python {

struct StartDecision {
  // Exec form. Always through /bin/sh -c so $PORT expands: ["/bin/sh", "-c", "exec gunicorn ..."].
  std::vector<std::string> command;
  std::string framework;  // "django", "fastapi", "flask", "script" or "custom"
  std::string module;     // the WSGI/ASGI target ("app:app", "mysite.wsgi") or the script
  std::string reason;     // for the plan's reasons
  // The server Tempa supplies ("gunicorn==20.1.0"), empty when the app lists its own; and why,
  // for the plan's reasons ("gunicorn 20.1.0 supplied by Tempa: not in requirements.txt"), or a
  // note when the app's own start command runs a server that cannot be supplied offline.
  std::string supplied_server;
  std::string supplied_reason;
};

// Decides the start command for the tree at `root` with dependencies `deps` (and the build env in
// `options`, which says whether a missing server can be fetched). Errors carry a BuildFailure of
// kind bad_input: a framework whose server is missing and cannot be supplied, or nothing to
// start.
absl::StatusOr<StartDecision> DecideStart(const std::string& root, const DetectOptions& options,
                                          const DependencySource& deps);

// Django's project package ("mysite"): from manage.py's DJANGO_SETTINGS_MODULE, else the one
// directory holding both settings.py and wsgi.py; "" when there is none.
std::string DjangoProject(const std::string& root);

// A WSGI/ASGI application object found in Python source: `NAME = Flask(...)` (or FastAPI) at
// module level. Exposed for tests.
struct AppObject {
  std::string framework;  // "flask" or "fastapi"
  std::string variable;   // "app"
  bool factory = false;   // Flask's create_app() pattern: variable is the factory's name
};
std::optional<AppObject> FindAppObject(const std::string& source);

}  // namespace tempa::buildpacks::python
