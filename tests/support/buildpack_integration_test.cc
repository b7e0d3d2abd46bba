#include "tests/support/buildpack_integration_test.h"

#include <unistd.h>

namespace tempa::testing {

void BuildpackIntegrationTest::SetUp() {
  if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap not installed";
}

absl::StatusOr<buildpacks::LayerOutput> BuildpackIntegrationTest::DetectAndBuild(
    buildpacks::Buildpack& buildpack, const std::string& source, const std::string& scratch_dir,
    const std::string& cache_dir) {
  // As the pipeline does: the directories the build writes are the build user's (when we are
  // root), since MakeDirs makes what a buildpack needs in them owned like them.
  for (const std::string& dir : {scratch_dir, cache_dir}) {
    if (absl::Status s = PrepareForSandbox(dir, {}); !s.ok()) return s;
  }
  auto plan = buildpack.Detect(source, {});
  if (!plan.ok()) return plan.status();
  EXPECT_TRUE(plan->has_value());
  buildpacks::BuildContext context;
  context.source_dir = source;
  context.scratch_dir = scratch_dir;
  context.cache_dir = cache_dir;
  context.sandbox = &sandbox_;
  context.toolchain_seed_dir = toolchain_seed_dir_;
  context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
  auto recipe = buildpack.Prepare(**plan, context);
  if (!recipe.ok()) return recipe.status();
  // The run base, the runtime files when the tree has any, the binary.
  EXPECT_EQ(recipe->layers.front().role, buildpacks::LayerRole::kBase);
  EXPECT_EQ(recipe->layers.back().role, buildpacks::LayerRole::kApp);
  EXPECT_LE(recipe->layers.size(), 3u);
  return recipe->layers.back().produce();
}

}  // namespace tempa::testing
