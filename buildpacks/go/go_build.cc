#include "buildpacks/go/go_build.h"

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "buildpacks/go/go_source.h"
#include "buildpacks/go/go_std_cache.h"
#include "buildpacks/internal/build_output.h"
#include "buildpacks/internal/build_step.h"
#include "buildpacks/internal/egress_targets.h"
#include "buildpacks/internal/fs_util.h"
#include "common/beneath.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::go {
namespace {

// Bump when the app layer's layout (path, mode) changes, so old cached layers are not reused.
constexpr char kAppLayerVersion[] = "go-app-v1";

// go's own messages when a module cannot be found or is inconsistent with go.mod/vendor, as
// opposed to a compile error in the user's code.
constexpr absl::string_view kDependencyMarkers[] = {
    "no required module provides package",
    "cannot find module providing package",
    "module lookup disabled by GOPROXY=off",
    "missing go.sum entry",
    "inconsistent vendoring",
    "updates to go.mod needed",
    "is not in std",
    "reading go.mod",
};

// Bare main.go: a copy of the root's .go files with a generated go.mod, so the build runs in
// module mode (GOPATH mode is gone) without writing into the read-only source tree.
absl::StatusOr<std::string> PrepareSingleFileSource(const GoBuildParams& params,
                                                    const BuildContext& context) {
  std::string dir = context.scratch_dir + "/go-src";
  RETURN_IF_ERROR(internal::MakeDirs(dir, 0755));
  ASSIGN_OR_RETURN(std::vector<std::string> names, internal::ListDir(context.source_dir));
  ASSIGN_OR_RETURN(UniqueFd source, OpenRootDirectory(context.source_dir));
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".go") || !internal::IsRegularFile(context.source_dir + "/" + name)) {
      continue;
    }
    RETURN_IF_ERROR(
        CopyFileBeneath(source.get(), name, context.source_dir, dir + "/" + name, 0644));
  }
  std::string go_mod =
      absl::StrCat("module ", params.app_name, "\n\ngo ", params.toolchain.LanguageVersion(), "\n");
  FILE* f = fopen((dir + "/go.mod").c_str(), "we");
  if (f == nullptr) return absl::InternalError("create generated go.mod in " + dir);
  bool ok = fwrite(go_mod.data(), 1, go_mod.size(), f) == go_mod.size();
  ok = fclose(f) == 0 && ok;
  if (!ok) return absl::InternalError("write generated go.mod in " + dir);
  return dir;
}

}  // namespace

std::map<std::string, std::string> GoBuildEnv(const GoBuildParams& params,
                                              const std::map<std::string, std::string>& user) {
  std::map<std::string, std::string> env = {
      // Static binaries run on the static base (no libc there).
      {"CGO_ENABLED", "0"},
      {"GOCACHE", absl::StrCat(kSandboxCache, "/go-build")},
      {"GOMODCACHE", absl::StrCat(kSandboxCache, "/go-mod")},
      {"GOPATH", absl::StrCat(kSandboxCache, "/gopath")},
      {"GOROOT", params.toolchain.goroot},
      {"HOME", "/tmp"},
      {"PATH", absl::StrCat(params.toolchain.BinDir(), ":/usr/bin:/bin")},
      // No silent toolchain download, and modules only from vendor/ or the cache unless the
      // user names a proxy.
      {"GOTOOLCHAIN", "local"},
      {"GOPROXY", "off"},
  };
  if (params.vendored) env["GOFLAGS"] = "-mod=vendor";
  if (params.single_file) env["GOWORK"] = "off";
  for (const auto& [key, value] : user) env[key] = value;
  return env;
}

std::vector<std::string> GoBuildFlags() {
  return {"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="};
}

