#include "buildpacks/python/python_install.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/egress_targets.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/step_failure.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::python {
namespace {

namespace stdfs = std::filesystem;

constexpr size_t kTailLines = 25;
// Bump when the layer's layout or the pip invocation changes, so old cached layers are not
// reused.
constexpr char kDepsLayerVersion[] = "python-deps-v2";
constexpr const char* kIndexVariables[] = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                                           "PIP_FIND_LINKS"};
constexpr char kIndexHint[] =
    "no package index is configured, so the build is offline: set PIP_INDEX_URL (tempa build "
    "--build-env PIP_INDEX_URL=https://pypi.org/simple, or [build] env in tempa.toml)";

std::map<std::string, std::string> BaseEnv(const std::map<std::string, std::string>& user) {
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/bin:/bin"},
      {"HOME", "/tmp"},
      {"LC_ALL", "C.UTF-8"},
      // Nothing compiled into the layer (pip's --no-compile covers what it installs; this
      // covers setup scripts of packages built from source).
      {"PYTHONDONTWRITEBYTECODE", "1"},
      // Wheels built from sdists get fixed zip timestamps.
      {"SOURCE_DATE_EPOCH", "315532800"},
      {"PIP_DISABLE_PIP_VERSION_CHECK", "1"},
      {"PIP_NO_INPUT", "1"},
  };
  for (const auto& [key, value] : user) env[key] = value;
  return env;
}

// The package pip names in "No matching distribution found for flask==9.9", or "".
// pip's words when an index could not be reached (the sandbox refuses hosts the build env does
// not name: a connection refused for loopback, the proxy's 403 for others).
bool LooksLikeUnreachableIndex(const std::string& tail) {
  return absl::StrContains(tail, "Connection refused") || absl::StrContains(tail, "ProxyError") ||
         absl::StrContains(tail, "tempa: refused connections");
}

constexpr char kEgressHint[] =
    "; a build step reaches only the indexes its build env names (PIP_INDEX_URL, "
    "PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS): name any other index there, not in requirements.txt";

std::string MissingPackage(const std::string& tail) {
  for (const std::string marker : {"No matching distribution found for ",
                                   "Could not find a version that satisfies the requirement "}) {
    size_t at = tail.find(marker);
    if (at == std::string::npos) continue;
    size_t start = at + marker.size();
    size_t end = tail.find_first_of(" \n(", start);
    return tail.substr(start, end == std::string::npos ? end : end - start);
  }
  return "";
}

absl::Status Failed(absl::string_view what, const SandboxResult& result, const std::string& tail,
                    const SandboxLimits& limits, FailureKind exit_kind, std::string exit_detail) {
  return buildpacks::internal::StepFailed(what, result, tail, limits, exit_kind, exit_detail);
}

// The start of every pip command: Debian's pip run by `interpreter`, never compiling, with its
// cache at kSandboxCache and the egress the build env names (offline: --no-index).
absl::StatusOr<SandboxCommand> PipCommand(const PythonInterpreter& interpreter,
                                          const BuildContext& context,
                                          const std::vector<std::string>& pip_args) {
  SandboxCommand command;
  command.argv = {interpreter.path, "-m", "pip"};
  command.argv.insert(command.argv.end(), pip_args.begin(), pip_args.end());
  command.argv.insert(command.argv.end(),
                      {"--no-compile", "--no-warn-script-location", "--progress-bar", "off",
                       "--cache-dir", absl::StrCat(kSandboxCache, "/pip")});
  // Only the indexes the build env names are reachable, and only from this step.
  ASSIGN_OR_RETURN(command.egress, buildpacks::internal::PipEgress(context.build_env));
  if (!PipNeedsNetwork(context.build_env)) command.argv.push_back("--no-index");
  command.env = BaseEnv(context.build_env);
  command.cwd = "/tmp";
  command.limits = context.limits;
  return command;
}

}  // namespace

absl::StatusOr<std::pair<SandboxResult, std::string>> RunLogged(SandboxCommand command,
                                                                const BuildContext& context) {
  std::deque<std::string> tail;
  command.on_output = [&](absl::string_view line) {
    if (context.log) context.log(line);
    tail.emplace_back(line);
    if (tail.size() > kTailLines) tail.pop_front();
  };
  ASSIGN_OR_RETURN(SandboxResult result, context.sandbox->Run(command));
  std::string text = absl::StrJoin(tail, "\n");
  return std::make_pair(result, text.empty() ? result.log_tail : text);
}

