#include "buildpacks/python/python_server.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/python/python_install.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::python {
namespace {

// Bump when the layer's layout or the install command changes.
constexpr char kServerLayerVersion[] = "python-server-v2";

// The servers Tempa supplies, pinned to the versions Debian 12 (bookworm) packages
// (python3-gunicorn 20.1.0-6, python3-uvicorn 0.17.6-1): versions that run on its python3.11,
// which the run base ships. Their own dependencies (setuptools for gunicorn's pkg_resources;
// h11, click and asgiref for uvicorn) are whatever the index resolves for them when the layer is
// first made; the layer is then reused as long as its key holds.
constexpr struct {
  const char* name;
  const char* version;
  const char* entry_module;  // its console script's entry point, as its own wheel declares it
  const char* entry_function;
} kSuppliedServers[] = {
    {"gunicorn", "20.1.0", "gunicorn.app.wsgiapp", "run"},
    {"uvicorn", "0.17.6", "uvicorn.main", "main"},
};

// "3.11" from "3.11.2"; the path's suffix ("/usr/bin/python3.11") when the version is not known.
std::string MajorMinor(const PythonInterpreter& interpreter) {
  const std::string& v = interpreter.version;
  size_t first = v.find('.');
  size_t second = first == std::string::npos ? first : v.find('.', first + 1);
  if (first != std::string::npos) return v.substr(0, second);
  size_t at = interpreter.path.rfind("python");
  return at == std::string::npos ? "3" : interpreter.path.substr(at + 6);
}

absl::Status Internal(absl::Status status) {
  return WithFailure(Annotate(status, "supplied server"), {FailureKind::kInternal, "build", ""});
}

absl::StatusOr<LayerOutput> InstallServer(const SuppliedServer& server,
                                          const PythonInterpreter& interpreter,
                                          const BuildContext& context) {
  TEMPA_CHECK(context.sandbox != nullptr, "BuildContext.sandbox must be set");
  std::string target_host = context.scratch_dir + "/tempa-server";
  std::string cache_host =
      context.cache_dir.empty() ? context.scratch_dir + "/py-cache" : context.cache_dir + "/python";
  for (auto [dir, mode] : {std::pair{target_host, 0700u}, {cache_host, 0700u}}) {
    if (absl::Status s = buildpacks::internal::MakeDirs(dir, mode); !s.ok()) return Internal(s);
  }
  absl::StatusOr<SandboxCommand> pip = MakePipTargetCommand(interpreter, context, {server.Spec()},
                                                            kServerDir, target_host, cache_host);
  if (!pip.ok()) {
    return WithFailure(Annotate(pip.status(), "build env"), {FailureKind::kBadInput, "build", ""});
  }
  const bool online = !pip->egress.empty();
  if (context.log) {
    context.log(absl::StrCat("$ pip install --target ", kServerDir, " ", server.Spec(), " (",
                             server.name, " supplied by Tempa: not in the app's requirements)"));
  }
  absl::StatusOr<std::pair<SandboxResult, std::string>> ran = RunLogged(*pip, context);
  if (!ran.ok()) return Internal(ran.status());
  if (!ran->first.ok()) {
    return PipFailed(absl::StrCat("pip install ", server.Spec(), " (the server Tempa supplies)"),
                     ran->first, ran->second, pip->limits, online);
  }

  LayerOutput output;
  oci::TreeOptions tree;
  tree.exclude_names = {"__pycache__"};
  tree.exclude_suffixes = {".pyc"};
  tree.allow_links_out = true;  // a link points into the image, never at the host
  if (absl::Status s = output.spec.AddTree(target_host, kServerDir + 1, tree); !s.ok()) {
    if (s.code() != absl::StatusCode::kInvalidArgument) return Internal(s);
    return WithFailure(Annotate(s, "pip install --target left an unusable tree"),
                       {FailureKind::kBadInput, "build", ""});
  }
  oci::LayerEntry pth;
  pth.path = absl::StrCat("opt/venv/lib/python", MajorMinor(interpreter),
                          "/site-packages/tempa-server.pth");
  pth.contents = absl::StrCat(kServerDir, "\n");
  output.spec.Add(std::move(pth));
  // Its command for start commands of the app's own ("gunicorn app:app"), run by the venv's
  // python: /opt/venv/bin is first on PATH. pip's script in /opt/tempa-server/bin would run the
  // system interpreter, which does not see the venv.
  oci::LayerEntry script;
  script.path = absl::StrCat("opt/venv/bin/", server.name);
  script.mode = 0755;
  script.contents =
      absl::StrCat("#!", kVenvDir, "/bin/python\n# ", server.Spec(), ", supplied by Tempa (",
                   kServerDir, ")\nimport sys\nfrom ", server.entry_module, " import ",
                   server.entry_function, "\nsys.exit(", server.entry_function, "())\n");
  output.spec.Add(std::move(script));
  output.report = {{"supplied", server.Spec()},
                   {"path", kServerDir},
                   {"why", absl::StrCat(server.name, " is not in the app's requirements")}};
  return output;
}

}  // namespace

