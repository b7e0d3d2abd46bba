// The app's own say over its build: an optional `tempa.toml` at the app root and a `Procfile`.
// Both override detection. Parsed with toml++; unknown keys are errors so typos don't pass
// silently.
//
//   # tempa.toml
//   subdirectory = "services/api"     # build this directory of a monorepo
//   port = 3000                       # the port the app listens on ($PORT is set to it)
//   start = "gunicorn app:app"        # start command (shell form); beats Procfile and detection
//   include = ["config/app.toml"]     # runtime files: bring back what defaults/.tempaignore omit
//   exclude = ["docs/"]               # runtime files: leave out more (gitignore-syntax globs)
//   [build]
//   env = { GOFLAGS = "-tags=prod" }  # build environment (the CLI's --build-env wins)
//   go_main = "cmd/api"               # Go: which main package
//   rust_bin = "server"               # Rust: which binary target of a workspace
//   python_module = "app:app"         # Python: the WSGI/ASGI object for gunicorn/uvicorn
//   collectstatic = false             # Django: skip `manage.py collectstatic` at build time
//   python_server = "gunicorn==23.0.0" # Python: the version of a server Tempa supplies
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::buildpacks {

struct AppConfig {
  std::string subdirectory;  // relative to the repository root; "" = the root
  std::optional<int> port;
  std::string start;         // shell-form start command; from tempa.toml `start` or Procfile `web:`
  std::string start_source;  // "tempa.toml", "Procfile" or "" — for `tempa detect`'s reasons
  std::map<std::string, std::string> build_env;
  std::string go_main;
  std::string rust_bin;
  std::string python_module;
  // Globs over the app's runtime files (buildpacks/internal/runtime_files.h).
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::optional<bool> collectstatic;  // unset: run it when STATIC_ROOT is set
  std::string python_server;          // "gunicorn==23.0.0"; checked by the Python buildpack
};

// Reads `dir`/tempa.toml and `dir`/Procfile when present (neither is required). Errors name the
// file, line and key: "tempa.toml:3: port must be an integer between 1 and 65535".
absl::StatusOr<AppConfig> LoadAppConfig(const std::string& dir);

}  // namespace tempa::buildpacks
