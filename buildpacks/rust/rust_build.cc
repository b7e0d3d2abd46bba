#include "buildpacks/rust/rust_build.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "buildpacks/internal/build_output.h"
#include "buildpacks/internal/build_step.h"
#include "buildpacks/internal/egress_targets.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/source_view.h"
#include "common/beneath.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::buildpacks::rust {
namespace {

namespace fs = std::filesystem;

// Bump when the app layer's layout (path, mode) changes, so old cached layers are not reused.
constexpr char kAppLayerVersion[] = "rust-app-v1";

// Source paths are remapped to where the image would keep them, registry sources to /cargo:
// panic messages stay useful and the binary carries no worker path.
constexpr char kRustFlags[] =
    "--remap-path-prefix=/src=/app/src --remap-path-prefix=/cache/cargo-home=/cargo "
    "-C strip=debuginfo";

// cargo's own messages when a dependency cannot be resolved or fetched, as opposed to a compile
// error in the user's code.
constexpr absl::string_view kDependencyMarkers[] = {
    "failed to select a version",
    "no matching package named",
    "failed to load source for dependency",
    "failed to get `",
    "failed to download",
    "--offline was specified",
    "needs to be updated but --locked was passed",
    "cannot update the lock file",
    "failed to read `",
    "failed to load manifest for",
    "unable to update registry",
};

// The source as cargo sees it at /src: a copy (symlinks copied as links, never followed;
// target/ and .git/ left out) whose file times follow content (see source_view.h), so cargo's
// time-based freshness can never keep a binary built from other source. The record of the times
// given lives in the app cache beside rust/, which no sandbox mounts. The copy is the build
// user's (it owns the scratch directory): without Cargo.lock, cargo writes one there.
absl::StatusOr<std::string> SourceView(const BuildContext& context) {
  std::string dir = context.scratch_dir + "/rust-src";
  std::string record =
      (context.cache_dir.empty() ? context.scratch_dir : context.cache_dir) + "/rust-source-times";
  internal::SourceViewOptions options;
  options.exclude_names = {"target", ".git"};
  options.owner_from_parent = true;
  absl::StatusOr<internal::SourceViewResult> view =
      internal::MakeSourceView(context.source_dir, dir, record, absl::Now(), options);
  if (!view.ok()) return Annotate(view.status(), "copy the source");
  if (context.log) {
    if (view->record_ignored) {
      context.log(absl::StrCat("source times: the record was not used (", view->record_problem,
                               "); every file counts as changed"));
    }
    context.log(absl::StrCat("source: ", view->changed, " of ", view->entries,
                             " files and directories new or changed since the last build"));
  }
  return dir;
}

// Old toolchains' caches are dead weight: a toolchain change never reads them again. They are
// the build's to fill, so they go through descriptors, never following a link planted there.
void RemoveOtherToolchainCaches(const std::string& keep) {
  size_t slash = keep.rfind('/');
  if (slash == std::string::npos) return;
  std::string parent = keep.substr(0, slash);
  absl::StatusOr<UniqueFd> dir = OpenRootDirectory(parent);
  if (!dir.ok()) return;
  absl::StatusOr<std::vector<std::string>> names = internal::ListDir(parent);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (name != keep.substr(slash + 1)) {
      (void)RemoveTreeAt(dir->get(), name, absl::StrCat(parent, "/", name));
    }
  }
}

}  // namespace

std::map<std::string, std::string> CargoBuildEnv(const CargoBuildParams& params,
                                                 const std::map<std::string, std::string>& user) {
  std::map<std::string, std::string> env = {
      {"CARGO_HOME", absl::StrCat(kSandboxCache, "/cargo-home")},
      {"CARGO_TARGET_DIR", absl::StrCat(kSandboxCache, "/target")},
      // Release builds gain nothing from incremental state, and it costs reproducibility.
      {"CARGO_INCREMENTAL", "0"},
      {"CARGO_TERM_COLOR", "never"},
      {"HOME", "/tmp"},
      {"PATH", "/usr/bin:/bin"},
      {"RUSTC", params.toolchain.rustc},
      {"RUSTFLAGS", kRustFlags},
  };
  if (!CargoBuildNeedsNetwork(user)) env["CARGO_NET_OFFLINE"] = "true";
  for (const auto& [key, value] : user) {
    env[key] = key == "RUSTFLAGS" ? absl::StrCat(kRustFlags, " ", value) : value;
  }
  return env;
}

bool CargoBuildNeedsNetwork(const std::map<std::string, std::string>& user) {
  for (const auto& [key, value] : user) {
    if (key == "CARGO_NET_OFFLINE") return value == "false" || value == "0";
    if (absl::StartsWith(key, "CARGO_REGISTRIES_") || absl::StartsWith(key, "CARGO_REGISTRY_") ||
        absl::StartsWith(key, "CARGO_SOURCE_")) {
      return true;
    }
  }
  return false;
}

std::string CargoCacheDir(const BuildContext& context, const RustToolchain& toolchain) {
  std::string base =
      context.cache_dir.empty() ? context.scratch_dir + "/rust-cache" : context.cache_dir + "/rust";
  return absl::StrCat(base, "/", toolchain.CacheKey());
}

