// The run base under a Rust binary, chosen from what the binary links: nothing (a static musl
// or `-C target-feature=+crt-static` build) → Tempa's static base; glibc and friends → a base
// assembled from the Debian packages that ship those sonames on the worker (libc6, libgcc-s1,
// plus e.g. libssl3 for a binary linking OpenSSL), with the static base's certificates, tzdata
// and non-root user. No shell either way.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/runbase/static_base.h"
#include "buildpacks/rust/elf_needed.h"

namespace tempa::buildpacks::rust {

// Plans the run base layer for a built binary's dynamic dependencies. Called after the build, so
// the layer's input key can name exactly the packages the binary needs.
using RunBaseFactory = std::function<absl::StatusOr<PlannedLayer>(const ElfDependencies& binary,
                                                                  const BuildContext& context)>;

// The default: StaticBaseLayer for a static binary, else DebianBaseLayer(GlibcRecipe(extra)) where
// extra = PackagesForSharedLibraries(the needed sonames GlibcRecipe does not already ship; libc
// and libgcc_s are known, so a plain std binary costs no dpkg lookup). `deb_cache_dir` "" keeps
// the .debs under the app's cache dir. A needed library no installed package ships is a
// FailedPrecondition (kind compile, step "build") naming the soname.
RunBaseFactory DebianRunBase(runbase::StaticBaseOptions static_base, std::string deb_cache_dir);

}  // namespace tempa::buildpacks::rust
