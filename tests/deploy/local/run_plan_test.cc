// How an image's config and a release become the container's process.
#include "deploy/local/run_plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RunPlanTest, ReleaseEnvOverridesTheImageAndThePortOverridesBoth) {
  ImageRunConfig config;
  config.entrypoint = {"/bin/app"};
  config.cmd = {"--serve"};
  config.env = {"PATH=/bin", "MODE=image", "PORT=8080", "garbage"};
  config.working_dir = "/srv";
  absl::StatusOr<RunPlan> plan =
      ResolveRunPlan("img", config, {{"MODE", "release"}, {"PORT", "1"}, {"KEY", "a=b"}}, 20001);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->args, ElementsAre("/bin/app", "--serve"));
  EXPECT_THAT(plan->env, ElementsAre("PATH=/bin", "MODE=release", "PORT=20001", "KEY=a=b"));
  EXPECT_EQ(plan->cwd, "/srv");
}

TEST(RunPlanTest, AnImageWithNothingToRunIsRefused) {
  absl::StatusOr<RunPlan> plan = ResolveRunPlan("reg/app@sha256:ab", ImageRunConfig{}, {}, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(plan.status()));
  EXPECT_THAT(plan.status().message(), HasSubstr("no Entrypoint and no Cmd"));
}

TEST(RunPlanTest, AnEnvNameThatCouldInjectIsRefused) {
  ImageRunConfig config;
  config.cmd = {"/app"};
  EXPECT_FALSE(ResolveRunPlan("img", config, {{"A=B", "x"}}, 1).ok());
  EXPECT_FALSE(ResolveRunPlan("img", config, {{"", "x"}}, 1).ok());
}

TEST(RunPlanTest, OnlyNumericNonRootUsersAreKeptOthersRunAsNobody) {
  uint32_t uid, gid;
  ResolveUser("1000:1001", &uid, &gid);
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(gid, 1001u);
  ResolveUser("1000", &uid, &gid);
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(gid, 65534u);
  for (const char* user : {"", "0", "0:0", "root", "app", "1000:0", "-1", "99999999999"}) {
    ResolveUser(user, &uid, &gid);
    EXPECT_NE(uid, 0u) << user;
    EXPECT_NE(gid, 0u) << user;
  }
  ResolveUser("root", &uid, &gid);
  EXPECT_EQ(uid, 65534u);
}

TEST(RunPlanTest, ContainerIdsKeepOnlySafeCharacters) {
  EXPECT_EQ(ContainerIdFor("hello", "production", "d-b-7"), "tempa-hello-production-d-b-7");
  EXPECT_EQ(ContainerIdFor("a", "x/../y", "d b"), "tempa-a-x-..-y-d-b");
}

}  // namespace
}  // namespace tempa::deploy
