#include "worker/toolchain_seeds.h"

#include "absl/strings/str_cat.h"
#include "buildpacks/go/go_std_cache.h"
#include "common/status_macros.h"

namespace tempa::worker {

absl::Status PrepareToolchainSeeds(const std::string& work_area,
                                   const std::string& shared_seeds_root, Sandbox& sandbox,
                                   DirOwner build_owner, buildpacks::GoToolchainLocator& go,
                                   const std::function<void(absl::string_view)>& log) {
  absl::StatusOr<buildpacks::GoToolchain> toolchain = go.Locate();
  if (!toolchain.ok()) return absl::OkStatus();  // no Go here: no Go builds to speed up
  ASSIGN_OR_RETURN(std::string seeds, OpenToolchainSeeds(work_area, shared_seeds_root));
  buildpacks::go::GoStdSeedOptions options;
  options.seeds_dir = seeds;
  options.sandbox = &sandbox;
  options.build_uid = build_owner.uid;
  options.build_gid = build_owner.gid;
  options.log = log;
  absl::StatusOr<buildpacks::go::GoStdSeed> seed =
      buildpacks::go::EnsureGoStdSeed(*toolchain, options);
  if (!seed.ok()) {
    return Annotate(seed.status(),
                    absl::StrCat("prepare the Go standard library seed for ", toolchain->version));
  }
  if (log) {
    log(absl::StrCat("go: standard library seed for ", toolchain->version,
                     seed->produced ? " compiled" : " ready", " (", seed->dir, ")"));
  }
  return absl::OkStatus();
}

}  // namespace tempa::worker
