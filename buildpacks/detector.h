// The detection registry: the buildpacks in priority order, first match wins. Languages whose
// buildpack is not written yet are listed too, so "nothing detected" names everything Tempa
// looks for and a repository of such a language gets a precise "not supported yet".
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/build_plan.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/go/go_toolchain.h"
#include "buildpacks/runbase/static_base.h"

namespace tempa::buildpacks {

struct DetectorEntry {
  std::string language;              // as shown to users: "Go"
  std::vector<std::string> markers;  // root files that identify it, in the order shown
  BuildpackPtr buildpack;            // null: recognised but not buildable yet
};

// What the default buildpacks are built with; the defaults are a worker's.
struct DefaultBuildpackOptions {
  std::shared_ptr<GoToolchainLocator> go_toolchain;  // null: HostGoToolchainLocator
  runbase::StaticBaseOptions static_base;
};

// The default registry, in priority order. Adding a language is one entry here.
std::vector<DetectorEntry> DefaultDetectorEntries(const DefaultBuildpackOptions& options = {});

class Detector {
 public:
  explicit Detector(std::vector<DetectorEntry> entries);
  static Detector WithDefaultBuildpacks(const DefaultBuildpackOptions& options = {});

  // The first buildpack whose Detect matches, with its plan. A buildpack's own error (the tree is
  // recognisably its language but cannot be built as is) is returned as is. When nothing
  // matches: FailedPrecondition "no app detected in DIR: looked for ... (Go), ... ; <fix>";
  // Unimplemented when a marker of a language without a buildpack is present.
  absl::StatusOr<std::pair<Buildpack*, BuildPlan>> Detect(const std::string& source_dir,
                                                          const DetectOptions& options) const;

  // "go.mod, go.work or main.go (Go), Cargo.toml (Rust), ..." — what Detect looks for.
  std::string LookedFor() const;

 private:
  std::vector<DetectorEntry> entries_;
};

}  // namespace tempa::buildpacks
