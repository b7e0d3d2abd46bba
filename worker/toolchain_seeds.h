// Toolchain seeds prepared by the worker itself, before any build asks: today the Go standard
// library compiled once per toolchain with Tempa's build flags (buildpacks/go/go_std_cache.h),
// which every new Go app's cache is seeded from. A daemon calls this at start (a build that
// comes first waits on the same lock, then links), so even the first new app a fresh worker
// builds compiles none of the standard library. Rust needs nothing (rustup ships the standard
// library prebuilt); Python neither (Debian's interpreter carries its compiled stdlib, and
// wheels built by one app's code are never shared with another's).
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "buildpacks/go/go_toolchain.h"
#include "common/sandbox/sandbox.h"
#include "worker/build_pipeline_dirs.h"

namespace tempa::worker {

// Prepares the seeds builds in `work_area` (the pipeline's PipelineOptions::cache_dir) will use:
// in `shared_seeds_root` when usable, else `work_area`/seeds (OpenToolchainSeeds; pass the
// pipeline's PipelineOptions::shared_seeds_root), compiling with `sandbox` as `build_owner`. No Go
// toolchain: OK, nothing to do. Errors name the toolchain and what failed; a worker may log them
// and go on (builds then compile the standard library themselves, as before).
absl::Status PrepareToolchainSeeds(const std::string& work_area,
                                   const std::string& shared_seeds_root, Sandbox& sandbox,
                                   DirOwner build_owner, buildpacks::GoToolchainLocator& go,
                                   const std::function<void(absl::string_view)>& log);

}  // namespace tempa::worker
