// The explicit result of detection: what will be built, with what, and how it runs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tempa::buildpacks {

struct DetectOptions {
  std::string main_package;  // Go: the cmd/* (or path) to build when there are several
  // tempa.toml / Procfile of the app, already loaded (see app_config.h); empty when absent.
  std::string start;  // start command override (shell form)
  // Where `start` came from, exactly as `tempa detect` names it: "--start", "app settings",
  // "tempa.toml", "Procfile", "SUBDIR/tempa.toml", "SUBDIR/Procfile".
  std::string start_source;
  std::optional<int> port;    // port override
  std::string rust_bin;       // Rust: which binary of a workspace
  std::string python_module;  // Python: WSGI/ASGI object, e.g. "app:app"
  // The resolved build env (--build-env over tempa.toml's): Python supplies a missing server
  // only when it names a package index to fetch it from.
  std::map<std::string, std::string> build_env;
  // tempa.toml `[build] collectstatic`; unset: Django's collectstatic runs when STATIC_ROOT is.
  std::optional<bool> collectstatic;
  // tempa.toml `[build] python_server` ("gunicorn==23.0.0"): the version of a supplied server.
  std::string python_server;
};

struct BuildPlan {
  std::string language;      // "go", "rust", "python"
  std::string toolchain;     // e.g. "go1.23.5"
  std::string app_name;      // binary / app name
  std::string main_package;  // Go: "." or "./cmd/api"
  bool vendored = false;     // dependencies come from vendor/
  int port = 8080;
  std::vector<std::string> reasons;  // why this plan, in order, for `tempa detect`
  // The command the image starts (exec form), when the buildpack decided one.
  std::vector<std::string> start_command;
  // Where start_command came from: "--start", "app settings", "tempa.toml", "Procfile" (or
  // "SUBDIR/tempa.toml", ...) or "detection".
  std::string start_source;
  // Language-specific facts the buildpack's Prepare needs again (e.g. Python's dependency
  // manifest kind, Rust's binary target); also printed by `tempa detect --json`.
  std::map<std::string, std::string> details;
};

}  // namespace tempa::buildpacks
