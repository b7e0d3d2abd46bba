// How a Python image starts: the app's own start command (tempa.toml / Procfile `web:`) first,
// else the framework found in the code — Django (manage.py + PROJECT/wsgi.py) and Flask under
// gunicorn, FastAPI under uvicorn — else `python app.py` / `python main.py`. A framework whose
// server is not among the dependencies is an error saying what to add, not an image that
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
};

// Decides the start command for the tree at `root` with dependencies `deps`. Errors carry a
// BuildFailure of kind bad_input: a framework without its server, or nothing to start.
absl::StatusOr<StartDecision> DecideStart(const std::string& root, const DetectOptions& options,
                                          const DependencySource& deps);

// A WSGI/ASGI application object found in Python source: `NAME = Flask(...)` (or FastAPI) at
// module level. Exposed for tests.
struct AppObject {
  std::string framework;  // "flask" or "fastapi"
  std::string variable;   // "app"
  bool factory = false;   // Flask's create_app() pattern: variable is the factory's name
};
std::optional<AppObject> FindAppObject(const std::string& source);

}  // namespace tempa::buildpacks::python
