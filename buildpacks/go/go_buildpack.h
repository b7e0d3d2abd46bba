// The Go buildpack: detects a Go module (go.mod), workspace (go.work) or a lone main.go, picks the
// main package, and builds a static binary in the sandbox onto Tempa's static run base.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/go/go_toolchain.h"
#include "buildpacks/runbase/static_base.h"

namespace tempa::buildpacks {

class GoBuildpack : public Buildpack {
 public:
  // `toolchain` finds Go (HostGoToolchainLocator on a worker, a fake in tests); `base` says
  // where the run base's host files are read from.
  explicit GoBuildpack(std::shared_ptr<GoToolchainLocator> toolchain,
                       runbase::StaticBaseOptions base = {});

  absl::string_view language() const override { return "go"; }

  // nullopt without go.work, go.mod or main.go at the root. Errors: InvalidArgument for an
  // ambiguous or wrong main package choice (the message lists the candidates and the
  // --go-main fix); FailedPrecondition for a tree with no main package or a missing toolchain.
  absl::StatusOr<std::optional<BuildPlan>> Detect(const std::string& source_dir,
                                                  const DetectOptions& options) override;

  // Layers: base (static run base, keyed by its inputs), app (the binary, keyed by content).
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan, const BuildContext& context) override;

 private:
  std::shared_ptr<GoToolchainLocator> toolchain_;
  runbase::StaticBaseOptions base_;
};

}  // namespace tempa::buildpacks
