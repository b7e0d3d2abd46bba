#include "buildpacks/python/python_buildpack.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/runtime_files.h"
#include "buildpacks/python/python_collectstatic.h"
#include "buildpacks/python/python_install.h"
#include "buildpacks/python/python_manifest.h"
#include "buildpacks/python/python_server.h"
#include "buildpacks/python/python_start.h"
#include "buildpacks/runbase/static_base.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks {
namespace {

// Bump when the app layer's layout changes, so old cached layers are not reused.
constexpr char kAppLayerVersion[] = "python-app-v2";
constexpr int kDefaultPort = 8080;

// A name fit for labels: letters, digits, "-", "_", "."; "app" when nothing is left.
std::string SanitizeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (ok) out.push_back(c);
  }
  return out.empty() ? "app" : out;
}

absl::Status Internal(absl::Status status, absl::string_view step) {
  return WithFailure(status, {FailureKind::kInternal, std::string(step), ""});
}

}  // namespace

namespace python {

internal::RuntimeFilesOptions PythonAppFilesOptions(const std::vector<std::string>& include,
                                                    const std::vector<std::string>& exclude) {
  internal::RuntimeFilesOptions options;
  options.layer_version = kAppLayerVersion;
  // Bytecode is the interpreter's cache, not source: it would differ between checkouts.
  options.defaults = {"__pycache__", ".venv", "venv", "*.pyc", "/.tempaignore", "/.dockerignore"};
  options.include = include;
  options.exclude = exclude;
  options.allow_links_out = false;
  return options;
}

absl::StatusOr<LayerOutput> PythonAppLayer(const std::string& source_dir,
                                           const std::vector<std::string>& include,
                                           const std::vector<std::string>& exclude) {
  return internal::RuntimeFilesLayer(source_dir, PythonAppFilesOptions(include, exclude));
}

}  // namespace python

PythonBuildpack::PythonBuildpack(PythonBuildpackOptions options) : options_(std::move(options)) {
  if (options_.interpreter == nullptr) options_.interpreter = std::make_shared<HostPythonLocator>();
}

absl::StatusOr<std::optional<BuildPlan>> PythonBuildpack::Detect(const std::string& source_dir,
                                                                 const DetectOptions& options) {
  std::string root = source_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  absl::StatusOr<std::optional<python::DependencySource>> found =
      python::FindDependencySource(root);
  if (!found.ok()) {
    return WithFailure(found.status(), {FailureKind::kBadInput, "detect", ""});
  }
  if (!found->has_value()) return std::nullopt;
  const python::DependencySource& deps = **found;

  BuildPlan plan;
  plan.language = "python";
  plan.reasons.push_back(
      deps.kind == "none"
          ? "Python app: main.py / app.py at the root"
          : absl::StrCat(deps.kind, " found: ", deps.names.size(), " package(s) listed"));
  plan.reasons.insert(plan.reasons.end(), deps.notes.begin(), deps.notes.end());

  absl::StatusOr<PythonInterpreter> interpreter = options_.interpreter->Locate();
  if (!interpreter.ok()) {
    return Internal(Annotate(interpreter.status(), "Python app detected"), "detect");
  }
  plan.toolchain = "python" + interpreter->version;
  plan.reasons.push_back(absl::StrCat("interpreter: ", interpreter->path, ", ",
                                      interpreter->Describe(), " (the run base ships the same)"));

  ASSIGN_OR_RETURN(python::StartDecision start, python::DecideStart(root, options, deps));
  plan.start_command = start.command;
  plan.start_source = options.start.empty() ? "detection" : options.start_source;
  plan.reasons.push_back(start.reason);
  plan.app_name = SanitizeName(deps.project_name.empty() ? "app" : deps.project_name);
  plan.port = options.port.value_or(kDefaultPort);
  plan.reasons.push_back(
      "dependencies: a venv at /opt/venv from `pip install`, which reaches only the indexes the "
      "build env names (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS), else offline");
  plan.reasons.push_back(absl::StrCat("port: ", plan.port, " (the app reads $PORT)"));
  plan.details = {{"dependency_source", deps.kind},
                  {"dependency_files", absl::StrJoin(deps.files, ",")},
                  {"framework", start.framework},
                  {"module", start.module},
                  {"interpreter", interpreter->Describe()}};
  if (!start.supplied_server.empty()) plan.details["supplied_server"] = start.supplied_server;
  if (!start.supplied_reason.empty()) plan.reasons.push_back(start.supplied_reason);
  // A Django project's static files, whoever decided its start command.
  python::CollectstaticDecision collect = python::DecideCollectstatic(
      root, python::DjangoProject(root), options.build_env, options.collectstatic);
  if (!collect.reason.empty()) plan.reasons.push_back(collect.reason);
  if (collect.run) plan.details["collectstatic"] = collect.settings_file;
  return plan;
}

