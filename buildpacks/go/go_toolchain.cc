#include "buildpacks/go/go_toolchain.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"

extern char** environ;

namespace tempa::buildpacks {
namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status Missing(absl::string_view detail) {
  return absl::FailedPreconditionError(
      absl::StrCat("no Go toolchain: ", detail, "; ", kInstallGoHint));
}

// Runs `go env GOROOT GOVERSION` with a minimal environment (no GOTOOLCHAIN download, no
// inherited GOFLAGS) and returns its two lines.
absl::StatusOr<std::pair<std::string, std::string>> GoEnv(const std::string& go) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> argv_s = {go, "env", "GOROOT", "GOVERSION"};
  std::vector<std::string> env_s = {"HOME=/tmp", "GOTOOLCHAIN=local",
                                    "GOFLAGS=", "PATH=/usr/bin:/bin"};
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  for (auto& s : env_s) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, go.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return Missing(absl::StrCat("cannot run ", go, ": ", strerror(rc)));
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || out.size() > 65536) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Missing(absl::StrCat("`", go, " env GOROOT GOVERSION` failed"));
  }
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  if (lines.size() < 2) return Missing(absl::StrCat("`", go, " env` printed no GOROOT/GOVERSION"));
  return std::make_pair(lines[0], lines[1]);
}

// Resolves one candidate binary into a toolchain.
absl::StatusOr<GoToolchain> Inspect(const std::string& candidate) {
  char resolved[PATH_MAX];
  if (realpath(candidate.c_str(), resolved) == nullptr || access(resolved, X_OK) != 0) {
    return Missing(absl::StrCat(candidate, " is not an executable file"));
  }
  GoToolchain toolchain;
  toolchain.go_binary = resolved;
  // The standard layout is GOROOT/bin/go with GOROOT/VERSION holding "go1.23.5\ntime ...".
  std::string goroot = Dirname(Dirname(toolchain.go_binary));
  absl::StatusOr<std::string> version = internal::ReadSmallFile(goroot + "/VERSION", 4096);
  if (version.ok() && absl::StartsWith(*version, "go")) {
    toolchain.goroot = goroot;
    toolchain.version = std::string(absl::StripAsciiWhitespace(
        std::string(absl::string_view(*version).substr(0, version->find('\n')))));
    return toolchain;
  }
  auto env = GoEnv(toolchain.go_binary);
  if (!env.ok()) return env.status();
  toolchain.goroot = env->first;
  toolchain.version = env->second;
  if (!absl::StartsWith(toolchain.version, "go")) {
    return Missing(absl::StrCat(candidate, " reports version \"", toolchain.version, "\""));
  }
  return toolchain;
}

}  // namespace

std::string GoToolchain::LanguageVersion() const {
  absl::string_view v = version;
  absl::ConsumePrefix(&v, "go");
  std::vector<absl::string_view> parts = absl::StrSplit(v, '.');
  if (parts.size() < 2) return std::string(v);
  // Pre-release suffixes ("1.23rc1") do not belong in a go directive.
  absl::string_view minor = parts[1];
  size_t end = 0;
  while (end < minor.size() && absl::ascii_isdigit(minor[end])) ++end;
  return absl::StrCat(parts[0], ".", minor.substr(0, end));
}

HostGoToolchainLocator::HostGoToolchainLocator(HostGoToolchainOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<GoToolchain> HostGoToolchainLocator::Locate() {
  // An explicit choice is never silently replaced by another Go.
  if (!options_.go_binary.empty()) return Inspect(options_.go_binary);
  std::string tempa_go;
  if (options_.tempa_go_env) {
    tempa_go = *options_.tempa_go_env;
  } else if (const char* v = getenv("TEMPA_GO")) {
    tempa_go = v;
  }
  if (!tempa_go.empty()) {
    absl::StatusOr<GoToolchain> toolchain = Inspect(tempa_go);
    if (!toolchain.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("TEMPA_GO=", tempa_go, ": ", toolchain.status().message()));
    }
    return toolchain;
  }
  for (const std::string& path : options_.default_paths) {
    if (internal::Exists(path)) return Inspect(path);
  }
  std::string path_env;
  if (options_.path_env) {
    path_env = *options_.path_env;
  } else if (const char* v = getenv("PATH")) {
    path_env = v;
  }
  for (absl::string_view dir : absl::StrSplit(path_env, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/go");
    if (access(candidate.c_str(), X_OK) == 0) return Inspect(candidate);
  }
  std::string looked;
  for (const std::string& path : options_.default_paths) absl::StrAppend(&looked, path, ", ");
  return Missing(absl::StrCat("looked at TEMPA_GO, ", looked, "and go on PATH"));
}

int CompareGoVersions(absl::string_view a, absl::string_view b) {
  absl::ConsumePrefix(&a, "go");
  absl::ConsumePrefix(&b, "go");
  std::vector<absl::string_view> pa = absl::StrSplit(a, '.');
  std::vector<absl::string_view> pb = absl::StrSplit(b, '.');
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    auto number = [](const std::vector<absl::string_view>& parts, size_t i) {
      if (i >= parts.size()) return 0;
      absl::string_view p = parts[i];
      size_t end = 0;
      while (end < p.size() && absl::ascii_isdigit(p[end])) ++end;
      int n = 0;
      if (!absl::SimpleAtoi(p.substr(0, end), &n)) return 0;
      return n;
    };
    int x = number(pa, i), y = number(pb, i);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace tempa::buildpacks
