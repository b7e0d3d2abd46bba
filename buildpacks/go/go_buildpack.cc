#include "buildpacks/go/go_buildpack.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/go/go_build.h"
#include "buildpacks/go/go_source.h"
#include "buildpacks/internal/binary_app_config.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/runtime_files.h"
#include "common/build_error.h"
#include "common/status_macros.h"

namespace tempa::buildpacks {
namespace {

constexpr size_t kMaxProjectFile = 1 << 20;  // go.mod / go.work larger than this are hostile

// What Detect learned about the tree's module layout.
struct Layout {
  std::vector<std::string> module_roots;  // relative dirs holding the modules to search
  std::string module_path;                // of the root module, when there is one
  std::string go_directive;
  bool single_file = false;
};

absl::StatusOr<Layout> ReadLayout(const std::string& root, std::vector<std::string>& reasons) {
  Layout layout;
  // Exists, not IsRegularFile: a go.mod that is a symlink or a directory is a Go tree whose
  // project file Tempa refuses to read (ReadSmallFile says why), not "no app detected".
  if (internal::Exists(root + "/go.work")) {
    ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(root + "/go.work", kMaxProjectFile));
    ASSIGN_OR_RETURN(go::GoWorkFile work, go::ParseGoWork(text));
    for (const std::string& use : work.uses) {
      absl::StatusOr<std::string> dir = go::CleanRelativeDir(use);
      if (!dir.ok()) return Annotate(dir.status(), absl::StrCat("go.work: use ", use));
      layout.module_roots.push_back(*dir);
    }
    if (layout.module_roots.empty()) {
      return absl::FailedPreconditionError(
          "go.work has no use directives; list the workspace's modules (go work use ./DIR)");
    }
    layout.go_directive = work.go_version;
    reasons.push_back(absl::StrCat("go.work found: workspace of ", layout.module_roots.size(),
                                   " module(s): ", absl::StrJoin(layout.module_roots, ", ")));
  }
  if (internal::Exists(root + "/go.mod")) {
    ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(root + "/go.mod", kMaxProjectFile));
    absl::StatusOr<go::GoModFile> mod = go::ParseGoMod(text);
    if (!mod.ok()) return mod.status();
    if (mod->module_path.empty()) {
      return absl::InvalidArgumentError(
          "go.mod has no module directive; add one, e.g. `module example.com/myapp`");
    }
    layout.module_path = mod->module_path;
    if (layout.module_roots.empty()) {
      layout.module_roots = {"."};
      layout.go_directive = mod->go_version;
      reasons.push_back(absl::StrCat(
          "go.mod found: module ", mod->module_path,
          mod->go_version.empty() ? "" : absl::StrCat(", go ", mod->go_version), ", ",
          mod->require_count == 0 ? "no dependencies"
                                  : absl::StrCat(mod->require_count, " required module(s)")));
    }
  }
  if (layout.module_roots.empty()) {
    layout.single_file = true;
    layout.module_roots = {"."};
    reasons.push_back(
        "main.go without go.mod: building the root's .go files as a single-file program "
        "(module mode, with a generated go.mod)");
  }
  return layout;
}

absl::Status Ambiguous(const std::string& root, const std::vector<std::string>& candidates) {
  return WithFailure(
      absl::InvalidArgumentError(absl::StrCat(
          "several Go main packages in ", root, ": ", absl::StrJoin(candidates, ", "),
          "; choose one with --go-main cmd/NAME (e.g. --go-main ", candidates.front(), ")")),
      {FailureKind::kBadInput, "detect", ""});
}

