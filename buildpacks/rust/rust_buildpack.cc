#include "buildpacks/rust/rust_buildpack.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "buildpacks/internal/binary_app_config.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/runtime_files.h"
#include "buildpacks/rust/rust_build.h"
#include "buildpacks/rust/rust_source.h"
#include "common/build_error.h"
#include "common/status_macros.h"

namespace tempa::buildpacks {
namespace {

constexpr char kChooseHint[] = "tempa.toml: [build] rust_bin = \"NAME\"";

absl::Status BadInput(absl::Status status) {
  return WithFailure(std::move(status), {FailureKind::kBadInput, "detect", ""});
}

std::string Describe(const rust::CargoBin& bin) {
  return bin.package == bin.name ? bin.name
                                 : absl::StrCat(bin.name, " (package ", bin.package, ")");
}

std::string DescribeAll(const std::vector<rust::CargoBin>& bins) {
  std::vector<std::string> names;
  for (const rust::CargoBin& bin : bins) names.push_back(Describe(bin));
  return absl::StrJoin(names, ", ");
}

// A cargo target or package name, safe as argv and as one path component in the image.
bool IsCargoName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '-') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

// Picks the binary target to build and says why.
absl::StatusOr<rust::CargoBin> ChooseBin(const std::string& root, const rust::CargoProject& project,
                                         const DetectOptions& options,
                                         std::vector<std::string>& reasons) {
  const std::vector<rust::CargoBin>& bins = project.bins;
  if (!options.rust_bin.empty()) {
    std::vector<rust::CargoBin> matches;
    for (const rust::CargoBin& bin : bins) {
      if (bin.name == options.rust_bin) matches.push_back(bin);
    }
    if (matches.size() == 1) {
      reasons.push_back(absl::StrCat("binary: ", Describe(matches[0]), " (chosen by rust_bin)"));
      return matches[0];
    }
    std::string why = matches.empty() ? "no binary target has that name"
                                      : "several packages have a binary of that name; rename one";
    return BadInput(absl::InvalidArgumentError(
        absl::StrCat("rust_bin = \"", options.rust_bin, "\": ", why, " (binary targets in ", root,
                     ": ", bins.empty() ? "none" : DescribeAll(bins), ")")));
  }
  if (bins.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Rust project in ", root, " has no binary target, so there is nothing to run: add ",
        project.workspace ? "a member with src/main.rs" : "src/main.rs",
        " (or a [[bin]] target) to the ", project.workspace ? "workspace" : "package"));
  }
  if (bins.size() > 1) {
    return BadInput(absl::InvalidArgumentError(absl::StrCat(
        "several Rust binary targets in ", root, ": ", DescribeAll(bins), "; choose one in ",
        kChooseHint, " (e.g. rust_bin = \"", bins.front().name, "\")")));
  }
  reasons.push_back(absl::StrCat("binary: ", Describe(bins[0]), " (the only binary target",
                                 project.workspace ? " in the workspace)" : ")"));
  return bins[0];
}

}  // namespace

RustBuildpack::RustBuildpack(std::shared_ptr<RustToolchainLocator> toolchain,
                             RustBuildpackOptions options)
    : toolchain_(std::move(toolchain)), options_(std::move(options)) {
  if (!options_.run_base) {
    options_.run_base = rust::DebianRunBase(options_.static_base, options_.deb_cache_dir);
  }
}

