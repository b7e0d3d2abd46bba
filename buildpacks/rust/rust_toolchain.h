// Finds the Rust toolchain a build will use: cargo, rustc and rustc's version. An interface, so
// detection and plan tests run without Rust installed; the host implementation prefers Debian's
// /usr/bin/cargo and /usr/bin/rustc, which the sandbox can see (a rustup toolchain under
// ~/.cargo cannot be, and is only used when named explicitly).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks {

struct RustToolchain {
  std::string cargo;    // absolute path, symlinks resolved
  std::string rustc;    // absolute path, symlinks resolved
  std::string version;  // `rustc -V`: "rustc 1.96.0 (ac68faa20 2026-05-25)"

  // `version` up to the commit's closing parenthesis, without builder notes such as "(built
  // from a source tarball)": "rustc 1.96.0 (ac68faa20 2026-05-25)". What plans show.
  std::string Short() const;
  // "1.96.0" out of `version` ("" when it does not parse).
  std::string Release() const;
  // A directory-name-safe key of the exact toolchain, "rustc-1.96.0-ac68faa20": the per-app
  // cargo caches live under it, so a new toolchain starts from a clean target dir.
  std::string CacheKey() const;
};

// The one-line fix printed whenever Rust is missing.
inline constexpr absl::string_view kInstallRustHint =
    "install Debian's cargo-web and rustc-web: scripts/setup does it (or point TEMPA_CARGO at a "
    "cargo binary with rustc beside it)";

class RustToolchainLocator {
 public:
  virtual ~RustToolchainLocator() = default;
  // The toolchain to build with. FailedPrecondition naming kInstallRustHint when there is none.
  virtual absl::StatusOr<RustToolchain> Locate() = 0;
};

struct HostRustToolchainOptions {
  // An explicit cargo binary (a flag); wins over everything else. rustc is looked for beside it.
  std::string cargo;
  // The TEMPA_CARGO value; nullopt reads the process environment.
  std::optional<std::string> tempa_cargo_env;
  // (cargo, rustc) pairs tried in order after TEMPA_CARGO. Not $PATH: on a developer machine
  // that finds rustup's shims, which do not work inside the sandbox.
  std::vector<std::pair<std::string, std::string>> default_paths = {
      {"/usr/bin/cargo", "/usr/bin/rustc"}};
};

// Looks on this machine: explicit cargo, else $TEMPA_CARGO, else default_paths. The version is
// what `rustc -V` prints, run with an empty environment.
class HostRustToolchainLocator : public RustToolchainLocator {
 public:
  explicit HostRustToolchainLocator(HostRustToolchainOptions options = {});
  absl::StatusOr<RustToolchain> Locate() override;

 private:
  HostRustToolchainOptions options_;
};

// Always answers the same (a toolchain or an error): for tests and for a pinned toolchain.
class FixedRustToolchainLocator : public RustToolchainLocator {
 public:
  explicit FixedRustToolchainLocator(absl::StatusOr<RustToolchain> toolchain)
      : toolchain_(std::move(toolchain)) {}
  absl::StatusOr<RustToolchain> Locate() override { return toolchain_; }

 private:
  absl::StatusOr<RustToolchain> toolchain_;
};

}  // namespace tempa::buildpacks
