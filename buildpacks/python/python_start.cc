#include "buildpacks/python/python_start.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/python/python_install.h"
#include "buildpacks/python/python_server.h"
#include "common/build_error.h"

namespace tempa::buildpacks::python {
namespace {

namespace fs = buildpacks::internal;

constexpr size_t kMaxSourceBytes = 1 << 20;
// Where apps put their application object, most conventional first; then the root's other
// modules in name order.
constexpr const char* kPreferredModules[] = {
    "app.py", "main.py",     "wsgi.py",         "asgi.py",     "application.py", "server.py",
    "api.py", "app/main.py", "app/__init__.py", "src/main.py", "src/app.py"};

std::vector<std::string> Shell(const std::string& command) { return {"/bin/sh", "-c", command}; }

absl::Status BadInput(const std::string& message) {
  return WithFailure(absl::InvalidArgumentError(message), {FailureKind::kBadInput, "detect", ""});
}

// "app/main.py" → "app.main"; "app/__init__.py" → "app".
std::string ModuleName(std::string path) {
  path = std::string(absl::StripSuffix(path, ".py"));
  path = std::string(absl::StripSuffix(path, "/__init__"));
  absl::StrReplaceAll({{"/", "."}}, &path);
  return path;
}

bool IsIdentifierStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }

std::string LeadingIdentifier(absl::string_view s) {
  size_t n = 0;
  while (n < s.size() &&
         (IsIdentifierStart(s[n]) || std::isdigit(static_cast<unsigned char>(s[n])))) {
    ++n;
  }
  return n > 0 && IsIdentifierStart(s[0]) ? std::string(s.substr(0, n)) : "";
}

std::vector<std::string> CandidateModules(const std::string& root) {
  std::vector<std::string> out;
  for (const char* rel : kPreferredModules) {
    if (fs::IsRegularFile(root + "/" + rel)) out.push_back(rel);
  }
  if (absl::StatusOr<std::vector<std::string>> names = fs::ListDir(root); names.ok()) {
    for (const std::string& name : *names) {
      if (!absl::EndsWith(name, ".py") || name == "setup.py" || name == "manage.py") continue;
      if (std::find(out.begin(), out.end(), name) == out.end() &&
          fs::IsRegularFile(root + "/" + name)) {
        out.push_back(name);
      }
    }
  }
  return out;
}

// " (tempa.toml python_server)" when the app's config chose `server`'s version; "" for the default.
std::string VersionSource(const SuppliedServer& server, const DetectOptions& options) {
  return server.Spec() == options.python_server ? " (tempa.toml python_server)" : "";
}

// A start command of the app's own that runs gunicorn or uvicorn ("gunicorn app:app", "exec
// uvicorn main:app ...") which its requirements lack gets the server too, when the build has an
// index: the server layer puts its script in /opt/venv/bin, first on PATH. Offline, the plan
// notes that the command will not find it.
void SupplyForCommand(const DetectOptions& options, const DependencySource& deps,
                      StartDecision& start) {
  std::vector<absl::string_view> words =
      absl::StrSplit(options.start, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  size_t first = !words.empty() && words[0] == "exec" ? 1 : 0;
  if (words.size() <= first || deps.kind == "none") return;
  std::optional<SuppliedServer> server =
      SupplyableServer(std::string(words[first]), options.python_server);
  if (!server || deps.names.count(server->name)) return;
  std::string manifest = deps.kind;
  if (!PipNeedsNetwork(options.build_env)) {
    start.supplied_reason =
        absl::StrCat("note: the start command runs ", server->name, ", which is not in ", manifest,
                     " and cannot be supplied without a package index: add it to ", manifest);
    return;
  }
  start.supplied_server = server->Spec();
  start.supplied_reason = absl::StrCat(server->name, " ", server->version, " supplied by Tempa",
                                       VersionSource(*server, options), ": not in ", manifest,
                                       " (the start command runs it)");
}

}  // namespace

std::string DjangoProject(const std::string& root) {
  absl::StatusOr<std::string> manage = fs::ReadSmallFile(root + "/manage.py", kMaxSourceBytes);
  if (manage.ok()) {
    size_t at = manage->find("DJANGO_SETTINGS_MODULE");
    size_t quote = at == std::string::npos ? at : manage->find_first_of("\"'", at + 24);
    if (quote != std::string::npos) {
      std::string module = LeadingIdentifier(absl::string_view(*manage).substr(quote + 1));
      if (!module.empty() && fs::IsRegularFile(absl::StrCat(root, "/", module, "/wsgi.py"))) {
        return module;
      }
    }
  }
  if (absl::StatusOr<std::vector<std::string>> names = fs::ListDir(root); names.ok()) {
    for (const std::string& name : *names) {
      std::string dir = root + "/" + name;
      if (fs::IsRegularFile(dir + "/wsgi.py") && fs::IsRegularFile(dir + "/settings.py")) {
        return name;
      }
    }
  }
  return "";
}

std::optional<AppObject> FindAppObject(const std::string& source) {
  bool imports_flask = false, imports_fastapi = false;
  std::optional<AppObject> found, factory;
  for (absl::string_view line : absl::StrSplit(source, '\n')) {
    absl::string_view code = absl::StripTrailingAsciiWhitespace(line);
    if (absl::StartsWith(code, "from flask import") || absl::StartsWith(code, "import flask")) {
      imports_flask = true;
    }
    if (absl::StartsWith(code, "from fastapi import") || absl::StartsWith(code, "import fastapi")) {
      imports_fastapi = true;
    }
    if (absl::StartsWith(code, "def create_app(") || absl::StartsWith(code, "def make_app(")) {
      factory = AppObject{"flask", LeadingIdentifier(code.substr(4)), true};
    }
    // Module level only: `NAME = Flask(` or `NAME: FastAPI = FastAPI(`.
    std::string name = LeadingIdentifier(code);
    if (name.empty() || found) continue;
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(code.substr(name.size()));
    if (absl::ConsumePrefix(&rest, ":")) {  // an annotation: skip to the assignment
      size_t eq = rest.find('=');
      if (eq == absl::string_view::npos) continue;
      rest = rest.substr(eq);
    }
    if (!absl::ConsumePrefix(&rest, "=") || absl::StartsWith(rest, "=")) continue;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!absl::ConsumePrefix(&rest, "flask.")) absl::ConsumePrefix(&rest, "fastapi.");
    if (absl::StartsWith(rest, "Flask(")) found = AppObject{"flask", name, false};
    if (absl::StartsWith(rest, "FastAPI(")) found = AppObject{"fastapi", name, false};
  }
  if (found && found->framework == "flask" && imports_flask) return found;
  if (found && found->framework == "fastapi" && imports_fastapi) return found;
  if (factory && imports_flask) return factory;
  return std::nullopt;
}