absl::StatusOr<SandboxCommand> MakeGoBuildCommand(const GoBuildParams& params,
                                                  const BuildContext& context,
                                                  const std::string& src_host,
                                                  const std::string& out_host,
                                                  const std::string& cache_host) {
  SandboxCommand command;
  command.argv = {params.toolchain.go_binary, "build"};
  for (std::string& flag : GoBuildFlags()) command.argv.push_back(std::move(flag));
  command.argv.insert(command.argv.end(),
                      {"-o", absl::StrCat(kSandboxOut, "/", params.app_name), params.main_package});
  command.env = GoBuildEnv(params, context.build_env);
  command.limits = context.limits;
  command.cwd = kSandboxSrc;
  command.mounts = {{src_host, kSandboxSrc, false},
                    {out_host, kSandboxOut, true},
                    {cache_host, kSandboxCache, true}};
  // The sandbox maps /usr read-only already; a toolchain elsewhere (TEMPA_GO=/opt/go/bin/go)
  // is mounted at its own path so GOROOT stays valid inside.
  if (!absl::StartsWith(params.toolchain.goroot, "/usr/")) {
    command.mounts.push_back({params.toolchain.goroot, params.toolchain.goroot, false});
  }
  // Vendored: nothing to download, so no network even with a proxy named.
  if (!params.vendored) {
    ASSIGN_OR_RETURN(command.egress, internal::GoEgress(context.build_env));
  }
  return command;
}

absl::StatusOr<LayerOutput> RunGoBuild(const GoBuildParams& params, const BuildContext& context) {
  TEMPA_CHECK(context.sandbox != nullptr, "BuildContext.sandbox must be set");
  auto internal_error = [](absl::Status status) {
    return WithFailure(Annotate(status, "go build"), {FailureKind::kInternal, "build", ""});
  };
  // The sandbox may run as another user: MakeDirs gives these to the owner of the scratch
  // directory and app cache (the build user), 0700.
  std::string out_host = context.scratch_dir + "/go-out";
  std::string cache_host =
      context.cache_dir.empty() ? context.scratch_dir + "/go-cache" : context.cache_dir + "/go";
  if (absl::Status s = internal::MakeDirs(out_host, 0700); !s.ok()) return internal_error(s);
  if (absl::Status s = internal::MakeDirs(cache_host, 0700); !s.ok()) return internal_error(s);
  std::string src_host = context.source_dir;
  if (params.single_file) {
    absl::StatusOr<std::string> dir = PrepareSingleFileSource(params, context);
    if (!dir.ok()) return internal_error(dir.status());
    src_host = *dir;
  }

  absl::StatusOr<SandboxCommand> made =
      MakeGoBuildCommand(params, context, src_host, out_host, cache_host);
  if (!made.ok()) {
    return WithFailure(Annotate(made.status(), "build env"), {FailureKind::kBadInput, "build", ""});
  }
  // A new app's cache starts with the standard library already compiled (read-only links).
  SeedAppGoCache(params.toolchain, context, cache_host + "/go-build");
  // Modules are fetched first, with the egress; the compile (which may run the module's
  // generators and cgo tools) sees only the module cache.
  internal::SplitStep steps = internal::SplitFetchFromCompile(
      *std::move(made), {params.toolchain.go_binary, "mod", "download"},
      {{"GOPROXY", "off"}, {"GOSUMDB", "off"}});
  if (steps.fetch) {
    if (context.log)
      context.log("$ go mod download" + internal::DescribeEgress(steps.fetch->egress));
    RETURN_IF_ERROR(internal::RunFetchStep("go mod download", *std::move(steps.fetch), context));
  }
  if (context.log) {
    context.log(absl::StrCat("$ go build -trimpath -buildvcs=false -o /out/", params.app_name, " ",
                             params.main_package, " (offline)"));
  }
  RETURN_IF_ERROR(
      internal::RunBuildStep("go build", std::move(steps.compile), context, kDependencyMarkers));

  ASSIGN_OR_RETURN(internal::BuildOutputFile binary,
                   internal::TakeOutputFile(out_host, params.app_name, "go build",
                                            "the binary at /out/" + params.app_name));
  std::string image_path = absl::StrCat("app/", params.app_name);
  LayerOutput output;
  output.spec.Add({"app", oci::LayerEntry::Type::kDirectory, 0755, "", std::nullopt, ""});
  output.spec.Add(binary.AsLayerEntry(image_path, 0755));
  output.content_key =
      Sha256Of(absl::StrCat(kAppLayerVersion, "\n", image_path, "\n", binary.digest.ToString()))
          .ToString();
  return output;
}

}  // namespace tempa::buildpacks::go
