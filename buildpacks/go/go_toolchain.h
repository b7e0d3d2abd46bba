// Finds the Go toolchain a build will use: the go binary, its GOROOT and version. An interface,
// so detection and plan tests run without Go installed; the host implementation looks where
// Debian's golang-1.23-go puts it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks {

struct GoToolchain {
  std::string go_binary;  // absolute path, symlinks resolved
  std::string goroot;     // absolute
  std::string version;    // "go1.23.5"

  std::string BinDir() const { return goroot + "/bin"; }
  // The language version for a go directive: "go1.23.5" → "1.23".
  std::string LanguageVersion() const;
};

// The one-line fix printed whenever Go is missing.
inline constexpr absl::string_view kInstallGoHint =
    "install golang-1.23-go from bookworm-backports: scripts/setup does it (or point TEMPA_GO at "
    "a go binary)";

class GoToolchainLocator {
 public:
  virtual ~GoToolchainLocator() = default;
  // The toolchain to build with. FailedPrecondition naming kInstallGoHint when there is none.
  virtual absl::StatusOr<GoToolchain> Locate() = 0;
};

struct HostGoToolchainOptions {
  // An explicit go binary (a flag); wins over everything else.
  std::string go_binary;
  // The TEMPA_GO value; nullopt reads the process environment.
  std::optional<std::string> tempa_go_env;
  // Tried in order after TEMPA_GO.
  std::vector<std::string> default_paths = {"/usr/lib/go-1.23/bin/go"};
  // The PATH searched last; nullopt reads the process environment.
  std::optional<std::string> path_env;
};

// Looks on this machine: explicit binary, else $TEMPA_GO, else default_paths, else $PATH. The
// version and GOROOT come from GOROOT/VERSION next to the binary, or else from `go env`.
class HostGoToolchainLocator : public GoToolchainLocator {
 public:
  explicit HostGoToolchainLocator(HostGoToolchainOptions options = {});
  absl::StatusOr<GoToolchain> Locate() override;

 private:
  HostGoToolchainOptions options_;
};

// Always answers the same (a toolchain or an error): for tests and for a pinned toolchain.
class FixedGoToolchainLocator : public GoToolchainLocator {
 public:
  explicit FixedGoToolchainLocator(absl::StatusOr<GoToolchain> toolchain)
      : toolchain_(std::move(toolchain)) {}
  absl::StatusOr<GoToolchain> Locate() override { return toolchain_; }

 private:
  absl::StatusOr<GoToolchain> toolchain_;
};

// Compares Go versions ("1.21", "1.22.3", "go1.23.5"); <0, 0, >0 like strcmp. Unparsable parts
// compare as 0.
int CompareGoVersions(absl::string_view a, absl::string_view b);

}  // namespace tempa::buildpacks
