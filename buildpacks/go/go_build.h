// The sandboxed `go build` behind the Go buildpack's app layer: the command line, environment
// and mounts that make the binary reproducible (-trimpath, no VCS stamp, no build id, fixed
// paths /src and /out), and the mapping of a failed run to a structured build failure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/go/go_toolchain.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::go {

struct GoBuildParams {
  GoToolchain toolchain;
  std::string app_name;      // the binary's name: /out/APP, then app/APP in the image
  std::string main_package;  // "." or "./cmd/api"
  bool vendored = false;
  // No go.mod or go.work: copy the root .go files into scratch with a generated go.mod.
  bool single_file = false;
};

// Sandbox paths; fixed so that the binary does not depend on where the worker keeps things.
inline constexpr char kSandboxSrc[] = "/src";
inline constexpr char kSandboxOut[] = "/out";
inline constexpr char kSandboxCache[] = "/cache";

// The build's environment: Tempa's defaults, then the user's build env on top. The user wins
// on every variable, CGO_ENABLED and GOFLAGS included: an app that needs cgo or other flags can
// say so, and owns the consequences (a cgo binary will not run on the static base).
std::map<std::string, std::string> GoBuildEnv(const GoBuildParams& params,
                                              const std::map<std::string, std::string>& user);

// The flags of every `go build` Tempa runs (-trimpath, no VCS stamp, no build id), before -o.
// The standard-library seed (go_std_cache.h) is compiled with exactly these, so its cache keys
// are the ones an app's build looks up.
std::vector<std::string> GoBuildFlags();

// The whole sandbox command, with `src_host` mounted at /src, `out_host` at /out and
// `cache_host` at /cache. Offline unless the build is not vendored and the build env names a
// GOPROXY: then it may reach that proxy (and GOSUMDB) only. A malformed GOPROXY/GOSUMDB URL is
// InvalidArgument.
absl::StatusOr<SandboxCommand> MakeGoBuildCommand(const GoBuildParams& params,
                                                  const BuildContext& context,
                                                  const std::string& src_host,
                                                  const std::string& out_host,
                                                  const std::string& cache_host);

// Runs the build and returns the app layer: app/APP (0755), content_key = sha256 over the
// binary's digest and its image path. A failed build is an error whose message is
// "go build failed (exit N): <last lines>" (or "timed out", ...) and which carries a
// common/build_error.h BuildFailure: kind compile, dependency_resolution, timeout,
// out_of_memory or output_too_large, step "build", and the log tail.
absl::StatusOr<LayerOutput> RunGoBuild(const GoBuildParams& params, const BuildContext& context);

}  // namespace tempa::buildpacks::go
