#include "worker/app_source.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "buildpacks/app_config.h"
#include "buildpacks/internal/egress_targets.h"
#include "common/build_error.h"
#include "common/status_macros.h"

namespace tempa::worker {
namespace {

constexpr char kStartFlag[] = "--start";

// Takes a setting from a config file when the flags left it unset, and says so in `notes`.
template <typename T>
void Prefer(T& target, const T& value, absl::string_view what, std::vector<std::string>& notes) {
  if (target != T{} || value == T{}) return;
  target = value;
  notes.push_back(std::string(what));
}

// Fills what `outer` (the root's files) leaves unset from `inner` (the subdirectory's).
void MergeInner(buildpacks::AppConfig& outer, const buildpacks::AppConfig& inner,
                const std::string& subdirectory) {
  if (outer.start.empty() && !inner.start.empty()) {
    outer.start = inner.start;
    outer.start_source = absl::StrCat(subdirectory, "/", inner.start_source);
  }
  if (!outer.port) outer.port = inner.port;
  for (const auto& [k, v] : inner.build_env) outer.build_env.try_emplace(k, v);
  if (outer.go_main.empty()) outer.go_main = inner.go_main;
  if (outer.rust_bin.empty()) outer.rust_bin = inner.rust_bin;
  if (outer.python_module.empty()) outer.python_module = inner.python_module;
  if (outer.include.empty()) outer.include = inner.include;
  if (outer.exclude.empty()) outer.exclude = inner.exclude;
  if (!outer.collectstatic) outer.collectstatic = inner.collectstatic;
  if (outer.python_server.empty()) outer.python_server = inner.python_server;
}

// Refuses a path of the app (`rel`, from `what`) that goes through a symlink: detection would
// read beyond the link, outside the source tree. "..", absolute paths and missing parts are left
// to the buildpack, which refuses or reports them with its own message.
absl::Status RefuseSymlinkedPath(const std::string& app_dir, const std::string& rel,
                                 absl::string_view what) {
  std::string so_far;
  for (absl::string_view part : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == ".." || absl::StartsWith(rel, "/")) return absl::OkStatus();
    so_far = so_far.empty() ? std::string(part) : absl::StrCat(so_far, "/", part);
    struct stat st;
    if (lstat(absl::StrCat(app_dir, "/", so_far).c_str(), &st) != 0) return absl::OkStatus();
    if (S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " \"", rel, "\" goes through the symlink ", so_far, "; name the real directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResolvedApp> ResolveApp(const std::string& source_dir,
                                       const buildpacks::DetectOptions& cli_detect,
                                       const std::map<std::string, std::string>& cli_env) {
  ResolvedApp app;
  app.app_dir = source_dir;
  ASSIGN_OR_RETURN(buildpacks::AppConfig config, buildpacks::LoadAppConfig(source_dir));
  if (!config.subdirectory.empty()) {
    // LoadAppConfig refused absolute paths, ".." and symlinked components already.
    app.subdirectory = config.subdirectory;
    app.app_dir = absl::StrCat(source_dir, "/", config.subdirectory);
    struct stat st;
    if (lstat(app.app_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tempa.toml names subdirectory \"", config.subdirectory,
          "\", which is not a directory of ", source_dir, "; fix `subdirectory` in tempa.toml"));
    }
    app.notes.push_back(absl::StrCat("subdirectory ", config.subdirectory));
    // The app's own directory may carry its Procfile or tempa.toml too; the root's win.
    absl::StatusOr<buildpacks::AppConfig> inner = buildpacks::LoadAppConfig(app.app_dir);
    if (!inner.ok()) {
      return Annotate(inner.status(), absl::StrCat("in subdirectory ", config.subdirectory));
    }
    if (!inner->subdirectory.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.subdirectory, "/tempa.toml sets subdirectory \"", inner->subdirectory,
          "\" too; only the repository root's tempa.toml chooses the app directory: point the "
          "root's `subdirectory` at the app itself"));
    }
    MergeInner(config, *inner, config.subdirectory);
  }

