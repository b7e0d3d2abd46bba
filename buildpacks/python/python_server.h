// The app server Tempa supplies when a Django, Flask or FastAPI app's requirements lack one:
// gunicorn (WSGI) or uvicorn (ASGI) at the versions Debian 12 ships (or the release tempa.toml's
// [build] python_server names), installed with
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
// The table's server for `name` at the version `configured` names when it is that server's
// ("gunicorn==23.0.0", tempa.toml [build] python_server); `configured` must be ParseServerSpec-ok.
std::optional<SuppliedServer> SupplyableServer(const std::string& name,
                                               const std::string& configured);
// "NAME==VERSION" with NAME a server of the table and VERSION a release number (digits and dots):
// the server at that version; InvalidArgument naming the accepted form otherwise. Plans carry
// specs in their details, which may have travelled: only specs this accepts are ever installed.
absl::StatusOr<SuppliedServer> ParseServerSpec(const std::string& spec);
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