// Picks the main package directory (relative, "." for the root) and says why.
absl::StatusOr<std::string> ChooseMain(const std::string& root, const Layout& layout,
                                       const DetectOptions& options,
                                       std::vector<std::string>& reasons) {
  std::vector<std::string> candidates = go::FindMainPackages(root, layout.module_roots);
  std::string found = candidates.empty() ? "none" : absl::StrJoin(candidates, ", ");
  if (!options.main_package.empty()) {
    absl::StatusOr<std::string> dir = go::CleanRelativeDir(options.main_package);
    if (!dir.ok()) return Annotate(dir.status(), "--go-main");
    if (layout.single_file && *dir != ".") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--go-main ", options.main_package,
          ": without go.mod only the root's main.go can be built; add a go.mod to build ", *dir));
    }
    std::string file = go::FindPackageMainFile(root, *dir);
    if (file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--go-main ", options.main_package,
                                                     ": no `package main` in ", *dir,
                                                     " (main packages found: ", found, ")"));
    }
    reasons.push_back(absl::StrCat("main package: ", *dir, " (chosen with --go-main)"));
    return *dir;
  }
  if (candidates.empty()) {
    std::string what = layout.single_file ? "main.go does not declare `package main`"
                                          : "no `package main` in the module root or in cmd/*";
    return absl::FailedPreconditionError(absl::StrCat(
        "Go code found in ", root, " but nothing to run: ", what,
        "; add a main package (main.go with `package main` at the root or in cmd/NAME/), or "
        "point at one with --go-main DIR"));
  }
  if (candidates.front() == ".") {
    std::string why = absl::StrCat("main package: the root directory (",
                                   go::FindPackageMainFile(root, "."), " declares package main)");
    if (candidates.size() > 1) {
      std::vector<std::string> others(candidates.begin() + 1, candidates.end());
      absl::StrAppend(&why, "; also found ", absl::StrJoin(others, ", "),
                      ", build one of those with --go-main cmd/NAME");
    }
    reasons.push_back(why);
    return std::string(".");
  }
  if (candidates.size() > 1) return Ambiguous(root, candidates);
  reasons.push_back(
      absl::StrCat("main package: ", candidates.front(), " (the only cmd/* with package main)"));
  return candidates.front();
}

}  // namespace

GoBuildpack::GoBuildpack(std::shared_ptr<GoToolchainLocator> toolchain,
                         runbase::StaticBaseOptions base)
    : toolchain_(std::move(toolchain)), base_(std::move(base)) {}

absl::StatusOr<std::optional<BuildPlan>> GoBuildpack::Detect(const std::string& source_dir,
                                                             const DetectOptions& options) {
  std::string root = source_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!internal::Exists(root + "/go.work") && !internal::Exists(root + "/go.mod") &&
      !internal::Exists(root + "/main.go")) {
    return std::nullopt;
  }
  BuildPlan plan;
  plan.language = "go";
  ASSIGN_OR_RETURN(Layout layout, ReadLayout(root, plan.reasons));

  absl::StatusOr<GoToolchain> toolchain = toolchain_->Locate();
  if (!toolchain.ok()) {
    return WithFailure(Annotate(toolchain.status(), "Go app detected"),
                       {FailureKind::kInternal, "detect", ""});
  }
  plan.toolchain = toolchain->version;
  plan.reasons.push_back(
      absl::StrCat("toolchain: ", toolchain->version, " (GOROOT ", toolchain->goroot, ")"));
  if (!layout.go_directive.empty() &&
      CompareGoVersions(layout.go_directive, toolchain->version) > 0) {
    plan.reasons.push_back(
        absl::StrCat("warning: the go directive asks for go ", layout.go_directive,
                     " but the toolchain is ", toolchain->version,
                     " and toolchain downloads are off (GOTOOLCHAIN=local): the build "
                     "will fail; lower the go directive or install a newer Go on the workers"));
  }

  ASSIGN_OR_RETURN(std::string main_dir, ChooseMain(root, layout, options, plan.reasons));
  plan.main_package = main_dir == "." ? "." : "./" + main_dir;

  std::string name;
  if (layout.single_file) {
    name = "app";
    plan.reasons.push_back("app name: app (a single-file program has no module path)");
  } else if (main_dir == "." && !layout.module_path.empty()) {
    name = go::SanitizeAppName(go::BinaryNameFor(layout.module_path));
    plan.reasons.push_back(absl::StrCat("app name: ", name, " (last element of module path ",
                                        layout.module_path, ")"));
  } else {
    name = go::SanitizeAppName(main_dir == "." ? "app" : go::BinaryNameFor(main_dir));
    plan.reasons.push_back(
        absl::StrCat("app name: ", name, " (last element of the main package directory)"));
  }
  plan.app_name = name;

  plan.vendored = !layout.single_file && internal::IsRegularFile(root + "/vendor/modules.txt");
  plan.reasons.push_back(
      plan.vendored
          ? "vendor/modules.txt found: dependencies come from vendor/ (-mod=vendor), no network"
          : "no vendor/: modules must be in the build cache, or come from a GOPROXY named in "
            "the build env (the build is offline otherwise)");
  if (!options.start.empty()) {
    ASSIGN_OR_RETURN(plan.start_command,
                     internal::BinaryStartCommand(options.start, options.start_source, "Go", name));
    plan.reasons.push_back(
        absl::StrCat("start: ", absl::StrJoin(plan.start_command, " "), " (from ",
                     options.start_source.empty() ? "the config" : options.start_source,
                     ", run without a shell)"));
  } else {
    plan.start_command = {"/app/" + name};
  }
  plan.start_source = options.start.empty() ? "detection" : options.start_source;
  if (options.port) plan.port = *options.port;
  plan.reasons.push_back(absl::StrCat("port: ", plan.port, options.port ? " (from the config)" : "",
                                      " (the app reads $PORT)"));
  return plan;
}

