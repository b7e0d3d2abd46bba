#include "worker/app_source.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "buildpacks/app_config.h"
#include "buildpacks/internal/egress_targets.h"
#include "common/status_macros.h"

namespace tempa::worker {
namespace {

template <typename T>
void Prefer(T& target, const T& value) {
  if (target == T{}) target = value;
}

}  // namespace

absl::StatusOr<ResolvedApp> ResolveApp(const std::string& source_dir,
                                       const buildpacks::DetectOptions& cli_detect,
                                       const std::map<std::string, std::string>& cli_env) {
  ResolvedApp app;
  app.app_dir = source_dir;
  ASSIGN_OR_RETURN(buildpacks::AppConfig config, buildpacks::LoadAppConfig(source_dir));
  if (!config.subdirectory.empty()) {
    app.app_dir = absl::StrCat(source_dir, "/", config.subdirectory);
    struct stat st;
    if (stat(app.app_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tempa.toml names subdirectory \"", config.subdirectory,
                       "\", which is not a directory of ", source_dir,
                       "; fix `subdirectory` in tempa.toml"));
    }
    app.notes.push_back(absl::StrCat("subdirectory ", config.subdirectory));
    // The app's own directory may carry its Procfile or tempa.toml too; the root's win.
    ASSIGN_OR_RETURN(buildpacks::AppConfig inner, buildpacks::LoadAppConfig(app.app_dir));
    if (config.start.empty()) {
      config.start = inner.start;
      config.start_source = inner.start_source;
    }
    if (!config.port) config.port = inner.port;
    for (const auto& [k, v] : inner.build_env) config.build_env.try_emplace(k, v);
    Prefer(config.go_main, inner.go_main);
    Prefer(config.rust_bin, inner.rust_bin);
    Prefer(config.python_module, inner.python_module);
  }

  for (const auto& [k, v] : config.build_env) {
    if (buildpacks::internal::IsEgressVariable(k) && !cli_env.count(k)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tempa.toml [build] env sets ", k,
          ", which opens the build's network; only the operator grants network access: pass it "
          "with --build-env ", k, "=... instead"));
    }
  }
  app.build_env = config.build_env;
  for (const auto& [k, v] : cli_env) app.build_env[k] = v;

  app.detect = cli_detect;
  Prefer(app.detect.main_package, config.go_main);
  Prefer(app.detect.rust_bin, config.rust_bin);
  Prefer(app.detect.python_module, config.python_module);
  if (app.detect.start.empty() && !config.start.empty()) {
    app.detect.start = config.start;
    app.detect.start_source = config.start_source;
    app.notes.push_back(absl::StrCat("start command from ", config.start_source));
  }
  if (!app.detect.port) app.detect.port = config.port;
  return app;
}

}  // namespace tempa::worker