absl::StatusOr<SandboxCommand> MakeCargoBuildCommand(const CargoBuildParams& params,
                                                     const BuildContext& context,
                                                     const std::string& src_host,
                                                     const std::string& cache_host) {
  SandboxCommand command;
  command.argv = {params.toolchain.cargo, "build", "--release"};
  if (params.locked) command.argv.push_back("--locked");
  if (!params.package.empty()) command.argv.insert(command.argv.end(), {"-p", params.package});
  command.argv.insert(command.argv.end(), {"--bin", params.bin});
  command.env = CargoBuildEnv(params, context.build_env);
  command.cwd = kSandboxSrc;
  command.mounts = {{src_host, kSandboxSrc, !params.locked}, {cache_host, kSandboxCache, true}};
  // The sandbox maps /usr read-only already; a toolchain elsewhere (TEMPA_CARGO) is mounted at
  // its own path.
  for (const std::string& tool : {params.toolchain.cargo, params.toolchain.rustc}) {
    std::string dir = fs::path(tool).parent_path().parent_path().string();
    if (!absl::StartsWith(tool, "/usr/") && !dir.empty() && dir != "/") {
      bool mounted = false;
      for (const SandboxMount& m : command.mounts) mounted |= m.host_path == dir;
      if (!mounted) command.mounts.push_back({dir, dir, false});
    }
  }
  ASSIGN_OR_RETURN(command.egress, internal::CargoEgress(context.build_env));
  command.limits = context.limits;
  return command;
}

absl::StatusOr<CargoBuildOutput> RunCargoBuild(const CargoBuildParams& params,
                                               const BuildContext& context) {
  TEMPA_CHECK(context.sandbox != nullptr, "BuildContext.sandbox must be set");
  auto internal_error = [](absl::Status status) {
    return WithFailure(Annotate(status, "cargo build"), {FailureKind::kInternal, "build", ""});
  };
  // The sandbox may run as another user: MakeDirs gives these to the owner of the scratch
  // directory and app cache (the build user), 0700.
  std::string cache_host = CargoCacheDir(context, params.toolchain);
  std::string out_host = context.scratch_dir + "/rust-out";
  for (const std::string& dir : {cache_host, out_host}) {
    if (absl::Status s = internal::MakeDirs(dir, 0700); !s.ok()) return internal_error(s);
  }
  RemoveOtherToolchainCaches(cache_host);
  absl::StatusOr<std::string> src_host = SourceView(context);
  if (!src_host.ok()) return internal_error(src_host.status());

  absl::StatusOr<SandboxCommand> made =
      MakeCargoBuildCommand(params, context, *src_host, cache_host);
  if (!made.ok()) {
    return WithFailure(Annotate(made.status(), "build env"), {FailureKind::kBadInput, "build", ""});
  }
  // Crates are fetched first, with the egress; the compile (which runs build scripts and proc
  // macros from every crate) is offline.
  std::vector<std::string> fetch_argv = {params.toolchain.cargo, "fetch"};
  if (params.locked) fetch_argv.push_back("--locked");
  internal::SplitStep steps = internal::SplitFetchFromCompile(
      *std::move(made), std::move(fetch_argv), {{"CARGO_NET_OFFLINE", "true"}});
  if (steps.fetch) {
    if (context.log) {
      context.log(absl::StrCat(
          "$ ", absl::StrJoin(steps.fetch->argv.begin() + 1, steps.fetch->argv.end(), " "),
          internal::DescribeEgress(steps.fetch->egress)));
    }
    RETURN_IF_ERROR(internal::RunFetchStep("cargo fetch", *std::move(steps.fetch), context));
  }
  const SandboxCommand& command = steps.compile;
  if (context.log) {
    context.log(absl::StrCat("$ ", absl::StrJoin(command.argv.begin() + 1, command.argv.end(), " "),
                             " (offline)"));
  }
  absl::Time started = absl::Now();
  RETURN_IF_ERROR(
      internal::RunBuildStep("cargo build", std::move(steps.compile), context, kDependencyMarkers));
  if (context.log) {
    context.log(absl::StrCat("cargo build took ", absl::FormatDuration(absl::Now() - started)));
  }

  // Copied out of the target dir, which the next build of this app overwrites.
  CargoBuildOutput output;
  output.binary = absl::StrCat(out_host, "/", params.bin);
  ASSIGN_OR_RETURN(
      internal::BuildOutputFile binary,
      internal::CopyOutputFile(cache_host, "target/release/" + params.bin, output.binary, 0755,
                               "cargo build", "the binary at target/release/" + params.bin));
  std::string image_path = absl::StrCat("app/", params.bin);
  output.app.spec.Add({"app", oci::LayerEntry::Type::kDirectory, 0755, "", std::nullopt, ""});
  output.app.spec.Add(binary.AsLayerEntry(image_path, 0755));
  output.app.content_key =
      Sha256Of(absl::StrCat(kAppLayerVersion, "\n", image_path, "\n", binary.digest.ToString()))
          .ToString();
  return output;
}

}  // namespace tempa::buildpacks::rust