  for (const auto& [k, v] : config.build_env) {
    if (buildpacks::internal::IsEgressVariable(k) && !cli_env.count(k)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tempa.toml [build] env sets ", k,
          ", which opens the build's network; only the operator grants network access: pass it "
          "with --build-env ",
          k, "=... instead"));
    }
  }
  app.build_env = config.build_env;
  app.include_files = config.include;
  app.exclude_files = config.exclude;
  if (!config.include.empty()) {
    app.notes.push_back(absl::StrCat("include ", absl::StrJoin(config.include, ", ")));
  }
  if (!config.exclude.empty()) {
    app.notes.push_back(absl::StrCat("exclude ", absl::StrJoin(config.exclude, ", ")));
  }
  for (const auto& [k, v] : cli_env) app.build_env[k] = v;

  app.detect = cli_detect;
  app.detect.build_env = app.build_env;
  app.detect.collectstatic = config.collectstatic;
  app.detect.python_server = config.python_server;
  if (!config.python_server.empty()) {
    app.notes.push_back(absl::StrCat("python_server ", config.python_server));
  }
  Prefer(app.detect.main_package, config.go_main, absl::StrCat("go_main ", config.go_main),
         app.notes);
  Prefer(app.detect.rust_bin, config.rust_bin, absl::StrCat("rust_bin ", config.rust_bin),
         app.notes);
  Prefer(app.detect.python_module, config.python_module,
         absl::StrCat("python_module ", config.python_module), app.notes);
  RETURN_IF_ERROR(RefuseSymlinkedPath(
      app.app_dir, app.detect.main_package,
      cli_detect.main_package.empty() ? "tempa.toml build.go_main" : "--go-main"));
  // The operator's start command (--start, or the app's settings on the control plane) wins
  // over tempa.toml, which wins over the Procfile's web line; detection comes last.
  if (!app.detect.start.empty()) {
    if (app.detect.start_source.empty()) app.detect.start_source = kStartFlag;
    app.notes.push_back(absl::StrCat("start command from ", app.detect.start_source));
  } else if (!config.start.empty()) {
    app.detect.start = config.start;
    app.detect.start_source = config.start_source;
    app.notes.push_back(absl::StrCat("start command from ", config.start_source));
  }
  if (!app.detect.port && config.port) {
    app.detect.port = config.port;
    app.notes.push_back(absl::StrCat("port ", *config.port));
  }
  return app;
}

absl::StatusOr<AppPlan> PlanApp(const std::string& source_dir,
                                const buildpacks::DetectOptions& cli_detect,
                                const std::map<std::string, std::string>& cli_env,
                                const buildpacks::Detector& detector) {
  auto fail = [](FailureKind kind, absl::string_view step, absl::Status status) {
    BuildFailure failure = FailureOf(status).value_or(BuildFailure{kind, std::string(step), ""});
    if (failure.step.empty()) failure.step = std::string(step);
    return WithFailure(std::move(status), failure);
  };
  struct stat st;
  if (stat(source_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(FailureKind::kBadInput, "detect",
                absl::InvalidArgumentError(absl::StrCat(
                    "source directory ", source_dir,
                    " does not exist or is not a directory; pass the app's root directory")));
  }
  AppPlan out;
  absl::StatusOr<ResolvedApp> app = ResolveApp(source_dir, cli_detect, cli_env);
  if (!app.ok()) return fail(FailureKind::kBadInput, "config", app.status());
  out.app = *std::move(app);

  auto detected = detector.Detect(out.app.app_dir, out.app.detect);
  if (!detected.ok()) {
    FailureKind kind = detected.status().code() == absl::StatusCode::kFailedPrecondition
                           ? FailureKind::kNoAppDetected
                           : FailureKind::kBadInput;
    return fail(kind, "detect", detected.status());
  }
  out.buildpack = detected->first;
  out.plan = std::move(detected->second);
  return out;
}

}  // namespace tempa::worker
