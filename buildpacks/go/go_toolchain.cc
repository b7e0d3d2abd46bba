#include "buildpacks/go/go_toolchain.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/toolchain_locator.h"

namespace tempa::buildpacks {
namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

constexpr internal::ToolchainNames kGo = {"Go", "TEMPA_GO", kInstallGoHint};

// Runs `go env GOROOT GOVERSION` with a minimal environment (no GOTOOLCHAIN download, no
// inherited GOFLAGS) and returns its two lines.
absl::StatusOr<std::pair<std::string, std::string>> GoEnv(const std::string& go) {
  absl::StatusOr<std::string> out = internal::RunToolchainProbe(
      kGo, {go, "env", "GOROOT", "GOVERSION"},
      {"HOME=/tmp", "GOTOOLCHAIN=local", "GOFLAGS=", "PATH=/usr/bin:/bin"}, 65536);
  if (!out.ok()) return out.status();
  std::vector<std::string> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
  if (lines.size() < 2) {
    return kGo.Missing(absl::StrCat("`", go, " env` printed no GOROOT/GOVERSION"));
  }
  return std::make_pair(lines[0], lines[1]);
}

// Resolves one candidate binary into a toolchain.
absl::StatusOr<GoToolchain> Inspect(const std::string& candidate) {
  absl::StatusOr<std::string> resolved = internal::ResolveExecutable(kGo, candidate);
  if (!resolved.ok()) return resolved.status();
  GoToolchain toolchain;
  toolchain.go_binary = *resolved;
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
    return kGo.Missing(absl::StrCat(candidate, " reports version \"", toolchain.version, "\""));
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
  return internal::LocateInOrder<GoToolchain>(
      kGo, options_.go_binary, options_.tempa_go_env, Inspect,
      [this]() -> absl::StatusOr<GoToolchain> {
        for (const std::string& path : options_.default_paths) {
          if (internal::Exists(path)) return Inspect(path);
        }
        std::string path_env = internal::EnvOr(options_.path_env, "PATH");
        for (absl::string_view dir : absl::StrSplit(path_env, ':', absl::SkipEmpty())) {
          std::string candidate = absl::StrCat(dir, "/go");
          if (access(candidate.c_str(), X_OK) == 0) return Inspect(candidate);
        }
        std::string looked;
        for (const std::string& path : options_.default_paths) absl::StrAppend(&looked, path, ", ");
        return kGo.Missing(absl::StrCat("looked at TEMPA_GO, ", looked, "and go on PATH"));
      });
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