std::map<std::string, std::string> PythonStepEnv(const std::map<std::string, std::string>& user) {
  return BaseEnv(user);
}

absl::Status PipFailed(absl::string_view what, const SandboxResult& result, const std::string& tail,
                       const SandboxLimits& limits, bool online) {
  std::string detail;
  if (std::string missing = MissingPackage(tail); !missing.empty()) {
    detail = absl::StrCat(
        ": no distribution of ", missing, " was found",
        online ? " in the configured index (PIP_INDEX_URL)" : absl::StrCat("; ", kIndexHint));
  } else if (!online) {
    detail = absl::StrCat("; note: ", kIndexHint);
  }
  if (online && LooksLikeUnreachableIndex(tail)) absl::StrAppend(&detail, kEgressHint);
  return Failed(what, result, tail, limits, FailureKind::kDependencyResolution, detail);
}

absl::StatusOr<SandboxCommand> MakePipTargetCommand(const PythonInterpreter& interpreter,
                                                    const BuildContext& context,
                                                    const std::vector<std::string>& specs,
                                                    const std::string& target,
                                                    const std::string& target_host,
                                                    const std::string& cache_host) {
  // --target installs the specs and everything they need into one directory, whatever the
  // interpreter has (pip ignores installed packages there), and skips Debian's
  // EXTERNALLY-MANAGED check, which only guards the system's own site-packages.
  ASSIGN_OR_RETURN(SandboxCommand command,
                   PipCommand(interpreter, context, {"install", "--target", target}));
  command.argv.push_back("--");
  command.argv.insert(command.argv.end(), specs.begin(), specs.end());
  command.mounts = {{target_host, target, true}, {cache_host, kSandboxCache, true}};
  return command;
}

std::map<std::string, std::string> PipSettings(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : env) {
    if (absl::StartsWith(key, "PIP_")) out[key] = value;
  }
  return out;
}

bool PipNeedsNetwork(const std::map<std::string, std::string>& env) {
  for (const char* name : kIndexVariables) {
    auto it = env.find(name);
    if (it != env.end() && !it->second.empty()) return true;
  }
  return false;
}

std::string PythonDepsInputKey(const PythonDepsParams& params,
                               const std::map<std::string, std::string>& env) {
  std::string text = absl::StrCat(kDepsLayerVersion, "\ninterpreter=", params.interpreter.path, " ",
                                  params.interpreter.Describe(), "\narch=", params.interpreter.arch,
                                  "\npip=", params.interpreter.pip_package_version,
                                  "\nsource=", params.source.kind, "\n");
  for (const auto& [path, digest] : params.file_digests)
    absl::StrAppend(&text, path, " ", digest, "\n");
  absl::StrAppend(&text, "requirements=", Sha256Of(params.source.requirements).ToString(), "\n");
  // Lengths first: no value (tempa.toml strings may span lines) can pass for two settings.
  for (const auto& [key, value] : PipSettings(env)) {
    absl::StrAppend(&text, key.size(), ":", key, "=", value.size(), ":", value, "\n");
  }
  return Sha256Of(text).ToString();
}

absl::Status HashDependencyFiles(const std::string& root, PythonDepsParams& params) {
  for (const std::string& rel : params.source.files) {
    ASSIGN_OR_RETURN(std::string text,
                     buildpacks::internal::ReadSmallFileBeneath(root, rel, kMaxManifestBytes));
    params.file_digests[rel] = Sha256Of(text).ToString();
  }
  return absl::OkStatus();
}

absl::StatusOr<SandboxCommand> MakePipCommand(const PythonDepsParams& params,
                                              const BuildContext& context,
                                              const std::string& venv_host,
                                              const std::string& req_host,
                                              const std::string& cache_host) {
  ASSIGN_OR_RETURN(SandboxCommand command,
                   PipCommand(params.interpreter, context,
                              {"--python", absl::StrCat(kVenvDir, "/bin/python"), "install"}));
  command.argv.insert(command.argv.end(),
                      {"-r", absl::StrCat(kSandboxReqDir, "/requirements.txt")});
  command.mounts = {{venv_host, kVenvDir, true},
                    {req_host, kSandboxReqDir, false},
                    {cache_host, kSandboxCache, true}};
  return command;
}