absl::StatusOr<BuildRecipe> GoBuildpack::Prepare(const BuildPlan& plan,
                                                 const BuildContext& context) {
  absl::StatusOr<GoToolchain> toolchain = toolchain_->Locate();
  if (!toolchain.ok()) {
    return WithFailure(toolchain.status(), {FailureKind::kInternal, "build", ""});
  }
  if (toolchain->version != plan.toolchain && context.log) {
    context.log(absl::StrCat("note: planned with ", plan.toolchain, ", building with ",
                             toolchain->version));
  }
  // The plan may have travelled (coordinator, CLI): check what becomes paths and argv.
  absl::StatusOr<std::string> main_dir = go::CleanRelativeDir(plan.main_package);
  if (!main_dir.ok()) return Annotate(main_dir.status(), "build plan main package");
  go::GoBuildParams params;
  params.toolchain = *toolchain;
  params.app_name = go::SanitizeAppName(plan.app_name);
  params.main_package = *main_dir == "." ? "." : "./" + *main_dir;
  params.vendored = plan.vendored;
  params.single_file = !internal::Exists(context.source_dir + "/go.mod") &&
                       !internal::Exists(context.source_dir + "/go.work");

  BuildRecipe recipe;
  absl::StatusOr<PlannedLayer> base = runbase::StaticBaseLayer(base_);
  if (!base.ok()) return WithFailure(base.status(), {FailureKind::kInternal, "build", ""});
  recipe.layers.push_back(*std::move(base));
  // The repository's runtime files (templates/, static/...), next to the binary at /app.
  ASSIGN_OR_RETURN(
      std::optional<PlannedLayer> files,
      internal::RuntimeFilesPlannedLayer(context, internal::GoRuntimeDefaults(), params.app_name));
  if (files) recipe.layers.push_back(*std::move(files));

  PlannedLayer app;
  app.role = LayerRole::kApp;
  app.produce = [params, context]() { return go::RunGoBuild(params, context); };
  recipe.layers.push_back(std::move(app));

  std::vector<std::string> entrypoint = plan.start_command;
  if (entrypoint.empty()) entrypoint = {"/app/" + params.app_name};
  recipe.config = internal::BinaryAppConfig(std::move(entrypoint), plan.port, params.app_name, "go",
                                            toolchain->version);
  recipe.config.labels["dev.tempa.main-package"] = params.main_package;
  return recipe;
}

}  // namespace tempa::buildpacks
