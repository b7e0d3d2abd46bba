#include "buildpacks/rust/rust_run_base.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "buildpacks/runbase/debian_base.h"
#include "common/build_error.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::rust {
namespace {

// Sonames GlibcRecipe's own packages ship (libc6, libgcc-s1): what every std Rust binary links.
// Not looked up: `dpkg-query -S` scans the whole dpkg database (~0.5 s a call), and a plain
// binary would pay that on every build just to learn what the recipe already holds.
bool InGlibcRecipe(absl::string_view soname) {
  constexpr absl::string_view kLibc6[] = {"libc.so.6",      "libm.so.6",    "libpthread.so.0",
                                          "libdl.so.2",     "librt.so.1",   "libutil.so.1",
                                          "libresolv.so.2", "libgcc_s.so.1"};
  for (absl::string_view known : kLibc6) {
    if (soname == known) return true;
  }
  return absl::StartsWith(soname, "ld-linux");  // the dynamic loader, per architecture
}

}  // namespace

RunBaseFactory DebianRunBase(runbase::StaticBaseOptions static_base, std::string deb_cache_dir) {
  return [static_base = std::move(static_base), deb_cache_dir = std::move(deb_cache_dir)](
             const ElfDependencies& binary,
             const BuildContext& context) -> absl::StatusOr<PlannedLayer> {
    // A static binary (musl, or glibc with +crt-static) needs no libc at all.
    if (binary.needed.empty() && binary.interpreter.empty()) {
      return runbase::StaticBaseLayer(static_base);
    }
    absl::Time started = absl::Now();
    std::vector<std::string> others;
    for (const std::string& soname : binary.needed) {
      if (!InGlibcRecipe(soname)) others.push_back(soname);
    }
    absl::StatusOr<std::vector<std::string>> packages = std::vector<std::string>();
    if (!others.empty()) packages = runbase::PackagesForSharedLibraries(others);
    if (!packages.ok()) {
      return WithFailure(
          Annotate(packages.status(),
                   absl::StrCat("the binary links ", absl::StrJoin(binary.needed, ", "),
                                "; the run base ships the worker's Debian packages of those "
                                "libraries")),
          {FailureKind::kCompile, "build", ""});
    }
    runbase::DebianBaseOptions options;
    options.static_base = static_base;
    options.deb_cache_dir = deb_cache_dir;
    if (options.deb_cache_dir.empty()) options.deb_cache_dir = context.deb_cache_dir;
    if (options.deb_cache_dir.empty()) {
      options.deb_cache_dir =
          context.cache_dir.empty() ? context.scratch_dir + "/debs" : context.cache_dir + "/debs";
    }
    options.log = context.log;
    runbase::DebianBaseRecipe recipe = runbase::GlibcRecipe(*packages);
    absl::StatusOr<PlannedLayer> layer = runbase::DebianBaseLayer(recipe, options);
    if (!layer.ok()) return WithFailure(layer.status(), {FailureKind::kInternal, "build", ""});
    if (context.log) {
      context.log(absl::StrCat(
          "run base: ", absl::StrJoin(recipe.packages, ", "), " (planned in ",
          absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Milliseconds(1))), ")"));
    }
    return layer;
  };
}

}  // namespace tempa::buildpacks::rust
