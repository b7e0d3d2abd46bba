// The sandboxed `cargo build` behind the Rust buildpack: the command line, environment and
// mounts that make the binary reproducible (fixed paths /src and /cache, remapped out of the
// binary), the per-app cargo caches keyed by toolchain, and the mapping of a failed run to a
// structured build failure.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/rust/rust_toolchain.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::rust {

struct CargoBuildParams {
  RustToolchain toolchain;
  std::string bin;      // cargo build --bin BIN; the file /app/BIN in the image
  std::string package;  // cargo build -p PACKAGE (workspaces); "" to let cargo pick
  bool locked = true;   // Cargo.lock present: --locked
};

// Sandbox paths; fixed so that the binary does not depend on where the worker keeps things.
inline constexpr char kSandboxSrc[] = "/src";
inline constexpr char kSandboxCache[] = "/cache";

// The build's environment: Tempa's defaults, then the user's build env on top. The user wins on
// every variable except RUSTFLAGS, which is appended to Tempa's: the path remapping that keeps
// the binary free of build paths must survive a user's extra flags.
std::map<std::string, std::string> CargoBuildEnv(const CargoBuildParams& params,
                                                 const std::map<std::string, std::string>& user);

// True when the build env configures a registry or turns offline mode off; then the sandbox
// gets network and CARGO_NET_OFFLINE is not set.
bool CargoBuildNeedsNetwork(const std::map<std::string, std::string>& user);

// The host directory mounted at /cache: CACHE_DIR/rust/<toolchain key>, holding cargo-home/ and
// target/. Per toolchain, so a toolchain change starts from a clean target dir.
std::string CargoCacheDir(const BuildContext& context, const RustToolchain& toolchain);

// The whole sandbox command, with `src_host` mounted at /src and `cache_host` at /cache.
// Offline unless the build env names registries; then it may reach those only. A malformed
// registry URL is InvalidArgument.
absl::StatusOr<SandboxCommand> MakeCargoBuildCommand(const CargoBuildParams& params,
                                                     const BuildContext& context,
                                                     const std::string& src_host,
                                                     const std::string& cache_host);

struct CargoBuildOutput {
  std::string binary;  // host path of the built binary, copied out of the cache into scratch
  LayerOutput app;     // app/BIN (0755), content_key over the binary's digest
};

// Runs the build. A failed build is an error "cargo build failed (exit N): <last lines>" (or
// "timed out", ...) carrying a BuildFailure: kind compile, dependency_resolution, timeout,
// out_of_memory or output_too_large, step "build", and the log tail. cargo always builds from a
// copy of the source in scratch whose file times follow content (internal/source_view.h; the
// record is the app cache's rust-source-times, which no sandbox mounts), so a tree whose changed
// files are older than the app's last build is still rebuilt; without a Cargo.lock the copy is
// mounted writable (cargo writes the lock file), else read-only.
absl::StatusOr<CargoBuildOutput> RunCargoBuild(const CargoBuildParams& params,
                                               const BuildContext& context);

}  // namespace tempa::buildpacks::rust