absl::StatusOr<std::optional<BuildPlan>> RustBuildpack::Detect(const std::string& source_dir,
                                                               const DetectOptions& options) {
  std::string root = source_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!internal::Exists(root + "/Cargo.toml")) return std::nullopt;
  BuildPlan plan;
  plan.language = "rust";
  absl::StatusOr<rust::CargoProject> project = rust::ReadCargoProject(root);
  if (!project.ok()) return BadInput(project.status());
  if (project->workspace) {
    plan.reasons.push_back(absl::StrCat("Cargo.toml found: workspace of ", project->members.size(),
                                        " package(s): ", absl::StrJoin(project->members, ", ")));
  } else {
    plan.reasons.push_back("Cargo.toml found: a single package");
  }

  absl::StatusOr<RustToolchain> toolchain = toolchain_->Locate();
  if (!toolchain.ok()) {
    return WithFailure(Annotate(toolchain.status(), "Rust app detected"),
                       {FailureKind::kInternal, "detect", ""});
  }
  plan.toolchain = toolchain->Short();
  plan.reasons.push_back(
      absl::StrCat("toolchain: ", toolchain->version, " (", toolchain->cargo, ")"));

  ASSIGN_OR_RETURN(rust::CargoBin bin, ChooseBin(root, *project, options, plan.reasons));
  plan.app_name = bin.name;
  bool locked = internal::IsRegularFile(root + "/Cargo.lock");
  plan.reasons.push_back(
      locked ? "Cargo.lock found: cargo build --locked (dependencies exactly as locked)"
             : "warning: no Cargo.lock: dependency versions are resolved at build time, so two "
               "builds of this commit may differ; commit Cargo.lock (cargo generate-lockfile)");
  plan.reasons.push_back(
      "offline: crates must be path dependencies, vendored, or already in the app's cargo cache "
      "(unless the build env configures a registry)");

  if (options.port) plan.port = *options.port;
  plan.reasons.push_back(absl::StrCat("port: ", plan.port, options.port ? " (from the config)" : "",
                                      " (the app reads $PORT)"));
  if (!options.start.empty()) {
    ASSIGN_OR_RETURN(
        plan.start_command,
        internal::BinaryStartCommand(options.start, options.start_source, "Rust", bin.name));
    plan.reasons.push_back(
        absl::StrCat("start: ", absl::StrJoin(plan.start_command, " "), " (from ",
                     options.start_source.empty() ? "the config" : options.start_source,
                     ", run without a shell)"));
  } else {
    plan.start_command = {"/app/" + bin.name};
  }
  plan.start_source = options.start.empty() ? "detection" : options.start_source;
  plan.details = {{"bin", bin.name},
                  {"package", bin.package},
                  {"manifest", bin.manifest},
                  {"workspace", project->workspace ? "true" : "false"},
                  {"locked", locked ? "true" : "false"}};
  return plan;
}

absl::StatusOr<BuildRecipe> RustBuildpack::Prepare(const BuildPlan& plan,
                                                   const BuildContext& context) {
  absl::StatusOr<RustToolchain> toolchain = toolchain_->Locate();
  if (!toolchain.ok()) {
    return WithFailure(toolchain.status(), {FailureKind::kInternal, "build", ""});
  }
  if (toolchain->Short() != plan.toolchain && context.log) {
    context.log(absl::StrCat("note: planned with ", plan.toolchain, ", building with ",
                             toolchain->version));
  }
  // The plan may have travelled (coordinator, CLI): check what becomes argv and paths.
  auto detail = [&](const std::string& key) {
    auto it = plan.details.find(key);
    return it == plan.details.end() ? std::string() : it->second;
  };
  rust::CargoBuildParams params;
  params.toolchain = *toolchain;
  params.bin = detail("bin");
  params.package = detail("workspace") == "true" ? detail("package") : "";
  params.locked = detail("locked") != "false";
  if (!IsCargoName(params.bin) || (!params.package.empty() && !IsCargoName(params.package))) {
    return WithFailure(absl::InvalidArgumentError(absl::StrCat(
                           "build plan names binary \"", params.bin, "\" of package \"",
                           params.package, "\": not cargo target names")),
                       {FailureKind::kBadInput, "build", ""});
  }

  ASSIGN_OR_RETURN(rust::CargoBuildOutput built, rust::RunCargoBuild(params, context));
  absl::StatusOr<rust::ElfDependencies> needs = rust::ReadElfDependencies(built.binary);
  if (!needs.ok()) {
    return WithFailure(Annotate(needs.status(), "cargo build output"),
                       {FailureKind::kCompile, "build", ""});
  }
  if (context.log) {
    context.log(needs->needed.empty()
                    ? std::string("binary is statically linked: static run base")
                    : absl::StrCat("binary links ", absl::StrJoin(needs->needed, ", ")));
  }

  BuildRecipe recipe;
  ASSIGN_OR_RETURN(PlannedLayer base, options_.run_base(*needs, context));
  recipe.layers.push_back(std::move(base));
  // The repository's runtime files (templates/, static/...), next to the binary at /app.
  ASSIGN_OR_RETURN(
      std::optional<PlannedLayer> files,
      internal::RuntimeFilesPlannedLayer(context, internal::RustRuntimeDefaults(), params.bin));
  if (files) recipe.layers.push_back(*std::move(files));
  PlannedLayer app;
  app.role = LayerRole::kApp;
  app.produce = [layer = built.app]() -> absl::StatusOr<LayerOutput> { return layer; };
  recipe.layers.push_back(std::move(app));

  std::vector<std::string> entrypoint = plan.start_command;
  if (entrypoint.empty()) entrypoint = {"/app/" + params.bin};
  recipe.config = internal::BinaryAppConfig(std::move(entrypoint), plan.port, params.bin, "rust",
                                            toolchain->Short());
  recipe.config.labels["dev.tempa.rust-bin"] = params.bin;
  return recipe;
}

}  // namespace tempa::buildpacks
