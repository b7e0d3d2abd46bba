#include "tests/worker/scripted_app.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "buildpacks/internal/build_step.h"
#include "common/status_macros.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

std::string ReadOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::optional<buildpacks::BuildPlan>> ScriptedBuildpack::Detect(
    const std::string& source_dir, const buildpacks::DetectOptions& options) {
  if (!std::filesystem::exists(source_dir + "/deps.lock")) return std::nullopt;
  buildpacks::BuildPlan plan;
  plan.language = "scripted";
  plan.toolchain = "sh";
  plan.app_name = "scripted";
  plan.start_command = {"/app/app.txt"};
  return plan;
}

absl::StatusOr<buildpacks::BuildRecipe> ScriptedBuildpack::Prepare(
    const buildpacks::BuildPlan& plan, const buildpacks::BuildContext& context) {
  buildpacks::BuildRecipe recipe;
  const std::string source = context.source_dir;
  buildpacks::PlannedLayer deps;
  deps.role = buildpacks::LayerRole::kDeps;
  deps.input_key = absl::StrCat("scripted deps\n", ReadOrEmpty(source + "/deps.lock"));
  deps.produce = [context, source]() -> absl::StatusOr<buildpacks::LayerOutput> {
    SandboxCommand command;
    command.argv = {"/bin/sh", "/src/deps.sh"};
    command.env = {{"PATH", "/usr/bin:/bin"}};
    command.cwd = "/out";
    command.mounts = {{source, "/src", false}, {context.scratch_dir, "/out", true}};
    command.limits = context.limits;
    RETURN_IF_ERROR(buildpacks::internal::RunBuildStep("deps.sh", command, context, {}));
    buildpacks::LayerOutput output;
    RETURN_IF_ERROR(output.spec.AddTree(context.scratch_dir, "deps"));
    return output;
  };
  // deps.sh stands for a trusted installer, so the same script may make the fleet's layer;
  // an app holding `deps.own-code` plays one whose deps layer comes from its own code.
  if (!std::filesystem::exists(source + "/deps.own-code")) deps.produce_for_fleet = deps.produce;
  recipe.layers.push_back(std::move(deps));
  buildpacks::PlannedLayer app;
  app.role = buildpacks::LayerRole::kApp;
  app.produce = [context, source]() -> absl::StatusOr<buildpacks::LayerOutput> {
    if (std::filesystem::exists(source + "/app.sh")) {
      SandboxCommand command;
      command.argv = {"/bin/sh", "/src/app.sh"};
      command.env = {{"PATH", "/usr/bin:/bin"}};
      command.cwd = "/src";
      command.mounts = {{source, "/src", false}};
      command.limits = context.limits;
      RETURN_IF_ERROR(buildpacks::internal::RunBuildStep("app.sh", command, context, {}));
    }
    buildpacks::LayerOutput output;
    output.spec.Add({.path = "app/app.txt", .contents = ReadOrEmpty(source + "/app.txt")});
    // An app holding `app.unpacks-deps` reads the deps layer this build has (built, reused or
    // from the fleet) through the pipeline's hook, as a step that runs against it would.
    if (std::filesystem::exists(source + "/app.unpacks-deps")) {
      std::string dir = context.scratch_dir + "/deps-unpacked";
      RETURN_IF_ERROR(context.extract_layer(buildpacks::LayerRole::kDeps, dir));
      output.spec.Add({.path = "app/dep-copy.txt", .contents = ReadOrEmpty(dir + "/deps/dep.txt")});
    }
    return output;
  };
  recipe.layers.push_back(std::move(app));
  recipe.config.entrypoint = plan.start_command;
  return recipe;
}

buildpacks::Detector ScriptedDetector() {
  std::vector<buildpacks::DetectorEntry> entries;
  entries.push_back({"Scripted", {"deps.lock"}, std::make_unique<ScriptedBuildpack>()});
  return buildpacks::Detector(std::move(entries));
}

void WriteScriptedApp(const std::string& dir, const std::string& lock, const std::string& deps_sh,
                      const std::string& app_text) {
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  WriteFileOrDie(dir + "/deps.lock", lock);
  WriteFileOrDie(dir + "/deps.sh", deps_sh);
  WriteFileOrDie(dir + "/app.txt", app_text);
  for (const char* name : {"/deps.lock", "/deps.sh", "/app.txt"}) {
    ::chmod((dir + name).c_str(), 0644);
  }
}

}  // namespace tempa::testing