absl::StatusOr<BuildRecipe> PythonBuildpack::Prepare(const BuildPlan& plan,
                                                     const BuildContext& context) {
  absl::StatusOr<PythonInterpreter> interpreter = options_.interpreter->Locate();
  if (!interpreter.ok()) return Internal(interpreter.status(), "build");
  // The tree is read again rather than trusting the plan's details, which may have travelled.
  absl::StatusOr<std::optional<python::DependencySource>> source =
      python::FindDependencySource(context.source_dir);
  if (!source.ok()) return WithFailure(source.status(), {FailureKind::kBadInput, "build", ""});
  if (!source->has_value()) {
    return WithFailure(absl::FailedPreconditionError(
                           absl::StrCat("no Python manifest in ", context.source_dir, " any more")),
                       {FailureKind::kBadInput, "build", ""});
  }
  auto detail = plan.details.find("dependency_source");
  if (detail != plan.details.end() && detail->second != (*source)->kind && context.log) {
    context.log(
        absl::StrCat("note: planned with ", detail->second, ", building from ", (*source)->kind));
  }
  python::PythonDepsParams params;
  params.interpreter = *interpreter;
  params.source = **std::move(source);
  if (absl::Status s = python::HashDependencyFiles(context.source_dir, params); !s.ok()) {
    return Internal(s, "build");
  }

  BuildRecipe recipe;
  runbase::DebianBaseOptions base = options_.base;
  if (base.deb_cache_dir.empty()) base.deb_cache_dir = context.deb_cache_dir;
  if (base.deb_cache_dir.empty() && !context.cache_dir.empty()) {
    base.deb_cache_dir = context.cache_dir + "/debs";
  }
  TEMPA_CHECK(options_.base_layer != nullptr, "PythonBuildpackOptions.base_layer must be set");
  absl::StatusOr<PlannedLayer> base_layer = options_.base_layer(base);
  if (!base_layer.ok()) return Internal(base_layer.status(), "build");
  recipe.layers.push_back(*std::move(base_layer));

  PlannedLayer deps;
  deps.role = LayerRole::kDeps;
  deps.input_key = python::PythonDepsInputKey(params, context.build_env);
  deps.produce = [params, context]() { return python::RunPythonDepsInstall(params, context); };
  // For the fleet: pip with a cache in the build's scratch directory, not the app's. The app's
  // pip cache is written by whatever its earlier builds installed (an sdist's setup.py from an
  // index it named can plant entries there), so a layer made from it is fit for this app only.
  deps.produce_for_fleet = [params, context]() {
    BuildContext isolated = context;
    isolated.cache_dir.clear();
    return python::RunPythonDepsInstall(params, isolated);
  };
  const std::string deps_key = deps.input_key;
  recipe.layers.push_back(std::move(deps));

  std::string server_spec;
  if (auto supplied = plan.details.find("supplied_server"); supplied != plan.details.end()) {
    std::optional<python::SuppliedServer> server = python::SuppliedServerForSpec(supplied->second);
    if (!server) {
      return WithFailure(absl::InvalidArgumentError(absl::StrCat(
                             "the plan names \"", supplied->second,
                             "\" as the server to supply, which Tempa does not supply")),
                         {FailureKind::kBadInput, "build", ""});
    }
    server_spec = server->Spec();
    if (context.log) {
      context.log(absl::StrCat(server->name, " ", server->version,
                               " supplied by Tempa: not in the app's requirements"));
    }
    recipe.layers.push_back(python::ServerLayer(*server, *interpreter, context));
  }

  // The app's files are selected and hashed once, here: the app layer is made of them and the
  // static layer is keyed by them.
  absl::StatusOr<LayerOutput> app_files =
      python::PythonAppLayer(context.source_dir, context.include_files, context.exclude_files);
  if (!app_files.ok()) {
    return WithFailure(app_files.status(), {FailureKind::kBadInput, "build", ""});
  }
  const std::string app_key = app_files->content_key;
  PlannedLayer app;
  app.role = LayerRole::kApp;
  app.produce = [output = *std::move(app_files)]() -> absl::StatusOr<LayerOutput> {
    return output;
  };
  recipe.layers.push_back(std::move(app));

  // Django's collectstatic, when the plan asks for it and the tree and build env still do.
  if (auto planned = plan.details.find("collectstatic"); planned != plan.details.end()) {
    python::CollectstaticDecision collect =
        python::DecideCollectstatic(context.source_dir, python::DjangoProject(context.source_dir),
                                    context.build_env, std::nullopt);
    if (collect.run) {
      python::CollectstaticInputs inputs{*interpreter, deps_key, server_spec, collect.settings_file,
                                         app_key};
      ASSIGN_OR_RETURN(PlannedLayer layer, python::CollectstaticLayer(inputs, context));
      recipe.layers.push_back(std::move(layer));
    } else if (context.log) {
      context.log(collect.reason);
    }
  }

  ImageConfigSpec& config = recipe.config;
  config.entrypoint = plan.start_command;
  if (config.entrypoint.empty()) {
    return WithFailure(absl::InvalidArgumentError("build plan has no start command"),
                       {FailureKind::kBadInput, "build", ""});
  }
  config.port = plan.port;
  config.env = {
      {"PATH", absl::StrCat(python::kVenvDir, "/bin:/usr/bin:/bin")},
      {"VIRTUAL_ENV", python::kVenvDir},
      {"PYTHONUNBUFFERED", "1"},
      {"PYTHONDONTWRITEBYTECODE", "1"},
      {"PORT", absl::StrCat(plan.port)},
      {"SSL_CERT_FILE", absl::StrCat("/", runbase::kCaBundlePath)},
  };
  config.working_dir = "/app";
  config.user = absl::StrCat(runbase::kNonRootUid, ":", runbase::kNonRootUid);
  config.labels = {
      {"org.opencontainers.image.title", plan.app_name},
      {"dev.tempa.language", "python"},
      {"dev.tempa.toolchain", interpreter->Describe()},
      {"dev.tempa.dependency-source", params.source.kind},
  };
  if (auto framework = plan.details.find("framework"); framework != plan.details.end()) {
    config.labels["dev.tempa.framework"] = framework->second;
  }
  return recipe;
}

}  // namespace tempa::buildpacks