absl::StatusOr<LayerOutput> RunPythonDepsInstall(const PythonDepsParams& params,
                                                 const BuildContext& context) {
  TEMPA_CHECK(context.sandbox != nullptr, "BuildContext.sandbox must be set");
  auto internal_error = [](absl::Status status) {
    return WithFailure(Annotate(status, "python dependencies"),
                       {FailureKind::kInternal, "build", ""});
  };
  // The sandbox may run as another user: MakeDirs gives these to the owner of the scratch
  // directory and app cache (the build user); only the build writes the 0700 ones.
  std::string venv_host = context.scratch_dir + "/venv";
  std::string req_host = context.scratch_dir + "/python-req";
  std::string cache_host =
      context.cache_dir.empty() ? context.scratch_dir + "/py-cache" : context.cache_dir + "/python";
  for (auto [dir, mode] : {std::pair{venv_host, 0700u}, {req_host, 0755u}, {cache_host, 0700u}}) {
    if (absl::Status s = buildpacks::internal::MakeDirs(dir, mode); !s.ok())
      return internal_error(s);
  }
  std::ofstream(req_host + "/requirements.txt", std::ios::trunc) << params.source.requirements;

  SandboxCommand venv;
  venv.argv = {params.interpreter.path, "-m", "venv", "--without-pip", kVenvDir};
  venv.env = BaseEnv({});
  venv.cwd = "/tmp";
  venv.mounts = {{venv_host, kVenvDir, true}};
  venv.limits = context.limits;
  if (context.log) context.log(absl::StrCat("$ python3.11 -m venv --without-pip ", kVenvDir));
  absl::StatusOr<std::pair<SandboxResult, std::string>> ran = RunLogged(venv, context);
  if (!ran.ok()) return internal_error(ran.status());
  if (!ran->first.ok()) {
    return Failed("python3.11 -m venv", ran->first, ran->second, venv.limits, FailureKind::kCompile,
                  "");
  }

  if (params.source.requirements.empty()) {
    if (context.log) context.log("no dependencies to install: empty venv");
  } else {
    absl::StatusOr<SandboxCommand> made =
        MakePipCommand(params, context, venv_host, req_host, cache_host);
    if (!made.ok()) {
      return WithFailure(Annotate(made.status(), "build env"),
                         {FailureKind::kBadInput, "build", ""});
    }
    SandboxCommand& pip = *made;
    const bool online = !pip.egress.empty();
    if (context.log) {
      context.log(absl::StrCat("$ pip install --no-compile -r requirements.txt (from ",
                               params.source.kind, ", ", params.source.names.size(), " package(s))",
                               online ? "" : " (offline: --no-index)"));
    }
    ran = RunLogged(pip, context);
    if (!ran.ok()) return internal_error(ran.status());
    if (!ran->first.ok()) {
      return PipFailed(absl::StrCat("pip install (", params.source.kind, ")"), ran->first,
                       ran->second, pip.limits, online);
    }
  }

  // The venv is the build's output: walked without following links, bytecode pip or a setup
  // script left despite --no-compile skipped, and its absolute links (bin/python3.11 →
  // /usr/bin/python3.11) kept as links, which in the image point at the run base's interpreter.
  LayerOutput output;
  std::string prefix(kVenvDir + 1);  // "opt/venv"
  oci::TreeOptions tree;
  tree.exclude_names = {"__pycache__"};
  tree.exclude_suffixes = {".pyc"};
  tree.allow_links_out = true;
  if (absl::Status s = output.spec.AddTree(venv_host, prefix, tree); !s.ok()) {
    if (s.code() != absl::StatusCode::kInvalidArgument) return internal_error(s);
    return WithFailure(Annotate(s, "pip install left an unusable venv"),
                       {FailureKind::kBadInput, "build", ""});
  }
  return output;
}

}  // namespace tempa::buildpacks::python