std::optional<SuppliedServer> SupplyableServer(const std::string& name) {
  for (const auto& entry : kSuppliedServers) {
    if (name == entry.name) {
      return SuppliedServer{entry.name, entry.version, entry.entry_module, entry.entry_function};
    }
  }
  return std::nullopt;
}

std::optional<SuppliedServer> SupplyableServer(const std::string& name,
                                               const std::string& configured) {
  std::optional<SuppliedServer> server = SupplyableServer(name);
  absl::StatusOr<SuppliedServer> chosen = ParseServerSpec(configured);
  if (server && chosen.ok() && chosen->name == name) return *chosen;
  return server;
}

absl::StatusOr<SuppliedServer> ParseServerSpec(const std::string& spec) {
  size_t eq = spec.find("==");
  std::string name = spec.substr(0, eq);
  std::string version = eq == std::string::npos ? "" : spec.substr(eq + 2);
  // A release number only: no ranges, extras, markers, URLs or options reach pip's argv.
  bool release = !version.empty() && version.size() <= 32 && absl::ascii_isdigit(version[0]) &&
                 absl::ascii_isdigit(version.back()) && version.find("..") == std::string::npos &&
                 std::all_of(version.begin(), version.end(),
                             [](char c) { return absl::ascii_isdigit(c) || c == '.'; });
  std::optional<SuppliedServer> server = SupplyableServer(name);
  if (!server || !release) {
    return absl::InvalidArgumentError(absl::StrCat(
        "python_server \"", absl::CHexEscape(spec.substr(0, 80)),
        "\" is not a server Tempa supplies at a release: write \"gunicorn==VERSION\" or "
        "\"uvicorn==VERSION\" (digits and dots, e.g. \"gunicorn==23.0.0\")"));
  }
  server->version = version;
  return *server;
}

std::optional<SuppliedServer> SuppliedServerForSpec(const std::string& spec) {
  absl::StatusOr<SuppliedServer> server = ParseServerSpec(spec);
  if (!server.ok()) return std::nullopt;
  return *server;
}

std::string ServerLayerInputKey(const SuppliedServer& server, const PythonInterpreter& interpreter,
                                const std::map<std::string, std::string>& env) {
  std::string text =
      absl::StrCat(kServerLayerVersion, "\nspec=", server.Spec(),
                   "\ninterpreter=", interpreter.path, " ", interpreter.Describe(),
                   "\narch=", interpreter.arch, "\npip=", interpreter.pip_package_version, "\n");
  for (const auto& [key, value] : PipSettings(env)) {
    absl::StrAppend(&text, key.size(), ":", key, "=", value.size(), ":", value, "\n");
  }
  return Sha256Of(text).ToString();
}

PlannedLayer ServerLayer(const SuppliedServer& server, const PythonInterpreter& interpreter,
                         const BuildContext& context) {
  PlannedLayer layer;
  layer.role = LayerRole::kServer;
  layer.input_key = ServerLayerInputKey(server, interpreter, context.build_env);
  layer.produce = [server, interpreter, context]() {
    return InstallServer(server, interpreter, context);
  };
  return layer;
}

}  // namespace tempa::buildpacks::python
