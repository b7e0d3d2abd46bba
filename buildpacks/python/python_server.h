// The app server Tempa supplies when a Django, Flask or FastAPI app's requirements lack one:
// gunicorn (WSGI) or uvicorn (ASGI) at the versions Debian 12 ships, installed with
// `pip install --target` from the index the build uses into /opt/tempa-server, in a layer of its
// own between the dependencies and the app. A `.pth` file in the venv's site-packages puts that
// directory on sys.path after the venv's own packages, so the app's versions of anything both
// need win; the image starts it as `python -m gunicorn` / `python -m uvicorn`, and a start command
// of the app's own that names it finds /opt/venv/bin/gunicorn (a script run by the venv's python).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/python/python_toolchain.h"

namespace tempa::buildpacks::python {

inline constexpr char kServerDir[] = "/opt/tempa-server";  // in the sandbox and in the image

struct SuppliedServer {
  std::string name;            // "gunicorn"
  std::string version;         // "20.1.0"
  std::string entry_module;    // its command's entry point: "gunicorn.app.wsgiapp"
  std::string entry_function;  // "run"
  std::string Spec() const { return name + "==" + version; }
};

// The pinned server for `name` ("gunicorn", "uvicorn"); nullopt for any other name.
std::optional<SuppliedServer> SupplyableServer(const std::string& name);
// The table entry whose Spec() is `spec` ("gunicorn==20.1.0"); nullopt for anything else (a
// plan's details may have travelled: only the table's specs are ever installed).
std::optional<SuppliedServer> SuppliedServerForSpec(const std::string& spec);

// "sha256:…" over a layout version, the spec, the interpreter (path, Debian version, pip, arch)
// and PipSettings(env): what decides the layer's bytes.
std::string ServerLayerInputKey(const SuppliedServer& server, const PythonInterpreter& interpreter,
                                const std::map<std::string, std::string>& env);

// The kServer layer: opt/tempa-server (no bytecode),
// opt/venv/lib/pythonX.Y/site-packages/tempa-server.pth and opt/venv/bin/NAME. Failures of pip are
// dependency_resolution, naming the server and the index.
PlannedLayer ServerLayer(const SuppliedServer& server, const PythonInterpreter& interpreter,
                         const BuildContext& context);

}  // namespace tempa::buildpacks::python
