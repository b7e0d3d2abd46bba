// The Rust buildpack: detects a Cargo package or workspace, picks the one binary target (or the
// one tempa.toml names), builds it with cargo in the sandbox, and puts it on a run base sized to
// the binary: the static base for a static binary, else a glibc base with the binary's
// shared-library closure.
//
// Unlike Go, the run base depends on the build's output (which libraries the binary links), so
// Prepare compiles eagerly: by the time the pipeline looks at the base layer's input key, the
// binary exists and the key names exactly the Debian packages it needs. The app layer's
// produce() then only hands over the finished binary.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/runbase/static_base.h"
#include "buildpacks/rust/rust_run_base.h"
#include "buildpacks/rust/rust_toolchain.h"

namespace tempa::buildpacks {

struct RustBuildpackOptions {
  runbase::StaticBaseOptions static_base;
  // Where fetched .debs are kept; "" keeps them in the app's cache dir (CACHE_DIR/debs).
  std::string deb_cache_dir;
  // null: rust::DebianRunBase(static_base, deb_cache_dir).
  rust::RunBaseFactory run_base;
};

class RustBuildpack : public Buildpack {
 public:
  explicit RustBuildpack(std::shared_ptr<RustToolchainLocator> toolchain,
                         RustBuildpackOptions options = {});

  absl::string_view language() const override { return "rust"; }

  // nullopt without Cargo.toml at the root. Errors: InvalidArgument for an unreadable manifest,
  // several binary targets and none chosen, or a choice that names none (the message lists the
  // targets and the tempa.toml fix), and for a start command that needs a shell;
  // FailedPrecondition for a project without a binary target or a missing toolchain.
  absl::StatusOr<std::optional<BuildPlan>> Detect(const std::string& source_dir,
                                                  const DetectOptions& options) override;

  // Runs cargo build now (see above), then returns the layers: base (keyed by the packages the
  // binary needs) and app (the binary, keyed by content).
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan, const BuildContext& context) override;

 private:
  std::shared_ptr<RustToolchainLocator> toolchain_;
  RustBuildpackOptions options_;
};

}  // namespace tempa::buildpacks