absl::StatusOr<StartDecision> DecideStart(const std::string& root, const DetectOptions& options,
                                          const DependencySource& deps) {
  StartDecision start;
  if (!options.python_server.empty()) {
    absl::StatusOr<SuppliedServer> configured = ParseServerSpec(options.python_server);
    if (!configured.ok()) {
      return BadInput(absl::StrCat("tempa.toml [build] ", configured.status().message()));
    }
  }
  if (!options.start.empty()) {
    start.command = Shell(options.start);
    start.framework = "custom";
    start.reason =
        absl::StrCat("start: `", options.start, "` (from ",
                     options.start_source.empty() ? "config" : options.start_source, ")");
    SupplyForCommand(options, deps, start);
    return start;
  }
  std::string manifest = deps.kind == "none" ? "requirements.txt" : deps.kind;
  // The app's own server when its requirements list it; else the one Tempa supplies (from the
  // build's index: an offline build cannot fetch it, and says how to fix that).
  auto require = [&](const std::string& what, const std::string& server) -> absl::Status {
    if (deps.names.count(server)) return absl::OkStatus();
    // Without any manifest nothing is installed, the framework included: a supplied server
    // would only start to fail importing the app.
    if (deps.kind == "none") {
      return BadInput(absl::StrCat(what,
                                   " but the app has no requirements.txt (or other "
                                   "manifest), so neither the framework nor ",
                                   server, " would be installed: add a requirements.txt"));
    }
    std::optional<SuppliedServer> supplied = SupplyableServer(server, options.python_server);
    if (supplied && PipNeedsNetwork(options.build_env)) {
      start.supplied_server = supplied->Spec();
      start.supplied_reason =
          absl::StrCat(supplied->name, " ", supplied->version, " supplied by Tempa",
                       VersionSource(*supplied, options), ": not in ", manifest);
      return absl::OkStatus();
    }
    return BadInput(absl::StrCat(
        what, " but ", server, " is not in ", manifest,
        " and this build has no package index to fetch it from: add ", server,
        ", or pass --build-env PIP_INDEX_URL=..., or set a start command (tempa.toml start = "
        "\"...\", a Procfile web: line, tempa build --start or tempa apps set --start)"));
  };
  // `exec gunicorn ...`, or `exec python -m gunicorn ...` for a supplied one (its scripts are
  // not on PATH; the venv's python imports it through the .pth file).
  auto run = [&](const std::string& server) {
    return start.supplied_server.empty() ? absl::StrCat("exec ", server, " ")
                                         : absl::StrCat("exec python -m ", server, " ");
  };

  if (fs::IsRegularFile(root + "/manage.py")) {
    std::string project = DjangoProject(root);
    if (!project.empty()) {
      start.module = options.python_module.empty() ? project + ".wsgi" : options.python_module;
      if (absl::Status s = require(
              absl::StrCat("Django project ", project, " found (manage.py, ", project, "/wsgi.py)"),
              "gunicorn");
          !s.ok()) {
        return s;
      }
      start.framework = "django";
      start.command = Shell(absl::StrCat(run("gunicorn"), start.module, " --bind 0.0.0.0:$PORT"));
      start.reason = absl::StrCat("start: Django project ", project, " (manage.py, ", project,
                                  "/wsgi.py) under gunicorn");
      return start;
    }
  }

  for (const std::string& rel : CandidateModules(root)) {
    absl::StatusOr<std::string> text = fs::ReadPrefixBeneath(root, rel, kMaxSourceBytes);
    if (!text.ok()) continue;
    std::optional<AppObject> app = FindAppObject(*text);
    if (!app) continue;
    std::string target =
        absl::StrCat(ModuleName(rel), ":", app->variable, app->factory ? "()" : "");
    start.module = options.python_module.empty() ? target : options.python_module;
    start.framework = app->framework;
    std::string where =
        absl::StrCat(app->framework == "flask" ? "Flask" : "FastAPI", " app found in ", rel);
    if (app->framework == "fastapi") {
      if (absl::Status s = require(where, "uvicorn"); !s.ok()) return s;
      start.command =
          Shell(absl::StrCat(run("uvicorn"), start.module, " --host 0.0.0.0 --port $PORT"));
      start.reason = absl::StrCat("start: ", where, " (", start.module, ") under uvicorn");
    } else {
      if (absl::Status s = require(where, "gunicorn"); !s.ok()) return s;
      start.command =
          Shell(absl::StrCat(run("gunicorn"), "'", start.module, "' --bind 0.0.0.0:$PORT"));
      start.reason = absl::StrCat("start: ", where, " (", start.module, ") under gunicorn");
    }
    return start;
  }

  for (const char* script : {"app.py", "main.py"}) {
    if (!fs::IsRegularFile(root + "/" + script)) continue;
    start.framework = "script";
    start.module = script;
    start.command = Shell(absl::StrCat("exec python ", script));
    start.reason = absl::StrCat("start: python ", script,
                                " (no web framework found; the script "
                                "must listen on $PORT)");
    return start;
  }
  return BadInput(absl::StrCat(
      "Python app found (", deps.kind,
      ") but nothing says how to start it: no Django, FastAPI or "
      "Flask app object and no app.py or main.py; add a Procfile with `web: <command>` or "
      "start = \"<command>\" in tempa.toml, or give one from outside (tempa build --start, "
      "tempa apps set --start)"));
}

}  // namespace tempa::buildpacks::python
