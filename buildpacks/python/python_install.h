// The Python dependency layer: a virtual environment at /opt/venv made by Debian's python3.11
// and filled by `pip install -r` in the sandbox, with the scratch output mounted at /opt/venv
// so scripts' shebangs and pyvenv.cfg name the path the image uses. Keyed by the dependency
// files, the interpreter and pip packages, and the index settings — never by the app's code —
// so a code change reuses the layer without running pip.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/python/python_manifest.h"
#include "buildpacks/python/python_toolchain.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::python {

inline constexpr char kVenvDir[] = "/opt/venv";         // in the sandbox and in the image
inline constexpr char kSandboxReqDir[] = "/tempa-req";  // the derived requirements file
inline constexpr char kSandboxCache[] = "/cache";       // pip's cache (per app, never in the image)

struct PythonDepsParams {
  PythonInterpreter interpreter;
  DependencySource source;
  // The dependency files' bytes, by relative path, as read for `source` (they key the layer).
  std::map<std::string, std::string> file_digests;  // path → "sha256:…"
};

// Build-env variables that change what pip installs (index URLs, find-links and every other
// PIP_* setting), sorted. Only these, not the whole build env, enter the key.
std::map<std::string, std::string> PipSettings(const std::map<std::string, std::string>& env);

// True when the build env names a package index (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL or
// PIP_FIND_LINKS): only then does pip get the network. Otherwise it runs with --no-index.
bool PipNeedsNetwork(const std::map<std::string, std::string>& env);

// "sha256:…" over a layout version, the interpreter and pip versions, the dependency source
// kind, each dependency file's digest, the derived requirements and PipSettings(env).
std::string PythonDepsInputKey(const PythonDepsParams& params,
                               const std::map<std::string, std::string>& env);

// Reads the digests of `source.files` under `root` into params.file_digests.
absl::Status HashDependencyFiles(const std::string& root, PythonDepsParams& params);

// The pip command: python3.11 -m pip --python /opt/venv/bin/python install --no-compile ...
// Its egress is the indexes the build env names; a malformed index URL is InvalidArgument.
absl::StatusOr<SandboxCommand> MakePipCommand(const PythonDepsParams& params,
                                              const BuildContext& context,
                                              const std::string& venv_host,
                                              const std::string& req_host,
                                              const std::string& cache_host);

// `python3.11 -m pip install --target TARGET -- SPEC...`: the specs and their dependencies into
// `target` (in the sandbox; `target_host` is mounted there, writable), with the same index,
// egress and cache as the dependency install.
absl::StatusOr<SandboxCommand> MakePipTargetCommand(const PythonInterpreter& interpreter,
                                                    const BuildContext& context,
                                                    const std::vector<std::string>& specs,
                                                    const std::string& target,
                                                    const std::string& target_host,
                                                    const std::string& cache_host);

// Runs a sandboxed step, streaming each line to the build log; its result and its output's last
// lines.
absl::StatusOr<std::pair<SandboxResult, std::string>> RunLogged(SandboxCommand command,
                                                                const BuildContext& context);

// The environment of a Python build step: a fixed PATH/HOME/locale, no bytecode, pip's quiet
// settings, then the user's build env.
std::map<std::string, std::string> PythonStepEnv(const std::map<std::string, std::string>& user);

// A failed pip run as a dependency_resolution failure of `what`: names the package pip could not
// find and, offline, says to set PIP_INDEX_URL.
absl::Status PipFailed(absl::string_view what, const SandboxResult& result, const std::string& tail,
                       const SandboxLimits& limits, bool online);

// Creates the venv and installs the dependencies; returns the layer with opt/venv (no .pyc,
// no __pycache__). Failures carry a BuildFailure: dependency_resolution for pip (the message
// names a package pip could not find and, offline, says to set PIP_INDEX_URL), compile for the
// venv step, timeout / out_of_memory / output_too_large from the sandbox.
absl::StatusOr<LayerOutput> RunPythonDepsInstall(const PythonDepsParams& params,
                                                 const BuildContext& context);

}  // namespace tempa::buildpacks::python
