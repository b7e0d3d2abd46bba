#include "worker/cli/cli_args.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/runtime_env.h"

namespace tempa::cli {

#define TEMPA_BUILD_USAGE                                                           \
  "  tempa build DIR --image HOST[:PORT]/NAME[:TAG] [--json] [--cache-dir DIR]\n"   \
  "              [--start CMD] [--env K=V]... [--env-file F]\n"                     \
  "              [--build-env K=V]... [--insecure-registry] [--go-main cmd/NAME]\n" \
  "              [--run-image REF] [--memory SIZE] [--timeout DURATION]\n"          \
  "              [--max-processes N] [--max-output SIZE] [--max-file-size SIZE]\n"
#define TEMPA_DETECT_USAGE \
  "  tempa detect DIR [--json] [--start CMD] [--go-main cmd/NAME] [--build-env K=V]...\n"

const char kUsage[] = "usage:\n" TEMPA_BUILD_USAGE TEMPA_DETECT_USAGE;

namespace {

constexpr char kStartHelp[] =
    "  --start CMD         the command the image starts, over tempa.toml `start`, the\n"
    "                      Procfile's web: line and detection (in that order). Go and Rust\n"
    "                      images have no shell: a program and plain arguments, e.g.\n"
    "                      \"/app/NAME -flag value\"; Python runs it with /bin/sh -c\n";

constexpr char kBuildHelp[] =
    "Builds DIR into an image and pushes it to --image.\n"
    "\n"
    "  --image REF         where the image goes: HOST[:PORT]/NAME[:TAG]\n"
    "  --json              one JSON document on stdout (the error, on failure)\n"
    "  --env K=V           a variable in the image config's Env (repeatable; over the\n"
    "                      buildpack's; PORT is tempa.toml `port`). Anyone who can pull the\n"
    "                      image can read it: secrets belong in the deploy env\n"
    "                      (`tempa apps set NAME --env K=V`, sealed, given at start)\n"
    "  --env-file F        NAME=VALUE lines for the image's Env (# comments); --env wins\n"
    "  --build-env K=V     a variable for the build steps only (not in the image)\n"
    "  --insecure-registry talk plain HTTP to the registry\n"
    "  --go-main cmd/NAME  the Go main package, when there are several\n"
    "  --run-image REF     build onto this base image instead of the buildpack's run base\n"
    "  --cache-dir DIR     build caches (default $XDG_CACHE_HOME/tempa, ~/.cache/tempa)\n"
    "  --memory, --timeout, --max-processes, --max-output, --max-file-size: sandbox limits\n"
    "                      of each build step (512m, 2g; 90s, 10m)\n";

constexpr char kDetectHelp[] =
    "Prints what `tempa build DIR` would build: language, toolchain, app, start command and\n"
    "where it came from, port, and why.\n"
    "\n"
    "  --json              the plan as one JSON document\n"
    "  --go-main cmd/NAME  the Go main package, when there are several\n"
    "  --build-env K=V     as for tempa build (tempa.toml may not override it)\n";

absl::Status Usage(absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(problem, "\n", kUsage));
}

// Walks args, splitting "--flag=value" and "--flag value"; calls on_flag / on_positional.
template <typename OnFlag, typename OnPositional>
absl::Status Walk(const std::vector<std::string>& args, OnFlag on_flag,
                  OnPositional on_positional) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--")) {
      if (absl::Status s = on_positional(arg); !s.ok()) return s;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto next_value = [&]() -> absl::StatusOr<std::string> {
      if (value) return *value;
      if (i + 1 >= args.size()) return Usage(absl::StrCat(name, " needs a value"));
      return args[++i];
    };
    if (absl::Status s = on_flag(name, next_value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// "--start CMD": a command, not blanks.
absl::Status SetStart(const std::string& value, std::string& start) {
  if (absl::StripAsciiWhitespace(value).empty()) {
    return Usage("--start needs a command, e.g. --start \"/app/NAME -flag value\"");
  }
  start = value;
  return absl::OkStatus();
}

// "KEY=VALUE" of --build-env into `env`.
absl::Status AddBuildEnv(const std::string& value, std::map<std::string, std::string>& env) {
  size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Usage(absl::StrCat("--build-env \"", value, "\" is not KEY=VALUE"));
  }
  env[value.substr(0, eq)] = value.substr(eq + 1);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BuildArgs> ParseBuildArgs(const std::vector<std::string>& args) {
  BuildArgs out;
  absl::Status status = Walk(
      args,
      [&](const std::string& name, auto next_value) -> absl::Status {
        if (name == "--json") {
          out.json = true;
        } else if (name == "--insecure-registry") {
          out.insecure_registry = true;
        } else if (name == "--image" || name == "--cache-dir" || name == "--build-env" ||
                   name == "--go-main" || name == "--run-image" || name == "--memory" ||
                   name == "--timeout" || name == "--max-processes" || name == "--max-output" ||
                   name == "--max-file-size" || name == "--start" || name == "--env" ||
                   name == "--env-file") {
          absl::StatusOr<std::string> v = next_value();
          if (!v.ok()) return v.status();
          if (name == "--run-image") out.run_image = *v;
          if (name == "--memory" || name == "--max-output" || name == "--max-file-size") {
            absl::StatusOr<uint64_t> bytes = ParseByteSize(*v);
            if (!bytes.ok()) return Usage(absl::StrCat(name, ": ", bytes.status().message()));
            (name == "--memory"       ? out.memory_bytes
             : name == "--max-output" ? out.max_output_bytes
                                      : out.max_file_bytes) = *bytes;
          }
          if (name == "--timeout" &&
              (!absl::ParseDuration(*v, &out.timeout) || out.timeout <= absl::ZeroDuration())) {
            return Usage(absl::StrCat("--timeout \"", *v, "\" is not a duration like 90s or 10m"));
          }
          if (name == "--max-processes" &&
              (!absl::SimpleAtoi(*v, &out.max_processes) || out.max_processes <= 0)) {
            return Usage(absl::StrCat("--max-processes \"", *v, "\" is not a positive number"));
          }
          if (name == "--image") out.image = *v;
          if (name == "--cache-dir") out.cache_dir = *v;
          if (name == "--go-main") out.go_main = *v;
          if (name == "--build-env") return AddBuildEnv(*v, out.build_env);
          if (name == "--start") return SetStart(*v, out.start);
          if (name == "--env") {
            absl::Status s = worker::AddRuntimeEnv("--env", *v, out.runtime_env);
            if (!s.ok()) return Usage(s.message());
          }
          if (name == "--env-file") out.env_files.push_back(*v);
        } else {
          return Usage(absl::StrCat("unknown flag ", name));
        }
        return absl::OkStatus();
      },
      [&](const std::string& positional) -> absl::Status {
        if (!out.source_dir.empty()) {
          return Usage(absl::StrCat("unexpected argument \"", positional,
                                    "\": tempa build takes one directory"));
        }
        out.source_dir = positional;
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (out.source_dir.empty()) return Usage("tempa build needs the app's directory");
  if (out.image.empty()) {
    return Usage("tempa build needs --image HOST[:PORT]/NAME[:TAG], e.g. 127.0.0.1:5000/hello");
  }
  return out;
}

absl::StatusOr<DetectArgs> ParseDetectArgs(const std::vector<std::string>& args) {
  DetectArgs out;
  absl::Status status = Walk(
      args,
      [&](const std::string& name, auto next_value) -> absl::Status {
        if (name == "--json") {
          out.json = true;
        } else if (name == "--go-main" || name == "--build-env" || name == "--start") {
          absl::StatusOr<std::string> v = next_value();
          if (!v.ok()) return v.status();
          if (name == "--build-env") return AddBuildEnv(*v, out.build_env);
          if (name == "--start") return SetStart(*v, out.start);
          out.go_main = *v;
        } else {
          return Usage(absl::StrCat("unknown flag ", name));
        }
        return absl::OkStatus();
      },
      [&](const std::string& positional) -> absl::Status {
        if (!out.source_dir.empty()) return Usage("tempa detect takes one directory");
        out.source_dir = positional;
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (out.source_dir.empty()) return Usage("tempa detect needs the app's directory");
  return out;
}

std::string CommandHelp(absl::string_view command) {
  if (command == "build") {
    return absl::StrCat("usage:\n" TEMPA_BUILD_USAGE "\n", kBuildHelp, kStartHelp);
  }
  if (command == "detect") {
    return absl::StrCat("usage:\n" TEMPA_DETECT_USAGE "\n", kDetectHelp, kStartHelp);
  }
  return "";
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(text);
  uint64_t unit = 1;
  if (!s.empty() && (s.back() == 'b')) s.pop_back();
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
        unit = 1ull << 10;
        break;
      case 'm':
        unit = 1ull << 20;
        break;
      case 'g':
        unit = 1ull << 30;
        break;
      default:
        break;
    }
    if (unit != 1) s.pop_back();
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(s, &value) || value == 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a size like 512m or 2g"));
  }
  return value * unit;
}

std::string AbsoluteSourceDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
  std::string out = (ec ? std::filesystem::path(dir) : absolute).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/tempa");
  }
  // Root's home is private (0700), and builds run as an unprivileged user who must reach the
  // cache's tool caches: root gets the system cache directory instead.
  if (geteuid() == 0) return "/var/cache/tempa";
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr && *home != '\0' ? home : "/tmp", "/.cache/tempa");
}

}  // namespace tempa::cli
